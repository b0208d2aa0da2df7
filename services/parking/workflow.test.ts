import { describe, expect, it } from 'vitest';
import type { WorkflowContext } from '../shared/blueprint.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { type InMemoryWorkflowPorts, inMemoryWorkflowPorts } from '../shared/in-memory-workflow-ports.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { ConcurrentUpdateError } from '../shared/workflow-steps.js';
import { parkingBlueprint } from './blueprint.js';
import { parkingDetector, type SpotState } from './detector.js';
import type { SpotStatus } from './rules.js';
import { applySpotChange, type CarParkRecord, carParkView, parkingWorkflow } from './workflow.js';

const QUEENS = 'Queens Road car park';
const GARRARD = 'Garrard Street car park';
const ctx = (seconds = 3600): WorkflowContext => ({ timeScale: 1, settings: {}, now: new Date(at(seconds)) });

/** A spot's readings through the detector, as enrichment does: its spot-changed events in order. */
function spotEvents(
  deviceId: string,
  statuses: readonly (readonly [number, SpotStatus])[],
  site: string | null = QUEENS,
): DomainEvent[] {
  let state: SpotState | undefined;
  const events: DomainEvent[] = [];
  for (const [s, status] of statuses) {
    const p = point('parking-spot', { status }, at(s), { deviceId, ward: 'Abbey' });
    const placed = site === null ? (({ site: _s, ...rest }) => rest)(p) : { ...p, site };
    const step = parkingDetector.step({
      state,
      point: placed,
      device: undefined,
      history: [],
      context: ctx(),
    });
    state = step.state;
    events.push(...step.events);
  }
  return events;
}

const carPark = async (ports: InMemoryWorkflowPorts, site = QUEENS) =>
  (await ports.sites.get('parking', site))?.data as CarParkRecord | undefined;

const countsOf = (r: CarParkRecord | undefined) =>
  r && { free: r.free, occupied: r.occupied, closed: r.closed, unknown: r.unknown, total: r.total };

/** Delivers events as the bus does, at least once: deliveries that fail are redelivered until all land. */
async function deliverAtLeastOnce(ports: InMemoryWorkflowPorts, events: readonly DomainEvent[]) {
  let pending = [...events];
  const failures: unknown[] = [];
  let rounds = 0;
  while (pending.length > 0 && rounds < 100) {
    rounds += 1;
    const results = await Promise.allSettled(pending.map((e) => parkingWorkflow.onEvent(e, ports, ctx())));
    const failed: DomainEvent[] = [];
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        failures.push(result.reason);
        failed.push(pending[i] as DomainEvent);
      }
    });
    pending = failed;
  }
  return { rounds, failures, undelivered: pending.length };
}

