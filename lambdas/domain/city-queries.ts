import { API_LIMITS } from '../contracts/api.js';
import type { ReasonCode } from '../contracts/reason-codes.js';
import type { Device, DeviceDirectory } from './device.js';
import type { QuarantineEntry, QuarantineStore } from './quarantine.js';
import type { LatestStateStore, Page, TelemetryPoint, TelemetryStore } from './telemetry.js';
import {
  type AggregateBucket,
  type AggregateInterval,
  type AggregateStat,
  aggregateRangeProblem,
  aggregateSeries,
  defaultAggregateRange,
  numericMeasuresOf,
  type TelemetryInterval,
} from './telemetry-aggregation.js';

/** Something the caller asked for does not exist. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** The request is understood but cannot be answered as asked; `parameter` names what to change. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  constructor(
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
  }
}

export interface CityQueryPorts {
  readonly devices: DeviceDirectory;
  readonly latestState: LatestStateStore;
  readonly telemetry: TelemetryStore;
  readonly quarantine: QuarantineStore;
}

export interface TimeRange {
  readonly from: string;
  readonly to: string;
}

/** Fills in a default window ending now and refuses ranges that are inverted or longer than allowed. */
export function resolveRange(
  from: string | undefined,
  to: string | undefined,
  now: Date,
  maxDays: number,
): TimeRange {
  const end = to ? new Date(to) : now;
  const start = from ? new Date(from) : new Date(end.getTime() - API_LIMITS.defaultRangeHours * 3_600_000);
  if (start.getTime() > end.getTime()) {
    throw new InvalidRequestError(
      `'from' (${start.toISOString()}) is after 'to' (${end.toISOString()})`,
      'from',
    );
  }
  const days = (end.getTime() - start.getTime()) / 86_400_000;
  if (days > maxDays) {
    throw new InvalidRequestError(
      `the range is ${days.toFixed(1)} days; at most ${maxDays} days can be asked for in one request`,
      'from',
    );
  }
  return { from: start.toISOString(), to: end.toISOString() };
}

/**
 * A page cursor carries the query it belongs to (the resolved range and filter) around the store's own position,
 * so the next page asks exactly the same question even when `from`/`to` were left to their moving defaults, and a
 * cursor cannot be replayed against another query.
 */
interface CursorFrame {
  readonly from: string;
  readonly to: string;
  readonly filter: string;
  readonly position: string;
}

function sealCursor(range: TimeRange, filter: string, position: string | undefined): string | undefined {
  if (!position) return undefined;
  const frame: CursorFrame = { ...range, filter, position };
  return Buffer.from(JSON.stringify(frame), 'utf8').toString('base64url');
}

function openCursor(cursor: string, filter: string): CursorFrame {
  let frame: Partial<CursorFrame>;
  try {
    frame = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidRequestError('cursor is not one this API issued', 'cursor');
  }
  if (typeof frame?.from !== 'string' || typeof frame.to !== 'string' || typeof frame.position !== 'string') {
    throw new InvalidRequestError('cursor is not one this API issued', 'cursor');
  }
  if (frame.filter !== filter) {
    throw new InvalidRequestError(
      'cursor belongs to a query with other filters; start again without it',
      'cursor',
    );
  }
  return frame as CursorFrame;
}

/** The range of a page: the cursor's when continuing, otherwise the request's (with defaults). */
function pageRange(
  request: { from?: string; to?: string; cursor?: string },
  filter: string,
  now: Date,
  maxDays: number,
): { range: TimeRange; position?: string } {
  if (!request.cursor) return { range: resolveRange(request.from, request.to, now, maxDays) };
  const frame = openCursor(request.cursor, filter);
  return { range: { from: frame.from, to: frame.to }, position: frame.position };
}

async function requireDevice(ports: CityQueryPorts, deviceId: string): Promise<Device> {
  const device = (await ports.devices.findMany([deviceId])).get(deviceId);
  if (!device) throw new NotFoundError(`device '${deviceId}' is not registered`);
  return device;
}

export function getDevice(ports: CityQueryPorts, deviceId: string): Promise<Device> {
  return requireDevice(ports, deviceId);
}

export async function getLatestReading(ports: CityQueryPorts, deviceId: string): Promise<TelemetryPoint> {
  await requireDevice(ports, deviceId);
  const latest = await ports.latestState.get(deviceId);
  if (!latest) throw new NotFoundError(`device '${deviceId}' has not reported yet`);
  return latest;
}

