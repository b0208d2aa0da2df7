import { describe, expect, it } from 'vitest';
import { CsvSyntaxError, parseCsv } from '../../lambdas/domain/csv.js';
import type { BoundingBox } from '../../lambdas/domain/device.js';
import {
  describeImportTally,
  importStep,
  type RegisteredDevice,
  readDeviceImport,
} from '../../lambdas/domain/device-import.js';
import {
  DeviceInputError,
  parseDeviceCommand,
  readDeviceFields,
} from '../../lambdas/domain/device-onboarding-commands.js';

describe('parseCsv', () => {
  it('reads quoted commas, doubled quotes and line breaks inside quotes, with the line each record starts on', () => {
    const text = 'id,site\nbin-1,"Broad St, north"\nbin-2,"the ""old"" depot"\nbin-3,"two\nlines"\nbin-4,x\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['id', 'site'] },
      { line: 2, fields: ['bin-1', 'Broad St, north'] },
      { line: 3, fields: ['bin-2', 'the "old" depot'] },
      { line: 4, fields: ['bin-3', 'two\nlines'] },
      { line: 6, fields: ['bin-4', 'x'] },
    ]);
  });

  it('takes CRLF like LF, skips blank lines and a byte-order mark, keeps empty fields', () => {
    expect(parseCsv('\uFEFFa,b\r\n\r\n1,\r\n,2\r\n\r\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 3, fields: ['1', ''] },
      { line: 4, fields: ['', '2'] },
    ]);
    expect(parseCsv('a\n""\n')).toEqual([
      { line: 1, fields: ['a'] },
      { line: 2, fields: [''] },
    ]);
    expect(parseCsv('a,b\n1,2')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
    ]);
  });

  it.each([
    ['a\n"open\nstill open', 2, 'a quoted field is not closed'],
    ['a\nab"c\n', 2, 'a quote inside an unquoted field'],
    ['a\n"ab"c\n', 2, 'text after a closing quote'],
  ])('refuses malformed quoting in %j, naming the line', (text, line, message) => {
    const error = (() => {
      try {
        parseCsv(text);
      } catch (caught) {
        return caught;
      }
      throw new Error('accepted');
    })();
    expect(error).toBeInstanceOf(CsvSyntaxError);
    expect((error as CsvSyntaxError).line).toBe(line);
    expect((error as Error).message).toContain(message);
  });
});

const NONE = new Map<string, RegisteredDevice>();

describe('readDeviceImport', () => {
  it('reads rows with columns in any order and optional cells left empty', () => {
    const reading = readDeviceImport(
      'lon,lat,type,id,interval,ward\n-0.97,51.45,waste-container,rdg-bin-1,5m,Abbey\n-1,51,parking-spot,rdg-bay-1,,\n',
      NONE,
    );
    expect(reading).toEqual({
      ok: true,
      rows: [
        {
          line: 2,
          deviceId: 'rdg-bin-1',
          deviceType: 'waste-container',
          location: { lat: 51.45, lon: -0.97 },
          ward: 'Abbey',
          expectedIntervalSeconds: 300,
        },
        { line: 3, deviceId: 'rdg-bay-1', deviceType: 'parking-spot', location: { lat: 51, lon: -1 } },
      ],
    });
  });

  it('names missing and unknown columns', () => {
    expect(readDeviceImport('id,type,ward,colour\nx,waste-container,A,red\n', NONE)).toEqual({
      ok: false,
      problems: [
        'line 1: missing columns lat, lon (the header has id,type,ward,colour; required: id,type,lat,lon)',
        "line 1: unknown column 'colour' (the columns are id, type, lat, lon, ward, site, interval)",
      ],
    });
    expect(readDeviceImport('', NONE)).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/empty/)],
    });
  });

  it('reports every bad row with its line and reason, and no rows', () => {
    const csv = [
      'id,type,lat,lon,interval',
      'rdg-bin-1,waste-container,51.45,-0.97,',
      'rdg-bin-2,lamp-post,51.45,-0.97,',
      'rdg-bin-3,waste-container,51.45,-0.97,',
      'rdg-bin-3,waste-container,51.46,-0.97,',
      '"bad id",waste-container,51.45,-0.97,',
      'rdg-bin-9,waste-container,95,-0.97,',
      'rdg-bin-10,waste-container,51.45,-0.97,9d',
      'rdg-bin-11,waste-container,51.45',
      'rdg-bay-1,waste-container,51.45,-0.97,',
      'rdg-old-1,waste-container,51.45,-0.97,',
    ].join('\n');
    const registered = new Map<string, RegisteredDevice>([
      ['rdg-bay-1', { deviceType: 'parking-spot', status: 'active' }],
      ['rdg-old-1', { deviceType: 'waste-container', status: 'decommissioned' }],
      ['rdg-bin-1', { deviceType: 'waste-container', status: 'active' }],
    ]);
    expect(readDeviceImport(csv, registered)).toEqual({
      ok: false,
      problems: [
        "line 3: device 'rdg-bin-2': --type 'lamp-post' is not a device type; known: waste-container, parking-spot, air-quality, traffic-flow, water-level",
        "line 5: device 'rdg-bin-3': id is also on line 4; each device once",
        "line 6: --id 'bad id' is not a device id: letters, digits, _ and -, starting with a letter or digit, at most 64",
        "line 7: device 'rdg-bin-9': --lat '95' is not a latitude in degrees between -90 and 90",
        "line 8: device 'rdg-bin-10': --interval '9d' must be a duration from 1s to 7d, e.g. 30s, 5m or 1h",
        'line 9: 3 values, the header has 5 columns',
        "line 10: device 'rdg-bay-1': already registered as parking-spot, not waste-container",
        "line 11: device 'rdg-old-1': is decommissioned; remove the row or use a new id",
      ],
    });
  });

  it('gives a quoted line break the line the row starts on', () => {
    const reading = readDeviceImport(
      'id,type,lat,lon,site\nb-1,waste-container,51,-1,"a\nb"\nb-2,x,51,-1,s\n',
      NONE,
    );
    expect(reading).toMatchObject({ ok: false, problems: [expect.stringMatching(/^line 4: device 'b-2'/)] });
  });
});

