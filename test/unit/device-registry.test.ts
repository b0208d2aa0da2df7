import { describe, expect, it } from 'vitest';
import { CachedDeviceDirectory } from '../../lambdas/adapters/dynamodb-device-directory.js';
import { InMemoryDeviceRegistry, InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { INGEST_SETTINGS } from '../../lambdas/contracts/ingest-settings.js';
import { getDevice, InvalidRequestError, NotFoundError } from '../../lambdas/domain/city-queries.js';
import { type BoundingBox, type Device, MAX_DEVICE_SETTINGS } from '../../lambdas/domain/device.js';
import {
  asDeviceRegistry,
  boundingBoxText,
  type CertificateRevocation,
  decommissionDevice,
  listDevices,
  registerDevice,
  requireInsideCouncilArea,
  revokeAndDecommission,
  updateDevice,
} from '../../lambdas/domain/device-registry.js';
import { enrichTelemetryBatch } from '../../lambdas/domain/enrich-telemetry.js';
import { ConflictError } from '../../lambdas/domain/service-queries.js';
import { device, LIMITS, NOW, queued, reading } from '../support/messages.js';

const later = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);

const registration = {
  deviceId: 'bin-100',
  deviceType: 'waste-container' as const,
  location: { lat: 51.4551, lon: -0.9787 },
  ward: 'Abbey',
  site: 'Broad Street',
  expectedIntervalSeconds: 900,
  settings: { fullThreshold: 0.8 },
};

function town() {
  return new InMemoryPorts([
    device('bin-1', 'waste-container', { ward: 'Abbey', location: { lat: 51.455, lon: -0.97 } }),
    device('bin-2', 'waste-container', { ward: 'Katesgrove', location: { lat: 51.44, lon: -0.96 } }),
    device('bin-3', 'waste-container', {
      ward: 'Abbey',
      status: 'decommissioned',
      location: { lat: 51.456, lon: -0.971 },
    }),
    device('bay-1', 'parking-spot', { ward: 'Abbey', location: { lat: 51.457, lon: -0.972 } }),
    device('aq-1', 'air-quality', { ward: 'Abbey', location: { lat: 51.5, lon: -1.1 } }),
  ]);
}

describe('registerDevice', () => {
  it('adds an active device registered now, at revision 1', async () => {
    const ports = town();
    const registered = await registerDevice(ports.devices, registration, NOW);
    expect(registered).toEqual({
      ...registration,
      status: 'active',
      registeredAt: NOW.toISOString(),
      revision: 1,
    });
    expect(await getDevice(ports, 'bin-100')).toEqual(registered);
  });

  it('leaves out the optional fields not given', async () => {
    const ports = town();
    const registered = await registerDevice(
      ports.devices,
      { deviceId: 'bay-9', deviceType: 'parking-spot', location: { lat: 51.45, lon: -0.97 } },
      NOW,
    );
    expect(Object.keys(registered).sort()).toEqual(
      ['deviceId', 'deviceType', 'location', 'registeredAt', 'revision', 'status'].sort(),
    );
  });

  it('refuses an id already registered, a decommissioned one too, and keeps the first entry', async () => {
    const ports = town();
    await registerDevice(ports.devices, registration, NOW);
    await expect(registerDevice(ports.devices, { ...registration, site: 'Other' }, later(1))).rejects.toThrow(
      ConflictError,
    );
    await expect(
      registerDevice(ports.devices, { ...registration, deviceId: 'bin-3' }, later(1)),
    ).rejects.toThrow(/already registered/);
    expect((await getDevice(ports, 'bin-100')).site).toBe('Broad Street');
    expect((await getDevice(ports, 'bin-3')).status).toBe('decommissioned');
  });
});

