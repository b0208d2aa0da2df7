import { describe, expect, it } from 'vitest';
import { applyAlertSignal } from '../shared/alerts.js';
import { at, minutes, point } from '../shared/telemetry-fixtures.js';
import {
  FLOOD_DEFAULTS,
  type FloodLevel,
  floodAlertSignal,
  floodLevel,
  floodStep,
  GAUGE_AT_REST,
  type GaugeState,
  gaugeConfig,
  gaugeLevels,
  type LevelReading,
  RISE_WINDOW_MAX_READINGS,
  riseRate,
  riseWindow,
} from './rules.js';

const config = gaugeConfig({ warningLevel: 2, severeLevel: 3 });
const gauge = (waterLevel: number, m = 0) =>
  point('water-level', { waterLevel }, minutes(m), { deviceId: 'gauge-1' });
/** A reading as the rise window keeps it, `s` seconds from T0. */
const level = (s: number, waterLevel: number): LevelReading => [Date.parse(at(s)), waterLevel];

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
  const window = (pairs: [number, number][]) => pairs.map(([m, metres]) => level(m * 60, metres));

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

describe('riseRate on a sped-up clock (time scale 60: an hour of river in a real minute)', () => {
  const seconds = (pairs: [number, number][]) => pairs.map(([s, metres]) => level(s, metres));

  it.each<[string, [number, number][], number | undefined]>([
    [
      '0.3 m over 60 real seconds is 0.3 m per river hour',
      [
        [-60, 1],
        [0, 1.3],
      ],
      0.3,
    ],
    [
      'a reading 61 s old is outside the scaled 60-minute window',
      [
        [-61, 0],
        [-30, 1],
        [0, 1.2],
      ],
      0.4,
    ],
    [
      '30 real seconds is the scaled minimum span',
      [
        [-30, 1],
        [0, 1.2],
      ],
      0.4,
    ],
    [
      '29 real seconds is not enough',
      [
        [-29, 1],
        [0, 1.2],
      ],
      undefined,
    ],
  ])('%s', (_name, pairs, rate) => {
    const result = riseRate(seconds(pairs), at(0), config, 60);
    if (rate === undefined) expect(result).toBeUndefined();
    else expect(result).toBe(rate);
  });
});

describe('gaugeLevels (whatever thresholds the registry holds)', () => {
  it.each<[string, number | undefined, number | undefined, number, number]>([
    ['both, severe above warning', 2, 3, 2, 3],
    ['warning only: never severe', 2, undefined, 2, Infinity],
    ['severe only: straight to severe', undefined, 3, 3, 3],
    ['severe at or under warning: severe wins', 3, 2.5, 2.5, 2.5],
    ['neither: no level alerts', undefined, undefined, Infinity, Infinity],
  ])('%s', (_name, warning, severe, warningLevel, severeLevel) => {
    expect(gaugeLevels(warning, severe)).toEqual({ warningLevel, severeLevel });
  });

  it.each<[string, number | undefined, number | undefined, FloodLevel, number, FloodLevel]>([
    ['severe only: from normal at the severe level', undefined, 3, 'normal', 3, 'severe'],
    ['severe only: under it stays normal', undefined, 3, 'normal', 2.99, 'normal'],
    ['severe only: holds within the fall margin', undefined, 3, 'severe', 2.95, 'severe'],
    ['severe only: back to normal under the margin', undefined, 3, 'severe', 2.94, 'normal'],
    ['warning only: far above stays warning', 2, undefined, 'warning', 50, 'warning'],
    ['neither: any level is normal', undefined, undefined, 'normal', 99, 'normal'],
    ['neither: a gauge that lost its thresholds steps down', undefined, undefined, 'warning', 5, 'normal'],
  ])('%s', (_name, warning, severe, previous, level, expected) => {
    const levels = { ...FLOOD_DEFAULTS, ...gaugeLevels(warning, severe) };
    expect(floodLevel(previous, level, levels)).toBe(expected);
  });
});

