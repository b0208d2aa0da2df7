import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  DEVICE_TYPES,
  type DeviceType,
  MEASURE_UNITS,
  READINGS_SCHEMAS,
} from '../../lambdas/contracts/device-types.js';
import {
  deviceTypeOf,
  ENTITY_TYPES,
  modelOf,
  SMART_DATA_MODELS,
} from '../../lambdas/contracts/smart-data-models.js';

/**
 * The facts of the shared Smart Data Models reference (reference/smart-data-models.md), written out per model:
 * the entity type, its schema version, and for every reading the platform has, the model attribute it must land
 * in and the UN/CEFACT Rec 20 unit code (GQ = ug/m3, MTR, KMH, CEL, SEC, C62 = "one" for the 0..1 fractions the
 * reference defines for fillingLevel and occupancy). FloodMonitoring is not in the reference: its row is from
 * dataModel.Environment/FloodMonitoring (schema 0.0.1), where currentLevel is a number with no lower bound.
 */
const REFERENCE: Record<
  DeviceType,
  {
    entityType: string;
    schemaVersion: string;
    subject: string;
    readings: Record<string, { attribute: string; unitCode?: string }>;
  }
> = {
  'waste-container': {
    entityType: 'WasteContainer',
    schemaVersion: '0.3.0',
    subject: 'dataModel.WasteManagement',
    readings: {
      fillingLevel: { attribute: 'fillingLevel', unitCode: 'C62' },
      temperature: { attribute: 'temperature', unitCode: 'CEL' },
      status: { attribute: 'status' },
    },
  },
  'parking-spot': {
    entityType: 'ParkingSpot',
    schemaVersion: '0.1.0',
    subject: 'dataModel.Parking',
    readings: { status: { attribute: 'status' } },
  },
  'air-quality': {
    entityType: 'AirQualityObserved',
    schemaVersion: '0.1.4',
    subject: 'dataModel.Environment',
    readings: {
      no2: { attribute: 'no2', unitCode: 'GQ' },
      pm25: { attribute: 'pm25', unitCode: 'GQ' },
      pm10: { attribute: 'pm10', unitCode: 'GQ' },
      o3: { attribute: 'o3', unitCode: 'GQ' },
    },
  },
  'traffic-flow': {
    entityType: 'TrafficFlowObserved',
    schemaVersion: '0.0.1',
    subject: 'dataModel.Transportation',
    readings: {
      intensity: { attribute: 'intensity', unitCode: 'C62' },
      averageVehicleSpeed: { attribute: 'averageVehicleSpeed', unitCode: 'KMH' },
      occupancy: { attribute: 'occupancy', unitCode: 'C62' },
      // The period's length becomes its start time (a DateTime, no unit): the model has no length attribute.
      periodSeconds: { attribute: 'dateObservedFrom' },
    },
  },
  'water-level': {
    entityType: 'FloodMonitoring',
    schemaVersion: '0.0.1',
    subject: 'dataModel.Environment',
    readings: { waterLevel: { attribute: 'currentLevel', unitCode: 'MTR' } },
  },
};

/** The reading names a device type's schema admits. */
function readingNames(type: DeviceType): string[] {
  const schema: z.ZodObject = READINGS_SCHEMAS[type];
  return Object.keys(schema.shape);
}

describe.each(DEVICE_TYPES)('Smart Data Models mapping of %s', (type) => {
  const expected = REFERENCE[type];
  const model = modelOf(type);

  it('serves the reference model, at the schema version mapped against', () => {
    expect(model.entityType).toBe(expected.entityType);
    expect(model.schemaVersion).toBe(expected.schemaVersion);
    expect(model.subject).toBe(expected.subject);
    expect(deviceTypeOf(expected.entityType as (typeof ENTITY_TYPES)[number])).toBe(type);
  });

  it("maps every reading the platform has to the model's attribute name and unit", () => {
    expect(readingNames(type).sort()).toEqual(Object.keys(expected.readings).sort());
    const mapped = Object.fromEntries(
      model.attributes.map((m) => [
        m.reading,
        { attribute: m.attribute, ...(m.unitCode ? { unitCode: m.unitCode } : {}) },
      ]),
    );
    expect(mapped).toEqual(expected.readings);
  });

  it('fills unitCode for every numeric measure, the same code as the device contract', () => {
    for (const mapping of model.attributes) {
      if (mapping.periodStart) continue;
      const numeric = MEASURE_UNITS[mapping.reading] !== undefined;
      expect(mapping.unitCode, mapping.reading).toBe(numeric ? MEASURE_UNITS[mapping.reading] : undefined);
    }
  });

  it('pins its JSON-LD context to one commit of the subject repository', () => {
    expect(model.context).toMatch(
      new RegExp(
        `^https://raw\\.githubusercontent\\.com/smart-data-models/${expected.subject}/[0-9a-f]{40}/context\\.jsonld$`,
      ),
    );
  });
});

describe('entity types', () => {
  it('are one per device type, in device-type order', () => {
    expect(ENTITY_TYPES).toEqual(DEVICE_TYPES.map((t) => REFERENCE[t].entityType));
  });

  it('need an observation exactly where the model requires dateObserved', () => {
    const observed = DEVICE_TYPES.filter((t) => SMART_DATA_MODELS[t].needsObservation);
    expect(observed).toEqual(['air-quality', 'traffic-flow']);
    for (const t of observed) expect(modelOf(t).observationTime).toBe('dateObserved');
  });
});
