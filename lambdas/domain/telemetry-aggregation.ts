import { API_LIMITS, type TELEMETRY_INTERVALS, type TELEMETRY_STATS } from '../contracts/api.js';
import { type DeviceType, MEASURE_UNITS, READINGS_SCHEMAS } from '../contracts/device-types.js';

/** How a history answer is cut: `raw` readings, or buckets of 5 minutes, an hour or a day. */
export type TelemetryInterval = (typeof TELEMETRY_INTERVALS)[number];
export type AggregateInterval = Exclude<TelemetryInterval, 'raw'>;
/** What each bucket says about its readings. */
export type AggregateStat = (typeof TELEMETRY_STATS)[number];

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Bucket lengths. Buckets sit on the UTC clock: 5-minute marks, whole hours, midnight UTC (epoch-aligned). */
export const INTERVAL_MS: Readonly<Record<AggregateInterval, number>> = {
  '5m': 300_000,
  '1h': HOUR_MS,
  '1d': DAY_MS,
};

/**
 * The range an aggregate covers when the caller leaves `from` out: a day of 5-minute or hourly buckets, a month
 * of daily ones (a single day bucket is rarely what a chart wants).
 */
const DEFAULT_RANGE_MS: Readonly<Record<AggregateInterval, number>> = {
  '5m': API_LIMITS.defaultRangeHours * HOUR_MS,
  '1h': API_LIMITS.defaultRangeHours * HOUR_MS,
  '1d': 30 * DAY_MS,
};

/** The start of the bucket holding `epochMs`. */
export function bucketStart(epochMs: number, interval: AggregateInterval): number {
  const size = INTERVAL_MS[interval];
  return Math.floor(epochMs / size) * size;
}

/**
 * Readings of one measure, summarised: one reading (count 1, its value as sum, min and max) or a span a store
 * rolled up at ingest (an hour). A store hands the aggregation only readings inside the asked-for range, and fills
 * in what the stat needs: `sum` for avg, `min` for min, `max` for max (count is always given).
 */
export interface ReadingSummary {
  /** Epoch milliseconds: the reading's time, or the start of the span summarised. */
  readonly start: number;
  readonly count: number;
  readonly sum?: number;
  readonly min?: number;
  readonly max?: number;
}

/** One reading as a summary. */
export function readingSummary(observedAtMs: number, value: number): ReadingSummary {
  return { start: observedAtMs, count: 1, sum: value, min: value, max: value };
}

/**
 * Readings (`[observedAtMs, value]`, at least one) merged into one summary starting at the earliest: for a store
 * that reads several readings that share a bucket, such as one bucket item's.
 */
export function summaryOfReadings(readings: readonly (readonly [number, number])[]): ReadingSummary {
  let start = Number.POSITIVE_INFINITY;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const [at, value] of readings) {
    start = Math.min(start, at);
    sum += value;
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  return { start, count: readings.length, sum, min, max };
}

/**
 * Whether the whole hour starting at `hourMs` lies inside `[fromMs, toMs)`: only then may a store answer it from
 * the hour's rollup. An hour cut by the range's edge holds readings outside the range, so its readings are
 * taken one by one instead.
 */
export function isWholeHourInside(hourMs: number, fromMs: number, toMs: number): boolean {
  return hourMs >= fromMs && hourMs + HOUR_MS <= toMs;
}

/** One bucket of an aggregated answer. */
export interface AggregateBucket {
  /** Where the bucket starts on the UTC clock; the first and last may start or end outside the range. */
  readonly start: string;
  /** Readings of the measure in the bucket and inside the range. */
  readonly count: number;
  /** The stat over those readings; null for an empty bucket (the count stat is 0 there). */
  readonly value: number | null;
}

/**
 * Buckets `summaries` into every bucket of `interval` that overlaps `[fromMs, toMs)`, empty ones included (count
 * 0, value null) so a chart shows the gap, and works out `stat` in each. A bucket cut by the range's edge holds
 * only what the store returned for inside the range. Summaries from hourly rollups and single readings mix freely:
 * each lands in the bucket holding its start, and a store never rolls up across a bucket boundary (hours nest in
 * hours and days; 5-minute answers are built from readings).
 *
 * Throws when a summary lies outside the range or lacks what the stat needs: a store broke its contract, and an
 * answer built from it would be wrong without saying so.
 */