/** A fixed shuffle, so the burst's order is scrambled the same way every run. */
function scrambled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let seed = 7;
  for (let i = out.length - 1; i > 0; i -= 1) {
    seed = (seed * 16_807) % 2_147_483_647;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('parkingWorkflow: one car park record from spot changes', () => {
  it('counts spots as they are first seen and as they change', async () => {
    const ports = inMemoryWorkflowPorts();
    const events = [
      ...spotEvents('bay-1', [
        [0, 'free'],
        [600, 'occupied'],
      ]),
      ...spotEvents('bay-2', [[0, 'occupied']]),
      ...spotEvents('bay-3', [[0, 'closed']]),
    ];
    for (const event of events) await parkingWorkflow.onEvent(event, ports, ctx());
    const record = await carPark(ports);
    expect(countsOf(record)).toEqual({ free: 0, occupied: 2, closed: 1, unknown: 0, total: 3 });
    expect(record).toMatchObject({
      occupancy: 1,
      status: 'full',
      lastObservedAt: at(600),
      spots: {
        'bay-1': { status: 'occupied', observedAt: at(600) },
        'bay-2': { status: 'occupied', observedAt: at(0) },
        'bay-3': { status: 'closed', observedAt: at(0) },
      },
    });
    expect((await ports.sites.get('parking', QUEENS))?.ward).toBe('Abbey');
  });

  it.each<[string, string, number, number]>([
    ['8 of 10 occupied', 'spacesAvailable', 8, 10],
    ['9 of 10 occupied (90%)', 'almostFull', 9, 10],
    ['10 of 10 occupied', 'full', 10, 10],
    ['0 of 10 occupied', 'spacesAvailable', 0, 10],
  ])('DATEX II status: %s is %s', async (_name, status, occupied, bays) => {
    const ports = inMemoryWorkflowPorts();
    for (let i = 0; i < bays; i += 1) {
      for (const event of spotEvents(`bay-${i}`, [[i, i < occupied ? 'occupied' : 'free']])) {
        await parkingWorkflow.onEvent(event, ports, ctx());
      }
    }
    expect((await carPark(ports))?.status).toBe(status);
  });

  it('records when the car park last changed status and from what (parkingEvents)', async () => {
    const ports = inMemoryWorkflowPorts();
    // Ten bays, nine taken by t=9: almost full from the ninth.
    for (let i = 0; i < 10; i += 1) {
      for (const event of spotEvents(`bay-${i}`, [[i, i < 9 ? 'occupied' : 'free']])) {
        await parkingWorkflow.onEvent(event, ports, ctx());
      }
    }
    expect(await carPark(ports)).toMatchObject({
      status: 'almostFull',
      previousStatus: 'full',
      statusSince: at(9),
    });
    const [leaves] = spotEvents('bay-0', [
      [0, 'occupied'],
      [100, 'free'],
    ]).slice(1);
    const outcome = await applySpotChange(ports, leaves as DomainEvent, ctx());
    expect(outcome).toMatchObject({
      applied: true,
      siteStatusChange: {
        type: 'parking.site-status-changed',
        detail: { previousStatus: 'almostFull', status: 'spacesAvailable', free: 2, occupied: 8 },
      },
    });
    expect(await carPark(ports)).toMatchObject({
      status: 'spacesAvailable',
      previousStatus: 'almostFull',
      statusSince: at(100),
    });
  });

  it('ignores a spot with no site, and says why', async () => {
    const ports = inMemoryWorkflowPorts();
    const [event] = spotEvents('bay-lost', [[0, 'occupied']], null);
    expect(event?.site).toBeUndefined();
    expect(await applySpotChange(ports, event as DomainEvent, ctx())).toEqual({
      applied: false,
      reason: 'spot bay-lost has no site in the registry, so it belongs to no car park; nothing was counted',
    });
    await parkingWorkflow.onEvent(event as DomainEvent, ports, ctx());
    expect(ports.sites.records.size).toBe(0);
  });

  it.each<[string, readonly (readonly [number, SpotStatus])[], number[], SpotStatus]>([
    ['a replay', [[0, 'free']], [0, 0], 'free'],
    [
      'an older change arriving after a newer one',
      [
        [0, 'free'],
        [60, 'occupied'],
        [120, 'free'],
      ],
      [2, 1, 0],
      'free',
    ],
  ])('%s changes nothing', async (_name, statuses, order, finalStatus) => {
    const ports = inMemoryWorkflowPorts();
    const events = spotEvents('bay-1', statuses);
    const [first, ...rest] = order.map((i) => events[i] as DomainEvent);
    expect((await applySpotChange(ports, first as DomainEvent, ctx())).applied).toBe(true);
    const saved = await ports.sites.get('parking', QUEENS);
    for (const event of rest) {
      const outcome = await applySpotChange(ports, event, ctx());
      expect(outcome).toMatchObject({ applied: false, reason: expect.stringMatching(/not newer than/) });
    }
    expect(await ports.sites.get('parking', QUEENS)).toBe(saved);
    expect((await carPark(ports))?.spots['bay-1']?.status).toBe(finalStatus);
    expect((await carPark(ports))?.total).toBe(1);
  });
});

describe('parkingWorkflow: exact under concurrent spot updates', () => {
  // Two car parks of 40 bays; each bay reports one to three changes, and the whole burst arrives at once,
  // scrambled, so a bay's later change may land before its earlier one.
  const STATUSES: readonly SpotStatus[] = ['free', 'occupied', 'closed', 'unknown'];
  const bays = [QUEENS, GARRARD].flatMap((site, p) =>
    Array.from({ length: 40 }, (_, b) => {
      const changes = 1 + ((b + p) % 3);
      const statuses = Array.from(
        { length: changes },
        (_, c) => [c * 60, STATUSES[(b * 7 + c * 3 + p) % 4] as SpotStatus] as const,
      );
      return { site, deviceId: `bay-${p + 1}-${b}`, statuses };
    }),
  );
  const events = scrambled(bays.flatMap((bay) => spotEvents(bay.deviceId, bay.statuses, bay.site)));
  const expected = (site: string) => {
    const last = bays
      .filter((b) => b.site === site)
      .map((b) => spotEvents(b.deviceId, b.statuses, site).at(-1));
    const count = (status: SpotStatus) => last.filter((e) => e?.readings.status === status).length;
    return {
      free: count('free'),
      occupied: count('occupied'),
      closed: count('closed'),
      unknown: count('unknown'),
      total: 40,
    };
  };

  it('a burst of changes (Promise.all) lands exactly: every change counted once, the newest per spot wins', async () => {
    const ports = inMemoryWorkflowPorts();
    const { rounds, failures, undelivered } = await deliverAtLeastOnce(ports, events);
    expect(undelivered).toBe(0);
    // Contended saves back off at random and try again, so the whole burst lands in its first delivery; any that
    // still lost every attempt would be redelivered, as the bus does, and must fail only for contention.
    expect(rounds).toBeLessThanOrEqual(2);
    expect(failures.every((f) => f instanceof ConcurrentUpdateError)).toBe(true);
    for (const site of [QUEENS, GARRARD]) {
      const record = await carPark(ports, site);
      expect(countsOf(record)).toEqual(expected(site));
      const fromSpots = Object.values(record?.spots ?? {}).map((s) => s.status);
      expect(fromSpots).toHaveLength(40);
      expect(countsOf(record)?.occupied).toBe(fromSpots.filter((s) => s === 'occupied').length);
    }
  });

  it('replaying the whole burst twice more, concurrently, changes no count', async () => {
    const ports = inMemoryWorkflowPorts();
    await deliverAtLeastOnce(ports, events);
    const before = await ports.sites.list('parking');
    await deliverAtLeastOnce(ports, [...events, ...events]);
    expect(await ports.sites.list('parking')).toEqual(before);
  });

  it('up to five simultaneous changes to one car park land without a redelivery', async () => {
    const ports = inMemoryWorkflowPorts();
    const five = ['a', 'b', 'c', 'd', 'e'].flatMap((id) => spotEvents(`bay-${id}`, [[0, 'occupied']]));
    await Promise.all(five.map((e) => parkingWorkflow.onEvent(e, ports, ctx())));
    expect(countsOf(await carPark(ports))).toEqual({ free: 0, occupied: 5, closed: 0, unknown: 0, total: 5 });
  });
});

describe('parkingWorkflow is idempotent and quiet', () => {
  const events = [
    ...spotEvents('bay-1', [
      [0, 'free'],
      [600, 'occupied'],
      [1200, 'free'],
    ]),
    ...spotEvents('bay-2', [
      [0, 'occupied'],
      [900, 'free'],
    ]),
    ...spotEvents('bay-3', [[0, 'free']], GARRARD),
  ].sort((a, b) => (a.observedAt < b.observedAt ? -1 : a.observedAt > b.observedAt ? 1 : 0));

  async function world(deliveries: readonly DomainEvent[]) {
    const ports = inMemoryWorkflowPorts();
    for (const event of deliveries) await parkingWorkflow.onEvent(event, ports, ctx());
    return ports;
  }

  it('replaying every event 3 times finds the same car parks, and nobody is notified', async () => {
    const once = await world(events);
    for (const replayed of [
      await world(events.flatMap((e) => [e, e, e])),
      await world([...events, ...events, ...events]),
    ]) {
      expect(await replayed.sites.list('parking')).toEqual(await once.sites.list('parking'));
      expect(replayed.notifier.sent).toEqual([]);
      expect(replayed.alerts.incidents.size).toBe(0);
      expect(replayed.jobs.jobs.size).toBe(0);
    }
    expect(countsOf(await carPark(once))).toEqual({ free: 2, occupied: 0, closed: 0, unknown: 0, total: 2 });
  });
});

describe('GET /parking/sites (open data)', () => {
  it('serves the counts and DATEX II status, never the spot map', async () => {
    const ports = inMemoryWorkflowPorts();
    for (const event of [
      ...spotEvents('bay-1', [[0, 'occupied']]),
      ...spotEvents('bay-2', [[0, 'free']]),
      ...spotEvents('bay-3', [[0, 'unknown']]),
    ]) {
      await parkingWorkflow.onEvent(event, ports, ctx(7200));
    }
    const [record] = await ports.sites.list('parking');
    expect(parkingBlueprint.openData?.path).toBe('parking/sites');
    expect(parkingBlueprint.openData?.view(record as never)).toEqual({
      site: QUEENS,
      ward: 'Abbey',
      free: 1,
      occupied: 1,
      closed: 0,
      unknown: 1,
      total: 3,
      occupancy: 0.5,
      status: 'spacesAvailable',
      updatedAt: at(7200),
    });
  });

  it('leaves out a record that is not a car park', () => {
    expect(
      carParkView({
        service: 'parking',
        site: 'x',
        version: 1,
        updatedAt: at(0),
        data: { note: 'not counts' },
      }),
    ).toBeUndefined();
  });

  it('a 40-bay car park’s record stays within the 4 KB the cost profile prices', async () => {
    const ports = inMemoryWorkflowPorts();
    for (let b = 0; b < 40; b += 1) {
      for (const event of spotEvents(`rdg-bay-1-${String(b).padStart(3, '0')}`, [[b, 'occupied']])) {
        await parkingWorkflow.onEvent(event, ports, ctx());
      }
    }
    const record = await ports.sites.get('parking', QUEENS);
    const bytes = Buffer.byteLength(JSON.stringify(record));
    expect(bytes).toBeLessThanOrEqual(4 * 1024);
    expect(parkingBlueprint.cost.writeUnitsPerEvent).toBe(Math.ceil(bytes / 1024));
  });
});

describe('parkingBlueprint', () => {
  it('is non-essential and routes only spot changes', () => {
    expect(parkingBlueprint).toMatchObject({
      name: 'parking',
      essential: false,
      eventTypes: ['parking.spot-changed'],
    });
  });
});
