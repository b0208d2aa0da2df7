import { API_LIMITS } from '../contracts/api.js';
import type { ReasonCode } from '../contracts/reason-codes.js';
import type { Device, DeviceDirectory } from './device.js';
import type { QuarantineEntry, QuarantineStore } from './quarantine.js';
import type { LatestStateStore, Page, TelemetryPoint, TelemetryStore } from './telemetry.js';

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
  readonly limit: number;
  readonly cursor?: string;
}

export async function getTelemetryHistory(
  ports: CityQueryPorts,
  request: TelemetryHistoryRequest,
  now: Date,
): Promise<Page<TelemetryPoint> & TimeRange> {
  const range = resolveRange(request.from, request.to, now, API_LIMITS.maxRawRangeDays);
  await requireDevice(ports, request.deviceId);
  const page = await ports.telemetry.query({
    deviceId: request.deviceId,
    ...range,
    limit: request.limit,
    ...(request.measure ? { measure: request.measure } : {}),
    ...(request.cursor ? { cursor: request.cursor } : {}),
  });
  return { ...range, ...page };
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
  const range = resolveRange(request.from, request.to, now, API_LIMITS.maxQuarantineRangeDays);
  const page = await ports.quarantine.list({
    ...range,
    limit: request.limit,
    ...(request.reason ? { reason: request.reason } : {}),
    ...(request.cursor ? { cursor: request.cursor } : {}),
  });
  return { ...range, ...page };
}
