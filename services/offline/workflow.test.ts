import { describe, expect, it } from 'vitest';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { WorkflowContext } from '../shared/blueprint.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { type InMemoryWorkflowPorts, inMemoryWorkflowPorts } from '../shared/in-memory-workflow-ports.js';
import { transitionJob } from '../shared/jobs.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { offlineBlueprint } from './blueprint.js';
import { deviceHeard, offlineAfterSeconds, offlineSweep } from './rules.js';
import { offlineWorkflow, sweepFleet } from './workflow.js';

const INTERVAL = 300;
/** The platform's threshold for a 5-minute device (1200 s with the 900 s latest-state refresh). */
const LIMIT = offlineAfterSeconds(INTERVAL);

const ctx = (seconds: number, timeScale = 1): WorkflowContext => ({
  timeScale,
  settings: {},
  now: new Date(at(seconds)),
});

function device(
  deviceId: string,
  extra: Partial<Device> = {},
  deviceType: DeviceType = 'air-quality',
): Device {
  return {
    deviceId,
    deviceType,
    status: 'active',
    location: { lat: 51.4551, lon: -0.9734 },
    ward: 'Abbey',
    site: 'Broad Street',
    expectedIntervalSeconds: INTERVAL,
    registeredAt: at(-30 * 86_400),
    ...extra,
  };
}

/** Sets the device's newest reading, observed `seconds` after T0 (negative: before). */
function heard(ports: InMemoryWorkflowPorts, d: Device, seconds: number) {
  ports.fleet.latest.set(
    d.deviceId,
    point(d.deviceType, { no2: 20 }, at(seconds), {
      deviceId: d.deviceId,
      ...(d.site ? { site: d.site } : {}),
      ...(d.ward ? { ward: d.ward } : {}),
    }),
  );
}

const jobsOf = (ports: InMemoryWorkflowPorts) =>
  [...ports.jobs.jobs.values()].sort((a, b) => (a.id < b.id ? -1 : 1));

