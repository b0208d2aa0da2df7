import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbDeviceDirectory } from '../../lambdas/adapters/dynamodb-device-directory.js';
import { DynamoDbProvisioningAllowList } from '../../lambdas/adapters/dynamodb-provisioning-allow-list.js';
import type { Device, DeviceRegistry } from '../../lambdas/domain/device.js';
import {
  type AdmissionPorts,
  type AllowedDevice,
  admitDevice,
  type ClaimedCertificateState,
  type ClaimedCertificates,
  RECLAIM_AFTER_SECONDS,
} from '../../lambdas/domain/provisioning-allow-list.js';
import { startDynamo } from '../support/dynalite.js';
import { device, NOW } from '../support/messages.js';

let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let allowList: DynamoDbProvisioningAllowList;
let registry: DynamoDbDeviceDirectory;

beforeAll(async () => {
  dynamo = await startDynamo('allow');
  allowList = new DynamoDbProvisioningAllowList(dynamo.client, dynamo.names['provisioning-allow-list']);
  registry = new DynamoDbDeviceDirectory(dynamo.client, dynamo.names.devices);
});
afterAll(async () => {
  await dynamo.stop();
});

const LOADED = new Date('2026-11-20T09:00:00.000Z');
const certificate = (n: number) => n.toString(16).padStart(64, '0');

/**
 * What IoT would say of each certificate: the tests set a state where the template ran (`active`) or an
 * administrator retired one; any other certificate was never activated, as after a RegisterThing that failed.
 */
const certificateStates = new Map<string, ClaimedCertificateState>();
const certificates: ClaimedCertificates = {
  stateOf: async (_deviceId, certificateId) => certificateStates.get(certificateId) ?? 'never-activated',
};

/** A serial and its device; each test uses its own serials and ids, so tests share one table. */
function allowed(
  serialNumber: string,
  deviceId: string,
  overrides: Partial<AllowedDevice> = {},
): AllowedDevice {
  return {
    serialNumber,
    deviceId,
    deviceType: 'waste-container',
    location: { lat: 51.4545, lon: -0.9781 },
    ...overrides,
  };
}

