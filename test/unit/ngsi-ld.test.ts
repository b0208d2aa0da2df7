import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { keyValuesEntitySchema, normalizedEntitySchema } from '../../lambdas/contracts/api-standards.js';
import type { DeviceType, Readings } from '../../lambdas/contracts/device-types.js';
import { SMART_DATA_MODELS } from '../../lambdas/contracts/smart-data-models.js';
import { InvalidRequestError } from '../../lambdas/domain/city-queries.js';
import type { Device } from '../../lambdas/domain/device.js';
import { listEntities, parkingSiteId, toEntity } from '../../lambdas/domain/ngsi-ld.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { device } from '../support/messages.js';

const AT = '2026-11-27T11:00:00.000Z';

function latest(d: Device, readings: Readings, observedAt = AT): TelemetryPoint {
  return {
    deviceId: d.deviceId,
    deviceType: d.deviceType,
    messageId: 'msg-secret',
    observedAt,
    receivedAt: '2026-11-27T11:00:02.000Z',
    readings,
    battery: 0.31,
    ward: d.ward,
    site: d.site,
  };
}

/** A device of each type with a full reading, and what its keyValues entity must hold besides id and type. */
const CASES: {
  type: DeviceType;
  readings: Readings;
  keyValues: Record<string, unknown>;
  units: Record<string, string>;
}[] = [
  {
    type: 'waste-container',
    readings: { fillingLevel: 0.8, temperature: 21.5, status: 'lidOpen' },
    keyValues: {
      fillingLevel: 0.8,
      temperature: 21.5,
      status: 'lidOpen',
      dateModified: AT,
      name: 'Broad Street',
    },
    units: { fillingLevel: 'C62', temperature: 'CEL' },
  },
  {
    type: 'parking-spot',
    readings: { status: 'occupied' },
    keyValues: {
      status: 'occupied',
      category: ['offStreet'],
      refParkingSite: 'urn:ngsi-ld:OffStreetParking:Broad%20Street',
      dateModified: AT,
    },
    units: {},
  },
  {
    type: 'air-quality',
    readings: { no2: 41.2, pm25: 9.5, pm10: 17, o3: 60 },
    keyValues: { no2: 41.2, pm25: 9.5, pm10: 17, o3: 60, dateObserved: AT, name: 'Broad Street' },
    units: { no2: 'GQ', pm25: 'GQ', pm10: 'GQ', o3: 'GQ' },
  },
  {
    type: 'traffic-flow',
    readings: { intensity: 120, averageVehicleSpeed: 31.5, occupancy: 0.25, periodSeconds: 300 },
    keyValues: {
      intensity: 120,
      averageVehicleSpeed: 31.5,
      occupancy: 0.25,
      dateObserved: AT,
      dateObservedFrom: '2026-11-27T10:55:00.000Z',
      name: 'Broad Street',
    },
    units: { intensity: 'C62', averageVehicleSpeed: 'KMH', occupancy: 'C62' },
  },
  {
    type: 'water-level',
    readings: { waterLevel: -0.4 },
    keyValues: { currentLevel: -0.4, observationDateTime: AT, name: 'Broad Street' },
    units: { currentLevel: 'MTR' },
  },
];

describe.each(CASES)('the $type entity', ({ type, readings, keyValues, units }) => {
  const d = device(`${type}-1`, type, { settings: { fullThreshold: 0.9 } });
  const entityType = SMART_DATA_MODELS[type].entityType;

  it('in keyValues: the model names with plain values, the location as a [lon, lat] Point', () => {
    const entity = toEntity(d, latest(d, readings), 'keyValues');
    expect(entity).toEqual({
      id: `urn:ngsi-ld:${entityType}:${type}-1`,
      type: entityType,
      location: { type: 'Point', coordinates: [-0.9781, 51.4545] },
      areaServed: 'Abbey',
      ...keyValues,
    });
    expect(keyValuesEntitySchema.safeParse(entity).success).toBe(true);
  });

  it('in normalized: Properties with observedAt and unitCode, a GeoProperty, Relationships, typed DateTimes', () => {
    const entity = toEntity(d, latest(d, readings), 'normalized') as Record<string, unknown>;
    expect(normalizedEntitySchema.parse(entity)).toEqual(entity);
    expect(entity.location).toEqual({
      type: 'GeoProperty',
      value: { type: 'Point', coordinates: [-0.9781, 51.4545] },
    });
    for (const [name, value] of Object.entries(keyValues)) {
      const attribute = entity[name] as Record<string, unknown>;
      if (name === 'refParkingSite') {
        expect(attribute).toEqual({ type: 'Relationship', object: value });
      } else if (/^date|DateTime$/.test(name)) {
        expect(attribute).toEqual({ type: 'Property', value: { '@type': 'DateTime', '@value': value } });
      } else {
        expect(attribute).toMatchObject({ type: 'Property', value });
      }
    }
    for (const [name, unitCode] of Object.entries(units)) {
      expect(entity[name]).toEqual({ type: 'Property', value: keyValues[name], observedAt: AT, unitCode });
    }
  });

  it('shows no internal field: no battery, message id, receive time, settings or registry bookkeeping', () => {
    for (const form of ['keyValues', 'normalized'] as const) {
      const text = JSON.stringify(toEntity(d, latest(d, readings), form));
      for (const secret of [
        'battery',
        '0.31',
        'msg-secret',
        'receivedAt',
        '11:00:02',
        'fullThreshold',
        'registeredAt',
      ]) {
        expect(text).not.toContain(secret);
      }
    }
  });
});

