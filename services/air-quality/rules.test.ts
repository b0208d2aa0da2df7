import { describe, expect, it } from 'vitest';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import { applyAlertSignal } from '../shared/alerts.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import {
  addReading,
  airQualityAlertSignal,
  airQualityEvents,
  DAQI_POLLUTANTS,
  DAQI_UPPER_EDGES,
  type DaqiIndex,
  type DaqiPollutant,
  daqiBand,
  type HourSlots,
  pollutantIndex,
  siteIndex,
  slotLengthMs,
  slotMean,
  slotMeans,
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
const HOUR_SLOT = slotLengthMs(1);
const MINUTE_SLOT = slotLengthMs(60);
const sensor = (readings: Readings, s: number) => point('air-quality', readings, at(s), { deviceId: 'aq-1' });
/** Readings (seconds from T0, which is 12:00:00 UTC, a clock hour) folded into slots in time order. */
const slotsOf = (readings: readonly (readonly [number, Readings])[], slotMs = HOUR_SLOT) =>
  readings.reduce<HourSlots | undefined>(
    (slots, [s, r]) => addReading(slots, sensor(r, s), slotMs),
    undefined,
  );
/** One reading per `stepSeconds` in each of the `hours` clock hours up to the one starting at T0, oldest first. */
const series = (hours: number, value: (s: number) => Readings, stepSeconds = 900) =>
  Array.from(
    { length: (hours * HOUR) / stepSeconds },
    (_, i) => (i - ((hours - 1) * HOUR) / stepSeconds) * stepSeconds,
  ).map((s) => [s, value(s)] as const);

describe('slotLengthMs (an hour divided by the time scale)', () => {
  it.each<[number, number]>([
    [1, 3_600_000],
    [60, 60_000],
    [3600, 1000],
  ])('at time scale %s: %s ms', (timeScale, ms) => {
    expect(slotLengthMs(timeScale)).toBe(ms);
  });
});

describe('addReading (hour slots: sum and count per clock hour, newest first)', () => {
  it('adds readings of the same clock hour to one slot', () => {
    expect(
      slotsOf([
        [0, { no2: 30 }],
        [HOUR - 1, { no2: 40, pm25: 12 }],
      ]),
    ).toEqual({
      observedAt: at(HOUR - 1),
      slotMs: HOUR_SLOT,
      slots: { no2: { sums: [70], counts: [2] }, pm25: { sums: [12], counts: [1] } },
    });
  });

  it('starts a new slot at the clock hour, and ages the older slots by the hours passed', () => {
    // 11:59:59, 12:00:00, then nothing until 14:30.
    const slots = slotsOf([
      [-1, { pm25: 10 }],
      [0, { pm25: 20 }],
      [2.5 * HOUR, { pm25: 30 }],
    ]);
    expect(slots?.slots.pm25).toEqual({ sums: [30, 0, 20, 10], counts: [1, 0, 1, 1] });
  });

  it('keeps only the slots of each averaging period: NO2 1, O3 8, PM 24', () => {
    const slots = slotsOf(series(30, () => ({ no2: 1, o3: 1, pm25: 1, pm10: 1 }), HOUR));
    expect(slots?.slots.no2?.counts).toHaveLength(1);
    expect(slots?.slots.o3?.counts).toHaveLength(8);
    expect(slots?.slots.pm25?.counts).toHaveLength(24);
    expect(slots?.slots.pm10?.counts).toHaveLength(24);
  });

  it('drops a pollutant the sensor stopped measuring once its slots are older than its period', () => {
    const slots = slotsOf([
      [0, { o3: 80, no2: 50 }],
      [7 * HOUR, { no2: 50 }],
    ]);
    expect(slots?.slots.o3).toEqual({ sums: [0, 0, 0, 0, 0, 0, 0, 80], counts: [0, 0, 0, 0, 0, 0, 0, 1] });
    expect(addReading(slots, sensor({ no2: 50 }, 8 * HOUR), HOUR_SLOT)?.slots.o3).toBeUndefined();
  });

  it('returns the very same slots for a reading without any DAQI pollutant', () => {
    const slots = slotsOf([[0, { no2: 50 }]]);
    expect(addReading(slots, sensor({ so2: 3 }, 60), HOUR_SLOT)).toBe(slots);
    expect(addReading(undefined, sensor({}, 60), HOUR_SLOT)).toBeUndefined();
  });

  it('starts afresh when the slots were cut at another time scale', () => {
    const slots = slotsOf([[0, { no2: 500 }]], MINUTE_SLOT);
    expect(addReading(slots, sensor({ no2: 50 }, 1), HOUR_SLOT)?.slots).toEqual({
      no2: { sums: [50], counts: [1] },
    });
  });

  it('keeps sums to a thousandth, so binary fractions do not pile up', () => {
    const slots = slotsOf([
      [0, { pm10: 0.1 }],
      [1, { pm10: 0.2 }],
    ]);
    expect(slots?.slots.pm10?.sums).toEqual([0.3]);
  });
});

