import { describe, expect, it } from 'vitest';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import { applyAlertSignal } from '../shared/alerts.js';
import type { Job } from '../shared/jobs.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import {
  haversineKm,
  planCollectionRound,
  wasteAlertSignal,
  wasteEvents,
  wasteJobDecision,
} from './rules.js';

const bin = (readings: Readings, s = 0, deviceId = 'bin-1') =>
  point('waste-container', readings, at(s), { deviceId });

describe('wasteEvents: fill level', () => {
  it.each<[string, number | undefined, number, string[]]>([
    ['first reading at the threshold', undefined, 0.8, ['waste.full']],
    ['first reading just under the threshold', undefined, 0.7999, []],
    ['crossing up to exactly the threshold', 0.79, 0.8, ['waste.full']],
    ['staying just under the threshold', 0.79, 0.7999, []],
    ['staying over the threshold', 0.8, 0.95, []],
    ['falling from full to half', 0.9, 0.5, []],
    ['dropping to just under 0.2', 0.5, 0.1999, ['waste.emptied']],
    ['dropping to exactly 0.2 (not under)', 0.5, 0.2, []],
    ['from exactly 0.2 to just under', 0.2, 0.19, ['waste.emptied']],
    ['already under 0.2', 0.1, 0.05, []],
    ['first reading already empty (nothing known to have changed)', undefined, 0.05, []],
    ['full straight to empty', 0.95, 0, ['waste.emptied']],
  ])('%s', (_name, before, after, types) => {
    const previous = before === undefined ? undefined : { fillingLevel: before };
    expect(wasteEvents(previous, bin({ fillingLevel: after })).map((e) => e.type)).toEqual(types);
  });

  it.each<[number, number, string[]]>([
    [0.85, 0.89, []],
    [0.85, 0.9, ['waste.full']],
  ])('a container with threshold 0.9: %s -> %s', (before, after, types) => {
    const events = wasteEvents({ fillingLevel: before }, bin({ fillingLevel: after }), {
      fullThreshold: 0.9,
    });
    expect(events.map((e) => e.type)).toEqual(types);
  });

  it('carries the readings and the threshold that caused it', () => {
    const [event] = wasteEvents({ fillingLevel: 0.5 }, bin({ fillingLevel: 0.81, temperature: 12 }, 30));
    expect(event).toMatchObject({
      deviceId: 'bin-1',
      deviceType: 'waste-container',
      ward: 'E05000001',
      readings: { fillingLevel: 0.81, temperature: 12 },
      observedAt: at(30),
      detail: { fillingLevel: 0.81, threshold: 0.8 },
    });
  });
});

describe('wasteEvents: status', () => {
  it.each<[string | undefined, string, string[]]>([
    [undefined, 'burning', ['waste.hazard']],
    ['ok', 'burning', ['waste.hazard']],
    ['ok', 'vandalized', ['waste.hazard']],
    ['burning', 'burning', []],
    ['burning', 'vandalized', ['waste.hazard']],
    ['burning', 'ok', ['waste.hazard-cleared']],
    ['vandalized', 'lidOpen', ['waste.hazard-cleared']],
    ['ok', 'lidOpen', []],
    [undefined, 'ok', []],
  ])('%s -> %s', (before, after, types) => {
    const previous = before === undefined ? undefined : { status: before };
    expect(wasteEvents(previous, bin({ status: after })).map((e) => e.type)).toEqual(types);
  });

  it('a hazard raises a severe alert and its end clears it', () => {
    const [hazard] = wasteEvents({ status: 'ok' }, bin({ status: 'burning' }, 0));
    const [cleared] = wasteEvents({ status: 'burning' }, bin({ status: 'ok' }, 60));
    expect(hazard && wasteAlertSignal(hazard)).toEqual({ kind: 'raise', at: at(0), severity: 'severe' });
    expect(cleared && wasteAlertSignal(cleared)).toEqual({ kind: 'clear', at: at(60) });
    const opened = applyAlertSignal('waste:bin-1:hazard', undefined, {
      kind: 'raise',
      at: at(0),
      severity: 'severe',
    });
    expect(opened.notify).toBe('opened');
  });
});