export interface TelemetryHistoryRequest {
  readonly deviceId: string;
  readonly from?: string;
  readonly to?: string;
  readonly measure?: string;
  /** @default 'raw' */
  readonly interval?: TelemetryInterval;
  /** Aggregates only. @default 'avg' */
  readonly stat?: AggregateStat;
  /** Raw readings only: the page size (an aggregated answer is one page). */
  readonly limit: number;
  readonly cursor?: string;
}

/** A page of a device's readings in time order. */
export type RawTelemetryHistory = Page<TelemetryPoint> & TimeRange & { readonly interval: 'raw' };

/** One measure of a device in buckets over `[from, to)`, every bucket present (empty ones with count 0). */
export interface AggregatedTelemetryHistory extends TimeRange {
  readonly interval: AggregateInterval;
  readonly stat: AggregateStat;
  readonly measure: string;
  readonly buckets: readonly AggregateBucket[];
}

export type TelemetryHistory = RawTelemetryHistory | AggregatedTelemetryHistory;

/**
 * A device's history: its raw readings a page at a time, or one numeric measure in buckets of 5 minutes, an hour
 * or a day with the stat asked for, in one answer whose range is bounded per interval (400 naming the limit).
 */
export async function getTelemetryHistory(
  ports: CityQueryPorts,
  request: TelemetryHistoryRequest,
  now: Date,
): Promise<TelemetryHistory> {
  const interval = request.interval ?? 'raw';
  if (interval !== 'raw') return getAggregatedHistory(ports, request, interval, now);
  if (request.stat) {
    throw new InvalidRequestError(
      `'stat' goes with an aggregate interval (interval=5m, 1h or 1d); raw readings are not summarised`,
      'stat',
    );
  }
  const filter = `telemetry|${request.deviceId}|${request.measure ?? ''}`;
  const { range, position } = pageRange(request, filter, now, API_LIMITS.maxRawRangeDays);
  await requireDevice(ports, request.deviceId);
  const page = await ports.telemetry.query({
    deviceId: request.deviceId,
    ...range,
    limit: request.limit,
    ...(request.measure ? { measure: request.measure } : {}),
    ...(position ? { cursor: position } : {}),
  });
  const nextCursor = sealCursor(range, filter, page.nextCursor);
  return { interval, ...range, items: page.items, ...(nextCursor ? { nextCursor } : {}) };
}

async function getAggregatedHistory(
  ports: CityQueryPorts,
  request: TelemetryHistoryRequest,
  interval: AggregateInterval,
  now: Date,
): Promise<AggregatedTelemetryHistory> {
  if (request.cursor) {
    throw new InvalidRequestError(
      'an aggregated answer comes in one page; cursor continues raw readings only',
      'cursor',
    );
  }
  const { fromMs, toMs } = defaultAggregateRange(
    request.from === undefined ? undefined : Date.parse(request.from),
    request.to === undefined ? undefined : Date.parse(request.to),
    interval,
    now,
  );
  const problem = aggregateRangeProblem(fromMs, toMs, interval);
  if (problem) throw new InvalidRequestError(problem, 'from');
  const device = await requireDevice(ports, request.deviceId);
  const numeric = numericMeasuresOf(device.deviceType);
  const measure = request.measure;
  if (!measure || !numeric.includes(measure)) {
    throw new InvalidRequestError(
      numeric.length === 0
        ? `a ${device.deviceType} has no numeric readings to aggregate; ask for interval=raw`
        : `an aggregate is of one numeric reading of a ${device.deviceType}: measure=${numeric.join(', measure=')}`,
      'measure',
    );
  }
  const stat = request.stat ?? 'avg';
  const range = { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() };
  const summaries = await ports.telemetry.aggregate({
    deviceId: device.deviceId,
    ...range,
    measure,
    interval,
    stat,
  });
  return {
    interval,
    stat,
    measure,
    ...range,
    buckets: aggregateSeries(fromMs, toMs, interval, stat, summaries),
  };
}

export interface QuarantineListRequest {
  readonly reason?: ReasonCode;
  readonly from?: string;
  readonly to?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export async function listQuarantine(
  ports: CityQueryPorts,
  request: QuarantineListRequest,
  now: Date,
): Promise<Page<QuarantineEntry> & TimeRange> {
  const filter = `quarantine|${request.reason ?? ''}`;
  const { range, position } = pageRange(request, filter, now, API_LIMITS.maxQuarantineRangeDays);
  const page = await ports.quarantine.list({
    ...range,
    limit: request.limit,
    ...(request.reason ? { reason: request.reason } : {}),
    ...(position ? { cursor: position } : {}),
  });
  const nextCursor = sealCursor(range, filter, page.nextCursor);
  return { ...range, items: page.items, ...(nextCursor ? { nextCursor } : {}) };
}