export function aggregateSeries(
  fromMs: number,
  toMs: number,
  interval: AggregateInterval,
  stat: AggregateStat,
  summaries: Iterable<ReadingSummary>,
): AggregateBucket[] {
  const size = INTERVAL_MS[interval];
  const first = bucketStart(fromMs, interval);
  const buckets = toMs > fromMs ? Math.ceil((toMs - first) / size) : 0;
  const totals = Array.from({ length: buckets }, () => ({
    count: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
  }));
  for (const summary of summaries) {
    if (summary.count === 0) continue;
    if (summary.start < fromMs || summary.start >= toMs) {
      throw new RangeError(
        `readings summarised at ${new Date(summary.start).toISOString()} lie outside the range asked for`,
      );
    }
    const total = totals[Math.floor((summary.start - first) / size)] as (typeof totals)[number];
    total.count += summary.count;
    if (stat === 'avg') total.sum += required(summary.sum, 'sum');
    if (stat === 'min') total.min = Math.min(total.min, required(summary.min, 'min'));
    if (stat === 'max') total.max = Math.max(total.max, required(summary.max, 'max'));
  }
  return totals.map((total, index) => ({
    start: new Date(first + index * size).toISOString(),
    count: total.count,
    value: statOf(total, stat),
  }));
}

function required(value: number | undefined, name: string): number {
  if (value === undefined) throw new RangeError(`a store summarised readings without their ${name}`);
  return value;
}

function statOf(
  total: { count: number; sum: number; min: number; max: number },
  stat: AggregateStat,
): number | null {
  if (stat === 'count') return total.count;
  if (total.count === 0) return null;
  if (stat === 'avg') return total.sum / total.count;
  return stat === 'min' ? total.min : total.max;
}

/** Longest range, in days, one answer at this interval may cover (API_LIMITS: the cost statement reads them). */
export function maxRangeDays(interval: TelemetryInterval): number {
  return interval === 'raw' ? API_LIMITS.maxRawRangeDays : API_LIMITS.maxAggregateRangeDays[interval];
}

/**
 * Why an aggregate over `[fromMs, toMs)` cannot be answered as asked, as a sentence naming the limit, or undefined
 * when it can. Each interval's limit bounds what one answer reads (every stored item in the range) and keeps it to
 * one page of at most 865 buckets, so aggregated answers need no cursor.
 */
export function aggregateRangeProblem(
  fromMs: number,
  toMs: number,
  interval: AggregateInterval,
): string | undefined {
  if (fromMs > toMs) {
    return `'from' (${new Date(fromMs).toISOString()}) is after 'to' (${new Date(toMs).toISOString()})`;
  }
  const days = (toMs - fromMs) / DAY_MS;
  const limit = maxRangeDays(interval);
  if (days <= limit) return undefined;
  const others = (['5m', '1h', '1d'] as const)
    .filter((other) => other !== interval)
    .map((other) => `${other}: ${maxRangeDays(other)} days`)
    .join(', ');
  return `the range is ${days.toFixed(1)} days; at interval ${interval} one request covers at most ${limit} days (${others})`;
}

/**
 * The range of an aggregate when `from` or `to` is left out: `to` defaults to the end of the bucket holding `now`
 * (so the current bucket is whole, filling as readings arrive, and every bucket is cut at the clock), `from` to a
 * day before `to` (a month for daily buckets).
 */
export function defaultAggregateRange(
  fromMs: number | undefined,
  toMs: number | undefined,
  interval: AggregateInterval,
  now: Date,
): { readonly fromMs: number; readonly toMs: number } {
  const end = toMs ?? bucketStart(now.getTime(), interval) + INTERVAL_MS[interval];
  return { fromMs: fromMs ?? end - DEFAULT_RANGE_MS[interval], toMs: end };
}

/** The readings of a device type that are numbers, and so can be averaged (statuses cannot). */
export function numericMeasuresOf(deviceType: DeviceType): string[] {
  return Object.keys(READINGS_SCHEMAS[deviceType].shape).filter((name) => name in MEASURE_UNITS);
}