describe('listDevices', () => {
  const ids = (page: { items: readonly Device[] }) => page.items.map((d) => d.deviceId);

  it('lists every device in id order, each with its revision (0 when it has none)', async () => {
    const page = await listDevices(town().devices, { limit: 100 });
    expect(ids(page)).toEqual(['aq-1', 'bay-1', 'bin-1', 'bin-2', 'bin-3']);
    expect(page.items.every((d) => d.revision === 0)).toBe(true);
    expect(page.nextCursor).toBeUndefined();
  });

  it('combines type, ward, status and bounding box', async () => {
    const registry = town().devices;
    const abbey = { minLon: -0.98, minLat: 51.45, maxLon: -0.97, maxLat: 51.46 };
    expect(ids(await listDevices(registry, { ward: 'Abbey', limit: 100 }))).toEqual([
      'aq-1',
      'bay-1',
      'bin-1',
      'bin-3',
    ]);
    expect(ids(await listDevices(registry, { ward: 'Abbey', bbox: abbey, limit: 100 }))).toEqual([
      'bay-1',
      'bin-1',
      'bin-3',
    ]);
    expect(
      ids(await listDevices(registry, { deviceType: 'waste-container', bbox: abbey, limit: 100 })),
    ).toEqual(['bin-1', 'bin-3']);
    expect(
      ids(
        await listDevices(registry, {
          deviceType: 'waste-container',
          ward: 'Abbey',
          status: 'active',
          bbox: abbey,
          limit: 100,
        }),
      ),
    ).toEqual(['bin-1']);
    expect(ids(await listDevices(registry, { status: 'decommissioned', limit: 100 }))).toEqual(['bin-3']);
  });

  it('pages with a cursor bound to the filters', async () => {
    const registry = town().devices;
    const first = await listDevices(registry, { ward: 'Abbey', limit: 3 });
    expect(ids(first)).toEqual(['aq-1', 'bay-1', 'bin-1']);
    const second = await listDevices(registry, { ward: 'Abbey', limit: 3, cursor: first.nextCursor });
    expect(ids(second)).toEqual(['bin-3']);
    expect(second.nextCursor).toBeUndefined();
    // Page size may change between pages; the filters may not.
    expect(ids(await listDevices(registry, { ward: 'Abbey', limit: 1, cursor: first.nextCursor }))).toEqual([
      'bin-3',
    ]);
    for (const other of [{}, { ward: 'Katesgrove' }, { ward: 'Abbey', status: 'active' as const }]) {
      await expect(
        listDevices(registry, { ...other, limit: 3, cursor: first.nextCursor }),
      ).rejects.toMatchObject({ name: 'InvalidRequestError', parameter: 'cursor' });
    }
  });

  it('binds a cursor to the bounding box by value', async () => {
    const registry = town().devices;
    const bbox = { minLon: -1, minLat: 51.4, maxLon: -0.9, maxLat: 51.46 };
    const first = await listDevices(registry, { bbox, limit: 1 });
    expect(
      ids(await listDevices(registry, { bbox: { ...bbox }, limit: 1, cursor: first.nextCursor })),
    ).toEqual(['bin-1']);
    await expect(
      listDevices(registry, { bbox: { ...bbox, maxLat: 51.47 }, limit: 1, cursor: first.nextCursor }),
    ).rejects.toThrow(/other filters/);
  });

  it('refuses a cursor it did not issue', async () => {
    for (const cursor of ['not-a-cursor', Buffer.from('{"position":"x"}').toString('base64url')]) {
      await expect(listDevices(town().devices, { limit: 5, cursor })).rejects.toThrow(InvalidRequestError);
    }
  });
});

