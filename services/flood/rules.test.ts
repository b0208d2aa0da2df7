import { describe, expect, it } from 'vitest';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { applyAlertSignal } from '../shared/alerts.js';
import { at, minutes, point } from '../shared/telemetry-fixtures.js';
import {
  type FloodLevel,
  floodAlertSignal,
  floodLevel,
  floodStep,
  GAUGE_AT_REST,
  type GaugeState,
  gaugeConfig,
  riseRate,
} from './rules.js';

const config = gaugeConfig({ warningLevel: 2, severeLevel: 3 });
const gauge = (waterLevel: number, m = 0) =>
  point('water-level', { waterLevel }, minutes(m), { deviceId: 'gauge-1' });

describe('floodLevel (warning 2 m, severe 3 m, fall margin 0.05 m)', () => {
  it.each<[FloodLevel, number, FloodLevel]>([
    ['normal', 1.99, 'normal'],
    ['normal', 2, 'warning'],
    ['normal', 2.99, 'warning'],
    ['normal', 3, 'severe'],
    ['warning', 3, 'severe'],
    ['warning', 1.96, 'warning'],
    ['warning', 1.95, 'warning'],
    ['warning', 1.94, 'normal'],
    ['severe', 2.96, 'severe'],
    ['severe', 2.95, 'severe'],
    ['severe', 2.94, 'warning'],
    ['severe', 1.95, 'warning'],
    ['severe', 1.94, 'normal'],
    ['normal', -0.5, 'normal'],
  ])('from %s at %s m: %s', (previous, level, expected) => {
    expect(floodLevel(previous, level, config)).toBe(expected);
  });

  it('refuses a gauge whose severe level is not above its warning level', () => {
    expect(() => gaugeConfig({ warningLevel: 2, severeLevel: 2 })).toThrow(
      /severeLevel \(2\) must be above warningLevel \(2\)/,
    );
  });
});

describe('riseRate (window 60 min, at least 30 min of readings)', () => {
  const window = (pairs: [number, number][]) => pairs.map(([m, level]) => gauge(level, m));

  it.each<[string, [number, number][], number | undefined]>([
    [
      '0.3 m over an hour',
      [
        [-60, 1],
        [-30, 1.1],
        [0, 1.3],
      ],
      0.3,
    ],
    [
      'a reading older than the window is ignored',
      [
        [-61, 0],
        [-30, 1],
        [0, 1.2],
      ],
      0.4,
    ],
    [
      'a fall is negative',
      [
        [-60, 2],
        [0, 1.5],
      ],
      -0.5,
    ],
    [
      'exactly 30 minutes of readings is enough',
      [
        [-30, 1],
        [0, 1.2],
      ],
      0.4,
    ],
    [
      '29 minutes is not',
      [
        [-29, 1],
        [0, 1.2],
      ],
      undefined,
    ],
    [
      'rounded to the millimetre per hour',
      [
        [-60, 1.0],
        [0, 1.3],
      ],
      0.3,
    ],
    ['a single reading is not', [[0, 1]], undefined],
  ])('%s', (_name, pairs, rate) => {
    const result = riseRate(window(pairs), minutes(0), config);
    if (rate === undefined) expect(result).toBeUndefined();
    else expect(result).toBe(rate);
  });
});

describe('floodStep', () => {
  const run = (levels: readonly number[], start: GaugeState = GAUGE_AT_REST) => {
    let state = start;
    const seen: TelemetryPoint[] = [];
    const events: string[] = [];
    levels.forEach((level, i) => {
      const p = gauge(level, i * 15);
      seen.push(p);
      const step = floodStep(state, seen, p, config);
      state = step.state;
      events.push(
        ...step.events.map((e) => (e.type === 'flood.level-changed' ? `level:${e.detail.level}` : e.type)),
      );
    });
    return { state, events };
  };

  it.each<[string, number[], string[]]>([
    ['steady water: nothing', [1, 1, 1, 1, 1], []],
    ['crossing the warning level', [1.9, 1.95, 2.0], ['level:warning']],
    ['ripples at the warning level give one change', [2.0, 1.97, 2.01, 1.96, 2.0], ['level:warning']],
    ['warning then severe', [2.5, 3.0], ['level:warning', 'level:severe']],
    // 15-minute readings: 1.0, 1.1, 1.2 (0.4 m/h over 30 min) and 1.3.
    ['rising 0.4 m/h', [1.0, 1.1, 1.2, 1.3], ['flood.rising-fast']],
    // 0.3 m/h exactly is not over the alarm rate.
    ['rising exactly 0.3 m/h', [1.0, 1.075, 1.15, 1.225, 1.3], []],
    ['rising 0.301 m/h', [1.0, 1.075, 1.15, 1.225, 1.301], ['flood.rising-fast']],
    [
      'rising fast then levelling off',
      [1.0, 1.1, 1.2, 1.2, 1.2, 1.2, 1.2],
      ['flood.rising-fast', 'flood.rising-fast-ended'],
    ],
  ])('%s', (_name, levels, events) => {
    expect(run(levels).events).toEqual(events);
  });

  it('a level alert opens on warning, escalates on severe and clears when back to normal', () => {
    const key = 'flood:gauge-1:level';
    let alert: ReturnType<typeof applyAlertSignal>['alert'];
    const notified: string[] = [];
    let state = GAUGE_AT_REST;
    const seen: TelemetryPoint[] = [];
    for (const [m, level] of [
      [0, 2.1],
      [15, 3.2],
      [30, 2.5],
      [45, 1.0],
      [75, 1.0],
    ] as const) {
      const p = gauge(level, m);
      seen.push(p);
      const step = floodStep(state, seen, p, config);
      state = step.state;
      for (const e of step.events) {
        const s = floodAlertSignal(e);
        if (s?.key !== key) continue;
        const t = applyAlertSignal(key, alert, s.signal, { coolDownSeconds: 900 });
        alert = t.alert;
        if (t.notify) notified.push(t.notify);
      }
    }
    const tick = applyAlertSignal(key, alert, { kind: 'tick', at: minutes(60) }, { coolDownSeconds: 900 });
    expect([...notified, tick.notify]).toEqual(['opened', 'escalated', 'cleared']);
  });

  it('maps rise events to the rise alert', () => {
    const [event] = floodStep(
      { level: 'normal', risingFast: false },
      [gauge(1, -30), gauge(1.5, 0)],
      gauge(1.5, 0),
      config,
    ).events;
    expect(event && floodAlertSignal(event)).toEqual({
      key: 'flood:gauge-1:rise',
      signal: { kind: 'raise', at: at(0), severity: 'warning' },
    });
  });
});
