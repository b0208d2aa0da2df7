import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbDeviceDirectory } from '../../lambdas/adapters/dynamodb-device-directory.js';
import { DynamoDbLatestState } from '../../lambdas/adapters/dynamodb-latest-state.js';
import {
  DynamoDbAlertBook,
  DynamoDbDeviceFleet,
  DynamoDbJobBook,
  DynamoDbSiteBoard,
} from '../../lambdas/adapters/dynamodb-service-records.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { Page, TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { type AlertStatus, incidentId } from '../../services/shared/alerts.js';
import {
  InMemoryAlertBook,
  InMemoryFleet,
  InMemoryJobBook,
  InMemorySiteBoard,
  RecordingNotifier,
} from '../../services/shared/in-memory-workflow-ports.js';
import { type Job, type JobStatus, openJob, transitionJob } from '../../services/shared/jobs.js';
import { at, point } from '../../services/shared/telemetry-fixtures.js';
import type {
  AlertBook,
  AlertRecord,
  DeviceFleet,
  JobBook,
  SiteBoard,
  SiteRecord,
} from '../../services/shared/workflow-ports.js';
import { applyAlert, updateSite } from '../../services/shared/workflow-steps.js';
import { startDynamo } from '../support/dynalite.js';

/**
 * One set of behavioural cases, run against the in-memory ports the blueprints' tests use and against the
 * DynamoDB adapters the platform deploys: a workflow that passes its tests in memory behaves the same on tables.
 */
const SERVICES = ['waste', 'offline', 'flood'];

interface Ports {
  readonly jobs: JobBook;
  readonly alerts: AlertBook;
  readonly sites: SiteBoard;
  readonly fleet: DeviceFleet;
  register(devices: readonly Device[], latest: readonly TelemetryPoint[]): Promise<void>;
  stop(): Promise<void>;
}

const implementations: [string, () => Promise<Ports>][] = [
  [
    'in-memory',
    async () => {
      const fleet = new InMemoryFleet();
      return {
        jobs: new InMemoryJobBook(),
        alerts: new InMemoryAlertBook(),
        sites: new InMemorySiteBoard(),
        fleet,
        register: async (devices, latest) => {
          for (const device of devices) fleet.devices.set(device.deviceId, device);
          for (const p of latest) fleet.latest.set(p.deviceId, p);
        },
        stop: async () => {},
      };
    },
  ],
  [
    'DynamoDB',
    async () => {
      const dynamo = await startDynamo();
      const { client, names } = dynamo;
      const latestState = new DynamoDbLatestState(client, names['latest-state']);
      return {
        jobs: new DynamoDbJobBook(client, names.jobs, SERVICES),
        alerts: new DynamoDbAlertBook(client, names.alerts, SERVICES),
        sites: new DynamoDbSiteBoard(client, names['service-sites']),
        fleet: new DynamoDbDeviceFleet(client, names.devices, latestState),
        register: async (devices, latest) => {
          const directory = new DynamoDbDeviceDirectory(client, names.devices);
          for (const device of devices) await directory.put(device);
          expect(await latestState.putIfNewer(latest)).toEqual([]);
        },
        stop: dynamo.stop,
      };
    },
  ],
];

function job(
  deviceId: string,
  openedAtSeconds: number,
  extra: { service?: string; ward?: string; kind?: string } = {},
): Job {
  return openJob({
    service: extra.service ?? 'waste',
    kind: extra.kind ?? 'collection',
    deviceId,
    ward: extra.ward ?? 'E05000001',
    site: `site-${deviceId}`,
    location: { lat: 51.45, lon: -0.97 },
    priority: 'routine',
    reason: 'full',
    openedAt: at(openedAtSeconds),
    note: 'filling level 0.85',
  });
}

