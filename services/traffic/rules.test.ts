import { describe, expect, it } from 'vitest';
import { at, point } from '../shared/telemetry-fixtures.js';
import {
  type CongestionState,
  congestionStep,
  FREE_FLOWING,
  hourlyFlows,
  isCongestedPeriod,
  periodHourStart,
  TRAFFIC_DEFAULTS,
  type TrafficConfig,
  tallyPeriod,
} from './rules.js';

const config: TrafficConfig = { ...TRAFFIC_DEFAULTS, freeFlowSpeedKmh: 48 };
const PERIOD = 300;
const period = (s: number, speed: number, occupancy: number, intensity = 20, periodSeconds = PERIOD) =>
  point('traffic-flow', { intensity, averageVehicleSpeed: speed, occupancy, periodSeconds }, at(s), {
    deviceId: 'counter-1',
  });

describe('hourlyFlows', () => {
  it('sums the intensity of the periods that start in each hour', () => {
    // Periods end at 12:05, 12:10, ..., 13:00 (all start in the 12:00 hour), then one ending 13:05.
    const points = Array.from({ length: 13 }, (_, i) => period((i + 1) * PERIOD, 40, 0.1, i + 1));
    expect(hourlyFlows(points)).toEqual([
      { hour: at(0), vehicles: 78, periods: 12, complete: true },
      { hour: at(3600), vehicles: 13, periods: 1, complete: false },
    ]);
  });

  it.each<[string, number, string]>([
    ['a period ending exactly on the hour belongs to the hour before', 0, at(-3600)],
    ['a period ending one second after the hour belongs to that hour', 1, at(-3600)],
    ['a period starting exactly on the hour belongs to it', PERIOD, at(0)],
  ])('%s', (_name, s, hour) => {
    expect(hourlyFlows([period(s, 40, 0.1)])[0]?.hour).toBe(hour);
  });

  it('counts a duplicated period once and marks an hour with a missing period incomplete', () => {
    const points = Array.from({ length: 11 }, (_, i) => period((i + 1) * PERIOD, 40, 0.1, 10));
    expect(hourlyFlows([...points, ...points])).toEqual([
      { hour: at(0), vehicles: 110, periods: 11, complete: false },
    ]);
  });
});

describe('hours on a sped-up clock (an hour lasts 3600 / timeScale real seconds)', () => {
  it.each<[string, number, number, number, string]>([
    // At time scale 60 a 60-second period lasts 1 real second and an hour 60 real seconds.
    ['a period starting exactly on a scaled hour belongs to it', 61, 60, 60, at(60)],
    ['a period ending exactly on the scaled hour belongs to the one before', 60, 60, 60, at(0)],
    ['on the real clock the same period is in the 12:00 hour', 62, 60, 1, at(0)],
  ])('%s', (_name, s, periodSeconds, timeScale, hour) => {
    expect(new Date(periodHourStart(at(s), periodSeconds, timeScale)).toISOString()).toBe(hour);
  });

  it('hourlyFlows at time scale 60: 60 one-minute periods make a complete scaled hour', () => {
    const points = Array.from({ length: 61 }, (_, i) => period(i + 1, 40, 0.1, 2, 60));
    expect(hourlyFlows(points, 60)).toEqual([
      { hour: at(0), vehicles: 120, periods: 60, complete: true },
      { hour: at(60), vehicles: 2, periods: 1, complete: false },
    ]);
  });
});

describe('tallyPeriod', () => {
  const p = (s: number, intensity: number) => period(s, 40, 0.1, intensity);

  it('counts the periods of an hour and closes it when a period of a later hour arrives', () => {
    let tally = tallyPeriod(undefined, p(PERIOD, 5)).tally;
    for (let i = 2; i <= 12; i += 1) {
      const step = tallyPeriod(tally, p(i * PERIOD, 5));
      expect(step.completed).toBeUndefined();
      tally = step.tally;
    }
    expect(tally).toEqual({ hour: at(0), vehicles: 60, periods: 12, seconds: 3600 });
    const next = tallyPeriod(tally, p(13 * PERIOD, 7));
    expect(next).toEqual({
      tally: { hour: at(3600), vehicles: 7, periods: 1, seconds: PERIOD },
      completed: { hour: at(0), vehicles: 60, periods: 12, complete: true },
    });
  });

  it('agrees with hourlyFlows on the same periods', () => {
    const points = [1, 2, 3, 5, 13].map((i) => p(i * PERIOD, i));
    let tally: ReturnType<typeof tallyPeriod>['tally'];
    const completed = points.flatMap((point) => {
      const step = tallyPeriod(tally, point);
      tally = step.tally;
      return step.completed ? [step.completed] : [];
    });
    expect(completed).toEqual(hourlyFlows(points).slice(0, 1));
  });

  it('a period of an hour already closed changes nothing', () => {
    const { tally } = tallyPeriod(undefined, p(13 * PERIOD, 7));
    expect(tallyPeriod(tally, p(12 * PERIOD, 5))).toEqual({ tally });
  });

  it('a reading without a count changes nothing', () => {
    const { tally } = tallyPeriod(undefined, p(PERIOD, 7));
    const noCount = point('traffic-flow', { averageVehicleSpeed: 40 }, at(2 * PERIOD));
    expect(tallyPeriod(tally, noCount)).toEqual({ tally });
  });
});

