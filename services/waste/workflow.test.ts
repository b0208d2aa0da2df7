import { describe, expect, it } from 'vitest';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { WorkflowContext } from '../shared/blueprint.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { type InMemoryWorkflowPorts, inMemoryWorkflowPorts } from '../shared/in-memory-workflow-ports.js';
import { type Job, openJob } from '../shared/jobs.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { wasteBlueprint } from './blueprint.js';
import { type WasteDetectorState, wasteDetector } from './detector.js';
import { haversineKm, wasteAlertKey } from './rules.js';
import {
  type CollectionRoundRecord,
  collectionRoundRecord,
  hazardSummary,
  planDailyRounds,
  ROUND_PLAN_MARKER_SITE,
  roundPeriodStart,
  roundSite,
  wasteWorkflow,
} from './workflow.js';

function bin(deviceId: string, extra: Partial<Device> = {}): Device {
  return {
    deviceId,
    deviceType: 'waste-container',
    status: 'active',
    location: { lat: 51.4551, lon: -0.9734 },
    ward: 'Abbey',
    site: 'Broad Street',
    registeredAt: at(-86_400),
    ...extra,
  };
}

function ctx(seconds: number, extra: Partial<Omit<WorkflowContext, 'now'>> = {}): WorkflowContext {
  return { timeScale: 1, settings: {}, ...extra, now: new Date(at(seconds)) };
}

/** Runs readings through the detector, as enrichment does, and returns the events in order. */
function eventsFrom(device: Device, readings: readonly (readonly [number, Readings])[]): DomainEvent[] {
  let state: WasteDetectorState | undefined;
  const events: DomainEvent[] = [];
  for (const [s, r] of readings) {
    const p = point('waste-container', r, at(s), {
      deviceId: device.deviceId,
      ...(device.site ? { site: device.site } : {}),
      ...(device.ward ? { ward: device.ward } : {}),
    });
    const step = wasteDetector.step({ state, point: p, device, history: [], context: ctx(s) });
    state = step.state;
    events.push(...step.events);
  }
  return events;
}

const deliver = (ports: InMemoryWorkflowPorts, event: DomainEvent, seconds?: number) =>
  wasteWorkflow.onEvent(event, ports, ctx(seconds ?? Date.parse(event.observedAt) / 1000 - at0()));
const at0 = () => Date.parse(at(0)) / 1000;

const jobsOf = (ports: InMemoryWorkflowPorts) =>
  [...ports.jobs.jobs.values()].sort((a, b) => (a.id < b.id ? -1 : 1));

describe('wasteWorkflow: collection jobs', () => {
  it('a full bin gets one routine collection job where the registry says it is', async () => {
    const device = bin('bin-1', { location: { lat: 51.46, lon: -0.97 } });
    const ports = inMemoryWorkflowPorts([device]);
    const events = eventsFrom(device, [
      [0, { fillingLevel: 0.5 }],
      [900, { fillingLevel: 0.82 }],
      [1800, { fillingLevel: 0.9 }],
    ]);
    for (const event of events) await deliver(ports, event);
    expect(jobsOf(ports)).toEqual([
      expect.objectContaining({
        service: 'waste',
        kind: 'collection',
        deviceId: 'bin-1',
        ward: 'Abbey',
        site: 'Broad Street',
        location: { lat: 51.46, lon: -0.97 },
        priority: 'routine',
        status: 'open',
        reason: 'full',
        openedAt: at(900),
      }),
    ]);
    // Routine jobs are for the round, not for a phone at night.
    expect(ports.notifier.sent).toEqual([]);
  });

  it('an emptied bin closes its job as emptied', async () => {
    const device = bin('bin-1');
    const ports = inMemoryWorkflowPorts([device]);
    const events = eventsFrom(device, [
      [0, { fillingLevel: 0.85 }],
      [900, { fillingLevel: 0.03 }],
    ]);
    for (const event of events) await deliver(ports, event);
    const [job] = jobsOf(ports);
    expect(job).toMatchObject({ status: 'done', closedAs: 'emptied', updatedAt: at(900) });
  });

  it.each<[string, Record<string, number> | undefined, number]>([
    ['default threshold 0.8', undefined, 1],
    ['a container set to 0.9', { fullThreshold: 0.9 }, 0],
  ])('a full event at 0.85 with %s opens %s job(s)', async (_name, settings, count) => {
    const device = bin('bin-1', settings ? { settings } : {});
    const ports = inMemoryWorkflowPorts([device]);
    const [full] = eventsFrom(bin('bin-1'), [[0, { fillingLevel: 0.85 }]]);
    await deliver(ports, full as DomainEvent);
    expect(ports.jobs.jobs.size).toBe(count);
  });

  it('a late emptied event does not close a job opened after it', async () => {
    const device = bin('bin-1');
    const ports = inMemoryWorkflowPorts([device]);
    const [full1, emptied, full2] = eventsFrom(device, [
      [0, { fillingLevel: 0.85 }],
      [900, { fillingLevel: 0.03 }],
      [1800, { fillingLevel: 0.9 }],
    ]) as [DomainEvent, DomainEvent, DomainEvent];
    // The bus delivers out of order: the second full first.
    for (const event of [full2, full1, emptied]) await deliver(ports, event, 3600);
    const jobs = jobsOf(ports);
    expect(jobs.map((j) => [j.openedAt, j.status])).toEqual(
      expect.arrayContaining([
        [at(0), 'done'],
        [at(1800), 'open'],
      ]),
    );
    expect(jobs).toHaveLength(2);
  });
});

