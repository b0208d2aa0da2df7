import { describe, expect, it } from 'vitest';
import type { Device } from '../../lambdas/domain/device.js';
import type { ServiceContext } from '../shared/blueprint.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { type FloodState, floodDetector, gaugeConfigFor } from './detector.js';
import { RISE_WINDOW_MAX_READINGS } from './rules.js';

const gaugeDevice = (settings?: Record<string, number>): Device => ({
  deviceId: 'gauge-1',
  deviceType: 'water-level',
  status: 'active',
  location: { lat: 51.46, lon: -0.95 },
  site: 'Gas Works Road',
  ward: 'E05000003',
  ...(settings ? { settings } : {}),
  registeredAt: at(-86_400),
});
const THRESHOLDS = { warningLevel: 2, severeLevel: 2.3 };

const context = (timeScale = 1, settings: Record<string, number> = {}): ServiceContext => ({
  timeScale,
  settings,
});
const reading = (s: number, waterLevel: number) =>
  point('water-level', { waterLevel }, at(s), { deviceId: 'gauge-1', site: 'Gas Works Road' });

/** Feeds readings (seconds, metres) in turn, with no history; returns event labels and states. */
function run(
  readings: readonly (readonly [number, number])[],
  device: Device | undefined = gaugeDevice(THRESHOLDS),
  ctx: ServiceContext = context(),
  from: FloodState | undefined = undefined,
) {
  let state = from;
  const events: string[] = [];
  const states: (FloodState | undefined)[] = [];
  for (const [s, level] of readings) {
    const step = floodDetector.step({ state, point: reading(s, level), device, history: [], context: ctx });
    state = step.state;
    states.push(state);
    events.push(
      ...step.events.map((e) => (e.type === 'flood.level-changed' ? `level:${e.detail.level}` : e.type)),
    );
  }
  return { events, state, states };
}

describe('floodDetector.historySeconds', () => {
  it.each<[number, Record<string, number>]>([
    [1, {}],
    [60, {}],
    [1, { riseWindowMinutes: 120 }],
  ])(
    'asks for no history at time scale %s with settings %j: the rise window is in its state',
    (timeScale, settings) => {
      expect(floodDetector.historySeconds(context(timeScale, settings))).toBe(0);
    },
  );
});

describe('gaugeConfigFor', () => {
  it('reads the gauge thresholds, then the gauge, service and default rates', () => {
    const device = gaugeDevice({ ...THRESHOLDS, riseRateMetresPerHour: 0.5 });
    expect(gaugeConfigFor(device, context(1, { fallMargin: 0.1, riseRateMetresPerHour: 0.4 }))).toEqual({
      warningLevel: 2,
      severeLevel: 2.3,
      fallMargin: 0.1,
      riseRateMetresPerHour: 0.5,
      riseWindowMinutes: 60,
      minRiseSpanMinutes: 30,
    });
  });

  it('a gauge without thresholds has none (Infinity): its level never alerts', () => {
    expect(gaugeConfigFor(gaugeDevice(), context())).toMatchObject({
      warningLevel: Infinity,
      severeLevel: Infinity,
    });
  });
});