function alert(
  key: string,
  openedAtSeconds: number,
  extra: { service?: string; status?: AlertStatus; lastSignalSeconds?: number } = {},
): AlertRecord {
  const openedAt = at(openedAtSeconds);
  return {
    incidentId: incidentId(key, openedAt),
    key,
    service: extra.service ?? 'flood',
    summary: `Gauge ${key}: warning level`,
    deviceId: `gauge-${key}`,
    site: 'Gas Works Road',
    ward: 'E05000002',
    status: extra.status ?? 'open',
    severity: 'warning',
    peakSeverity: 'warning',
    openedAt,
    flaps: 0,
    lastSignalAt: at(extra.lastSignalSeconds ?? openedAtSeconds),
    ...(extra.status === 'cleared' ? { clearedAt: at(extra.lastSignalSeconds ?? openedAtSeconds) } : {}),
  };
}

/** Follows the cursors to the end; fails if a page repeats an item or the pages never end. */
async function everyPage<T>(read: (cursor: string | undefined) => Promise<Page<T>>): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    pages.push([...page.items]);
    cursor = page.nextCursor;
    expect(pages.length).toBeLessThan(50);
  } while (cursor);
  return pages;
}

const ids = (jobs: readonly Job[]) => jobs.map((j) => j.id);
const byId = <T extends { readonly deviceId?: string }>(a: T, b: T) =>
  String(a.deviceId) < String(b.deviceId) ? -1 : 1;