describe('wasteJobDecision', () => {
  const decide = (jobs: readonly Job[], readings: Readings, s = 0) =>
    wasteJobDecision(jobs, bin(readings, s));

  it.each<[number, number]>([
    [0.7999, 0],
    [0.8, 1],
    [1, 1],
  ])('fillingLevel %s with no job opens %s collection job(s)', (level, count) => {
    expect(decide([], { fillingLevel: level }).open).toHaveLength(count);
  });

  it('opens one collection job per container, however many full readings follow', () => {
    let jobs: Job[] = [];
    for (const [s, level] of [
      [0, 0.8],
      [300, 0.85],
      [600, 0.9],
      [900, 1],
    ] as const) {
      const { open } = decide(jobs, { fillingLevel: level }, s);
      jobs = [...jobs, ...open];
    }
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({
      kind: 'collection',
      status: 'open',
      priority: 'routine',
      reason: 'full',
    });
  });

  it.each<[string, number, number]>([
    ['exactly 0.2 keeps it open', 0.2, 0],
    ['just under 0.2 closes it as emptied', 0.1999, 1],
    ['0.5 keeps it open', 0.5, 0],
  ])('after a job, %s', (_name, level, closed) => {
    const [job] = decide([], { fillingLevel: 0.9 }).open;
    const { close } = decide(job ? [job] : [], { fillingLevel: level }, 600);
    expect(close).toHaveLength(closed);
    if (closed) expect(close[0]).toMatchObject({ status: 'done', closedAs: 'emptied' });
  });

  it('closes a scheduled job as emptied too', () => {
    const [job] = decide([], { fillingLevel: 0.9 }).open;
    const scheduled = { ...(job as Job), status: 'scheduled' as const };
    expect(decide([scheduled], { fillingLevel: 0.05 }, 600).close).toHaveLength(1);
  });

  it('opens a new job once the previous one is done', () => {
    const [job] = decide([], { fillingLevel: 0.9 }).open;
    const [closed] = decide(job ? [job] : [], { fillingLevel: 0.05 }, 600).close;
    const [next] = decide(closed ? [closed] : [], { fillingLevel: 0.85 }, 3600).open;
    expect(next?.id).not.toBe(job?.id);
  });

  it.each([['burning'], ['vandalized']])('status %s opens one urgent job', (status) => {
    const { open } = decide([], { status });
    expect(open).toEqual([expect.objectContaining({ kind: 'hazard', priority: 'urgent', reason: status })]);
    expect(decide(open, { status }, 60).open).toEqual([]);
  });

  it('a burning full bin gets both jobs', () => {
    expect(decide([], { fillingLevel: 0.9, status: 'burning' }).open.map((j) => j.kind)).toEqual([
      'collection',
      'hazard',
    ]);
  });

  it('replaying every reading three times leaves the same jobs (store puts by deterministic id)', () => {
    const readings: [number, Readings][] = [
      [0, { fillingLevel: 0.5 }],
      [300, { fillingLevel: 0.82 }],
      [600, { fillingLevel: 0.9, status: 'burning' }],
      [900, { fillingLevel: 0.1, status: 'ok' }],
      [1200, { fillingLevel: 0.85 }],
    ];
    const replay = (times: number) => {
      const store = new Map<string, Job>();
      for (const [s, r] of readings) {
        for (let i = 0; i < times; i++) {
          const { open, close } = decide([...store.values()], r, s);
          for (const job of open) if (!store.has(job.id)) store.set(job.id, job);
          for (const job of close) store.set(job.id, job);
        }
      }
      return store;
    };
    // Replay the whole history again after it was applied once, too (late redelivery).
    const once = replay(1);
    const thrice = replay(3);
    expect([...thrice.values()]).toEqual([...once.values()]);
    expect([...once.values()].map((j) => `${j.kind}:${j.status}`)).toEqual([
      'collection:done',
      'hazard:open',
      'collection:open',
    ]);
  });
});