describe('the council area in add and import', () => {
  /** cdk.json's area: roughly the Borough of Reading with a margin. */
  const AREA: BoundingBox = { minLon: -1.07, minLat: 51.39, maxLon: -0.91, maxLat: 51.51 };
  const fields = (lat: string, lon: string) => ({ id: 'bin-7', type: 'waste-container', lat, lon });

  it.each([
    ['inside', '51.45', '-0.97'],
    ['on the south-west corner', '51.39', '-1.07'],
    ['on the north-east corner', '51.51', '-0.91'],
  ])('accepts a device %s', (_where, lat, lon) => {
    expect(readDeviceFields(fields(lat, lon), AREA).location).toEqual({ lat: Number(lat), lon: Number(lon) });
  });

  it.each([
    ['52.1', '-1.3'],
    ['51.45', '0.97'],
    ['51.3899', '-0.97'],
    ['51.45', '-1.0701'],
  ])('refuses --lat %s --lon %s, naming the device, the flags and the area', (lat, lon) => {
    expect(() => readDeviceFields(fields(lat, lon), AREA)).toThrow(
      new DeviceInputError(
        `device 'bin-7': --lat/--lon ${Number(lat)},${Number(lon)} is outside the council area ` +
          '-1.07,51.39,-0.91,51.51 (west,south,east,north)',
      ),
    );
  });

  it('accepts anywhere without an area', () => {
    expect(readDeviceFields(fields('52.1', '-1.3')).location).toEqual({ lat: 52.1, lon: -1.3 });
  });

  it('reports every row outside the area with its line, with the other bad rows, and no rows', () => {
    const csv = [
      'id,type,lat,lon',
      'rdg-bin-1,waste-container,51.45,-0.97',
      'rdg-bin-2,waste-container,52.1,-1.3',
      'rdg-bin-3,lamp-post,51.45,-0.97',
      'rdg-bin-4,waste-container,51.51,-0.91',
      'rdg-bin-5,waste-container,-0.97,51.45',
    ].join('\n');
    const outside = '(west,south,east,north)';
    expect(readDeviceImport(csv, NONE, AREA)).toEqual({
      ok: false,
      problems: [
        `line 3: device 'rdg-bin-2': --lat/--lon 52.1,-1.3 is outside the council area -1.07,51.39,-0.91,51.51 ${outside}`,
        "line 4: device 'rdg-bin-3': --type 'lamp-post' is not a device type; known: waste-container, parking-spot, air-quality, traffic-flow, water-level",
        `line 6: device 'rdg-bin-5': --lat/--lon -0.97,51.45 is outside the council area -1.07,51.39,-0.91,51.51 ${outside}`,
      ],
    });
    // The same file without an area has only the unknown type wrong.
    expect(readDeviceImport(csv, NONE)).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^line 4:/)],
    });
  });

  it('reads a file of devices all inside the area, edges included', () => {
    const csv = 'id,type,lat,lon\nrdg-bin-1,waste-container,51.45,-0.97\nrdg-bin-2,water-level,51.39,-0.91\n';
    expect(readDeviceImport(csv, NONE, AREA)).toMatchObject({ ok: true, rows: [{ line: 2 }, { line: 3 }] });
  });
});

describe('importStep', () => {
  it('creates the unregistered, completes a registered device that never had a certificate, skips the rest', () => {
    expect(importStep({ registered: false, certificates: 0 })).toBe('create');
    expect(importStep({ registered: true, certificates: 0 })).toBe('complete');
    // Revoked, inactive or with its bundle elsewhere: never re-issued by a re-run (rotate does that, on purpose).
    expect(importStep({ registered: true, certificates: 1 })).toBe('skip');
  });

  it('summarises the counts', () => {
    expect(describeImportTally({ created: 2, completed: 1, skipped: 3, failed: 0 })).toBe(
      'import: 6 rows: 2 created, 1 completed, 3 skipped (already onboarded), 0 failed',
    );
  });
});

describe('import command line', () => {
  it('reads --csv and --out, with devices/ as the default', () => {
    expect(parseDeviceCommand(['import', '--csv', 'assets.csv', '--local'])).toEqual({
      command: 'import',
      target: { kind: 'local', dataDir: '.civic' },
      csv: 'assets.csv',
      out: 'devices',
    });
    expect(parseDeviceCommand(['import', '--csv', 'a.csv', '--out', 'b', '--local'])).toMatchObject({
      out: 'b',
    });
    expect(() => parseDeviceCommand(['import', '--local'])).toThrow('import: --csv is required');
  });
});