describe('updateDevice', () => {
  it('changes what is given, merges settings by name and counts the revision', async () => {
    const ports = town();
    await registerDevice(
      ports.devices,
      { ...registration, settings: { fullThreshold: 0.8, lidAlarm: 1 } },
      NOW,
    );
    const changed = await updateDevice(
      ports.devices,
      'bin-100',
      { location: { lat: 51.46, lon: -0.98 }, site: null, settings: { fullThreshold: 0.75, lidAlarm: null } },
      later(5),
    );
    expect(changed).toEqual({
      deviceId: 'bin-100',
      deviceType: 'waste-container',
      status: 'active',
      location: { lat: 51.46, lon: -0.98 },
      ward: 'Abbey',
      expectedIntervalSeconds: 900,
      settings: { fullThreshold: 0.75 },
      registeredAt: NOW.toISOString(),
      updatedAt: later(5).toISOString(),
      revision: 2,
    });
    expect(await getDevice(ports, 'bin-100')).toEqual(changed);
    const cleared = await updateDevice(
      ports.devices,
      'bin-100',
      { expectedIntervalSeconds: null, settings: { fullThreshold: null } },
      later(6),
    );
    expect(cleared).not.toHaveProperty('expectedIntervalSeconds');
    expect(cleared).not.toHaveProperty('settings');
    expect(cleared.revision).toBe(3);
  });

  it('changes an entry written without a revision (revision 0)', async () => {
    const ports = town();
    const changed = await updateDevice(ports.devices, 'bin-1', { ward: 'Battle', revision: 0 }, later(1));
    expect(changed).toMatchObject({ ward: 'Battle', revision: 1 });
  });

  it('refuses a change based on an older revision', async () => {
    const ports = town();
    await registerDevice(ports.devices, registration, NOW);
    await updateDevice(ports.devices, 'bin-100', { ward: 'Battle', revision: 1 }, later(1));
    await expect(
      updateDevice(ports.devices, 'bin-100', { ward: 'Caversham', revision: 1 }, later(2)),
    ).rejects.toThrow(ConflictError);
    expect((await getDevice(ports, 'bin-100')).ward).toBe('Battle');
  });

  it('re-applies a change without a revision on top of a concurrent one, never overwriting it', async () => {
    const stored = new Map<string, Device>([['bin-1', device('bin-1', 'waste-container', { revision: 4 })]]);
    const inner = new InMemoryDeviceRegistry(stored);
    let raced = false;
    // Another officer's change lands between this change's read and its write.
    const racing = Object.assign(Object.create(inner) as InMemoryDeviceRegistry, {
      replace: async (next: Device, expected: number) => {
        if (!raced) {
          raced = true;
          stored.set('bin-1', { ...(stored.get('bin-1') as Device), site: 'Their site', revision: 5 });
        }
        return inner.replace(next, expected);
      },
    });
    const changed = await updateDevice(racing, 'bin-1', { ward: 'My ward' }, later(1));
    expect(changed).toMatchObject({ site: 'Their site', ward: 'My ward', revision: 6 });
    expect(stored.get('bin-1')).toEqual(changed);
  });

  it('gives up with a conflict when the device keeps changing underneath', async () => {
    const inner = new InMemoryDeviceRegistry(new Map([['bin-1', device('bin-1', 'waste-container')]]));
    const busy = Object.assign(Object.create(inner) as InMemoryDeviceRegistry, {
      replace: async () => false,
    });
    await expect(updateDevice(busy, 'bin-1', { ward: 'X' }, NOW)).rejects.toThrow(/someone else/);
  });

  it('answers 404 for an unknown device and refuses to change a decommissioned one', async () => {
    const ports = town();
    await expect(updateDevice(ports.devices, 'ghost', { ward: 'X' }, NOW)).rejects.toThrow(NotFoundError);
    await expect(updateDevice(ports.devices, 'bin-3', { ward: 'X' }, NOW)).rejects.toThrow(
      /decommissioned.*kept as history/,
    );
  });

  it('refuses a change that would leave more settings than a device may carry', async () => {
    const ports = town();
    const full = Object.fromEntries(Array.from({ length: MAX_DEVICE_SETTINGS }, (_, i) => [`s${i}`, i]));
    await updateDevice(ports.devices, 'bin-1', { settings: full }, NOW);
    await expect(
      updateDevice(ports.devices, 'bin-1', { settings: { oneMore: 1 } }, NOW),
    ).rejects.toMatchObject({
      name: 'InvalidRequestError',
      parameter: 'settings',
    });
  });
});

