import { createHash } from 'node:crypto';
import type { DeviceType, Readings } from '../../lambdas/contracts/device-types.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';

/**
 * A service's name: its folder under `services/` and its entry in the blueprint catalogue
 * (`services/catalogue.ts`), which is the one list of services there is.
 */
export type ServiceName = string;

/**
 * A domain event type, `<service>.<what>` (`waste.full`, `flood.level-changed`). Events are emitted only when
 * something changed (a threshold crossed, a status changed, a band changed), never once per reading. Each
 * blueprint lists the types its rules emit; the prefix names the service (`device.*` belongs to the
 * offline-devices blueprint), so an event's owner is visible in every log line and bus rule.
 */
export type DomainEventType = `${string}.${string}`;

/**
 * One domain event: what changed, on which device, where, and the readings that caused it.
 * `id` is derived from the event's content (type, device, observation time and what it changed to), so
 * the same change detected twice, or an event replayed three times, has the same id and downstream stores
 * can apply it once (conditional put on `id`).
 */
export interface DomainEvent<
  T extends DomainEventType = DomainEventType,
  D = Readonly<Record<string, unknown>>,
> {
  readonly id: string;
  readonly type: T;
  readonly deviceId: string;
  readonly deviceType: DeviceType;
  readonly site?: string;
  readonly ward?: string;
  /** The readings of the point that caused the event (for `device.offline`: the last point heard). */
  readonly readings: Readings;
  /** The device's observation time of that point. */
  readonly observedAt: string;
  /** What changed, per type (previous and new band, counts, rate ...). */
  readonly detail: D;
}

/**
 * Deterministic event id. `discriminator` names what the event changed to (a band, a status) so that two
 * different changes caused by the same point never share an id.
 */
export function domainEventId(
  type: DomainEventType,
  deviceId: string,
  observedAt: string,
  discriminator?: string | number,
): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([type, deviceId, observedAt, discriminator ?? null]))
    .digest('hex');
  return `evt_${digest.slice(0, 32)}`;
}

/** Builds an event from the point that caused it. */
export function domainEvent<T extends DomainEventType, D extends Readonly<Record<string, unknown>>>(
  type: T,
  point: Pick<TelemetryPoint, 'deviceId' | 'deviceType' | 'site' | 'ward' | 'readings' | 'observedAt'>,
  detail: D,
  discriminator?: string | number,
): DomainEvent<T, D> {
  return {
    id: domainEventId(type, point.deviceId, point.observedAt, discriminator),
    type,
    deviceId: point.deviceId,
    deviceType: point.deviceType,
    ...(point.site === undefined ? {} : { site: point.site }),
    ...(point.ward === undefined ? {} : { ward: point.ward }),
    readings: point.readings,
    observedAt: point.observedAt,
    detail,
  };
}

/** The service whose blueprint owns an event type. */
export function serviceOf(type: DomainEventType): ServiceName {
  const prefix = type.slice(0, type.indexOf('.'));
  return prefix === 'device' ? 'offline' : (prefix as ServiceName);
}

/** Milliseconds since the epoch of an ISO-8601 time; throws on an unparseable one (a contract breach). */
export function epochMs(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`not an ISO-8601 time: ${JSON.stringify(iso)}`);
  return ms;
}

/** A reading as a finite number, or undefined (absent, or a status string). */
export function numericReading(readings: Readings, name: string): number | undefined {
  const value = readings[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A reading as a string, or undefined. */
export function textReading(readings: Readings, name: string): string | undefined {
  const value = readings[name];
  return typeof value === 'string' ? value : undefined;
}
