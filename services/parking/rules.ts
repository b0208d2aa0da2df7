import { PARKING_SPOT_STATUSES } from '../../lambdas/contracts/device-types.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { type DomainEvent, domainEvent } from '../shared/domain-events.js';

/** Parking availability: per-site counts kept from spot status changes, and the DATEX II site status. */
export type SpotStatus = (typeof PARKING_SPOT_STATUSES)[number];

export function isSpotStatus(value: unknown): value is SpotStatus {
  return typeof value === 'string' && (PARKING_SPOT_STATUSES as readonly string[]).includes(value);
}

/** A site's counters: one per spot status, plus the number of spots ever seen. */
export interface SiteCounts {
  readonly free: number;
  readonly occupied: number;
  readonly closed: number;
  readonly unknown: number;
  readonly total: number;
}

export const EMPTY_SITE_COUNTS: SiteCounts = { free: 0, occupied: 0, closed: 0, unknown: 0, total: 0 };

/** Increments to add to a site's counters; zero entries are omitted. */
export type SiteCountsDelta = Partial<Record<keyof SiteCounts, number>>;

/**
 * The counter increments a spot's status change causes. Expressed as increments, not as a recount, so the
 * adapter can apply them atomically (DynamoDB `ADD` in the same transaction as a conditional write of the
 * spot's status `= previous`): two spots changing at once both land, and a spot's replayed or stale change
 * fails its condition and adds nothing. `previous` undefined means the spot has never been seen: it joins the
 * site's total.
 */
export function occupancyDelta(previous: SpotStatus | undefined, next: SpotStatus): SiteCountsDelta {
  if (previous === next) return {};
  if (previous === undefined) return { total: 1, [next]: 1 };
  return { [previous]: -1, [next]: 1 };
}

export function applyDelta(counts: SiteCounts, delta: SiteCountsDelta): SiteCounts {
  return {
    free: counts.free + (delta.free ?? 0),
    occupied: counts.occupied + (delta.occupied ?? 0),
    closed: counts.closed + (delta.closed ?? 0),
    unknown: counts.unknown + (delta.unknown ?? 0),
    total: counts.total + (delta.total ?? 0),
  };
}

/**
 * Occupancy 0..1 over the spots in service with a known state: occupied / (free + occupied). Closed spots are
 * out of service and unknown spots cannot be promised to anyone, so neither counts. 0 when none qualifies.
 */
export function occupancy(counts: SiteCounts): number {
  const inService = counts.free + counts.occupied;
  return inService === 0 ? 0 : counts.occupied / inService;
}

/** DATEX II ParkingSiteStatus values this blueprint publishes. */
export type ParkingSiteStatus = 'spacesAvailable' | 'almostFull' | 'full' | 'closed' | 'unknown';

export interface ParkingConfig {
  /** Occupancy at or over this is `almostFull`. */
  readonly almostFullAt: number;
}

export const PARKING_DEFAULTS: ParkingConfig = { almostFullAt: 0.9 };

/**
 * The site status:
 * - `closed` when every spot is closed;
 * - `unknown` when no spot is free or occupied and not all are closed (nothing known to promise);
 * - `full` when no spot is free (occupancy 1 over the spots in service);
 * - `almostFull` at or over 90% occupied;
 * - `spacesAvailable` otherwise.
 */
export function siteStatus(counts: SiteCounts, config: ParkingConfig = PARKING_DEFAULTS): ParkingSiteStatus {
  if (counts.total > 0 && counts.closed === counts.total) return 'closed';
  if (counts.free + counts.occupied === 0) return 'unknown';
  if (counts.free === 0) return 'full';
  if (occupancy(counts) >= config.almostFullAt) return 'almostFull';
  return 'spacesAvailable';
}

/** What `GET /parking/sites` serves for one site. */
export interface SiteAvailability extends SiteCounts {
  readonly site: string;
  readonly occupancy: number;
  readonly status: ParkingSiteStatus;
}

export function siteAvailability(
  site: string,
  counts: SiteCounts,
  config: ParkingConfig = PARKING_DEFAULTS,
): SiteAvailability {
  return { site, ...counts, occupancy: occupancy(counts), status: siteStatus(counts, config) };
}

type EventPoint = Pick<
  TelemetryPoint,
  'deviceId' | 'deviceType' | 'site' | 'ward' | 'readings' | 'observedAt'
>;

/**
 * `parking.site-status-changed` when a spot's change moved its site to another status. `after` is the site's
 * counts as returned by the atomic update (so concurrent changes each see their own before and after), and the
 * counts before are recovered from the delta. Points without a site change no site.
 */
export function parkingEvents(
  previous: SpotStatus | undefined,
  point: EventPoint,
  after: SiteCounts,
  config: ParkingConfig = PARKING_DEFAULTS,
): DomainEvent[] {
  const next = point.readings.status;
  if (point.site === undefined || !isSpotStatus(next)) return [];
  const delta = occupancyDelta(previous, next);
  const negated = Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, -v])) as SiteCountsDelta;
  const before = applyDelta(after, negated);
  const from = siteStatus(before, config);
  const to = siteStatus(after, config);
  if (from === to) return [];
  return [
    domainEvent(
      'parking.site-status-changed',
      point,
      { previousStatus: from, status: to, ...after, occupancy: occupancy(after) },
      to,
    ),
  ];
}