describe('wasteWorkflow: hazards', () => {
  it('a fire opens an urgent job and one severe alert, in plain words', async () => {
    const device = bin('waste-0007');
    const ports = inMemoryWorkflowPorts([device]);
    const [hazard] = eventsFrom(device, [
      [0, { status: 'ok' }],
      [900, { status: 'burning', temperature: 80 }],
    ]);
    await deliver(ports, hazard as DomainEvent);
    expect(jobsOf(ports)).toEqual([
      expect.objectContaining({ kind: 'hazard', priority: 'urgent', reason: 'burning' }),
    ]);
    const alert = await ports.alerts.current(wasteAlertKey('waste-0007'));
    expect(alert).toMatchObject({
      service: 'waste',
      status: 'open',
      severity: 'severe',
      summary: 'Bin waste-0007 on Broad Street reported burning',
      deviceId: 'waste-0007',
      site: 'Broad Street',
      ward: 'Abbey',
    });
    expect(ports.notifier.sent.map((n) => n.subject)).toEqual([
      'Urgent hazard job: waste-0007 burning',
      'ALERT: Bin waste-0007 on Broad Street reported burning',
    ]);
  });

  it.each<[string, { site?: string; ward?: string }, string]>([
    ['on a street', { site: 'Broad Street', ward: 'Abbey' }, 'Bin b-1 on Broad Street reported vandalized'],
    ['with only a ward', { ward: 'Katesgrove' }, 'Bin b-1 in ward Katesgrove reported vandalized'],
    ['nowhere known', {}, 'Bin b-1 reported vandalized'],
  ])('summary %s', (_name, place, summary) => {
    const [hazard] = eventsFrom(bin('b-1'), [[0, { status: 'vandalized' }]]);
    const { site: _site, ward: _ward, ...placeless } = hazard as DomainEvent;
    expect(hazardSummary({ ...placeless, ...place })).toBe(summary);
  });

  it.each<[string, number, Record<string, number>, number, boolean]>([
    ['default 900 s: not yet at 899 s', 1, {}, 899, false],
    ['default 900 s: cleared at 900 s', 1, {}, 900, true],
    ['--speed 60: cleared after 15 s', 60, {}, 15, true],
    ['--speed 60: not yet at 14 s', 60, {}, 14, false],
    ['configured 300 s', 1, { alertCoolDownSeconds: 300 }, 300, true],
    ['configured 300 s at --speed 60: 5 s', 60, { alertCoolDownSeconds: 300 }, 5, true],
  ])('a hazard cleared waits out the cool-down (%s)', async (_name, timeScale, settings, after, cleared) => {
    const device = bin('bin-1');
    const ports = inMemoryWorkflowPorts([device]);
    const events = eventsFrom(device, [
      [0, { status: 'burning' }],
      [100, { status: 'ok' }],
    ]);
    expect(events.map((e) => e.type)).toEqual(['waste.hazard', 'waste.hazard-cleared']);
    for (const event of events) {
      await wasteWorkflow.onEvent(event, ports, ctx(100, { timeScale, settings }));
    }
    expect((await ports.alerts.current(wasteAlertKey('bin-1')))?.status).toBe('open');
    await wasteWorkflow.onSchedule?.(ports, ctx(100 + after, { timeScale, settings }));
    const alert = await ports.alerts.current(wasteAlertKey('bin-1'));
    expect(alert?.status).toBe(cleared ? 'cleared' : 'open');
    expect(ports.notifier.sent.filter((n) => n.subject.startsWith('Cleared'))).toHaveLength(cleared ? 1 : 0);
    // Hazard jobs are closed by crews, never by a reading.
    expect(jobsOf(ports).find((j) => j.kind === 'hazard')?.status).toBe('open');
  });
});