describe('DynamoDbProvisioningAllowList', () => {
  it('puts entries waiting, and a re-load of a waiting entry writes its fields again', async () => {
    expect(
      await allowList.put([allowed('P-1', 'put-1', { ward: 'Abbey', expectedIntervalSeconds: 300 })], LOADED),
    ).toEqual({ waiting: ['P-1'], alreadyProvisioned: [] });
    expect(await allowList.get('P-1')).toEqual({
      serialNumber: 'P-1',
      deviceId: 'put-1',
      deviceType: 'waste-container',
      location: { lat: 51.4545, lon: -0.9781 },
      ward: 'Abbey',
      expectedIntervalSeconds: 300,
      state: 'waiting',
      loadedAt: LOADED.toISOString(),
    });

    const later = new Date('2026-11-21T09:00:00.000Z');
    expect(await allowList.put([allowed('P-1', 'put-1', { site: 'Broad Street' })], later)).toEqual({
      waiting: ['P-1'],
      alreadyProvisioned: [],
    });
    const reloaded = await allowList.get('P-1');
    expect(reloaded).toMatchObject({ site: 'Broad Street', state: 'waiting', loadedAt: later.toISOString() });
    expect(reloaded).not.toHaveProperty('ward');
    expect(await allowList.get('P-unknown')).toBeUndefined();
  });

  it('never resets a provisioned entry, and says which serials were already provisioned', async () => {
    await allowList.put([allowed('P-2', 'put-2'), allowed('P-3', 'put-3')], LOADED);
    await allowList.claim('P-2', { certificateId: certificate(2), provisionedAt: NOW.toISOString() });
    const before = await allowList.get('P-2');

    expect(
      await allowList.put([allowed('P-2', 'put-2', { ward: 'Other' }), allowed('P-3', 'put-3')], NOW),
    ).toEqual({ waiting: ['P-3'], alreadyProvisioned: ['P-2'] });
    expect(await allowList.get('P-2')).toEqual(before);
    expect(before).toMatchObject({
      state: 'provisioned',
      provisionedAt: NOW.toISOString(),
      certificateId: certificate(2),
    });
  });

  it('claims a waiting serial once: the claimed entry comes back, a second claim gets nothing', async () => {
    await allowList.put([allowed('C-1', 'claim-1')], LOADED);
    const claimed = await allowList.claim('C-1', {
      certificateId: certificate(1),
      provisionedAt: NOW.toISOString(),
    });
    expect(claimed).toMatchObject({
      serialNumber: 'C-1',
      deviceId: 'claim-1',
      state: 'provisioned',
      certificateId: certificate(1),
    });
    expect(
      await allowList.claim('C-1', { certificateId: certificate(9), provisionedAt: NOW.toISOString() }),
    ).toBeUndefined();
    expect(await allowList.get('C-1')).toMatchObject({ certificateId: certificate(1) });
  });

  it('does not create an entry when an unknown serial is claimed', async () => {
    expect(
      await allowList.claim('C-nowhere', { certificateId: certificate(1), provisionedAt: NOW.toISOString() }),
    ).toBeUndefined();
    expect(await allowList.get('C-nowhere')).toBeUndefined();
  });

  it('lets exactly one of two concurrent claims win (and one of ten)', async () => {
    for (const [serial, claims] of [
      ['C-race-2', 2],
      ['C-race-10', 10],
    ] as const) {
      await allowList.put([allowed(serial, `${serial}-device`)], LOADED);
      const results = await Promise.all(
        Array.from({ length: claims }, (_, n) =>
          allowList.claim(serial, { certificateId: certificate(n + 1), provisionedAt: NOW.toISOString() }),
        ),
      );
      const winners = results.flatMap((result, n) => (result ? [n + 1] : []));
      expect(winners).toHaveLength(1);
      expect(await allowList.get(serial)).toMatchObject({
        state: 'provisioned',
        certificateId: certificate(winners[0] as number),
      });
    }
  });

  it("gives a serial back only to the certificate that claimed it, clearing the claim's fields", async () => {
    await allowList.put([allowed('U-1', 'unclaim-1')], LOADED);
    await allowList.claim('U-1', { certificateId: certificate(1), provisionedAt: NOW.toISOString() });

    expect(await allowList.unclaim('U-1', certificate(2))).toBe(false);
    expect(await allowList.get('U-1')).toMatchObject({ state: 'provisioned' });

    expect(await allowList.unclaim('U-1', certificate(1))).toBe(true);
    const given = await allowList.get('U-1');
    expect(given).toMatchObject({ state: 'waiting', deviceId: 'unclaim-1' });
    expect(given).not.toHaveProperty('certificateId');
    expect(given).not.toHaveProperty('provisionedAt');
    expect(await allowList.unclaim('U-1', certificate(1))).toBe(false);
    expect(await allowList.unclaim('U-nowhere', certificate(1))).toBe(false);
  });

  it('reclaims a provisioned serial only from the certificate that holds it, and clears claimedAt on unclaim', async () => {
    await allowList.put([allowed('R-1', 'reclaim-1')], LOADED);
    const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000).toISOString();
    expect(
      await allowList.reclaim('R-1', certificate(1), { certificateId: certificate(2), claimedAt: at(1) }),
    ).toBeUndefined();
    await allowList.claim('R-1', { certificateId: certificate(1), provisionedAt: NOW.toISOString() });

    expect(
      await allowList.reclaim('R-1', certificate(9), { certificateId: certificate(2), claimedAt: at(1) }),
    ).toBeUndefined();
    // Without provisionedAt the registration time the serial made stays; with it, it moves.
    expect(
      await allowList.reclaim('R-1', certificate(1), { certificateId: certificate(2), claimedAt: at(60) }),
    ).toMatchObject({
      state: 'provisioned',
      certificateId: certificate(2),
      claimedAt: at(60),
      provisionedAt: NOW.toISOString(),
    });
    expect(
      await allowList.reclaim('R-1', certificate(2), {
        certificateId: certificate(3),
        claimedAt: at(120),
        provisionedAt: at(120),
      }),
    ).toMatchObject({ certificateId: certificate(3), claimedAt: at(120), provisionedAt: at(120) });

    expect(await allowList.unclaim('R-1', certificate(3))).toBe(true);
    const given = await allowList.get('R-1');
    expect(given).toMatchObject({ state: 'waiting' });
    expect(given).not.toHaveProperty('claimedAt');
    // A waiting serial is claimed, not reclaimed, and an unknown one is never created.
    expect(
      await allowList.reclaim('R-1', certificate(3), { certificateId: certificate(4), claimedAt: at(180) }),
    ).toBeUndefined();
    expect(
      await allowList.reclaim('R-nowhere', certificate(3), {
        certificateId: certificate(4),
        claimedAt: at(1),
      }),
    ).toBeUndefined();
    expect(await allowList.get('R-nowhere')).toBeUndefined();
  });

  it('works from a plain DynamoDB client as well as a document client', async () => {
    const plain = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'eu-west-2' });
    const list = new DynamoDbProvisioningAllowList(plain, dynamo.names['provisioning-allow-list']);
    await list.put([allowed('D-1', 'plain-1', { expectedIntervalSeconds: 60 })], LOADED);
    expect(await allowList.get('D-1')).toMatchObject({ deviceId: 'plain-1', expectedIntervalSeconds: 60 });
  });
});