describe('offline sweep', () => {
  it.each<[string, Partial<Device>, number | undefined, 'job' | 'none' | 'skipped']>([
    ['heard just now', {}, -60, 'none'],
    ['silent for exactly the threshold (still online)', {}, -LIMIT, 'none'],
    ['silent for one second longer', {}, -LIMIT - 1, 'job'],
    ['never heard, registered a month ago', {}, undefined, 'job'],
    ['never heard, registered ten minutes ago', { registeredAt: at(-600) }, undefined, 'none'],
    ['silent but decommissioned', { status: 'decommissioned' }, -86_400, 'skipped'],
    ['silent, no expected interval', { expectedIntervalSeconds: undefined }, -86_400, 'skipped'],
    ['hourly device silent two hours', { expectedIntervalSeconds: 3600 }, -7200, 'none'],
    ['hourly device silent three hours and a second', { expectedIntervalSeconds: 3600 }, -10_801, 'job'],
  ])('%s: %s', async (_name, extra, lastSeen, expected) => {
    const d = device('aq-1', extra);
    const ports = inMemoryWorkflowPorts([d]);
    if (lastSeen !== undefined) heard(ports, d, lastSeen);
    const outcome = await sweepFleet(ports, ctx(0));
    expect(ports.jobs.jobs.size).toBe(expected === 'job' ? 1 : 0);
    expect(outcome.wentOffline).toEqual(expected === 'job' ? ['aq-1'] : []);
    expect(outcome.skipped.map((s) => s.deviceId)).toEqual(expected === 'skipped' ? ['aq-1'] : []);
    expect(outcome.checked).toBe(expected === 'skipped' ? 0 : 1);
  });

  it('the maintenance job says what, where, and since when', async () => {
    const d = device('aq-1', { location: { lat: 51.46, lon: -0.97 } });
    const ports = inMemoryWorkflowPorts([d]);
    heard(ports, d, -5000);
    await sweepFleet(ports, ctx(0));
    expect(jobsOf(ports)).toEqual([
      expect.objectContaining({
        service: 'offline',
        kind: 'maintenance',
        deviceId: 'aq-1',
        ward: 'Abbey',
        site: 'Broad Street',
        location: { lat: 51.46, lon: -0.97 },
        priority: 'routine',
        status: 'open',
        reason: 'offline',
        openedAt: at(-5000),
      }),
    ]);
    // Routine: the crew's list, not a phone call.
    expect(ports.notifier.sent).toEqual([]);
  });

  it('a never-heard device is measured from its registration', async () => {
    const d = device('aq-new', { registeredAt: at(-LIMIT - 1) });
    const ports = inMemoryWorkflowPorts([d]);
    await sweepFleet(ports, ctx(0));
    expect(jobsOf(ports)).toEqual([
      expect.objectContaining({ deviceId: 'aq-new', openedAt: at(-LIMIT - 1) }),
    ]);
  });

  it.each([1, 60])(
    'does not scale the registry’s real-second intervals (time scale %s)',
    async (timeScale) => {
      const d = device('aq-1');
      const ports = inMemoryWorkflowPorts([d]);
      // Silent 20 minutes: offline only if the threshold is not divided by 60.
      heard(ports, d, -LIMIT + 60);
      await sweepFleet(ports, ctx(0, timeScale));
      expect(ports.jobs.jobs.size).toBe(0);
      heard(ports, d, -LIMIT - 60);
      await sweepFleet(ports, ctx(0, timeScale));
      expect(ports.jobs.jobs.size).toBe(1);
    },
  );

  it('opens one job per silence, however many sweeps see it, and closes it when the device is heard again', async () => {
    const d = device('aq-1');
    const ports = inMemoryWorkflowPorts([d]);
    heard(ports, d, -5000);
    for (const s of [0, 300, 600, 900]) await sweepFleet(ports, ctx(s));
    expect(jobsOf(ports)).toHaveLength(1);

    heard(ports, d, 1000);
    const back = await sweepFleet(ports, ctx(1200));
    expect(back.backOnline).toEqual(['aq-1']);
    expect(jobsOf(ports)).toEqual([
      expect.objectContaining({ status: 'done', closedAs: 'back-online', updatedAt: at(1000) }),
    ]);
    expect((await sweepFleet(ports, ctx(1500))).backOnline).toEqual([]);

    // Silent again later: a new silence, a new job.
    await sweepFleet(ports, ctx(1000 + LIMIT + 1));
    expect(jobsOf(ports).map((j) => j.status)).toEqual(expect.arrayContaining(['done', 'open']));
    expect(jobsOf(ports)).toHaveLength(2);
  });

  it('a job the crew has scheduled still counts as active', async () => {
    const d = device('aq-1');
    const ports = inMemoryWorkflowPorts([d]);
    heard(ports, d, -5000);
    await sweepFleet(ports, ctx(0));
    const [job] = jobsOf(ports);
    if (!job) throw new Error('no job');
    await ports.jobs.replace(transitionJob(job, 'scheduled', 'visit Tuesday', at(60)), job.updatedAt);
    await sweepFleet(ports, ctx(600));
    expect(jobsOf(ports)).toEqual([expect.objectContaining({ status: 'scheduled' })]);
  });

  it('a job a crew closed while the device is still silent is not reopened every sweep', async () => {
    const d = device('aq-1');
    const ports = inMemoryWorkflowPorts([d]);
    heard(ports, d, -5000);
    await sweepFleet(ports, ctx(0));
    const [job] = jobsOf(ports);
    if (!job) throw new Error('no job');
    const scheduled = transitionJob(job, 'scheduled', 'visit', at(60));
    await ports.jobs.replace(
      transitionJob(scheduled, 'done', 'replaced the battery', at(120)),
      job.updatedAt,
    );
    await sweepFleet(ports, ctx(600));
    // The silence's job has a deterministic id, so the store refuses a second one.
    expect(jobsOf(ports)).toEqual([expect.objectContaining({ status: 'done', closedAs: 'completed' })]);
  });

  it('a device called online only because its interval was raised has not been heard: its job stays open', async () => {
    const d = device('aq-1');
    const ports = inMemoryWorkflowPorts([d]);
    heard(ports, d, -5000);
    await sweepFleet(ports, ctx(0));
    ports.fleet.devices.set('aq-1', { ...d, expectedIntervalSeconds: 86_400 });
    expect((await sweepFleet(ports, ctx(300))).backOnline).toEqual([]);
    expect(jobsOf(ports)).toEqual([expect.objectContaining({ status: 'open' })]);
  });
});