describe('decommissionDevice', () => {
  it('keeps the entry with its status and time; doing it again answers the same record', async () => {
    const ports = town();
    await registerDevice(ports.devices, registration, NOW);
    const retired = await decommissionDevice(ports.devices, 'bin-100', later(10));
    expect(retired).toMatchObject({
      deviceId: 'bin-100',
      status: 'decommissioned',
      decommissionedAt: later(10).toISOString(),
      updatedAt: later(10).toISOString(),
      site: 'Broad Street',
      revision: 2,
    });
    expect(await decommissionDevice(ports.devices, 'bin-100', later(20))).toEqual(retired);
    expect(await getDevice(ports, 'bin-100')).toEqual(retired);
  });

  it('answers 404 for a device never registered', async () => {
    await expect(decommissionDevice(town().devices, 'ghost', NOW)).rejects.toThrow(NotFoundError);
  });

  it("quarantines the device's later messages as DEVICE_DECOMMISSIONED and keeps what it stored before", async () => {
    const ports = town();
    await registerDevice(ports.devices, registration, NOW);
    const before = await enrichTelemetryBatch(
      [queued({ deviceId: 'bin-100', payload: reading({ fillingLevel: 0.4 }) })],
      ports,
      NOW,
      LIMITS,
    );
    expect(before.stored).toBe(1);
    await decommissionDevice(ports.devices, 'bin-100', NOW);
    const after = await enrichTelemetryBatch(
      [queued({ deviceId: 'bin-100', payload: reading({ fillingLevel: 0.5 }) })],
      ports,
      NOW,
      LIMITS,
    );
    expect(after.stored).toBe(0);
    expect(after.quarantined.map((q) => q.reason)).toEqual(['DEVICE_DECOMMISSIONED']);
    expect(ports.series.filter((p) => p.deviceId === 'bin-100')).toHaveLength(1);
    expect(ports.latest.get('bin-100')?.readings).toEqual({ fillingLevel: 0.4 });
  });

  it('takes effect in ingestion within the registry cache period, not at once', async () => {
    const ports = town();
    await registerDevice(ports.devices, registration, NOW);
    let clock = NOW.getTime();
    const cacheMs = INGEST_SETTINGS.registryCacheSeconds * 1000;
    const ingestion = { ...ports, devices: new CachedDeviceDirectory(ports.devices, cacheMs, () => clock) };
    const send = async (fillingLevel: number) =>
      enrichTelemetryBatch(
        [queued({ deviceId: 'bin-100', payload: reading({ fillingLevel }) })],
        ingestion,
        NOW,
        LIMITS,
      );
    expect((await send(0.1)).stored).toBe(1);
    await decommissionDevice(ports.devices, 'bin-100', NOW);
    // The enrichment function still holds the entry it read a moment ago.
    clock += cacheMs - 1;
    expect((await send(0.2)).stored).toBe(1);
    clock += 1;
    expect((await send(0.3)).quarantined.map((q) => q.reason)).toEqual(['DEVICE_DECOMMISSIONED']);
  });
});

describe('asDeviceRegistry', () => {
  it('passes a full registry through and refuses a lookup-only directory', () => {
    const ports = town();
    expect(asDeviceRegistry(ports.devices)).toBe(ports.devices);
    expect(() => asDeviceRegistry({ findMany: async () => new Map() })).toThrow(/cannot list or change/);
  });
});

describe('the council area', () => {
  /** Roughly the Borough of Reading with a margin, as cdk.json has it. */
  const AREA: BoundingBox = { minLon: -1.07, minLat: 51.39, maxLon: -0.91, maxLat: 51.51 };
  const AREA_TEXT = '-1.07,51.39,-0.91,51.51 (west,south,east,north)';

  it('writes a box west,south,east,north', () => {
    expect(boundingBoxText(AREA)).toBe('-1.07,51.39,-0.91,51.51');
  });

  it.each([
    ['the centre', { lat: 51.4551, lon: -0.9734 }],
    ['the south-west corner', { lat: 51.39, lon: -1.07 }],
    ['the north-east corner', { lat: 51.51, lon: -0.91 }],
    ['the west edge', { lat: 51.45, lon: -1.07 }],
    ['the north edge', { lat: 51.51, lon: -0.97 }],
  ])('counts %s as inside', (_where, location) => {
    expect(() => requireInsideCouncilArea('bin-9', location, AREA)).not.toThrow();
  });

  it.each([
    ['just west', { lat: 51.45, lon: -1.0701 }],
    ['just east', { lat: 51.45, lon: -0.9099 }],
    ['just south', { lat: 51.3899, lon: -0.97 }],
    ['just north', { lat: 51.5101, lon: -0.97 }],
    ['lat and lon swapped', { lat: -0.97, lon: 51.45 }],
    ['a dropped minus', { lat: 51.45, lon: 0.97 }],
  ])('refuses a location %s of the area', (_where, location) => {
    expect(() => requireInsideCouncilArea('bin-9', location, AREA)).toThrow(InvalidRequestError);
  });

  it('accepts anywhere when no area is configured', () => {
    expect(() => requireInsideCouncilArea('bin-9', { lat: -33.86, lon: 151.21 }, undefined)).not.toThrow();
  });

  it('refuses to register a device outside, naming the device, the field and the area; nothing is written', async () => {
    const ports = town();
    const outside = { ...registration, location: { lat: 52.1, lon: -1.3 } };
    const refusal = registerDevice(ports.devices, outside, NOW, { councilArea: AREA });
    await expect(refusal).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(refusal).rejects.toMatchObject({
      parameter: 'location',
      message: `device 'bin-100': location 52.1,-1.3 (lat,lon) is outside the council area ${AREA_TEXT}`,
    });
    await expect(getDevice(ports, 'bin-100')).rejects.toThrow(NotFoundError);
  });

  it('registers a device on the edge of the area, and anywhere without one', async () => {
    const ports = town();
    const onEdge = { ...registration, location: { lat: 51.39, lon: -0.91 } };
    expect(await registerDevice(ports.devices, onEdge, NOW, { councilArea: AREA })).toMatchObject({
      location: { lat: 51.39, lon: -0.91 },
    });
    const far = { ...registration, deviceId: 'bin-101', location: { lat: 52.1, lon: -1.3 } };
    expect((await registerDevice(ports.devices, far, NOW)).location).toEqual({ lat: 52.1, lon: -1.3 });
  });

  it('refuses to move a device outside and leaves its entry as it was', async () => {
    const ports = town();
    const before = await getDevice(ports, 'bin-1');
    await expect(
      updateDevice(ports.devices, 'bin-1', { location: { lat: 51.3, lon: -0.97 }, ward: 'X' }, NOW, {
        councilArea: AREA,
      }),
    ).rejects.toMatchObject({
      name: 'InvalidRequestError',
      parameter: 'location',
      message: `device 'bin-1': location 51.3,-0.97 (lat,lon) is outside the council area ${AREA_TEXT}`,
    });
    expect(await getDevice(ports, 'bin-1')).toEqual(before);
  });

  it('moves a device to the edge, and changes other fields of one already outside (the check is on moves)', async () => {
    const ports = town();
    const moved = await updateDevice(ports.devices, 'bin-1', { location: { lat: 51.51, lon: -1.07 } }, NOW, {
      councilArea: AREA,
    });
    expect(moved.location).toEqual({ lat: 51.51, lon: -1.07 });
    // aq-1 (51.5, -1.1) was registered before the area was configured: it stays changeable without a move.
    const renamed = await updateDevice(ports.devices, 'aq-1', { ward: 'Norcot' }, NOW, { councilArea: AREA });
    expect(renamed.ward).toBe('Norcot');
  });
});