describe('devices that have not reported', () => {
  it('have no observed-model entity (dateObserved is required there)', () => {
    expect(toEntity(device('aq-1', 'air-quality'), undefined, 'keyValues')).toBeUndefined();
    expect(toEntity(device('tf-1', 'traffic-flow'), undefined, 'normalized')).toBeUndefined();
  });

  it('are still assets: a parking spot with status unknown, a bin with only its place', () => {
    expect(toEntity(device('bay-1', 'parking-spot'), undefined, 'keyValues')).toMatchObject({
      status: 'unknown',
      category: ['offStreet'],
    });
    const bin = toEntity(device('bin-1', 'waste-container'), undefined, 'keyValues');
    expect(Object.keys(bin ?? {}).sort()).toEqual(['areaServed', 'id', 'location', 'name', 'type']);
  });
});

describe('parkingSiteId', () => {
  it('percent-encodes the car park name into a legal URN, keeping different spellings apart', () => {
    expect(parkingSiteId('Castle Hill (IDR), "north"')).toBe(
      'urn:ngsi-ld:OffStreetParking:Castle%20Hill%20(IDR)%2C%20%22north%22',
    );
    expect(parkingSiteId('Queens Road')).not.toBe(parkingSiteId('queens-road'));
  });
});

describe('listEntities', () => {
  function city(count: number) {
    const devices = Array.from({ length: count }, (_, i) =>
      device(`bin-${String(i).padStart(3, '0')}`, 'waste-container'),
    );
    const ports = new InMemoryPorts([
      ...devices,
      device('bin-old', 'waste-container', { status: 'decommissioned' }),
      device('bay-1', 'parking-spot'),
    ]);
    return { ports, standards: { registry: ports.devices, latestState: ports.latestState } };
  }

  it('pages through the devices in service of the type, each with its latest reading', async () => {
    const { ports, standards } = city(5);
    await ports.latestState.putIfNewer([latest(device('bin-002', 'waste-container'), { fillingLevel: 0.5 })]);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listEntities(standards, {
        type: 'WasteContainer',
        options: 'keyValues',
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      expect(page.entities.length).toBeLessThanOrEqual(2);
      expect(page.context).toBe(SMART_DATA_MODELS['waste-container'].context);
      seen.push(...page.entities.map((e) => e.id));
      if (page.entities.some((e) => e.id.endsWith('bin-002'))) {
        expect(page.entities.find((e) => e.id.endsWith('bin-002'))).toMatchObject({ fillingLevel: 0.5 });
      }
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `urn:ngsi-ld:WasteContainer:bin-00${i}`));
  });

  it('reads the latest state of a page in one batch', async () => {
    const { ports, standards } = city(30);
    await listEntities(standards, { type: 'WasteContainer', options: 'normalized', limit: 30 });
    expect(ports.counts.latestStateReads).toBe(1);
  });

  it('refuses a cursor of another entity type', async () => {
    const { standards } = city(3);
    const page = await listEntities(standards, { type: 'WasteContainer', options: 'keyValues', limit: 1 });
    await expect(
      listEntities(standards, {
        type: 'ParkingSpot',
        options: 'keyValues',
        limit: 1,
        cursor: page.nextCursor as string,
      }),
    ).rejects.toThrow(InvalidRequestError);
    await expect(
      listEntities(standards, {
        type: 'ParkingSpot',
        options: 'keyValues',
        limit: 1,
        cursor: 'not-a-cursor',
      }),
    ).rejects.toThrow(/cursor is not one this API issued/);
  });
});
