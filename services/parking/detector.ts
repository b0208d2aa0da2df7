import type { ChangeDetector } from '../shared/blueprint.js';
import { type DomainEvent, domainEvent } from '../shared/domain-events.js';
import { isSpotStatus, type SpotStatus } from './rules.js';

/** The parking detector's state per spot: the spot's last status. */
export interface SpotState {
  readonly status: SpotStatus;
}

/** What `parking.spot-changed` says: the spot's status before (null for a spot never seen) and now. */
export interface SpotChangedDetail extends Readonly<Record<string, unknown>> {
  readonly previousStatus: SpotStatus | null;
  readonly status: SpotStatus;
}

export const SPOT_CHANGED = 'parking.spot-changed';

/**
 * Parking change detection: `parking.spot-changed` when a spot's status differs from its last one (its first
 * reading included, so the car park learns the spot exists). A bay sensor's heartbeat with the same status
 * changes nothing and writes nothing. The site counts are the workflow's job: the detector sees one spot.
 */
export const parkingDetector: ChangeDetector<SpotState> = {
  deviceTypes: ['parking-spot'],
  historySeconds: () => 0,
  step({ state, point }) {
    const status = point.readings.status;
    // The readings schema admits only spot statuses; anything else is left as it was. Before a first valid
    // reading that is "no state", which the platform, writing only a new object, does not write.
    if (!isSpotStatus(status) || status === state?.status) return { state: state as SpotState, events: [] };
    const event: DomainEvent = domainEvent<typeof SPOT_CHANGED, SpotChangedDetail>(
      SPOT_CHANGED,
      point,
      { previousStatus: state?.status ?? null, status },
      status,
    );
    return { state: { status }, events: [event] };
  },
};
