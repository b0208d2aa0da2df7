import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { exportFeatureCollectionSchema, STANDARDS_LIMITS } from '../../lambdas/contracts/api-standards.js';
import type { DeviceType, Readings } from '../../lambdas/contracts/device-types.js';
import { InvalidRequestError } from '../../lambdas/domain/city-queries.js';
import type { Device } from '../../lambdas/domain/device.js';
import {
  csvColumns,
  csvField,
  csvHeader,
  csvRow,
  type ExportPorts,
  type ExportRequest,
  exportReadings,
  exportRow,
  responseBytes,
} from '../../lambdas/domain/exports.js';
import { openFrame, sealFrame } from '../../lambdas/domain/ngsi-ld.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { device, NOW } from '../support/messages.js';

function point(
  d: Device,
  minute: number,
  readings: Readings,
  extra: Partial<TelemetryPoint> = {},
): TelemetryPoint {
  return {
    deviceId: d.deviceId,
    deviceType: d.deviceType,
    messageId: `m-${d.deviceId}-${minute}`,
    observedAt: new Date(NOW.getTime() - 6 * 3_600_000 + minute * 60_000).toISOString(),
    receivedAt: NOW.toISOString(),
    readings,
    battery: 0.5,
    ...(d.ward ? { ward: d.ward } : {}),
    ...(d.site ? { site: d.site } : {}),
    ...extra,
  };
}

/** RFC 4180 parser for the tests: fields, quoted fields with doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 1;
    } else field += c;
  }
  expect(field, 'every record ends with CRLF').toBe('');
  expect(record).toEqual([]);
  return records;
}

async function city(devicesPerType: number, readingsPerDevice: number, type: DeviceType = 'waste-container') {
  const devices = Array.from({ length: devicesPerType }, (_, i) =>
    device(`${type}-${String(i).padStart(3, '0')}`, type),
  );
  const ports = new InMemoryPorts([...devices, device('bay-1', 'parking-spot')]);
  const points = devices.flatMap((d, i) =>
    Array.from({ length: readingsPerDevice }, (_, m) => point(d, m, { fillingLevel: (i + m) / 1000 })),
  );
  await ports.telemetry.write(points);
  await ports.telemetry.write([point(device('bay-1', 'parking-spot'), 1, { status: 'free' })]);
  return { ports, points, standards: { registry: ports.devices, telemetry: ports.telemetry } as ExportPorts };
}

/** Follows the cursors to the end; every page's request is what the Link header would ask for. */
async function exportAll(ports: ExportPorts, request: Omit<ExportRequest, 'cursor'>) {
  const pages = [];
  let cursor: string | undefined;
  do {
    const page = await exportReadings(ports, { ...request, ...(cursor ? { cursor } : {}) }, NOW);
    pages.push(page);
    cursor = page.nextCursor;
    expect(pages.length).toBeLessThan(1000);
  } while (cursor);
  return pages;
}

describe('csvField (RFC 4180)', () => {
  it.each([
    ['plain', 'Broad Street', 'Broad Street'],
    ['a comma', 'Castle Hill, IDR', '"Castle Hill, IDR"'],
    ['quotes', 'The "Oracle" car park', '"The ""Oracle"" car park"'],
    ['a line feed', 'Forbury\nGardens', '"Forbury\nGardens"'],
    ['a carriage return', 'Forbury\r\nGardens', '"Forbury\r\nGardens"'],
    ['a number', 0.25, '0.25'],
    ['a negative number', -1.5, '-1.5'],
    ['nothing', undefined, ''],
  ])('writes %s', (_case, value, written) => {
    expect(csvField(value)).toBe(written);
  });

  it('round-trips awkward site names through a whole row', () => {
    const site = 'Market "Sq", north\r\nside';
    const d = device('bin-1', 'waste-container', { site, ward: 'Abbey, North' });
    const text =
      csvHeader('waste-container') + csvRow('waste-container', exportRow(d, point(d, 0, { status: 'ok' })));
    const [header, row] = parseCsv(text);
    expect(header).toEqual(csvColumns('waste-container'));
    expect(row).toHaveLength(header?.length ?? 0);
    expect(row?.[4]).toBe('Abbey, North');
    expect(row?.[5]).toBe(site);
  });
});

