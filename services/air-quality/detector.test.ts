import { describe, expect, it } from 'vitest';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { ServiceContext } from '../shared/blueprint.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { type AirQualityState, airQualityDetector } from './detector.js';

const sensor = (readings: Readings, s: number) => point('air-quality', readings, at(s), { deviceId: 'aq-1' });
const context = (timeScale = 1, settings: Record<string, number> = {}): ServiceContext => ({
  timeScale,
  settings,
});

function step(
  state: AirQualityState | undefined,
  history: readonly TelemetryPoint[],
  current: TelemetryPoint,
  ctx: ServiceContext = context(),
) {
  return airQualityDetector.step({ state, point: current, device: undefined, history, context: ctx });
}

describe('airQualityDetector.historySeconds (the 24-hour PM mean, divided by the time scale)', () => {
  it.each<[number, number]>([
    [1, 86_400],
    [60, 1_440],
  ])('at time scale %s: %s s', (timeScale, seconds) => {
    expect(airQualityDetector.historySeconds(context(timeScale))).toBe(seconds);
  });
});

describe('airQualityDetector.step', () => {
  it('says nothing and keeps no state until a mean can be formed', () => {
    const result = step(undefined, [], sensor({ pm25: 90 }, 0));
    expect(result).toEqual({ state: undefined, events: [] });
  });

  it('reports the first index and remembers it', () => {
    const now = sensor({ no2: 150 }, 0);
    const result = step(undefined, [now], now);
    expect(result.state).toEqual({ index: 3 });
    expect(result.events.map((e) => [e.type, e.detail.index])).toEqual([['air-quality.band-changed', 3]]);
  });

  it('returns the very same state when the index holds, so nothing is written', () => {
    const state: AirQualityState = { index: 3 };
    const now = sensor({ no2: 160 }, 0);
    const result = step(state, [now], now);
    expect(result.state).toBe(state);
    expect(result.events).toEqual([]);
  });

  it('judges the point even when the history read did not return it yet', () => {
    const result = step({ index: 2 }, [sensor({ no2: 100 }, -600)], sensor({ no2: 700 }, 0));
    // Hourly NO2 mean of 100 and 700 is 400: index 6.
    expect(result.state).toEqual({ index: 6 });
  });

  it('reads minCoverage from the service settings', () => {
    // Ozone in 1 of its 8 slots: no mean with Defra's 75%, a mean when the council accepts 10%.
    const now = sensor({ o3: 200 }, 0);
    expect(step(undefined, [now], now).events).toEqual([]);
    expect(step(undefined, [now], now, context(1, { minCoverage: 0.1 })).state).toEqual({ index: 8 });
  });
});

describe('airQualityDetector at time scale 60 (an hour of air passes in a real minute)', () => {
  const fast = context(60);

  it('reaches High on NO2 readings spanning one scaled hour (60 real seconds)', () => {
    const history = [0, -15, -30, -45].map((s) => sensor({ no2: 401 }, s));
    const result = step({ index: 6 }, history, history[0] as TelemetryPoint, fast);
    expect(result.events.map((e) => [e.detail.index, e.detail.band])).toEqual([[7, 'High']]);
  });

  it.each<[string, number, number]>([
    ['a reading 59 s old is inside the scaled hour', -59, 9],
    ['a reading exactly 60 s old is outside it', -60, 7],
  ])('%s', (_name, s, index) => {
    // 401 now and, depending on its age, 750 in the same scaled hour: mean 575.5 (index 9) or 401 (index 7).
    const now = sensor({ no2: 401 }, 0);
    const result = step(undefined, [sensor({ no2: 750 }, s), now], now, fast);
    expect(result.state).toEqual({ index });
  });

  it('needs 18 of the 24 scaled hours (18 real minutes) for a PM2.5 mean', () => {
    const minutes = (n: number) => Array.from({ length: n }, (_, i) => sensor({ pm25: 60 }, -i * 60));
    const [now17] = minutes(17);
    const [now18] = minutes(18);
    expect(step(undefined, minutes(17), now17 as TelemetryPoint, fast).events).toEqual([]);
    expect(step(undefined, minutes(18), now18 as TelemetryPoint, fast).state).toEqual({ index: 8 });
  });
});