describe('admitDevice against the allow-list and registry tables', () => {
  const settings = { essentialDeviceTypes: ['water-level' as const] };
  const ports = (): AdmissionPorts => ({ allowList, registry, certificates });
  const admit = (serialNumber: string, n: number, over: AdmissionPorts = ports()) =>
    admitDevice({ serialNumber, certificateId: certificate(n) }, over, NOW, settings);

  it('admits a waiting serial: claims it, registers the device and names the thing after it', async () => {
    await allowList.put(
      [
        allowed('A-1', 'rdg-gauge-1', {
          deviceType: 'water-level',
          ward: "St Mary's Butts",
          site: 'Kennet (weir)',
          expectedIntervalSeconds: 900,
        }),
      ],
      LOADED,
    );
    const admission = await admit('A-1', 1);
    expect(admission).toEqual({
      allowed: true,
      serialNumber: 'A-1',
      device: expect.objectContaining({ deviceId: 'rdg-gauge-1', status: 'active', revision: 1 }),
      parameterOverrides: {
        DeviceId: 'rdg-gauge-1',
        DeviceType: 'water-level',
        // Thing attributes in the characters IoT accepts; the registry keeps the names as given.
        Ward: 'St_Mary_s_Butts',
        Site: 'Kennet__weir_',
        TelemetryTopic: '$aws/rules/civic_essential/civic/water-level/rdg-gauge-1/telemetry',
      },
    });
    expect(await registry.get('rdg-gauge-1')).toMatchObject({
      deviceType: 'water-level',
      ward: "St Mary's Butts",
      site: 'Kennet (weir)',
      expectedIntervalSeconds: 900,
      location: { lat: 51.4545, lon: -0.9781 },
      registeredAt: NOW.toISOString(),
    });
    expect(await allowList.get('A-1')).toMatchObject({
      state: 'provisioned',
      certificateId: certificate(1),
      provisionedAt: NOW.toISOString(),
    });
  });

  it('tells an ordinary device its ordinary lane, and gives absent attributes a placeholder', async () => {
    await allowList.put([allowed('A-2', 'rdg-bin-2')], LOADED);
    expect(await admit('A-2', 2)).toMatchObject({
      allowed: true,
      parameterOverrides: {
        Ward: 'none',
        Site: 'none',
        TelemetryTopic: '$aws/rules/civic_ingest/civic/waste-container/rdg-bin-2/telemetry',
      },
    });
  });

  it('refuses a serial that is not on the list, naming it', async () => {
    expect(await admit('A-nowhere', 3)).toEqual({
      allowed: false,
      serialNumber: 'A-nowhere',
      reason: "serial 'A-nowhere' is not on the provisioning allow-list",
    });
  });

  it('admits a serial only once', async () => {
    await allowList.put([allowed('A-4', 'rdg-bin-4')], LOADED);
    expect(await admit('A-4', 4)).toMatchObject({ allowed: true });
    // The template ran: IoT activated the certificate the serial was claimed with.
    certificateStates.set(certificate(4), 'active');
    expect(await admit('A-4', 5)).toEqual({
      allowed: false,
      serialNumber: 'A-4',
      reason: `serial 'A-4' was already provisioned at ${NOW.toISOString()} as device 'rdg-bin-4'; each serial is provisioned once`,
    });
    expect(await allowList.get('A-4')).toMatchObject({ certificateId: certificate(4) });
  });

  it('admits exactly one of two devices presenting the same serial at once', async () => {
    await allowList.put([allowed('A-race', 'rdg-bin-race')], LOADED);
    const [first, second] = await Promise.all([admit('A-race', 11), admit('A-race', 12)]);
    expect([first?.allowed, second?.allowed].sort()).toEqual([false, true]);
    const loser = first?.allowed ? second : first;
    expect(loser).toMatchObject({ reason: expect.stringMatching(/^serial 'A-race' /) });
    expect(await registry.get('rdg-bin-race')).toMatchObject({ revision: 1 });
  });

  it('refuses a serial whose device id is already registered, leaving the entry waiting', async () => {
    await registry.put(device('rdg-bin-taken', 'waste-container'));
    await allowList.put([allowed('A-6', 'rdg-bin-taken')], LOADED);
    expect(await admit('A-6', 6)).toEqual({
      allowed: false,
      serialNumber: 'A-6',
      reason:
        "serial 'A-6': device 'rdg-bin-taken' is already registered; a serial provisions a new device only " +
        '(give the entry a new id, or onboard the device with add)',
    });
    expect(await allowList.get('A-6')).toMatchObject({ state: 'waiting' });
  });

  it('gives the serial back when the device turns out registered between the check and the write', async () => {
    await allowList.put([allowed('A-7', 'rdg-bin-7')], LOADED);
    // Another path registers the same id after the hook looked: the registry's conditional add refuses.
    const racing: DeviceRegistry = Object.assign(Object.create(registry), {
      add: async () => false,
    });
    expect(await admit('A-7', 7, { allowList, registry: racing, certificates })).toEqual({
      allowed: false,
      serialNumber: 'A-7',
      reason: expect.stringMatching(
        /^serial 'A-7': device 'rdg-bin-7' could not be registered: .*already registered/,
      ),
    });
    expect(await allowList.get('A-7')).toMatchObject({ state: 'waiting' });
    expect(await allowList.get('A-7')).not.toHaveProperty('certificateId');
  });

  it("refuses, and gives the serial back, when the device is outside the council's area now", async () => {
    await allowList.put([allowed('A-8', 'rdg-bin-8', { location: { lat: 53, lon: -2 } })], LOADED);
    const admission = await admitDevice(
      { serialNumber: 'A-8', certificateId: certificate(8) },
      ports(),
      NOW,
      {
        ...settings,
        councilArea: { minLon: -1.1, minLat: 51.4, maxLon: -0.9, maxLat: 51.5 },
      },
    );
    expect(admission).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(
        /^serial 'A-8': device 'rdg-bin-8' could not be registered: .*outside the council area/,
      ),
    });
    expect(await allowList.get('A-8')).toMatchObject({ state: 'waiting' });
    expect(await registry.get('rdg-bin-8')).toBeUndefined();
  });

  it('gives the serial back and throws when the registry cannot be written', async () => {
    await allowList.put([allowed('A-9', 'rdg-bin-9')], LOADED);
    const broken: DeviceRegistry = Object.assign(Object.create(registry), {
      add: async () => {
        throw new Error('registry unreachable');
      },
    });
    await expect(admit('A-9', 9, { allowList, registry: broken, certificates })).rejects.toThrow(
      'registry unreachable',
    );
    expect(await allowList.get('A-9')).toMatchObject({ state: 'waiting' });
    // Once the registry is back, the device's next attempt succeeds.
    expect(await admit('A-9', 10)).toMatchObject({ allowed: true });
  });
});