describe('CSV columns', () => {
  it('name the model attributes, numeric ones with their unit code', () => {
    expect(csvColumns('traffic-flow')).toEqual([
      'deviceId',
      'dateObserved',
      'longitude',
      'latitude',
      'areaServed',
      'name',
      'intensity (C62)',
      'averageVehicleSpeed (KMH)',
      'occupancy (C62)',
      'dateObservedFrom',
    ]);
    expect(csvColumns('water-level').at(-1)).toBe('currentLevel (MTR)');
  });

  it('write a reading in those columns, longitude before latitude, without private fields', () => {
    const d = device('tf-1', 'traffic-flow');
    const row = csvRow(
      'traffic-flow',
      exportRow(
        d,
        point(d, 0, { intensity: 12, averageVehicleSpeed: 30, occupancy: 0.1, periodSeconds: 60 }),
      ),
    );
    expect(row).toBe(
      'tf-1,2026-11-27T06:00:00.000Z,-0.9781,51.4545,Abbey,Broad Street,12,30,0.1,2026-11-27T05:59:00.000Z\r\n',
    );
  });
});

describe('exportReadings', () => {
  it('CSV: pages that concatenate into one file, the header on the first page only', async () => {
    const { standards, points } = await city(4, 7);
    const pages = await exportAll(standards, { deviceType: 'waste-container', format: 'csv', limit: 5 });
    expect(pages.length).toBeGreaterThan(2);
    expect(pages[0]?.body.startsWith(csvHeader('waste-container'))).toBe(true);
    for (const page of pages.slice(1)) expect(page.body.startsWith('deviceId,')).toBe(false);
    for (const page of pages) expect(page.rows).toBeLessThanOrEqual(5);
    const [header, ...rows] = parseCsv(pages.map((p) => p.body).join(''));
    expect(header).toEqual(csvColumns('waste-container'));
    // Every reading once: devices in id order, each one's readings in time order, across page and device edges.
    expect(rows.map((r) => `${r[0]}|${r[1]}`)).toEqual(points.map((p) => `${p.deviceId}|${p.observedAt}`));
    expect(rows.map((r) => Number(r[6]))).toEqual(points.map((p) => p.readings.fillingLevel));
  });

  it('GeoJSON: a valid FeatureCollection per page, [lon, lat] points, units and the next cursor in the body', async () => {
    const { standards, points } = await city(2, 3);
    const pages = await exportAll(standards, { deviceType: 'waste-container', format: 'geojson', limit: 4 });
    const features = [];
    for (const page of pages) {
      const collection = exportFeatureCollectionSchema.parse(JSON.parse(page.body));
      expect(collection.next).toBe(page.nextCursor);
      expect(collection.unitCode).toEqual({ fillingLevel: 'C62', temperature: 'CEL' });
      features.push(...collection.features);
    }
    expect(features).toHaveLength(points.length);
    expect(features[0]).toEqual({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [-0.9781, 51.4545] },
      properties: {
        deviceId: 'waste-container-000',
        type: 'WasteContainer',
        dateObserved: points[0]?.observedAt,
        areaServed: 'Abbey',
        name: 'Broad Street',
        fillingLevel: 0,
      },
    });
    expect(JSON.stringify(features)).not.toContain('battery');
    expect(JSON.stringify(features)).not.toContain('messageId');
  });

  it('includes decommissioned devices (their history is still the council data) and no other type', async () => {
    const { ports, standards } = await city(1, 1);
    const old = device('waste-container-zzz', 'waste-container', { status: 'decommissioned' });
    ports.devicesById.set(old.deviceId, old);
    await ports.telemetry.write([point(old, 2, { fillingLevel: 0.9 })]);
    const [page] = await exportAll(standards, { deviceType: 'waste-container', format: 'csv', limit: 100 });
    expect(parseCsv(page?.body ?? '').map((r) => r[0])).toEqual([
      'deviceId',
      'waste-container-000',
      'waste-container-zzz',
    ]);
  });

  it('refuses a range over the limit, naming it', async () => {
    const { standards } = await city(1, 1);
    const request = (from: string, to: string) =>
      exportReadings(standards, { deviceType: 'waste-container', format: 'csv', limit: 10, from, to }, NOW);
    await expect(request('2026-11-01T00:00:00Z', '2026-11-08T00:00:01Z')).rejects.toThrow(
      `at most ${STANDARDS_LIMITS.maxExportRangeDays} days`,
    );
    await expect(request('2026-11-01T00:00:00Z', '2026-11-08T00:00:00Z')).resolves.toMatchObject({ rows: 0 });
    await expect(request('2026-11-08T00:00:00Z', '2026-11-01T00:00:00Z')).rejects.toThrow(/after 'to'/);
  });

  it('keeps only readings inside the range', async () => {
    const { standards } = await city(1, 60);
    const page = await exportReadings(
      standards,
      {
        deviceType: 'waste-container',
        format: 'csv',
        limit: 100,
        from: '2026-11-27T06:10:00Z',
        to: '2026-11-27T06:19:00Z',
      },
      NOW,
    );
    expect(page.rows).toBe(10);
  });

  it('refuses cursors that are not its own: another type, a widened range, garbage', async () => {
    const { standards } = await city(3, 3);
    const first = await exportReadings(
      standards,
      { deviceType: 'waste-container', format: 'csv', limit: 2 },
      NOW,
    );
    const cursor = first.nextCursor as string;
    const resume = (c: string, deviceType: DeviceType = 'waste-container') =>
      exportReadings(standards, { deviceType, format: 'csv', limit: 2, cursor: c }, NOW);
    await expect(resume(cursor, 'parking-spot')).rejects.toThrow(/another type/);
    const widened = sealFrame({ ...openFrame(cursor), from: '2026-10-01T00:00:00.000Z' });
    await expect(resume(widened)).rejects.toThrow(InvalidRequestError);
    await expect(resume(sealFrame({ ...openFrame(cursor), skip: -1 }))).rejects.toThrow(InvalidRequestError);
    await expect(resume('%%%')).rejects.toThrow(/cursor is not one this API issued/);
    await expect(resume(cursor)).resolves.toMatchObject({ rows: 2 });
  });

  it('stops a page before its body passes the size cap, and the next page goes on from the same reading', async () => {
    const longSite = 'x'.repeat(1000);
    const d = device('bin-big', 'waste-container', { site: longSite });
    const ports = new InMemoryPorts([d]);
    const count = 6000;
    const points = Array.from({ length: count }, (_, m) => point(d, m / 100, { fillingLevel: m / count }));
    await ports.telemetry.write(points);
    const standards = { registry: ports.devices, telemetry: ports.telemetry };
    const pages = await exportAll(standards, {
      deviceType: 'waste-container',
      format: 'csv',
      limit: STANDARDS_LIMITS.maxExportRows,
    });
    // 2000 rows of ~1.1 KB would be ~2.2 MB: under the cap, so rows bound these pages...
    expect(pages.map((p) => p.rows)).toEqual([2000, 2000, 2000]);
    for (const page of pages)
      expect(responseBytes(page.body)).toBeLessThanOrEqual(STANDARDS_LIMITS.maxExportPageBytes);

    // ...while features with a 3 KB site name pass it: the budget cuts the page mid-batch.
    const bigger = device('bin-big', 'waste-container', { site: 'y'.repeat(3000) });
    const heavy = new InMemoryPorts([bigger]);
    const heavyPoints = points.map((p) => ({ ...p, site: 'y'.repeat(3000) }));
    await heavy.telemetry.write(heavyPoints);
    const geo = await exportAll(
      { registry: heavy.devices, telemetry: heavy.telemetry },
      { deviceType: 'waste-container', format: 'geojson', limit: STANDARDS_LIMITS.maxExportRows },
    );
    expect(geo[0]?.rows).toBeLessThan(STANDARDS_LIMITS.maxExportRows);
    expect(geo[0]?.rows).toBeGreaterThan(1000);
    const served = geo.flatMap((p) => exportFeatureCollectionSchema.parse(JSON.parse(p.body)).features);
    expect(served.map((f) => f.properties.dateObserved)).toEqual(points.map((p) => p.observedAt));
    for (const page of geo) {
      expect(responseBytes(page.body)).toBeLessThanOrEqual(STANDARDS_LIMITS.maxExportPageBytes);
    }
  });

  it('bounds the reads of one page: many silent devices give short pages that still reach the end', async () => {
    const { ports, standards } = await city(250, 0);
    await ports.telemetry.write([
      point(device('waste-container-249', 'waste-container'), 0, { fillingLevel: 1 }),
    ]);
    let reads = 0;
    const counting: ExportPorts = {
      registry: {
        list: (q) => {
          reads += 1;
          return standards.registry.list(q);
        },
      },
      telemetry: {
        query: (q) => {
          reads += 1;
          return standards.telemetry.query(q);
        },
      },
    };
    const pages = [];
    let cursor: string | undefined;
    do {
      reads = 0;
      const page = await exportReadings(
        counting,
        { deviceType: 'waste-container', format: 'csv', limit: 100, ...(cursor ? { cursor } : {}) },
        NOW,
      );
      expect(reads).toBeLessThanOrEqual(STANDARDS_LIMITS.maxExportReadsPerPage);
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.length).toBe(3);
    expect(pages.map((p) => p.rows)).toEqual([0, 0, 1]);
  });
});
