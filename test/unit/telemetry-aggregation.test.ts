import { describe, expect, it } from 'vitest';
import { API_LIMITS } from '../../lambdas/contracts/api.js';
import {
  type AggregateStat,
  aggregateRangeProblem,
  aggregateSeries,
  bucketStart,
  defaultAggregateRange,
  isWholeHourInside,
  numericMeasuresOf,
  type ReadingSummary,
  readingSummary,
  summaryOfReadings,
} from '../../lambdas/domain/telemetry-aggregation.js';
import {
  DAILY,
  HOURLY,
  hourlyBuckets,
  SERIES_FROM,
  SERIES_POINTS,
  SERIES_TO,
} from '../support/aggregation-series.js';

const FROM = Date.parse(SERIES_FROM);
const TO = Date.parse(SERIES_TO);
const ms = (iso: string) => Date.parse(iso);

/** The fixture's no2 readings inside the range, one summary each, as a store without rollups hands them over. */
const readings: ReadingSummary[] = SERIES_POINTS.flatMap((point) => {
  const at = ms(point.observedAt);
  const no2 = point.readings.no2;
  return typeof no2 === 'number' && at >= FROM && at < TO ? [readingSummary(at, no2)] : [];
});

describe('aggregateSeries against the hand-computed morning', () => {
  it.each(['avg', 'min', 'max', 'count'] as AggregateStat[])(
    'gives the hourly %s with the empty hour present and both cut hours holding only readings inside the range',
    (stat) => {
      expect(aggregateSeries(FROM, TO, '1h', stat, readings)).toEqual(hourlyBuckets(HOURLY[stat]));
    },
  );

  it('gives one daily bucket over the range, starting at midnight UTC, with only the readings inside', () => {
    for (const stat of ['avg', 'min', 'max', 'count'] as const) {
      expect(aggregateSeries(FROM, TO, '1d', stat, readings)).toEqual([
        { start: '2026-11-27T00:00:00.000Z', count: DAILY.count, value: DAILY[stat] },
      ]);
    }
  });

  it('gives 5-minute buckets from the one holding from to the one holding the last instant before to', () => {
    const buckets = aggregateSeries(FROM, TO, '5m', 'avg', readings);
    expect(buckets).toHaveLength(45);
    expect(buckets[0]).toEqual({ start: '2026-11-27T09:30:00.000Z', count: 0, value: null });
    expect(buckets.at(-1)).toEqual({ start: '2026-11-27T13:10:00.000Z', count: 1, value: 15 });
    const at = (time: string) => buckets.find((b) => b.start === `2026-11-27T${time}:00.000Z`);
    expect(at('09:40')).toEqual({ start: '2026-11-27T09:40:00.000Z', count: 1, value: 10 });
    // The reading at 10:05 carries pm25 only: the bucket is empty for no2.
    expect(at('10:05')).toMatchObject({ count: 0, value: null });
    expect(at('10:55')).toMatchObject({ count: 1, value: 40 });
    expect(buckets.reduce((sum, b) => sum + b.count, 0)).toBe(DAILY.count);
  });

  it('merges hourly rollups with single readings into the same buckets', () => {
    // Hours 10 and 12 as a store's rollups, the cut hours and their neighbours as readings.
    const rollups: ReadingSummary[] = [
      { start: ms('2026-11-27T10:00:00Z'), count: 3, sum: 120 },
      { start: ms('2026-11-27T12:00:00Z'), count: 10, sum: 55 },
      { start: ms('2026-11-27T12:00:00Z'), count: 2, sum: 23 },
    ];
    const edges = readings.filter(
      (r) => r.start < ms('2026-11-27T10:00:00Z') || r.start >= ms('2026-11-27T13:00:00Z'),
    );
    expect(aggregateSeries(FROM, TO, '1h', 'avg', [...rollups, ...edges])).toEqual(hourlyBuckets(HOURLY.avg));
    expect(aggregateSeries(FROM, TO, '1d', 'count', [...rollups, ...edges])[0]?.value).toBe(DAILY.count);
  });

  it('merges several readings of one bucket into one summary starting at the earliest', () => {
    const summary = summaryOfReadings([
      [ms('2026-11-27T12:40:00Z'), 9],
      [ms('2026-11-27T12:05:00Z'), 2],
      [ms('2026-11-27T12:10:00Z'), 3],
    ]);
    expect(summary).toEqual({ start: ms('2026-11-27T12:05:00Z'), count: 3, sum: 14, min: 2, max: 9 });
    expect(
      aggregateSeries(ms('2026-11-27T12:00:00Z'), ms('2026-11-27T13:00:00Z'), '1h', 'max', [summary]),
    ).toEqual([{ start: '2026-11-27T12:00:00.000Z', count: 3, value: 9 }]);
  });

  it('answers an empty range with no buckets and a range without readings with empty buckets', () => {
    expect(aggregateSeries(FROM, FROM, '1h', 'avg', [])).toEqual([]);
    expect(
      aggregateSeries(ms('2026-11-27T00:00:00Z'), ms('2026-11-27T03:00:00Z'), '1h', 'count', []),
    ).toEqual(
      ['00', '01', '02'].map((hour) => ({ start: `2026-11-27T${hour}:00:00.000Z`, count: 0, value: 0 })),
    );
  });

  it('refuses summaries outside the range, or without what the stat needs, instead of answering wrongly', () => {
    expect(() =>
      aggregateSeries(FROM, TO, '1h', 'avg', [readingSummary(ms('2026-11-27T09:10:00Z'), 100)]),
    ).toThrow(/outside the range/);
    expect(() => aggregateSeries(FROM, TO, '1h', 'avg', [readingSummary(TO, 1000)])).toThrow(
      /outside the range/,
    );
    expect(() => aggregateSeries(FROM, TO, '1h', 'min', [{ start: FROM, count: 1, sum: 3 }])).toThrow(/min/);
  });
});

