import { describe, expect, it } from 'vitest';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { ServiceContext } from '../shared/blueprint.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { type AirQualityState, airQualityDetector } from './detector.js';

const HOUR = 3600;
const sensor = (readings: Readings, s: number) => point('air-quality', readings, at(s), { deviceId: 'aq-1' });
const context = (timeScale = 1, settings: Record<string, number> = {}): ServiceContext => ({
  timeScale,
  settings,
});

function step(state: AirQualityState | undefined, current: TelemetryPoint, ctx: ServiceContext = context()) {
  return airQualityDetector.step({ state, point: current, device: undefined, history: [], context: ctx });
}

/** Feeds readings (seconds from T0, a clock hour) in order; returns the last state and every event's index. */
function feed(
  readings: readonly (readonly [number, Readings])[],
  ctx: ServiceContext = context(),
  from: AirQualityState | undefined = undefined,
) {
  let state = from;
  const events: DomainEvent[] = [];
  for (const [s, r] of readings) {
    const result = step(state, sensor(r, s), ctx);
    state = result.state;
    events.push(...result.events);
  }
  return { state, events, indexes: events.map((e) => e.detail.index) };
}

/** Readings every `stepSeconds` over `hours` hours ending just before T0 + `endSeconds`. */
const every = (stepSeconds: number, hours: number, readings: (i: number) => Readings, endSeconds = 0) =>
  Array.from({ length: (hours * HOUR) / stepSeconds }, (_, i) => {
    const s = endSeconds - hours * HOUR + i * stepSeconds;
    return [s, readings(i)] as const;
  });

describe('airQualityDetector.historySeconds', () => {
  it.each([1, 60, 3600])('asks for no history at time scale %s: the slots are in its state', (timeScale) => {
    expect(airQualityDetector.historySeconds(context(timeScale))).toBe(0);
  });
});

describe('airQualityDetector.step', () => {
  it('says nothing until a mean can be formed, but keeps the reading in its slots', () => {
    const result = step(undefined, sensor({ pm25: 90 }, 0));
    expect(result.events).toEqual([]);
    expect(result.state).toEqual({
      observedAt: at(0),
      slotMs: 3_600_000,
      slots: { pm25: { sums: [90], counts: [1] } },
    });
  });

  it('reports the first index and remembers it', () => {
    const result = step(undefined, sensor({ no2: 150 }, 0));
    expect(result.state?.index).toBe(3);
    expect(result.events.map((e) => [e.type, e.detail.index])).toEqual([['air-quality.band-changed', 3]]);
  });

  it('says nothing while the index holds, and keeps the index it reported', () => {
    const { state, indexes } = feed([
      [0, { no2: 150 }],
      [300, { no2: 160 }],
      [600, { no2: 170 }],
    ]);
    expect(indexes).toEqual([3]);
    expect(state).toMatchObject({ index: 3, slots: { no2: { sums: [480], counts: [3] } } });
  });

  it('hourly NO2: the readings of this clock hour so far', () => {
    // 100 and 700 in the same hour: mean 400 (index 6); the next clock hour starts from its own reading.
    expect(
      feed([
        [0, { no2: 100 }],
        [600, { no2: 700 }],
        [HOUR, { no2: 100 }],
      ]).indexes,
    ).toEqual([2, 6, 2]);
  });

  it('PM2.5 24-hour mean: no index until 18 of the 24 clock hours hold readings', () => {
    const seventeen = feed(every(300, 17, () => ({ pm25: 60 })));
    expect(seventeen.indexes).toEqual([]);
    const { indexes } = feed([[0, { pm25: 60 }]], context(), seventeen.state);
    expect(indexes).toEqual([8]);
  });

  it('PM10 over a day of 5-minute readings: the hourly means are averaged', () => {
    // 12 hours at 40 then 12 hours at 100: 24-hour mean 70 (index 6).
    const { state, indexes } = feed(every(300, 24, (i) => ({ pm10: i < 144 ? 40 : 100 }), HOUR));
    expect(indexes.at(-1)).toBe(6);
    expect(state?.slots.pm10?.counts).toEqual(new Array(24).fill(12));
  });

  it('a redelivered or late reading changes nothing and is not counted twice', () => {
    const { state } = feed([
      [0, { no2: 300 }],
      [600, { no2: 300 }],
    ]);
    const again = step(state, sensor({ no2: 300 }, 600));
    expect(again).toEqual({ state, events: [] });
    expect(again.state).toBe(state);
    const late = step(state, sensor({ no2: 900 }, 300));
    expect(late.state).toBe(state);
    expect(late.events).toEqual([]);
  });

  it('a reading without any DAQI pollutant returns the very same state, so nothing is written', () => {
    const { state } = feed([[0, { no2: 300 }]]);
    expect(step(state, sensor({ so2: 10 }, 60)).state).toBe(state);
  });

  it('reads minCoverage from the service settings', () => {
    // Ozone in 1 of its 8 slots: no mean with Defra's 75%, a mean when the council accepts 10%.
    expect(step(undefined, sensor({ o3: 200 }, 0)).events).toEqual([]);
    expect(step(undefined, sensor({ o3: 200 }, 0), context(1, { minCoverage: 0.1 })).state?.index).toBe(8);
  });

  it('carries on from a state written before the slots (index only)', () => {
    const old = { index: 7 } as unknown as AirQualityState;
    const result = step(old, sensor({ no2: 420 }, 0));
    expect(result.events).toEqual([]);
    expect(result.state).toMatchObject({ index: 7, slots: { no2: { sums: [420], counts: [1] } } });
  });
});