describe('admitDevice after a RegisterThing that failed after the hook (re-admission)', () => {
  const settings = { essentialDeviceTypes: [] };
  const ports = (): AdmissionPorts => ({ allowList, registry, certificates });
  /** When the hook admitted the first certificate: long enough ago for its provisioning to have settled. */
  const EARLIER = new Date(NOW.getTime() - 60_000);
  const OLD = 0x100;
  const NEW = 0x200;

  /** The hook admitted the serial with certificate OLD at `at` (claimed, registered); IoT then failed or not. */
  async function hookRan(serialNumber: string, at: Date = EARLIER): Promise<void> {
    expect(
      await admitDevice({ serialNumber, certificateId: certificate(OLD) }, ports(), at, settings),
    ).toMatchObject({ allowed: true });
  }

  interface Case {
    readonly name: string;
    /** Puts the serial (`serial`, device `id`) into the state the row is about. */
    readonly given: (serial: string, id: string) => Promise<void>;
    /** What IoT says of certificate OLD. */
    readonly oldCertificate?: ClaimedCertificateState;
    /** The certificate the request carries. @default NEW */
    readonly requestWith?: number;
    readonly admitted: boolean;
    readonly reason?: RegExp;
    /** The allow-list entry and the registry entry afterwards. */
    readonly entry: Record<string, unknown>;
    readonly device?: Record<string, unknown> | 'absent';
  }

  const cases: Case[] = [
    {
      name: 'a serial not on the list: refused',
      given: async () => undefined,
      admitted: false,
      reason: /^serial 'RA-0' is not on the provisioning allow-list$/,
      entry: {},
      device: 'absent',
    },
    {
      name: 'a waiting serial: admitted, registered now',
      given: async (serial, id) => void (await allowList.put([allowed(serial, id)], LOADED)),
      admitted: true,
      entry: { state: 'provisioned', certificateId: certificate(NEW), provisionedAt: NOW.toISOString() },
      device: { registeredAt: NOW.toISOString(), revision: 1 },
    },
    {
      name: 'provisioned, its certificate active: refused, already provisioned',
      given: async (serial, id) => {
        await allowList.put([allowed(serial, id)], LOADED);
        await hookRan(serial);
      },
      oldCertificate: 'active',
      admitted: false,
      reason:
        /^serial 'RA-2' was already provisioned at .* as device 'rdg-re-2'; each serial is provisioned once$/,
      entry: { certificateId: certificate(OLD), provisionedAt: EARLIER.toISOString() },
      device: { registeredAt: EARLIER.toISOString(), revision: 1 },
    },
    {
      name: 'provisioned, its certificate revoked since: refused, a serial never brings a device back',
      given: async (serial, id) => {
        await allowList.put([allowed(serial, id)], LOADED);
        await hookRan(serial);
      },
      oldCertificate: 'retired',
      admitted: false,
      reason: /^serial 'RA-3' was already provisioned .*deactivated or revoked.*rotate --id rdg-re-3/,
      entry: { certificateId: certificate(OLD) },
    },
    {
      name: 'provisioned, its certificate never activated: re-admitted, the registry entry kept',
      given: async (serial, id) => {
        await allowList.put([allowed(serial, id)], LOADED);
        await hookRan(serial);
      },
      admitted: true,
      entry: {
        state: 'provisioned',
        certificateId: certificate(NEW),
        provisionedAt: EARLIER.toISOString(),
        claimedAt: NOW.toISOString(),
      },
      device: { registeredAt: EARLIER.toISOString(), revision: 1 },
    },
    {
      name: 'provisioned, never activated, the registry never got the device: re-admitted, registered now',
      given: async (serial, id) => {
        // The hook claimed, registering failed and so did giving the serial back.
        await allowList.put([allowed(serial, id)], LOADED);
        await allowList.claim(serial, {
          certificateId: certificate(OLD),
          provisionedAt: EARLIER.toISOString(),
        });
      },
      admitted: true,
      entry: {
        certificateId: certificate(NEW),
        provisionedAt: NOW.toISOString(),
        claimedAt: NOW.toISOString(),
      },
      device: { registeredAt: NOW.toISOString(), revision: 1 },
    },
    {
      name: "provisioned, never activated, the id registered as another device: refused, that device's entry kept",
      given: async (serial, id) => {
        await allowList.put([allowed(serial, id)], LOADED);
        await allowList.claim(serial, {
          certificateId: certificate(OLD),
          provisionedAt: EARLIER.toISOString(),
        });
        // Onboarded with add meanwhile: its own thing and certificate, nothing to do with the serial.
        await registry.put(device(id, 'waste-container'));
      },
      admitted: false,
      reason: /^serial 'RA-6': device 'rdg-re-6' is registered, but not under this serial/,
      entry: { certificateId: certificate(OLD) },
      device: { registeredAt: '2026-01-01T00:00:00.000Z' },
    },
    {
      name: 'provisioned, never activated, but claimed moments ago: refused until the first claim settles',
      given: async (serial, id) => {
        await allowList.put([allowed(serial, id)], LOADED);
        await hookRan(serial, new Date(NOW.getTime() - 5_000));
      },
      admitted: false,
      reason: new RegExp(
        `^serial 'RA-7' was claimed at .* may still be finishing; try again after ${new Date(
          NOW.getTime() - 5_000 + RECLAIM_AFTER_SECONDS * 1000,
        ).toISOString()}$`,
      ),
      entry: { certificateId: certificate(OLD) },
    },
    {
      name: 'provisioned moments ago, never activated, the same certificate asking again: re-admitted',
      given: async (serial, id) => {
        await allowList.put([allowed(serial, id)], LOADED);
        await hookRan(serial, new Date(NOW.getTime() - 5_000));
      },
      requestWith: OLD,
      admitted: true,
      entry: { certificateId: certificate(OLD), claimedAt: NOW.toISOString() },
      device: { revision: 1 },
    },
    {
      name: 'provisioned, never activated, the device decommissioned since: refused',
      given: async (serial, id) => {
        await allowList.put([allowed(serial, id)], LOADED);
        await hookRan(serial);
        const registered = await registry.get(id);
        await registry.replace({ ...(registered as Device), status: 'decommissioned', revision: 2 }, 1);
      },
      admitted: false,
      reason: /^serial 'RA-9': device 'rdg-re-9' was decommissioned; a serial never brings a device back$/,
      entry: { certificateId: certificate(OLD) },
      device: { status: 'decommissioned' },
    },
  ];

  it.each(cases.map((c, index) => [c.name, c, index] as const))('%s', async (_name, c, index) => {
    const serial = `RA-${index}`;
    const id = `rdg-re-${index}`;
    await c.given(serial, id);
    if (c.oldCertificate) certificateStates.set(certificate(OLD), c.oldCertificate);
    try {
      const admission = await admitDevice(
        { serialNumber: serial, certificateId: certificate(c.requestWith ?? NEW) },
        ports(),
        NOW,
        settings,
      );
      if (c.admitted) {
        expect(admission).toMatchObject({
          allowed: true,
          serialNumber: serial,
          device: { deviceId: id, deviceType: 'waste-container' },
          parameterOverrides: { DeviceId: id },
        });
      } else {
        expect(admission).toEqual({
          allowed: false,
          serialNumber: serial,
          reason: expect.stringMatching(c.reason as RegExp),
        });
      }
      expect((await allowList.get(serial)) ?? {}).toMatchObject(c.entry);
      if (c.device === 'absent') expect(await registry.get(id)).toBeUndefined();
      else if (c.device) expect(await registry.get(id)).toMatchObject(c.device);
    } finally {
      certificateStates.delete(certificate(OLD));
    }
  });

  it('names the unused certificate it replaces on a re-admission, and nothing on a first admission', async () => {
    await allowList.put([allowed('RB-1', 'rdg-re-b1')], LOADED);
    await hookRan('RB-1');
    const again = await admitDevice(
      { serialNumber: 'RB-1', certificateId: certificate(NEW) },
      ports(),
      NOW,
      settings,
    );
    expect(again).toMatchObject({ allowed: true, previousCertificateId: certificate(OLD) });
    await allowList.put([allowed('RB-2', 'rdg-re-b2')], LOADED);
    expect(await admit('RB-2')).not.toHaveProperty('previousCertificateId');

    function admit(serialNumber: string) {
      return admitDevice({ serialNumber, certificateId: certificate(NEW) }, ports(), NOW, settings);
    }
  });

  it('re-admits exactly one of two retries at once: the conditional write lets one certificate win', async () => {
    await allowList.put([allowed('RC-1', 'rdg-re-c1')], LOADED);
    await hookRan('RC-1');
    const [first, second] = await Promise.all(
      [0x301, 0x302].map((n) =>
        admitDevice({ serialNumber: 'RC-1', certificateId: certificate(n) }, ports(), NOW, settings),
      ),
    );
    expect([first?.allowed, second?.allowed].sort()).toEqual([false, true]);
    const winner = first?.allowed ? 0x301 : 0x302;
    const loser = first?.allowed ? second : first;
    expect(loser).toMatchObject({ reason: expect.stringMatching(/^serial 'RC-1' /) });
    expect(await allowList.get('RC-1')).toMatchObject({ certificateId: certificate(winner) });
    // Registered once, by the hook's first run; neither retry registered it again.
    expect(await registry.get('rdg-re-c1')).toMatchObject({
      revision: 1,
      registeredAt: EARLIER.toISOString(),
    });
  });

  it('gives a reclaimed serial back when the device it registers anew is refused (outside the area now)', async () => {
    await allowList.put([allowed('RD-1', 'rdg-re-d1', { location: { lat: 53, lon: -2 } })], LOADED);
    await allowList.claim('RD-1', { certificateId: certificate(OLD), provisionedAt: EARLIER.toISOString() });
    const admission = await admitDevice(
      { serialNumber: 'RD-1', certificateId: certificate(NEW) },
      ports(),
      NOW,
      { ...settings, councilArea: { minLon: -1.1, minLat: 51.4, maxLon: -0.9, maxLat: 51.5 } },
    );
    expect(admission).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/^serial 'RD-1': device 'rdg-re-d1' could not be registered: .*outside/),
    });
    // Consistent again: nothing registered, the serial waiting.
    expect(await allowList.get('RD-1')).toMatchObject({ state: 'waiting' });
    expect(await registry.get('rdg-re-d1')).toBeUndefined();
  });

  it('throws when the certificate status cannot be read, leaving the serial as it was', async () => {
    await allowList.put([allowed('RE-1', 'rdg-re-e1')], LOADED);
    await hookRan('RE-1');
    const unreachable: ClaimedCertificates = {
      stateOf: async () => {
        throw new Error('ThrottlingException: Rate exceeded');
      },
    };
    await expect(
      admitDevice(
        { serialNumber: 'RE-1', certificateId: certificate(NEW) },
        { ...ports(), certificates: unreachable },
        NOW,
        settings,
      ),
    ).rejects.toThrow('Rate exceeded');
    expect(await allowList.get('RE-1')).toMatchObject({ certificateId: certificate(OLD) });
  });
});