describe('buckets on the UTC clock', () => {
  it('starts buckets at 5-minute marks, whole hours and midnight UTC', () => {
    const at = ms('2026-11-27T13:14:59.999Z');
    expect(new Date(bucketStart(at, '5m')).toISOString()).toBe('2026-11-27T13:10:00.000Z');
    expect(new Date(bucketStart(at, '1h')).toISOString()).toBe('2026-11-27T13:00:00.000Z');
    expect(new Date(bucketStart(at, '1d')).toISOString()).toBe('2026-11-27T00:00:00.000Z');
  });

  it('counts an hour as whole only when both its ends are inside [from, to)', () => {
    const hour = ms('2026-11-27T10:00:00Z');
    expect(isWholeHourInside(hour, hour, hour + 3_600_000)).toBe(true);
    expect(isWholeHourInside(hour, hour + 1, hour + 7_200_000)).toBe(false);
    expect(isWholeHourInside(hour, hour, hour + 3_599_999)).toBe(false);
  });
});

describe('range limits per interval', () => {
  const DAY = 86_400_000;
  const start = ms('2026-11-01T00:00:00Z');

  it.each([
    ['5m', 3],
    ['1h', 31],
    ['1d', 92],
  ] as const)('allows %s over %i days and refuses a millisecond more, naming the limit', (interval, days) => {
    expect(API_LIMITS.maxAggregateRangeDays[interval]).toBe(days);
    expect(aggregateRangeProblem(start, start + days * DAY, interval)).toBeUndefined();
    const problem = aggregateRangeProblem(start, start + days * DAY + 1, interval);
    expect(problem).toContain(`at interval ${interval} one request covers at most ${days} days`);
  });

  it('refuses a range whose from is after its to', () => {
    expect(aggregateRangeProblem(start + 1, start, '1h')).toMatch(/'from' .* is after 'to'/);
  });

  it('keeps every allowed answer within one page of buckets', () => {
    for (const interval of ['5m', '1h', '1d'] as const) {
      const days = API_LIMITS.maxAggregateRangeDays[interval];
      // Cut at both ends: one bucket more than the range holds.
      const buckets = aggregateSeries(start + 1, start + 1 + days * DAY, interval, 'count', []);
      expect(buckets.length).toBeLessThanOrEqual(API_LIMITS.maxPageSize);
    }
  });
});

describe('default ranges', () => {
  const now = new Date('2026-11-27T12:37:10.000Z');

  it('ends at the end of the bucket holding now and covers a day, or a month of days', () => {
    const hourly = defaultAggregateRange(undefined, undefined, '1h', now);
    expect(new Date(hourly.toMs).toISOString()).toBe('2026-11-27T13:00:00.000Z');
    expect(new Date(hourly.fromMs).toISOString()).toBe('2026-11-26T13:00:00.000Z');
    expect(aggregateSeries(hourly.fromMs, hourly.toMs, '1h', 'avg', [])).toHaveLength(24);
    const fiveMinutes = defaultAggregateRange(undefined, undefined, '5m', now);
    expect(new Date(fiveMinutes.toMs).toISOString()).toBe('2026-11-27T12:40:00.000Z');
    const daily = defaultAggregateRange(undefined, undefined, '1d', now);
    expect(new Date(daily.toMs).toISOString()).toBe('2026-11-28T00:00:00.000Z');
    expect(new Date(daily.fromMs).toISOString()).toBe('2026-10-29T00:00:00.000Z');
  });

  it('keeps what the caller gave', () => {
    expect(defaultAggregateRange(FROM, undefined, '1h', now)).toEqual({
      fromMs: FROM,
      toMs: ms('2026-11-27T13:00:00Z'),
    });
    expect(defaultAggregateRange(undefined, TO, '1h', now)).toEqual({ fromMs: TO - 86_400_000, toMs: TO });
  });
});

describe('numericMeasuresOf', () => {
  it('lists the readings that are numbers, not statuses', () => {
    expect(numericMeasuresOf('waste-container')).toEqual(['fillingLevel', 'temperature']);
    expect(numericMeasuresOf('air-quality')).toEqual(['no2', 'pm25', 'pm10', 'o3']);
    expect(numericMeasuresOf('parking-spot')).toEqual([]);
  });
});