describe.each(implementations)('workflow ports contract: %s', (_name, make) => {
  let ports: Ports;
  beforeEach(async () => {
    ports = await make();
  });
  afterEach(async () => {
    await ports.stop();
  });

  describe('JobBook', () => {
    it('creates a job once: a replay is refused and leaves the stored job as it was', async () => {
      const first = job('bin-1', 0);
      expect(await ports.jobs.create(first)).toBe(true);
      const replay = { ...first, reason: 'replayed' };
      expect(await ports.jobs.create(replay)).toBe(false);
      expect(await ports.jobs.get(first.id)).toEqual(first);
      expect(await ports.jobs.get('job_unknown')).toBeUndefined();
    });

    it('replaces a job only as last read, and never creates one', async () => {
      const opened = job('bin-1', 0);
      await ports.jobs.create(opened);
      const scheduled = transitionJob(opened, 'scheduled', 'crew 4 tomorrow', at(60));
      expect(await ports.jobs.replace(scheduled, opened.updatedAt)).toBe(true);
      // A second crew member moved it from the same read: refused, the first move stands.
      const other = transitionJob(opened, 'scheduled', 'crew 9', at(61));
      expect(await ports.jobs.replace(other, opened.updatedAt)).toBe(false);
      expect(await ports.jobs.get(opened.id)).toEqual(scheduled);
      const stranger = job('bin-2', 0);
      expect(await ports.jobs.replace(stranger, stranger.updatedAt)).toBe(false);
      expect(await ports.jobs.get(stranger.id)).toBeUndefined();
    });

    it("lists a device's jobs that were not done at a time, each as it stood then", async () => {
      const collection = job('bin-1', 0);
      const hazard = job('bin-1', 10, { kind: 'hazard' });
      const finished = job('bin-1', 20, { kind: 'inspection' });
      for (const j of [collection, hazard, finished, job('bin-2', 0)]) await ports.jobs.create(j);
      const scheduled = transitionJob(finished, 'scheduled', 'booked', at(30));
      await ports.jobs.replace(scheduled, finished.updatedAt);
      await ports.jobs.replace(transitionJob(scheduled, 'done', 'inspected', at(40)), scheduled.updatedAt);
      expect(ids(await ports.jobs.activeAt('bin-1', at(50))).sort()).toEqual(
        ids([collection, hazard]).sort(),
      );
      // Before the inspection was done it was active, and it shows as it stood then (scheduled, not done).
      const then = await ports.jobs.activeAt('bin-1', at(35));
      expect(then.find((j) => j.id === finished.id)).toMatchObject({
        status: 'scheduled',
        updatedAt: at(30),
      });
      expect(then.find((j) => j.id === finished.id)?.closedAs).toBeUndefined();
      // Jobs opened after the time are not there yet.
      expect(ids(await ports.jobs.activeAt('bin-1', at(5)))).toEqual(ids([collection]));
      expect(await ports.jobs.activeAt('bin-9', at(50))).toEqual([]);
    });

    it('lists newest first by service, status and ward; a move takes a job from one list to the other', async () => {
      const jobs = [
        job('bin-1', 0, { ward: 'A' }),
        job('bin-2', 10, { ward: 'B' }),
        job('bin-3', 20, { ward: 'A' }),
        job('dev-1', 30, { service: 'offline', kind: 'maintenance' }),
      ];
      for (const j of jobs) await ports.jobs.create(j);
      const [bin1, bin2, bin3, dev1] = jobs as [Job, Job, Job, Job];
      const list = async (query: { service?: string; status?: JobStatus; ward?: string }) =>
        ids((await ports.jobs.list({ ...query, limit: 10 })).items);

      expect(await list({ service: 'waste', status: 'open' })).toEqual(ids([bin3, bin2, bin1]));
      expect(await list({ service: 'waste', status: 'open', ward: 'A' })).toEqual(ids([bin3, bin1]));
      expect(await list({})).toEqual(ids([dev1, bin3, bin2, bin1]));
      expect(await list({ status: 'open', ward: 'A' })).toEqual(ids([bin3, bin1]));

      await ports.jobs.replace(transitionJob(bin2, 'scheduled', 'round 3', at(50)), bin2.updatedAt);
      expect(await list({ service: 'waste', status: 'open' })).toEqual(ids([bin3, bin1]));
      expect(await list({ service: 'waste', status: 'scheduled' })).toEqual(ids([bin2]));
      expect(await list({ service: 'waste' })).toEqual(ids([bin3, bin2, bin1]));
    });

    it('pages through a merged list with cursors: every job once, newest first, pages no longer than the limit', async () => {
      const jobs = Array.from({ length: 11 }, (_, i) =>
        job(`dev-${i}`, i * 10, { service: i % 3 === 0 ? 'offline' : 'waste', ward: i % 2 ? 'A' : 'B' }),
      );
      for (const j of jobs) await ports.jobs.create(j);
      // Some jobs in another status partition, so the merge spans several.
      for (const j of jobs.slice(0, 4)) {
        await ports.jobs.replace(transitionJob(j, 'scheduled', 'booked', at(500)), j.updatedAt);
      }
      const newestFirst = ids([...jobs].reverse());

      const pages = await everyPage((cursor) => ports.jobs.list({ limit: 3, ...(cursor ? { cursor } : {}) }));
      expect(pages.every((page) => page.length <= 3)).toBe(true);
      expect(pages.flat().map((j) => j.id)).toEqual(newestFirst);

      const wardA = await everyPage((cursor) =>
        ports.jobs.list({ ward: 'A', limit: 2, ...(cursor ? { cursor } : {}) }),
      );
      expect(wardA.flat().map((j) => j.id)).toEqual(ids([...jobs].reverse().filter((j) => j.ward === 'A')));
    });
  });

  describe('AlertBook', () => {
    it('opens the first incident of a key once: a second opener is refused', async () => {
      expect(await ports.alerts.current('gauge-7')).toBeUndefined();
      const first = alert('gauge-7', 0);
      expect(await ports.alerts.save(first, undefined)).toBe(true);
      expect(await ports.alerts.save(alert('gauge-7', 5), undefined)).toBe(false);
      expect(await ports.alerts.current('gauge-7')).toEqual(first);
      expect(await ports.alerts.byIncident(first.incidentId)).toEqual(first);
    });

    it('updates an incident only if it is still as expected (incident, last signal and status)', async () => {
      const opened = alert('gauge-7', 0);
      await ports.alerts.save(opened, undefined);
      const quiet: AlertRecord = { ...opened, quietSince: at(60), lastSignalAt: at(60) };
      expect(await ports.alerts.save(quiet, opened)).toBe(true);
      // A worker that read before the clear.
      expect(await ports.alerts.save({ ...opened, severity: 'severe', lastSignalAt: at(61) }, opened)).toBe(
        false,
      );
      // An acknowledgement changes the status only: a worker holding the unacknowledged record is refused.
      const acknowledged: AlertRecord = {
        ...quiet,
        status: 'acknowledged',
        acknowledgedAt: at(70),
        acknowledgedBy: 'o1',
      };
      expect(await ports.alerts.save(acknowledged, quiet)).toBe(true);
      expect(await ports.alerts.save({ ...quiet, flaps: 1 }, quiet)).toBe(false);
      expect(await ports.alerts.current('gauge-7')).toEqual(acknowledged);
      expect(await ports.alerts.byIncident(opened.incidentId)).toEqual(acknowledged);
    });

    it('opens a new incident over a cleared one; the old one stays findable and a stale opener is refused', async () => {
      const first = alert('gauge-7', 0);
      await ports.alerts.save(first, undefined);
      const cleared = alert('gauge-7', 0, { status: 'cleared', lastSignalSeconds: 900 });
      expect(await ports.alerts.save(cleared, first)).toBe(true);
      const second = alert('gauge-7', 1000);
      const rival = alert('gauge-7', 1001);
      expect(await ports.alerts.save(second, cleared)).toBe(true);
      expect(await ports.alerts.save(rival, cleared)).toBe(false);
      expect(await ports.alerts.current('gauge-7')).toEqual(second);
      expect(await ports.alerts.byIncident(first.incidentId)).toEqual(cleared);
      expect(await ports.alerts.byIncident(rival.incidentId)).toBeUndefined();
      // The old incident cannot be changed back once a newer one is the key's latest.
      expect(await ports.alerts.save({ ...cleared, flaps: 3 }, cleared)).toBe(false);
    });

    it('lets exactly one of two workers opening an incident at the same time win', async () => {
      const first = await Promise.all([
        ports.alerts.save(alert('gauge-7', 0), undefined),
        ports.alerts.save(alert('gauge-7', 1), undefined),
      ]);
      expect(first.filter(Boolean)).toHaveLength(1);
      const winner = (await ports.alerts.current('gauge-7')) as AlertRecord;
      const cleared: AlertRecord = {
        ...winner,
        status: 'cleared',
        clearedAt: at(900),
        lastSignalAt: at(900),
      };
      expect(await ports.alerts.save(cleared, winner)).toBe(true);
      const next = await Promise.all(
        [1000, 1001, 1002].map((s) => ports.alerts.save(alert('gauge-7', s), cleared)),
      );
      expect(next.filter(Boolean)).toHaveLength(1);
      expect((await ports.alerts.list({ service: 'flood', limit: 10 })).items).toHaveLength(2);
    });

    it("lists a service's active incidents: open and acknowledged, not cleared, not other services'", async () => {
      const open = alert('gauge-1', 0);
      const acknowledged = alert('gauge-2', 10, { status: 'acknowledged' });
      const cleared = alert('gauge-3', 20, { status: 'cleared', lastSignalSeconds: 30 });
      const elsewhere = alert('site-1', 40, { service: 'air-quality' });
      for (const a of [open, acknowledged, cleared, elsewhere]) await ports.alerts.save(a, undefined);
      const active = await ports.alerts.active('flood');
      expect([...active].sort(byId)).toEqual([open, acknowledged]);
      expect(await ports.alerts.active('traffic')).toEqual([]);
    });

    it('lists incidents newest first by service and status, with cursors', async () => {
      const alerts = Array.from({ length: 7 }, (_, i) =>
        alert(`gauge-${i}`, i * 10, {
          service: i % 2 ? 'flood' : 'waste',
          status: i % 3 ? 'open' : 'cleared',
        }),
      );
      for (const a of alerts) await ports.alerts.save(a, undefined);
      const newestFirst = [...alerts].reverse();
      const incidents = (list: readonly AlertRecord[]) => list.map((a) => a.incidentId);

      const all = await everyPage((cursor) => ports.alerts.list({ limit: 2, ...(cursor ? { cursor } : {}) }));
      expect(all.every((page) => page.length <= 2)).toBe(true);
      expect(incidents(all.flat())).toEqual(incidents(newestFirst));
      const openFlood = (await ports.alerts.list({ service: 'flood', status: 'open', limit: 10 })).items;
      expect(incidents(openFlood)).toEqual(
        incidents(newestFirst.filter((a) => a.service === 'flood' && a.status === 'open')),
      );
      const cleared = (await ports.alerts.list({ status: 'cleared', limit: 10 })).items;
      expect(incidents(cleared)).toEqual(incidents(newestFirst.filter((a) => a.status === 'cleared')));
    });

    it('turns a flapping signal replayed three times into one incident and two notices (workflow steps)', async () => {
      const notifier = new RecordingNotifier();
      const subject = { service: 'flood', key: 'gauge-7', summary: 'River Kennet: warning level' };
      const signals = [
        { kind: 'raise', at: at(0) },
        { kind: 'clear', at: at(60) },
        { kind: 'raise', at: at(120) },
        { kind: 'clear', at: at(180) },
        { kind: 'tick', at: at(2000) },
      ] as const;
      for (const signal of signals) {
        for (let replay = 0; replay < 3; replay += 1) {
          await applyAlert({ alerts: ports.alerts, notifier }, subject, signal, 900);
        }
      }
      expect(notifier.sent.map((n) => n.subject)).toEqual([
        'ALERT: River Kennet: warning level',
        'Cleared: River Kennet: warning level',
      ]);
      const current = await ports.alerts.current('gauge-7');
      expect(current).toMatchObject({ status: 'cleared', openedAt: at(0), clearedAt: at(2000) });
      expect((await ports.alerts.list({ service: 'flood', limit: 10 })).items).toEqual([current]);
    });
  });

  describe('SiteBoard', () => {
    const site = (version: number, free: number): SiteRecord => ({
      service: 'parking',
      site: 'broad-street',
      version,
      updatedAt: at(version),
      ward: 'E05000003',
      location: { lat: 51.456, lon: -0.971 },
      data: { free, total: 40 },
    });

    it('saves each version once, in order', async () => {
      expect(await ports.sites.get('parking', 'broad-street')).toBeUndefined();
      expect(await ports.sites.save(site(2, 1))).toBe(false);
      expect(await ports.sites.save(site(1, 10))).toBe(true);
      expect(await ports.sites.save(site(1, 11))).toBe(false);
      expect(await ports.sites.save(site(2, 12))).toBe(true);
      expect(await ports.sites.save(site(2, 13))).toBe(false);
      expect(await ports.sites.save(site(4, 14))).toBe(false);
      expect(await ports.sites.get('parking', 'broad-street')).toEqual(site(2, 12));
    });

    it("lists a service's sites in site order", async () => {
      for (const name of ['oracle', 'broad-street', 'kings-road']) {
        await ports.sites.save({ ...site(1, 5), site: name });
      }
      await ports.sites.save({ ...site(1, 5), service: 'air-quality', site: 'aq-1' });
      expect((await ports.sites.list('parking')).map((r) => r.site)).toEqual([
        'broad-street',
        'kings-road',
        'oracle',
      ]);
      expect(await ports.sites.list('traffic')).toEqual([]);
    });

    it('keeps an exact count when workers update one site at the same time (workflow steps)', async () => {
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          updateSite<{ occupied: number }>(
            ports,
            'parking',
            'broad-street',
            (current) => ({ data: { occupied: (current?.occupied ?? 0) + 1 } }),
            at(i),
          ),
        ),
      );
      const stored = await ports.sites.get('parking', 'broad-street');
      expect(stored).toMatchObject({ version: 5, data: { occupied: 5 } });
    });
  });

  describe('DeviceFleet', () => {
    it('returns every registered device with its newest reading, or none if never heard', async () => {
      const device = (deviceId: string): Device => ({
        deviceId,
        deviceType: 'waste-container',
        status: 'active',
        location: { lat: 51.45, lon: -0.97 },
        ward: 'E05000001',
        expectedIntervalSeconds: 900,
        settings: { fullThreshold: 0.75 },
        registeredAt: at(-86_400),
      });
      const heard = point('waste-container', { fillingLevel: 0.4 }, at(-60), { deviceId: 'bin-1' });
      await ports.register([device('bin-1'), device('bin-2')], [heard]);
      const fleet = [...(await ports.fleet.devicesWithLatest())].sort((a, b) =>
        a.device.deviceId < b.device.deviceId ? -1 : 1,
      );
      expect(fleet).toEqual([
        { device: device('bin-1'), latest: heard },
        { device: device('bin-2'), latest: undefined },
      ]);
    });
  });
});
