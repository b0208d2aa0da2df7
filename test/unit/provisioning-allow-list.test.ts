import { describe, expect, it } from 'vitest';
import type { DeviceRegistry } from '../../lambdas/domain/device.js';
import type { RegisteredDevice } from '../../lambdas/domain/device-import.js';
import {
  admitDevice,
  type ClaimedCertificates,
  type ProvisioningAllowList,
  readAllowListCsv,
} from '../../lambdas/domain/provisioning-allow-list.js';
import { NOW } from '../support/messages.js';

describe('readAllowListCsv', () => {
  it('reads the serial with the import columns, in any order, optional cells empty', () => {
    expect(
      readAllowListCsv(
        'type,serial,id,lat,lon,ward,interval\n' +
          'waste-container,SN-0001,rdg-bin-1,51.45,-0.97,Abbey,5m\n' +
          'parking-spot, AB:12.34_x ,rdg-bay-1,51,-1,,\n',
      ),
    ).toEqual({
      ok: true,
      rows: [
        {
          line: 2,
          serialNumber: 'SN-0001',
          deviceId: 'rdg-bin-1',
          deviceType: 'waste-container',
          location: { lat: 51.45, lon: -0.97 },
          ward: 'Abbey',
          expectedIntervalSeconds: 300,
        },
        {
          line: 3,
          serialNumber: 'AB:12.34_x',
          deviceId: 'rdg-bay-1',
          deviceType: 'parking-spot',
          location: { lat: 51, lon: -1 },
        },
      ],
    });
  });

  it.each([
    [
      'a header without the serial column',
      'id,type,lat,lon\nb-1,waste-container,51,-1\n',
      ['line 1: missing column serial (the header has id,type,lat,lon; required: serial,id,type,lat,lon)'],
    ],
    [
      'an unknown and a repeated column',
      'serial,id,type,lat,lon,colour,ward,ward\nS1,b-1,waste-container,51,-1,red,A,A\n',
      [
        "line 1: unknown column 'colour' (the columns are serial, id, type, lat, lon, ward, site, interval)",
        'line 1: column ward is given twice',
      ],
    ],
    ['an empty file', '', [expect.stringMatching(/^the file is empty: .*serial,id,type,lat,lon/)]],
    ['a header only', 'serial,id,type,lat,lon\n', ['the file has a header but no devices']],
    ['an unclosed quote', 'serial,id,type,lat,lon\n"S1,b-1\n', ['line 2: a quoted field is not closed']],
  ])('refuses %s, naming the line', (_what, csv, problems) => {
    expect(readAllowListCsv(csv)).toEqual({ ok: false, problems });
  });

  it('reports every bad row with its line, its serial and the reason, and no rows', () => {
    const csv = [
      'serial,id,type,lat,lon,interval',
      'S-1,rdg-bin-1,waste-container,51.45,-0.97,',
      ',rdg-bin-2,waste-container,51.45,-0.97,',
      'S 3,rdg-bin-3,waste-container,51.45,-0.97,',
      'S-4,rdg-bin-4,lamp-post,51.45,-0.97,',
      'S-1,rdg-bin-5,waste-container,51.45,-0.97,',
      'S-6,rdg-bin-1,waste-container,51.45,-0.97,',
      'S-7,rdg-bin-7,waste-container,95,-0.97,',
      'S-8,rdg-bin-8,waste-container,51.45,-0.97,9d',
      'S-9,rdg-bin-9,waste-container',
      'S-10,rdg-old-1,waste-container,51.45,-0.97,',
    ].join('\n');
    const registered = new Map<string, RegisteredDevice>([
      ['rdg-old-1', { deviceType: 'waste-container', status: 'decommissioned' }],
    ]);
    expect(readAllowListCsv(csv, { registered })).toEqual({
      ok: false,
      problems: [
        'line 3: the serial is empty',
        "line 4: serial 'S 3' is not a serial number: letters, digits, '.', '_', ':' and '-', starting with a letter or digit, at most 64",
        "line 5: serial 'S-4': device 'rdg-bin-4': --type 'lamp-post' is not a device type; known: waste-container, parking-spot, air-quality, traffic-flow, water-level",
        "line 6: serial 'S-1': the serial is also on line 2; each serial once",
        "line 7: serial 'S-6': device 'rdg-bin-1': id is also on line 2; each device once",
        "line 8: serial 'S-7': device 'rdg-bin-7': --lat '95' is not a latitude in degrees between -90 and 90",
        "line 9: serial 'S-8': device 'rdg-bin-8': --interval '9d' must be a duration from 1s to 7d, e.g. 30s, 5m or 1h",
        'line 10: 3 values, the header has 6 columns',
        "line 11: serial 'S-10': device 'rdg-old-1' is already registered (waste-container, decommissioned); a serial provisions a new device only: use a new id",
      ],
    });
  });

  it("refuses rows outside the council's area when one is given", () => {
    const csv =
      'serial,id,type,lat,lon\nS-1,rdg-bin-1,waste-container,51.45,-0.97\nS-2,rdg-bin-2,waste-container,53,-2\n';
    const councilArea = { minLon: -1.1, minLat: 51.4, maxLon: -0.9, maxLat: 51.5 };
    expect(readAllowListCsv(csv, { councilArea })).toEqual({
      ok: false,
      problems: [
        expect.stringMatching(/^line 3: serial 'S-2': device 'rdg-bin-2': .*outside the council area/),
      ],
    });
    expect(readAllowListCsv(csv)).toMatchObject({ ok: true });
  });

  it('gives a quoted line break the line the row starts on', () => {
    const reading = readAllowListCsv(
      'serial,id,type,lat,lon,site\nS-1,b-1,waste-container,51,-1,"a\nb"\nS-2,b-2,x,51,-1,s\n',
    );
    expect(reading).toMatchObject({ ok: false, problems: [expect.stringMatching(/^line 4: serial 'S-2'/)] });
  });
});

describe('admitDevice refusals that need no lookup', () => {
  // Any use of a port would be a bug: a request without a usable serial is refused before anything is read.
  const untouchable = new Proxy(
    {},
    {
      get: (_target, name) => () => {
        throw new Error(`port used: ${String(name)}`);
      },
    },
  );
  const ports = {
    allowList: untouchable as ProvisioningAllowList,
    registry: untouchable as DeviceRegistry,
    certificates: untouchable as ClaimedCertificates,
  };

  it.each([
    [undefined, 'the request names no serial number: the device must send the SerialNumber parameter'],
    ['', 'the request names no serial number: the device must send the SerialNumber parameter'],
    ['SN 1', 'serial "SN 1" is not a serial number (^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$)'],
    ['x'.repeat(65), expect.stringMatching(/^serial "x{65}" is not a serial number/)],
    [42, 'serial "42" is not a serial number (^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$)'],
  ])('refuses serial %j', async (serialNumber, reason) => {
    expect(
      await admitDevice({ serialNumber, certificateId: 'c'.repeat(64) }, ports, NOW, {
        essentialDeviceTypes: [],
      }),
    ).toEqual({ allowed: false, reason });
  });
});