describe('floodDetector.step', () => {
  it.each<[string, [number, number][], string[]]>([
    [
      'steady water: nothing',
      [
        [0, 1],
        [900, 1],
        [1800, 1],
      ],
      [],
    ],
    [
      'reaching the warning level exactly',
      [
        [0, 1.99],
        [900, 2.0],
      ],
      ['level:warning'],
    ],
    [
      'warning then severe',
      [
        [0, 2.1],
        [900, 2.3],
      ],
      ['level:warning', 'level:severe'],
    ],
    // Ripples around 2.0 m stay inside the 5 cm fall margin.
    [
      'ripples at the warning level give one change',
      [
        [0, 2.0],
        [300, 1.96],
        [600, 2.01],
        [900, 1.95],
      ],
      ['level:warning'],
    ],
  ])('%s', (_name, readings, events) => {
    expect(run(readings).events).toEqual(events);
  });

  it('keeps the level, the rising flag and the rise window in its state', () => {
    const { states } = run([
      [0, 2.1],
      [900, 2.1],
      [1800, 2.05],
    ]);
    expect(states[0]).toEqual({ level: 'warning', risingFast: false, readings: [[Date.parse(at(0)), 2.1]] });
    expect(states[2]).toEqual({
      level: 'warning',
      risingFast: false,
      readings: [
        [Date.parse(at(0)), 2.1],
        [Date.parse(at(900)), 2.1],
        [Date.parse(at(1800)), 2.05],
      ],
    });
  });

  it('keeps only the readings of the rise window: the rate forgets a rise older than the window', () => {
    const { states, events } = run([
      [-3600, 1.0],
      [-1800, 1.5],
      [0, 1.5],
      [1800, 1.5],
    ]);
    expect(events).toEqual(['flood.rising-fast', 'flood.rising-fast-ended']);
    // At 1800 s the window reaches back to -1800 s (exactly 60 minutes old is still in).
    expect(states.at(-1)?.readings.map(([t]) => t)).toEqual([-1800, 0, 1800].map((s) => Date.parse(at(s))));
  });

  it('a redelivered or late reading changes nothing and is not kept twice', () => {
    const { state } = run([
      [0, 1.0],
      [1800, 1.2],
    ]);
    for (const [s, level] of [
      [1800, 1.2],
      [900, 9],
    ] as const) {
      const again = floodDetector.step({
        state,
        point: reading(s, level),
        device: gaugeDevice(THRESHOLDS),
        history: [],
        context: context(),
      });
      expect(again.state).toBe(state);
      expect(again.events).toEqual([]);
    }
  });

  it('a reading without a water level returns the very same state, so nothing is written', () => {
    const { state } = run([[0, 1.0]]);
    const step = floodDetector.step({
      state,
      point: point('water-level', { battery: 0.5 }, at(60), { deviceId: 'gauge-1' }),
      device: gaugeDevice(THRESHOLDS),
      history: [],
      context: context(),
    });
    expect(step).toEqual({ state, events: [] });
    expect(step.state).toBe(state);
  });

  it('carries on from a state written before the rise window was kept (level and flag only)', () => {
    const old = { level: 'warning', risingFast: false } as unknown as FloodState;
    const { events, state } = run([[0, 2.4]], gaugeDevice(THRESHOLDS), context(), old);
    expect(events).toEqual(['level:severe']);
    expect(state?.readings).toHaveLength(1);
  });

  it('a gauge without thresholds raises no level events but still the rise alarm', () => {
    const { events } = run(
      [
        [0, 1],
        [1800, 1.3],
        [3600, 9],
      ],
      gaugeDevice(),
    );
    expect(events).toEqual(['flood.rising-fast']);
  });
});

describe('floodDetector state size', () => {
  it('a gauge reporting every 10 s keeps at most 24 readings (~0.6 KB) and still measures the rise', () => {
    // Levels to the millimetre, as gauges report them.
    const readings = Array.from(
      { length: 721 },
      (_, i) => [i * 10, Math.round(1000 + (i * 10) / 7.2) / 1000] as const,
    );
    const { states, events } = run(readings);
    expect(Math.max(...states.map((s) => s?.readings.length ?? 0))).toBe(RISE_WINDOW_MAX_READINGS);
    expect(JSON.stringify(states.at(-1)).length).toBeLessThan(700);
    // 0.5 m per hour: over the 0.3 alarm once 30 minutes of readings are in; 2.0 m after two hours.
    expect(events).toEqual(['flood.rising-fast', 'level:warning']);
  });
});

describe('floodDetector at time scale 60 (the river rises 60 times faster per real hour)', () => {
  const fast = context(60);

  it.each<[string, [number, number][], string[]]>([
    // 0.3 m over 60 real seconds is 0.3 m per river hour: at the alarm rate, not over it.
    [
      'exactly the alarm rate over a scaled hour: no alarm',
      [
        [0, 1.0],
        [30, 1.15],
        [60, 1.3],
      ],
      [],
    ],
    [
      '0.31 m over a scaled hour: rising fast',
      [
        [0, 1.0],
        [30, 1.15],
        [60, 1.31],
      ],
      ['flood.rising-fast'],
    ],
    // The same readings on the real clock span one real minute: under the 30-minute minimum span.
    [
      'readings 29 real seconds apart are too short a span',
      [
        [0, 1.0],
        [29, 1.3],
      ],
      [],
    ],
    [
      'readings 30 real seconds apart are enough',
      [
        [0, 1.0],
        [30, 1.3],
      ],
      ['flood.rising-fast'],
    ],
  ])('%s', (_name, readings, events) => {
    expect(run(readings, gaugeDevice(THRESHOLDS), fast).events).toEqual(events);
  });

  it('on the real clock the same fast rise is too short to measure', () => {
    expect(
      run([
        [0, 1.0],
        [30, 1.15],
        [60, 1.31],
      ]).events,
    ).toEqual([]);
  });
});