describe('airQualityDetector state size', () => {
  it('stays well under 1 KB: every pollutant every 5 minutes for two days, to a thousandth of a ug/m3', () => {
    const noisy = (i: number, base: number) => Math.round((base + ((i * 7919) % 1000) / 37) * 1000) / 1000;
    const { state } = feed(
      every(300, 48, (i) => ({
        pm25: noisy(i, 40),
        pm10: noisy(i + 1, 60),
        no2: noisy(i + 2, 300),
        o3: noisy(i + 3, 150),
      })),
    );
    expect(state?.slots.pm25?.counts).toHaveLength(24);
    expect(state?.slots.pm10?.counts).toHaveLength(24);
    expect(state?.slots.o3?.counts).toHaveLength(8);
    expect(state?.slots.no2?.counts).toHaveLength(1);
    expect(JSON.stringify(state).length).toBeLessThan(900);
  });

  it('a reading a day after the others drops their slots rather than keeping empty ones', () => {
    const { state } = feed([
      [0, { no2: 100, o3: 100, pm25: 10 }],
      [30 * HOUR, { no2: 100 }],
    ]);
    expect(state?.slots).toEqual({ no2: { sums: [100], counts: [1] } });
  });
});

describe('airQualityDetector at time scale 60 (an hour of air passes in a real minute)', () => {
  const fast = context(60);

  it('reaches High on NO2 readings within one scaled hour (one real minute)', () => {
    const { indexes } = feed(
      [
        [0, { no2: 380 }],
        [15, { no2: 420 }],
        [30, { no2: 420 }],
        [45, { no2: 420 }],
      ],
      fast,
    );
    // Means 380 (6), 400 (6), 406.7 (7), 410 (7).
    expect(indexes).toEqual([6, 7]);
  });

  it('a reading in the next real minute starts a new scaled hour', () => {
    expect(
      feed(
        [
          [0, { no2: 750 }],
          [59, { no2: 401 }],
          [60, { no2: 401 }],
        ],
        fast,
      ).indexes,
    ).toEqual([10, 9, 7]);
  });

  it('needs 18 of the 24 scaled hours (18 real minutes) for a PM2.5 mean', () => {
    const minutes = (n: number) => Array.from({ length: n }, (_, i) => [i * 60, { pm25: 60 }] as const);
    expect(feed(minutes(17), fast).indexes).toEqual([]);
    expect(feed(minutes(18), fast).indexes).toEqual([8]);
  });
});

describe('airQualityDetector at time scale 3600 (an hour in a real second, as the e2e test runs)', () => {
  it('NO2 420 then, 1.1 s later, 250: index 7, then 4 from the one-second hourly mean', () => {
    expect(
      feed(
        [
          [0, { no2: 420 }],
          [1.1, { no2: 250 }],
        ],
        context(3600),
      ).indexes,
    ).toEqual([7, 4]);
  });
});