describe('wasteWorkflow is idempotent', () => {
  const devices = [
    bin('bin-1', { location: { lat: 51.45, lon: -0.97 } }),
    bin('bin-2', { location: { lat: 51.46, lon: -0.98 }, settings: { fullThreshold: 0.9 } }),
    bin('bin-3', { location: { lat: 51.47, lon: -0.96 }, ward: 'Park', site: 'London Road' }),
  ];
  const events = [
    ...eventsFrom(devices[0] as Device, [
      [0, { fillingLevel: 0.5, status: 'ok' }],
      [900, { fillingLevel: 0.81, status: 'ok' }],
      [1800, { fillingLevel: 0.02, status: 'ok' }],
      [2700, { fillingLevel: 0.4, status: 'ok' }],
      [3600, { fillingLevel: 0.95, status: 'ok' }],
    ]),
    ...eventsFrom(devices[1] as Device, [
      [0, { fillingLevel: 0.85, status: 'ok' }],
      [900, { fillingLevel: 0.92, status: 'burning' }],
      [1800, { fillingLevel: 0.92, status: 'ok' }],
      [2700, { fillingLevel: 0.1, status: 'ok' }],
    ]),
    ...eventsFrom(devices[2] as Device, [
      [0, { status: 'ok' }],
      [900, { status: 'vandalized', fillingLevel: 0.3 }],
      [1800, { status: 'vandalized', fillingLevel: 0.88 }],
    ]),
  ].sort((a, b) => (a.observedAt < b.observedAt ? -1 : a.observedAt > b.observedAt ? 1 : 0));

  async function world(deliveries: readonly DomainEvent[]) {
    const ports = inMemoryWorkflowPorts(devices);
    for (const event of deliveries) await deliver(ports, event, 4000);
    await wasteWorkflow.onSchedule?.(ports, ctx(4000));
    // A tick after every cool-down, so cleared notices are part of what is compared.
    await wasteWorkflow.onSchedule?.(ports, ctx(4000 + 900));
    return {
      jobs: jobsOf(ports),
      alerts: [...ports.alerts.incidents.values()],
      notifications: ports.notifier.sent,
    };
  }

  it('the scenario exercises every event type', () => {
    expect(new Set(events.map((e) => e.type))).toEqual(
      new Set(['waste.full', 'waste.emptied', 'waste.hazard', 'waste.hazard-cleared']),
    );
  });

  it('replaying every event 3 times finds the same jobs and alerts and sends nothing more', async () => {
    const once = await world(events);
    const eachThrice = await world(events.flatMap((e) => [e, e, e]));
    const wholeRunThrice = await world([...events, ...events, ...events]);
    for (const replayed of [eachThrice, wholeRunThrice]) {
      expect(replayed.jobs).toEqual(once.jobs);
      expect(replayed.alerts).toEqual(once.alerts);
      expect(replayed.notifications).toEqual(once.notifications);
    }
    expect(once.jobs.map((j) => `${j.deviceId} ${j.kind} ${j.status}`).sort()).toEqual([
      'bin-1 collection done',
      'bin-1 collection open',
      'bin-2 collection done',
      'bin-2 hazard open',
      'bin-3 collection open',
      'bin-3 hazard open',
    ]);
    expect(once.alerts.map((a) => `${a.deviceId} ${a.status}`).sort()).toEqual([
      'bin-2 cleared',
      'bin-3 open',
    ]);
    expect(once.notifications.map((n) => n.subject)).toEqual([
      'Urgent hazard job: bin-2 burning',
      'ALERT: Bin bin-2 on Broad Street reported burning',
      'Urgent hazard job: bin-3 vandalized',
      'ALERT: Bin bin-3 on London Road reported vandalized',
      'Cleared: Bin bin-2 on Broad Street reported burning',
    ]);
  });
});

