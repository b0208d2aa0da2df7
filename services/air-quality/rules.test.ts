import { describe, expect, it } from 'vitest';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import { applyAlertSignal } from '../shared/alerts.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import {
  airQualityAlertSignal,
  airQualityEvents,
  DAQI_POLLUTANTS,
  DAQI_UPPER_EDGES,
  type DaqiIndex,
  type DaqiPollutant,
  daqiBand,
  pollutantIndex,
  runningMean,
  runningMeans,
  siteIndex,
} from './rules.js';

/** The Defra table as published (ug/m3, index 1..10), written out independently of the rules' edge arrays. */
const DEFRA_TABLE: Record<DaqiPollutant, readonly [number, number][]> = {
  pm25: [
    [0, 11],
    [12, 23],
    [24, 35],
    [36, 41],
    [42, 47],
    [48, 53],
    [54, 58],
    [59, 64],
    [65, 70],
  ],
  pm10: [
    [0, 16],
    [17, 33],
    [34, 50],
    [51, 58],
    [59, 66],
    [67, 75],
    [76, 83],
    [84, 91],
    [92, 100],
  ],
  no2: [
    [0, 67],
    [68, 134],
    [135, 200],
    [201, 267],
    [268, 334],
    [335, 400],
    [401, 467],
    [468, 534],
    [535, 600],
  ],
  o3: [
    [0, 33],
    [34, 66],
    [67, 100],
    [101, 120],
    [121, 140],
    [141, 160],
    [161, 187],
    [188, 213],
    [214, 240],
  ],
};
const INDEX_10_FROM: Record<DaqiPollutant, number> = { pm25: 71, pm10: 101, no2: 601, o3: 241 };

describe('pollutantIndex at every breakpoint edge', () => {
  const cases = DAQI_POLLUTANTS.flatMap((pollutant) =>
    DEFRA_TABLE[pollutant].flatMap(([low, high], i) => {
      const index = i + 1;
      return [
        [pollutant, low, index, 'lower edge'],
        [pollutant, high, index, 'upper edge'],
        [pollutant, high + 0.1, index + 1, 'just above the upper edge'],
        [pollutant, high + 1, index + 1, 'next whole value'],
      ] as const;
    }),
  );

  it.each(cases)('%s %s ug/m3 is index %s (%s)', (pollutant, value, index) => {
    expect(pollutantIndex(pollutant, value)).toBe(index);
  });

  it.each(DAQI_POLLUTANTS.map((p) => [p, INDEX_10_FROM[p]] as const))(
    '%s from %s ug/m3 and far above is index 10',
    (pollutant, from) => {
      expect(pollutantIndex(pollutant, from)).toBe(10);
      expect(pollutantIndex(pollutant, 5000)).toBe(10);
    },
  );

  it('the rules use exactly the published table', () => {
    for (const p of DAQI_POLLUTANTS)
      expect(DAQI_UPPER_EDGES[p]).toEqual(DEFRA_TABLE[p].map(([, high]) => high));
  });
});

describe('daqiBand', () => {
  it.each<[DaqiIndex, string]>([
    [1, 'Low'],
    [3, 'Low'],
    [4, 'Moderate'],
    [6, 'Moderate'],
    [7, 'High'],
    [9, 'High'],
    [10, 'Very High'],
  ])('index %s is %s', (index, band) => {
    expect(daqiBand(index)).toBe(band);
  });
});

const HOUR = 3600;
const sensor = (readings: Readings, s: number) => point('air-quality', readings, at(s), { deviceId: 'aq-1' });
/** One reading per `stepSeconds` for `hours` hours ending at T0. */
const series = (hours: number, value: (s: number) => Readings, stepSeconds = 900) =>
  Array.from({ length: (hours * HOUR) / stepSeconds }, (_, i) => -i * stepSeconds).map((s) =>
    sensor(value(s), s),
  );

describe('runningMean', () => {
  it('averages hourly slot means, so a chatty hour does not weigh more', () => {
    const window = [
      sensor({ no2: 10 }, -4000),
      ...Array.from({ length: 10 }, (_, i) => sensor({ no2: 30 }, -i)),
    ];
    // Slots: hour 0 (10 readings of 30), hour 1 (one reading of 10): mean of means = 20.
    expect(runningMean(window, 'no2', at(0), 2, 1)).toBe(20);
  });

  it.each<[string, number, number | undefined]>([
    ['a reading exactly at the end of the window counts', 0, 40],
    ['a reading one hour minus 1 s old counts in the hourly mean', -(HOUR - 1), 40],
    ['a reading exactly one hour old is outside the hourly mean', -HOUR, undefined],
    ['a reading after the evaluation time is ignored', 1, undefined],
  ])('%s', (_name, s, expected) => {
    expect(runningMean([sensor({ no2: 40 }, s)], 'no2', at(0))).toBe(expected);
  });

  it.each<[number, boolean]>([
    [17, false],
    [18, true],
    [24, true],
  ])('a 24-hour mean with %s hours of data counts: %s (75% coverage)', (hours, counts) => {
    const window = series(hours, () => ({ pm25: 30 }));
    expect(runningMean(window, 'pm25', at(0)) !== undefined).toBe(counts);
  });

  it('the 8-hour ozone mean ignores readings older than 8 hours', () => {
    const window = [...series(8, () => ({ o3: 100 })), ...series(24, () => ({ o3: 500 })).slice(8 * 4)];
    expect(runningMean(window, 'o3', at(0))).toBe(100);
  });

  it('skips readings without the pollutant', () => {
    expect(runningMean([sensor({ no2: 40 }, 0)], 'o3', at(0))).toBeUndefined();
  });
});

