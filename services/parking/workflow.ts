import type { ServiceWorkflow, WorkflowContext } from '../shared/blueprint.js';
import { type DomainEvent, epochMs } from '../shared/domain-events.js';
import type { SiteRecord, WorkflowPorts } from '../shared/workflow-ports.js';
import { updateSite } from '../shared/workflow-steps.js';
import { SPOT_CHANGED } from './detector.js';
import {
  applyDelta,
  EMPTY_SITE_COUNTS,
  isSpotStatus,
  occupancy,
  occupancyDelta,
  type ParkingSiteStatus,
  parkingEvents,
  type SiteCounts,
  type SpotStatus,
  siteAvailability,
  siteStatus,
} from './rules.js';

const SERVICE = 'parking';

/** One spot as the car park's record holds it: its status and when the sensor observed it. */
export interface SpotRecord {
  readonly status: SpotStatus;
  readonly observedAt: string;
}

/**
 * A car park's site record (service `parking`, site = the spots' `site`), `data`. The spot map is the
 * bookkeeping that makes the counts exact (each change is applied against the spot's stored status and time);
 * the open data serves the counts and status only.
 */
export interface CarParkRecord extends SiteCounts, Readonly<Record<string, unknown>> {
  readonly spots: Readonly<Record<string, SpotRecord>>;
  /** occupied / (free + occupied), 0..1. */
  readonly occupancy: number;
  /** DATEX II ParkingSiteStatus. */
  readonly status: ParkingSiteStatus;
  /** Observation time of the spot change that moved the car park into `status`. */
  readonly statusSince: string;
  /** The status before that change; absent until the car park has changed status once. */
  readonly previousStatus?: ParkingSiteStatus;
  /** The newest spot observation applied. */
  readonly lastObservedAt: string;
}

export type SpotChangeOutcome =
  | {
      readonly applied: true;
      readonly site: string;
      readonly record: CarParkRecord;
      /** `parking.site-status-changed` when this change moved the car park to another status. */
      readonly siteStatusChange?: DomainEvent;
    }
  | { readonly applied: false; readonly reason: string };

/**
 * Applies one spot's change to its car park's record with optimistic concurrency (`updateSite`): the delta is
 * worked out from the spot's status as stored, under the version the save is conditional on, so concurrent
 * changes to different spots all land and none is counted twice. A change observed at or before the spot's
 * stored observation (a replay, or a late arrival overtaken by a newer reading) changes nothing.
 */
export async function applySpotChange(
  ports: Pick<WorkflowPorts, 'sites'>,
  event: DomainEvent,
  context: Pick<WorkflowContext, 'now'>,
): Promise<SpotChangeOutcome> {
  const status = event.readings.status;
  if (event.type !== SPOT_CHANGED || !isSpotStatus(status)) {
    return { applied: false, reason: `${event.type} from ${event.deviceId} is not a spot status change` };
  }
  const site = event.site;
  if (site === undefined) {
    return {
      applied: false,
      reason: `spot ${event.deviceId} has no site in the registry, so it belongs to no car park; nothing was counted`,
    };
  }
  let overtakenBy: string | undefined;
  let siteStatusChange: DomainEvent | undefined;
  const outcome = await updateSite<CarParkRecord>(
    ports,
    SERVICE,
    site,
    (current) => {
      const stored = current?.spots[event.deviceId];
      if (stored !== undefined && epochMs(stored.observedAt) >= epochMs(event.observedAt)) {
        overtakenBy = stored.observedAt;
        return undefined;
      }
      overtakenBy = undefined;
      const counts = applyDelta(countsOf(current), occupancyDelta(stored?.status, status));
      const [change] = parkingEvents(stored?.status, event, counts);
      siteStatusChange = change;
      const previousStatus =
        change === undefined ? current?.previousStatus : (change.detail.previousStatus as ParkingSiteStatus);
      const record: CarParkRecord = {
        ...counts,
        occupancy: occupancy(counts),
        status: siteStatus(counts),
        statusSince: current === undefined || change !== undefined ? event.observedAt : current.statusSince,
        ...(previousStatus === undefined ? {} : { previousStatus }),
        lastObservedAt:
          current === undefined || epochMs(current.lastObservedAt) < epochMs(event.observedAt)
            ? event.observedAt
            : current.lastObservedAt,
        spots: { ...current?.spots, [event.deviceId]: { status, observedAt: event.observedAt } },
      };
      return { data: record, ...(event.ward === undefined ? {} : { ward: event.ward }) };
    },
    context.now.toISOString(),
  );
  if (outcome === undefined) {
    return {
      applied: false,
      reason: `spot ${event.deviceId} at ${site}: change observed at ${event.observedAt} is not newer than the one stored (${overtakenBy}); a replay or a late arrival`,
    };
  }
  return {
    applied: true,
    site,
    record: outcome.after,
    ...(siteStatusChange === undefined ? {} : { siteStatusChange }),
  };
}

function countsOf(record: CarParkRecord | undefined): SiteCounts {
  if (record === undefined) return EMPTY_SITE_COUNTS;
  const { free, occupied, closed, unknown, total } = record;
  return { free, occupied, closed, unknown, total };
}

/**
 * Parking availability workflow: every spot change updates its car park's counts and DATEX II status. Parking
 * is open data, not an alerting service: it notifies nobody and raises no alert.
 */
export const parkingWorkflow: ServiceWorkflow = {
  async onEvent(event, ports, context) {
    if (event.type !== SPOT_CHANGED) return;
    await applySpotChange(ports, event, context);
  },
};

/**
 * What `GET /parking/sites` serves for one car park: the counts and the DATEX II status, never the spot map.
 * Records that are not car parks (no counts) are left out.
 */
export function carParkView(record: SiteRecord): Readonly<Record<string, unknown>> | undefined {
  const data = record.data as Partial<CarParkRecord>;
  if (typeof data.total !== 'number' || data.total === 0) return undefined;
  const availability = siteAvailability(record.site, countsOf(data as CarParkRecord));
  return {
    site: availability.site,
    ward: record.ward ?? null,
    free: availability.free,
    occupied: availability.occupied,
    closed: availability.closed,
    unknown: availability.unknown,
    total: availability.total,
    occupancy: availability.occupancy,
    status: availability.status,
    updatedAt: record.updatedAt,
  };
}