describe('daily collection round', () => {
  const DAY = 86_400;
  const depot = { lat: 51.45, lon: -1.0 };
  // Bins along a line east of the depot, given out of order; one in another ward, one with no location.
  const located = (deviceId: string, lon: number, ward = 'Abbey'): Job =>
    openJob({
      service: 'waste',
      kind: 'collection',
      deviceId,
      ward,
      site: `${deviceId} street`,
      location: { lat: 51.45, lon },
      priority: 'routine',
      reason: 'full',
      openedAt: at(-3600),
      note: 'full',
    });
  const jobs: Job[] = [
    located('bin-c', -0.97),
    located('bin-a', -0.99),
    located('bin-b', -0.98),
    located('bin-p', -0.95, 'Park'),
    { ...located('bin-x', 0), location: undefined } as unknown as Job,
  ];
  const withDepot = { settings: { depotLat: depot.lat, depotLon: depot.lon } };

  async function portsWith(list: readonly Job[]) {
    const ports = inMemoryWorkflowPorts();
    for (const job of list) await ports.jobs.create(job);
    return ports;
  }

  it('orders each ward by nearest neighbour from the depot, with what a crew needs', async () => {
    const ports = await portsWith(jobs);
    // 06:00 UTC on the fixture's day: after the 05:00 planning hour.
    const now = 6 * 3600 - 12 * 3600;
    await wasteWorkflow.onSchedule?.(ports, ctx(now, withDepot));
    const abbey = (await ports.sites.get('waste', roundSite('Abbey')))?.data as CollectionRoundRecord;
    const legA = haversineKm(depot, { lat: 51.45, lon: -0.99 });
    const legB = haversineKm({ lat: 51.45, lon: -0.99 }, { lat: 51.45, lon: -0.98 });
    expect(abbey).toMatchObject({
      ward: 'Abbey',
      plannedAt: at(now),
      roundFor: at(5 * 3600 - 12 * 3600),
      depot: { ...depot, source: 'configured' },
      stopCount: 3,
      unlocated: [{ jobId: (jobs[4] as Job).id, deviceId: 'bin-x', site: 'bin-x street' }],
    });
    expect(abbey.stops.map((s) => [s.order, s.deviceId, s.site])).toEqual([
      [1, 'bin-a', 'bin-a street'],
      [2, 'bin-b', 'bin-b street'],
      [3, 'bin-c', 'bin-c street'],
    ]);
    expect(abbey.stops[0]).toMatchObject({
      jobId: (jobs[1] as Job).id,
      location: { lat: 51.45, lon: -0.99 },
      fullSince: at(-3600),
    });
    expect(abbey.stops[0]?.legKm).toBeCloseTo(legA, 3);
    expect(abbey.stops[1]?.legKm).toBeCloseTo(legB, 3);
    expect(abbey.stops[1]?.cumulativeKm).toBeCloseTo(legA + legB, 3);
    expect(abbey.totalKm).toBe(abbey.stops[2]?.cumulativeKm);
    const park = (await ports.sites.get('waste', roundSite('Park')))?.data as CollectionRoundRecord;
    expect(park.stops.map((s) => s.deviceId)).toEqual(['bin-p']);
  });

  it('without a depot starts from the middle of the ward’s jobs and says so', () => {
    const round = collectionRoundRecord('Abbey', jobs, undefined, at(0), at(60));
    expect(round.depot).toEqual({ lat: 51.45, lon: -0.98, source: 'centroid-of-jobs' });
    // From the middle, bin-b is nearest; then bin-a and bin-c tie, and the lower device id goes first.
    expect(round.stops.map((s) => s.deviceId)).toEqual(['bin-b', 'bin-a', 'bin-c']);
    expect(round.stops[0]?.legKm).toBeCloseTo(0, 6);
  });

  it('with no depot and no located job lists every job as unlocated', () => {
    const round = collectionRoundRecord('Abbey', [jobs[4] as Job], undefined, at(0), at(60));
    expect(round).toMatchObject({ depot: null, stops: [], stopCount: 0, totalKm: 0 });
    expect(round.unlocated.map((u) => u.deviceId)).toEqual(['bin-x']);
  });

  it('plans once per day: reruns the same day change nothing, the next day plans again', async () => {
    const ports = await portsWith(jobs);
    const morning = 6 * 3600 - 12 * 3600;
    expect((await planDailyRounds(ports, ctx(morning, withDepot))).planned).toBe(true);
    const first = await ports.sites.get('waste', roundSite('Abbey'));
    for (const later of [300, 3600, DAY - 3600 - 1]) {
      expect((await planDailyRounds(ports, ctx(morning + later, withDepot))).planned).toBe(false);
    }
    expect(await ports.sites.get('waste', roundSite('Abbey'))).toBe(first);
    expect((await ports.sites.get('waste', ROUND_PLAN_MARKER_SITE))?.data).toMatchObject({
      roundFor: at(5 * 3600 - 12 * 3600),
      wards: ['Abbey', 'Park'],
    });

    // Next morning bin-a was collected by the crew and Park has nothing open.
    const doneA = { ...(jobs[1] as Job), status: 'done' as const, updatedAt: at(0) };
    await ports.jobs.replace(doneA, (jobs[1] as Job).updatedAt);
    await ports.jobs.replace(
      { ...(jobs[3] as Job), status: 'done', updatedAt: at(0) },
      (jobs[3] as Job).updatedAt,
    );
    const next = await planDailyRounds(ports, ctx(morning + DAY, withDepot));
    expect(next.planned).toBe(true);
    const abbey = (await ports.sites.get('waste', roundSite('Abbey')))?.data as CollectionRoundRecord;
    expect(abbey.stops.map((s) => s.deviceId)).toEqual(['bin-b', 'bin-c']);
    expect(abbey.roundFor).toBe(at(5 * 3600 - 12 * 3600 + DAY));
    // Yesterday's Park round is replaced by an empty one, so no crew follows it.
    const park = (await ports.sites.get('waste', roundSite('Park')))?.data as CollectionRoundRecord;
    expect(park).toMatchObject({ stops: [], roundFor: abbey.roundFor });
  });

  it.each<[string, number, number, number, string]>([
    ['before 05:00 belongs to the previous day', 1, 0, 4 * 3600 + 3599, '2026-11-27T05:00:00.000Z'],
    ['05:00 starts the day', 1, 0, 5 * 3600, '2026-11-28T05:00:00.000Z'],
    ['at --speed 60 a day is 24 min, from 5 min past the hour', 60, 0, 5 * 60, '2026-11-28T00:05:00.000Z'],
    ['at --speed 60, 29 min past', 60, 0, 29 * 60, '2026-11-28T00:29:00.000Z'],
    ['planning hour set to 2', 1, 2, 3 * 3600, '2026-11-28T02:00:00.000Z'],
  ])('round period: %s', (_name, timeScale, hour, secondsAfterMidnight, start) => {
    const midnight = Date.UTC(2026, 10, 28);
    const settings: Record<string, number> = hour ? { roundPlannedAtHourUtc: hour } : {};
    const context = { timeScale, settings };
    expect(roundPeriodStart(new Date(midnight + secondsAfterMidnight * 1000), context)).toBe(start);
  });

  it('at --speed 60 a new round every 24 minutes', async () => {
    const ports = await portsWith(jobs);
    const fast = { timeScale: 60, ...withDepot };
    const plans = [];
    for (let minute = 0; minute <= 60; minute += 5) {
      plans.push((await planDailyRounds(ports, ctx(minute * 60, fast))).planned);
    }
    // T0 is 12:00 UTC; periods start at 12:05, 12:29 and 12:53 (12:00 belongs to the one from 11:41).
    expect(plans.filter(Boolean)).toHaveLength(4);
  });
});

describe('wasteBlueprint', () => {
  it('is non-essential, lists its event types and watches bins', () => {
    expect(wasteBlueprint).toMatchObject({ name: 'waste', essential: false });
    expect(wasteBlueprint.eventTypes).toEqual([
      'waste.full',
      'waste.emptied',
      'waste.hazard',
      'waste.hazard-cleared',
    ]);
    expect(wasteBlueprint.cost.watches).toEqual(['waste-container']);
    // Writes only on a threshold crossing or status change: well under one reading in ten.
    expect(wasteBlueprint.cost.stateWritesPerReading).toBeGreaterThan(0);
    expect(wasteBlueprint.cost.stateWritesPerReading).toBeLessThan(0.05);
  });

  it('ignores other services’ events', async () => {
    const ports = inMemoryWorkflowPorts();
    const [full] = eventsFrom(bin('bin-1'), [[0, { fillingLevel: 0.9 }]]);
    await wasteWorkflow.onEvent({ ...(full as DomainEvent), type: 'parking.spot-changed' }, ports, ctx(0));
    expect(ports.jobs.jobs.size).toBe(0);
  });
});
