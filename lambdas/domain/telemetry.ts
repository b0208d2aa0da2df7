import type { DeviceType, Readings } from '../contracts/device-types.js';
import type { ReasonCode } from '../contracts/reason-codes.js';
import type { AggregateInterval, AggregateStat, ReadingSummary } from './telemetry-aggregation.js';

/** One validated, enriched device reading: what the telemetry store keeps. */
export interface TelemetryPoint {
  readonly deviceId: string;
  readonly deviceType: DeviceType;
  readonly messageId: string;
  /** Device's observation time, normalised to UTC ISO-8601 with milliseconds. */
  readonly observedAt: string;
  /** When IoT Core received it, ISO-8601. */
  readonly receivedAt: string;
  readonly readings: Readings;
  readonly battery?: number;
  readonly ward?: string;
  readonly site?: string;
  /** Where the device is; carried on latest state, not repeated on every stored point. */
  readonly location?: { readonly lat: number; readonly lon: number };
}

/**
 * Outcome of writing a batch, as indexes into the input: points to retry later, points the store refused for
 * good, and points it already held (only reported by stores that detect duplicates).
 */
export interface WriteOutcome {
  readonly retry: readonly number[];
  readonly rejected: readonly {
    readonly index: number;
    readonly reason: ReasonCode;
    readonly detail: string;
  }[];
  readonly duplicates: readonly number[];
}

export interface TelemetryQuery {
  readonly deviceId: string;
  readonly from: string;
  readonly to: string;
  /** Only points that carry this measure, and only that measure in the result. */
  readonly measure?: string;
  readonly limit: number;
  readonly cursor?: string;
}

/** One measure of one device, summarised over `[from, to)` for an aggregated history answer. */
export interface TelemetryAggregateQuery {
  readonly deviceId: string;
  /** Inclusive, ISO-8601. */
  readonly from: string;
  /** Exclusive, ISO-8601: consecutive ranges never count a reading twice. */
  readonly to: string;
  /** A numeric reading. */
  readonly measure: string;
  readonly interval: AggregateInterval;
  readonly stat: AggregateStat;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Opaque; absent on the last page. */
  readonly nextCursor?: string;
}

/**
 * Port: the time-series store. Two adapters: DynamoDB (default, every account) and Timestream (opt-in).
 * `write` never throws for per-record problems; it throws only when the whole call failed, which the caller
 * treats as "retry all".
 */
export interface TelemetryStore {
  /**
   * True when `write` reports points it already held (a conditional write on the point's natural key), so no
   * separate idempotency record is needed; false when the caller must keep its own (Timestream).
   */
  readonly detectsDuplicates: boolean;
  /**
   * @param hourlyAllowance readings each point's device may store per hour; past it the store rejects the point
   *   as RATE_LIMITED. Stores that cannot count per device-hour ignore it.
   */
  write(
    points: readonly TelemetryPoint[],
    hourlyAllowance?: (point: TelemetryPoint) => number,
  ): Promise<WriteOutcome>;
  query(query: TelemetryQuery): Promise<Page<TelemetryPoint>>;
  /**
   * The measure's readings inside the range, summarised as finely as the store keeps them (hourly rollups where a
   * whole hour is inside the range and the stat allows, single readings elsewhere); `aggregateSeries` buckets them.
   * Bounded: the caller has checked the range against the interval's limit, and the store answers in one go.
   */
  aggregate(query: TelemetryAggregateQuery): Promise<readonly ReadingSummary[]>;
}

/** Port: each device's newest reading. */
export interface LatestStateStore {
  /** Replaces a device's latest state only with a later observation. Returns input indexes to retry. */
  putIfNewer(points: readonly TelemetryPoint[]): Promise<readonly number[]>;
  get(deviceId: string): Promise<TelemetryPoint | undefined>;
  /** The stored states of several devices at once (strongly consistent): one request per batch. */
  getMany(deviceIds: readonly string[]): Promise<ReadonlyMap<string, TelemetryPoint>>;
}

/** Port: idempotency records, keyed `deviceId#messageId`, for stores that cannot detect duplicates themselves. */
export interface ProcessedMessages {
  /** Which of these keys were already stored. */
  findProcessed(keys: readonly string[]): Promise<ReadonlySet<string>>;
  markProcessed(keys: readonly string[]): Promise<void>;
}

export function messageKey(deviceId: string, messageId: string): string {
  return `${deviceId}#${messageId}`;
}