describe('floodStep', () => {
  const run = (levels: readonly number[], start: GaugeState = GAUGE_AT_REST) => {
    let state = start;
    const seen: LevelReading[] = [];
    const events: string[] = [];
    levels.forEach((metres, i) => {
      const p = gauge(metres, i * 15);
      seen.push(level(i * 15 * 60, metres));
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
    const seen: LevelReading[] = [];
    for (const [m, metres] of [
      [0, 2.1],
      [15, 3.2],
      [30, 2.5],
      [45, 1.0],
      [75, 1.0],
    ] as const) {
      const p = gauge(metres, m);
      seen.push(level(m * 60, metres));
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

  it('without thresholds a gauge still raises the rise alarm, and no level event', () => {
    const levels = { ...FLOOD_DEFAULTS, ...gaugeLevels(undefined, undefined) };
    const window = [level(-1800, 1), level(0, 9)];
    const { events } = floodStep(GAUGE_AT_REST, window, gauge(9, 0), levels);
    expect(events.map((e) => e.type)).toEqual(['flood.rising-fast']);
  });

  it('a level event says null for a threshold the gauge does not have', () => {
    const levels = { ...FLOOD_DEFAULTS, ...gaugeLevels(2, undefined) };
    const [event] = floodStep(GAUGE_AT_REST, [level(0, 2.1)], gauge(2.1, 0), levels).events;
    expect(event?.detail).toEqual({
      previousLevel: 'normal',
      level: 'warning',
      waterLevel: 2.1,
      warningLevel: 2,
      severeLevel: null,
    });
  });

  it('at time scale 60 the rise is measured in river metres per hour', () => {
    const s = (sec: number, level: number) =>
      point('water-level', { waterLevel: level }, at(sec), { deviceId: 'gauge-1' });
    const window = [level(-45, 1.0), level(-30, 1.1), level(0, 1.3)];
    const [event] = floodStep(GAUGE_AT_REST, window, s(0, 1.3), config, 60).events;
    // 0.3 m in 45 real seconds = 45 river minutes: 0.4 m per river hour, over the 0.3 alarm.
    expect(event).toMatchObject({
      type: 'flood.rising-fast',
      detail: { rateMetresPerHour: 0.4, alarmRate: 0.3 },
    });
  });

  it('maps rise events to the rise alert', () => {
    const [event] = floodStep(
      { level: 'normal', risingFast: false },
      [level(-1800, 1), level(0, 1.5)],
      gauge(1.5, 0),
      config,
    ).events;
    expect(event && floodAlertSignal(event)).toEqual({
      key: 'flood:gauge-1:rise',
      signal: { kind: 'raise', at: at(0), severity: 'warning' },
    });
  });
});

describe('riseWindow (the readings the rise rate needs, kept in the detector state)', () => {
  const times = (readings: readonly LevelReading[]) => readings.map(([t]) => (t - Date.parse(at(0))) / 1000);
  /** Readings every `stepSeconds` from `fromSeconds` up to 0, each folded into the window in turn. */
  const fold = (stepSeconds: number, fromSeconds: number, timeScale = 1, max = RISE_WINDOW_MAX_READINGS) => {
    let window: readonly LevelReading[] = [];
    for (let s = fromSeconds; s <= 0; s += stepSeconds) {
      // Rising faster and faster, so the rate depends on which reading is the oldest.
      window = riseWindow(window, level(s, 1 + ((s - fromSeconds) / 7200) ** 2), config, timeScale, max);
    }
    return window;
  };

  it('keeps the readings within the 60-minute window back from the newest, oldest first', () => {
    // Every 5 minutes for 3 hours: 13 readings, -60 min to 0 (a reading exactly 60 min old is still in).
    const window = fold(300, -3 * 3600);
    expect(times(window)).toEqual(Array.from({ length: 13 }, (_, i) => (i - 12) * 300));
  });

  it('at time scale 60 the window is 60 real seconds', () => {
    expect(times(fold(10, -300, 60))).toEqual([-60, -50, -40, -30, -20, -10, 0]);
  });

  it('thins a chatty gauge evenly to 24 readings, keeping the oldest and the newest', () => {
    // A reading every 30 s: 121 in the window, thinned to 24 spread over it.
    const window = fold(30, -2 * 3600);
    const t = times(window);
    expect(window).toHaveLength(24);
    expect(t[0]).toBeLessThanOrEqual(-3600 + 300);
    expect(t.at(-1)).toBe(0);
    const gaps = t.slice(1).map((x, i) => x - (t[i] ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(4 * 60 * 2);
  });

  it('the rate from a thinned window is the rate from every reading (the oldest in the window stays)', () => {
    const thinned = fold(30, -2 * 3600);
    const full = fold(30, -2 * 3600, 1, 1000);
    expect(full).toHaveLength(121);
    expect(riseRate(full, at(0), config)).toBe(0.75);
    expect(riseRate(thinned, at(0), config)).toBe(0.75);
  });

  it('drops a stored reading at or after the new one, so a replay is never kept twice', () => {
    const window = riseWindow([level(-600, 1), level(0, 1.1)], level(0, 1.1), config);
    expect(times(window)).toEqual([-600, 0]);
  });
});