describe('slotMean', () => {
  it('averages hourly slot means, so a chatty hour does not weigh more', () => {
    const slots = slotsOf([
      [-400, { pm25: 10 }],
      ...Array.from({ length: 10 }, (_, i) => [i, { pm25: 30 }] as const),
    ]);
    // Slots: 12:00 (10 readings of 30), 11:00 (one reading of 10): mean of means = 20.
    expect(slotMean(slots?.slots.pm25, 2, 1)).toBe(20);
  });

  it.each<[string, number, number]>([
    ['a reading at the last millisecond of the previous clock hour is not in the hourly mean', -0.001, 40],
    ['a reading at the start of this clock hour is', 0, 60],
  ])('%s', (_name, s, expected) => {
    const slots = slotsOf([
      [s, { no2: 80 }],
      [HOUR - 1, { no2: 40 }],
    ]);
    expect(slotMean(slots?.slots.no2, 1)).toBe(expected);
  });

  it.each<[number, boolean]>([
    [17, false],
    [18, true],
    [24, true],
  ])('a 24-hour mean with %s hours of data counts: %s (75% coverage)', (hours, counts) => {
    const slots = slotsOf(series(hours, () => ({ pm25: 30 })));
    expect(slotMean(slots?.slots.pm25, 24) !== undefined).toBe(counts);
  });

  it('the 8-hour ozone mean ignores readings older than 8 clock hours', () => {
    const slots = slotsOf([
      ...series(24, () => ({ o3: 500 })).slice(0, 16 * 4),
      ...series(8, () => ({ o3: 100 })),
    ]);
    expect(slotMean(slots?.slots.o3, 8)).toBe(100);
  });

  it('has no mean without slots', () => {
    expect(slotMean(undefined, 1)).toBeUndefined();
    expect(slotMeans(slotsOf([[0, { no2: 40 }]])).o3).toBeUndefined();
  });
});

describe('slots on a sped-up clock (slot length divided by the time scale)', () => {
  it.each<[string, number, number]>([
    ['a reading 59 s into the real minute shares its "hour"', 59, 60],
    ['a reading in the next real minute is a new "hour"', 60, 80],
  ])('%s', (_name, s, expected) => {
    const slots = slotsOf(
      [
        [0, { no2: 40 }],
        [s, { no2: 80 }],
      ],
      MINUTE_SLOT,
    );
    expect(slotMean(slots?.slots.no2, 1)).toBe(expected);
  });

  it.each<[number, boolean]>([
    [17, false],
    [18, true],
  ])('a 24-slot mean with %s one-minute slots of data counts: %s', (slots, counts) => {
    const readings = Array.from({ length: slots }, (_, i) => [(i - slots + 1) * 60, { pm25: 30 }] as const);
    expect(slotMean(slotsOf(readings, MINUTE_SLOT)?.slots.pm25, 24) !== undefined).toBe(counts);
  });

  it('at time scale 60 the 8-hour ozone mean covers 8 real minutes', () => {
    const readings = [
      [-8 * 60, { o3: 900 }] as const,
      ...Array.from({ length: 8 }, (_, i) => [(i - 7) * 60, { o3: 100 }] as const),
    ];
    expect(slotMeans(slotsOf(readings, MINUTE_SLOT)).o3).toBe(100);
    // On the real clock the same readings span under one hour: far too little for an 8-hour mean.
    expect(slotMeans(slotsOf(readings)).o3).toBeUndefined();
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
  const hourOfNo2 = (value: number) => slotMeans(slotsOf(series(1, () => ({ no2: value }), 300)));

  it.each<[string, DaqiIndex | undefined, number, DaqiIndex | undefined]>([
    ['first index known', undefined, 100, 2],
    ['same index again: nothing', 2, 100, undefined],
    ['Moderate (6) to High (7)', 6, 401, 7],
    ['High (7) back to Moderate (6)', 7, 400, 6],
    ['within High, 7 to 8', 7, 468, 8],
  ])('%s', (_name, previous, no2, index) => {
    const events = airQualityEvents(previous, hourOfNo2(no2), sensor({ no2 }, 0));
    expect(events.map((e) => e.detail.index)).toEqual(index === undefined ? [] : [index]);
    for (const e of events) {
      expect(e).toMatchObject({ type: 'air-quality.band-changed', site: 'site-1', observedAt: at(0) });
      expect(e.detail.means).toEqual({ no2 });
    }
  });

  it('says nothing without enough data for any mean', () => {
    const oneHourOfPm = slotMeans(slotsOf([[0, { pm25: 90 }]]));
    expect(oneHourOfPm).toEqual({});
    expect(airQualityEvents(undefined, oneHourOfPm, sensor({ pm25: 90 }, 0))).toEqual([]);
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
