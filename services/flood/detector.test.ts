import { describe, expect, it } from 'vitest';
import type { Device } from '../../lambdas/domain/device.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { ServiceContext } from '../shared/blueprint.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { floodDetector, gaugeConfigFor } from './detector.js';
import type { GaugeState } from './rules.js';

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

/** Feeds readings (seconds, metres) with all earlier readings as history; returns event labels and state. */
function run(
  readings: readonly (readonly [number, number])[],
  device: Device | undefined = gaugeDevice(THRESHOLDS),
  ctx: ServiceContext = context(),
) {
  let state: GaugeState | undefined;
  const seen: TelemetryPoint[] = [];
  const events: string[] = [];
  const states: (GaugeState | undefined)[] = [];
  for (const [s, level] of readings) {
    const p = reading(s, level);
    seen.push(p);
    const step = floodDetector.step({ state, point: p, device, history: seen, context: ctx });
    state = step.state;
    states.push(state);
    events.push(
      ...step.events.map((e) => (e.type === 'flood.level-changed' ? `level:${e.detail.level}` : e.type)),
    );
  }
  return { events, state, states };
}

describe('floodDetector.historySeconds (the rise window, divided by the time scale)', () => {
  it.each<[number, Record<string, number>, number]>([
    [1, {}, 3600],
    [60, {}, 60],
    [1, { riseWindowMinutes: 120 }, 7200],
  ])('at time scale %s with settings %j: %s s', (timeScale, settings, seconds) => {
    expect(floodDetector.historySeconds(context(timeScale, settings))).toBe(seconds);
  });
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

  it('keeps no state while the gauge is at rest, and the very same state while nothing changes', () => {
    expect(
      run([
        [0, 1],
        [900, 1],
      ]).states,
    ).toEqual([undefined, undefined]);
    const { states } = run([
      [0, 2.1],
      [900, 2.1],
      [1800, 2.05],
    ]);
    expect(states[0]).toEqual({ level: 'warning', risingFast: false });
    expect(states[1]).toBe(states[0]);
    expect(states[2]).toBe(states[0]);
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

  it('judges the point even when the history read did not return it yet', () => {
    const step = floodDetector.step({
      state: undefined,
      point: reading(0, 2.5),
      device: gaugeDevice(THRESHOLDS),
      history: [reading(-1800, 2.0)],
      context: context(),
    });
    expect(step.events.map((e) => e.type)).toEqual(['flood.level-changed', 'flood.rising-fast']);
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