describe('offlineWorkflow.onEvent (events from the bus)', () => {
  const d = device('bay-3', { location: { lat: 51.4553, lon: -0.9789 } }, 'parking-spot');
  const last = point('parking-spot', { status: 'free' }, at(0), { deviceId: 'bay-3' });
  const offline = offlineSweep('online', last, at(5000), INTERVAL).events[0] as DomainEvent;
  const online = deviceHeard(
    'offline',
    point('parking-spot', { status: 'free' }, at(6000), { deviceId: 'bay-3' }),
  ).events[0] as DomainEvent;

  it('device.offline opens the job where the registry puts the device; device.online closes it', async () => {
    const ports = inMemoryWorkflowPorts([d]);
    await offlineWorkflow.onEvent(offline, ports, ctx(5000));
    expect(jobsOf(ports)).toEqual([
      expect.objectContaining({ status: 'open', location: { lat: 51.4553, lon: -0.9789 }, openedAt: at(0) }),
    ]);
    await offlineWorkflow.onEvent(online, ports, ctx(6000));
    expect(jobsOf(ports)).toEqual([expect.objectContaining({ status: 'done', closedAs: 'back-online' })]);
  });

  it('a late device.online does not close the job of a later silence', async () => {
    const ports = inMemoryWorkflowPorts([d]);
    const later = offlineSweep(
      'online',
      point('parking-spot', { status: 'free' }, at(7000), { deviceId: 'bay-3' }),
      at(20_000),
      INTERVAL,
    ).events[0] as DomainEvent;
    await offlineWorkflow.onEvent(later, ports, ctx(20_000));
    await offlineWorkflow.onEvent(online, ports, ctx(20_000));
    expect(jobsOf(ports)).toEqual([expect.objectContaining({ status: 'open', openedAt: at(7000) })]);
  });

  it('ignores other events', async () => {
    const ports = inMemoryWorkflowPorts([d]);
    await offlineWorkflow.onEvent({ ...offline, type: 'waste.full' }, ports, ctx(5000));
    expect(ports.jobs.jobs.size).toBe(0);
  });
});

describe('offlineWorkflow is idempotent', () => {
  const devices = ['aq-1', 'aq-2', 'aq-3'].map((id) => device(id));
  const pointAt = (id: string, s: number) => point('air-quality', { no2: 20 }, at(s), { deviceId: id });
  // aq-1: silent, heard, silent again; aq-2: silent, heard; aq-3: silent.
  const events = [
    offlineSweep('online', pointAt('aq-1', 0), at(5000), INTERVAL).events,
    offlineSweep('online', pointAt('aq-2', 100), at(5000), INTERVAL).events,
    offlineSweep('online', pointAt('aq-3', 200), at(5000), INTERVAL).events,
    deviceHeard('offline', pointAt('aq-1', 6000)).events,
    deviceHeard('offline', pointAt('aq-2', 6100)).events,
    offlineSweep('online', pointAt('aq-1', 6000), at(9000), INTERVAL).events,
  ].flat();

  async function world(deliveries: readonly DomainEvent[]) {
    const ports = inMemoryWorkflowPorts(devices);
    for (const event of deliveries) await offlineWorkflow.onEvent(event, ports, ctx(9000));
    return {
      jobs: jobsOf(ports),
      alerts: [...ports.alerts.incidents.values()],
      notifications: ports.notifier.sent,
    };
  }

  it('replaying every event 3 times finds the same jobs and alerts and sends nothing more', async () => {
    expect(events.map((e) => `${e.deviceId} ${e.type}`)).toEqual([
      'aq-1 device.offline',
      'aq-2 device.offline',
      'aq-3 device.offline',
      'aq-1 device.online',
      'aq-2 device.online',
      'aq-1 device.offline',
    ]);
    const once = await world(events);
    for (const replayed of [
      await world(events.flatMap((e) => [e, e, e])),
      await world([...events, ...events, ...events]),
    ]) {
      expect(replayed).toEqual(once);
    }
    expect(once.jobs.map((j) => `${j.deviceId} ${j.status}`).sort()).toEqual([
      'aq-1 done',
      'aq-1 open',
      'aq-2 done',
      'aq-3 open',
    ]);
    expect(once.alerts).toEqual([]);
    expect(once.notifications).toEqual([]);
  });

  it('three sweeps at the same moment leave what one leaves', async () => {
    const run = async (times: number) => {
      const ports = inMemoryWorkflowPorts(devices);
      heard(ports, devices[0] as Device, -5000);
      heard(ports, devices[1] as Device, -60);
      for (let i = 0; i < times; i += 1) await offlineWorkflow.onSchedule?.(ports, ctx(0));
      return jobsOf(ports);
    };
    const once = await run(1);
    expect(once.map((j) => j.deviceId)).toEqual(expect.arrayContaining(['aq-1', 'aq-3']));
    expect(once).toHaveLength(2);
    expect(await run(3)).toEqual(once);
  });
});

describe('offlineBlueprint', () => {
  it('has no detector, watches every device and is not essential', () => {
    expect(offlineBlueprint).toMatchObject({
      name: 'offline',
      essential: false,
      eventTypes: ['device.offline', 'device.online'],
    });
    expect(offlineBlueprint.detector).toBeUndefined();
    expect(offlineBlueprint.cost.watches).toBe('all');
    expect(offlineBlueprint.cost.stateWritesPerReading).toBe(0);
  });
});