describe('isCongestedPeriod (free flow 48 km/h, fraction 0.5, occupancy over 0.3)', () => {
  it.each<[number, number, boolean]>([
    [24, 0.5, false],
    [23.9, 0.5, true],
    [10, 0.3, false],
    [10, 0.31, true],
    [0, 0, false],
    [48, 0.9, false],
  ])('speed %s km/h, occupancy %s: %s', (speed, occupancy, congested) => {
    expect(isCongestedPeriod({ averageVehicleSpeed: speed, occupancy }, config)).toBe(congested);
  });
});

/** Runs periods (speed, occupancy) five minutes apart; returns events in order and the final state. */
function drive(periods: readonly [number, number][], start: CongestionState = FREE_FLOWING, gapAt?: number) {
  let state = start;
  const events: string[] = [];
  periods.forEach(([speed, occupancy], i) => {
    const s = (i + 1) * PERIOD + (gapAt !== undefined && i >= gapAt ? PERIOD * 2 : 0);
    const step = congestionStep(state, period(s, speed, occupancy), config);
    state = step.state;
    events.push(...step.events.map((e) => e.type));
  });
  return { state, events };
}

const SLOW: [number, number] = [15, 0.5];
const FAST: [number, number] = [45, 0.1];

describe('congestionStep', () => {
  it.each<[string, [number, number][], string[], boolean]>([
    ['two slow periods: not yet', [SLOW, SLOW], [], false],
    ['three slow periods start an incident', [SLOW, SLOW, SLOW], ['traffic.congestion-started'], true],
    ['a fast period breaks the run', [SLOW, SLOW, FAST, SLOW, SLOW], [], false],
    [
      'slow but not busy is not congestion',
      [
        [15, 0.3],
        [15, 0.3],
        [15, 0.3],
      ],
      [],
      false,
    ],
    ['five slow periods start it once', [SLOW, SLOW, SLOW, SLOW, SLOW], ['traffic.congestion-started'], true],
    [
      'two recovered periods do not clear it',
      [SLOW, SLOW, SLOW, FAST, FAST],
      ['traffic.congestion-started'],
      true,
    ],
    [
      'three recovered periods clear it',
      [SLOW, SLOW, SLOW, FAST, FAST, FAST],
      ['traffic.congestion-started', 'traffic.congestion-cleared'],
      false,
    ],
    [
      'a slow period during recovery restarts the count',
      [SLOW, SLOW, SLOW, FAST, FAST, SLOW, FAST, FAST],
      ['traffic.congestion-started'],
      true,
    ],
  ])('%s', (_name, periods, events, congested) => {
    const result = drive(periods);
    expect(result.events).toEqual(events);
    expect(result.state.congested).toBe(congested);
  });

  it('periods with a gap between them are not consecutive', () => {
    expect(drive([SLOW, SLOW, SLOW], FREE_FLOWING, 2).events).toEqual([]);
  });

  it('ignores a replayed or late period', () => {
    const { state } = drive([SLOW, SLOW]);
    const replay = congestionStep(state, period(2 * PERIOD, ...SLOW), config);
    expect(replay).toEqual({ state, events: [] });
  });

  it('says since the first congested report even when reports are sparser than periods', () => {
    // One-minute periods reported every 50 s (well within 1.5 periods), as a sped-up demo counter does.
    let state = FREE_FLOWING;
    const events = [1, 2, 3].flatMap((i) => {
      const step = congestionStep(state, period(i * 50, ...SLOW, 20, 60), config);
      state = step.state;
      return step.events;
    });
    expect(events.map((e) => e.detail.since)).toEqual([at(50)]);
  });

  it('the started event says since when and carries the readings', () => {
    let state = FREE_FLOWING;
    const events = [1, 2, 3].flatMap((i) => {
      const step = congestionStep(state, period(i * PERIOD, ...SLOW), config);
      state = step.state;
      return step.events;
    });
    expect(events[0]).toMatchObject({
      deviceId: 'counter-1',
      readings: { averageVehicleSpeed: 15, occupancy: 0.5 },
      detail: { since: at(PERIOD), freeFlowSpeedKmh: 48, periods: 3 },
    });
  });
});