describe('runningMean on a sped-up clock (slot length divided by the time scale)', () => {
  const MINUTE_SLOT = 60_000;

  it.each<[string, number, number | undefined]>([
    ['a reading 59 s old is inside a one-minute "hour"', -59, 40],
    ['a reading exactly 60 s old is outside it', -60, undefined],
  ])('%s', (_name, s, expected) => {
    expect(runningMean([sensor({ no2: 40 }, s)], 'no2', at(0), 1, 0.75, MINUTE_SLOT)).toBe(expected);
  });

  it.each<[number, boolean]>([
    [17, false],
    [18, true],
  ])('a 24-slot mean with %s one-minute slots of data counts: %s', (slots, counts) => {
    const window = Array.from({ length: slots }, (_, i) => sensor({ pm25: 30 }, -i * 60));
    expect(runningMean(window, 'pm25', at(0), 24, 0.75, MINUTE_SLOT) !== undefined).toBe(counts);
  });
});

describe('runningMeans with a time scale', () => {
  it('at time scale 60 the 8-hour ozone mean covers 8 real minutes', () => {
    const window = [
      ...Array.from({ length: 8 }, (_, i) => sensor({ o3: 100 }, -i * 60)),
      sensor({ o3: 900 }, -8 * 60),
    ];
    expect(runningMeans(window, at(0), undefined, 60).o3).toBe(100);
    // On the real clock the same readings span under one hour: far too little for an 8-hour mean.
    expect(runningMeans(window, at(0)).o3).toBeUndefined();
  });
});

describe('siteIndex', () => {
  it.each<[string, Partial<Record<DaqiPollutant, number>>, DaqiIndex | undefined, DaqiPollutant | undefined]>(
    [
      ['no means', {}, undefined, undefined],
      ['one pollutant', { no2: 401 }, 7, 'no2'],
      ['the highest pollutant sets the index', { pm25: 20, pm10: 92, no2: 100, o3: 50 }, 9, 'pm10'],
      ['a tie goes to the first pollutant in table order', { pm25: 54, no2: 401 }, 7, 'pm25'],
    ],
  )('%s', (_name, means, index, pollutant) => {
    const result = siteIndex(means);
    expect(result?.index).toBe(index);
    expect(result?.pollutant).toBe(pollutant);
  });
});

describe('airQualityEvents', () => {
  const hourOfNo2 = (value: number) => series(1, () => ({ no2: value }), 300);

  it.each<[string, DaqiIndex | undefined, number, DaqiIndex | undefined]>([
    ['first index known', undefined, 100, 2],
    ['same index again: nothing', 2, 100, undefined],
    ['Moderate (6) to High (7)', 6, 401, 7],
    ['High (7) back to Moderate (6)', 7, 400, 6],
    ['within High, 7 to 8', 7, 468, 8],
  ])('%s', (_name, previous, no2, index) => {
    const window = hourOfNo2(no2);
    const events = airQualityEvents(previous, window, sensor({ no2 }, 0));
    expect(events.map((e) => e.detail.index)).toEqual(index === undefined ? [] : [index]);
    for (const e of events) {
      expect(e).toMatchObject({ type: 'air-quality.band-changed', site: 'site-1', observedAt: at(0) });
    }
  });

  it('says nothing without enough data for any mean', () => {
    expect(airQualityEvents(undefined, [], sensor({ pm25: 90 }, 0))).toEqual([]);
  });

  it('High raises an alert, back to Moderate clears it (after the cool-down)', () => {
    const up = airQualityAlertSignal(7, at(0));
    const down = airQualityAlertSignal(6, at(HOUR));
    const opened = applyAlertSignal('air-quality:site-1:daqi', undefined, up);
    const quiet = applyAlertSignal('air-quality:site-1:daqi', opened.alert, down, { coolDownSeconds: 0 });
    expect([opened.notify, quiet.notify]).toEqual(['opened', 'cleared']);
  });

  it.each<[DaqiIndex, string, string | undefined]>([
    [6, 'clear', undefined],
    [7, 'raise', 'warning'],
    [9, 'raise', 'warning'],
    [10, 'raise', 'severe'],
  ])('index %s gives a %s signal', (index, kind, severity) => {
    const signal = airQualityAlertSignal(index, at(0));
    expect(signal.kind).toBe(kind);
    expect(signal.kind === 'raise' ? signal.severity : undefined).toBe(severity);
  });
});