describe('haversineKm', () => {
  it.each<[string, { lat: number; lon: number }, { lat: number; lon: number }, number]>([
    ['the same point', { lat: 51.5, lon: -0.1 }, { lat: 51.5, lon: -0.1 }, 0],
    ['one degree of latitude', { lat: 51, lon: 0 }, { lat: 52, lon: 0 }, 111.195],
    ['one degree of longitude on the equator', { lat: 0, lon: 0 }, { lat: 0, lon: 1 }, 111.195],
    [
      'Reading to central London (about 59 km)',
      { lat: 51.4543, lon: -0.9781 },
      { lat: 51.5072, lon: -0.1276 },
      59.2,
    ],
  ])('%s', (_name, a, b, km) => {
    expect(haversineKm(a, b)).toBeCloseTo(km, 1);
    expect(haversineKm(b, a)).toBeCloseTo(haversineKm(a, b), 9);
  });
});

describe('planCollectionRound', () => {
  const depot = { lat: 51.45, lon: -0.97 };
  const job = (deviceId: string, lat: number, lon: number | undefined, over: Partial<Job> = {}): Job => ({
    id: `job-${deviceId}`,
    service: 'waste',
    kind: 'collection',
    deviceId,
    ward: 'W1',
    ...(lon === undefined ? {} : { location: { lat, lon } }),
    priority: 'routine',
    status: 'open',
    reason: 'full',
    openedAt: at(0),
    updatedAt: at(0),
    history: [],
    ...over,
  });

  it('visits the nearest open job next, starting from the depot', () => {
    const jobs = [job('far', 51.5, -0.97), job('near', 51.46, -0.97), job('middle', 51.48, -0.97)];
    const round = planCollectionRound('W1', depot, jobs);
    expect(round.stops.map((s) => s.deviceId)).toEqual(['near', 'middle', 'far']);
    expect(round.totalKm).toBeCloseTo(haversineKm(depot, { lat: 51.5, lon: -0.97 }), 9);
  });

  it('is nearest-neighbour, not sorted by distance from the depot', () => {
    // b is nearer the depot than c, but from a, c is much nearer than b.
    const jobs = [job('a', 51.46, -0.97), job('b', 51.45, -0.95), job('c', 51.47, -0.97)];
    expect(planCollectionRound('W1', depot, jobs).stops.map((s) => s.deviceId)).toEqual(['a', 'c', 'b']);
  });

  it('breaks ties by device id, whatever the input order', () => {
    const east = job('bin-b', 51.45, -0.96);
    const west = job('bin-a', 51.45, -0.98);
    expect(haversineKm(depot, east.location as never)).toBe(haversineKm(depot, west.location as never));
    for (const jobs of [
      [east, west],
      [west, east],
    ]) {
      expect(planCollectionRound('W1', depot, jobs).stops[0]?.deviceId).toBe('bin-a');
    }
  });

  it('takes only open collection jobs of the ward, and lists those without a location apart', () => {
    const jobs = [
      job('in', 51.46, -0.97),
      job('other-ward', 51.46, -0.97, { ward: 'W2' }),
      job('scheduled', 51.46, -0.97, { status: 'scheduled' }),
      job('done', 51.46, -0.97, { status: 'done' }),
      job('fire', 51.46, -0.97, { kind: 'hazard' }),
      job('nowhere', 0, undefined),
    ];
    const round = planCollectionRound('W1', depot, jobs);
    expect(round.stops.map((s) => s.deviceId)).toEqual(['in']);
    expect(round.unlocated).toEqual(['job-nowhere']);
  });

  it('an empty ward has an empty round', () => {
    expect(planCollectionRound('W1', depot, [])).toEqual({
      ward: 'W1',
      stops: [],
      totalKm: 0,
      unlocated: [],
    });
  });
});