describe('revokeAndDecommission', () => {
  /** Records each revocation with the device's registry status at that moment; fails when told to. */
  function certificatesOf(ports: InMemoryPorts, failure?: Error) {
    const revoked: { deviceId: string; statusThen: string | undefined }[] = [];
    const certificates: CertificateRevocation = {
      revoke: async (deviceId) => {
        if (failure) throw failure;
        revoked.push({ deviceId, statusThen: ports.devicesById.get(deviceId)?.status });
      },
    };
    return { certificates, revoked };
  }

  it('revokes the certificates first, then decommissions the entry', async () => {
    const ports = town();
    const { certificates, revoked } = certificatesOf(ports);
    const retired = await revokeAndDecommission(ports.devices, certificates, 'bin-1', later(5));
    expect(revoked).toEqual([{ deviceId: 'bin-1', statusThen: 'active' }]);
    expect(retired).toMatchObject({ status: 'decommissioned', decommissionedAt: later(5).toISOString() });
    expect(ports.devicesById.get('bin-1')).toEqual(retired);
  });

  it('leaves the entry active when revoking fails, so the call can be repeated', async () => {
    const ports = town();
    const before = ports.devicesById.get('bin-1');
    const { certificates } = certificatesOf(ports, new Error('IoT is unavailable'));
    await expect(revokeAndDecommission(ports.devices, certificates, 'bin-1', NOW)).rejects.toThrow(
      'IoT is unavailable',
    );
    expect(ports.devicesById.get('bin-1')).toEqual(before);
  });

  it('revokes again on a repeat and answers the same record (the first time kept)', async () => {
    const ports = town();
    const { certificates, revoked } = certificatesOf(ports);
    const first = await revokeAndDecommission(ports.devices, certificates, 'bin-1', later(5));
    expect(await revokeAndDecommission(ports.devices, certificates, 'bin-1', later(9))).toEqual(first);
    expect(revoked.map((r) => r.statusThen)).toEqual(['active', 'decommissioned']);
  });

  it('answers 404 for a device never registered, revoking nothing', async () => {
    const ports = town();
    const { certificates, revoked } = certificatesOf(ports);
    await expect(revokeAndDecommission(ports.devices, certificates, 'ghost', NOW)).rejects.toThrow(
      NotFoundError,
    );
    expect(revoked).toEqual([]);
  });
});
