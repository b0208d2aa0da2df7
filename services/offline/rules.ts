import { INGEST_SETTINGS } from '../../lambdas/contracts/ingest-settings.js';
import { offlineAfterSeconds as platformOfflineAfterSeconds } from '../../lambdas/domain/latest-state-policy.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { type DomainEvent, domainEvent, epochMs } from '../shared/domain-events.js';
import { closeJobByRule, isActiveJob, type Job, openJob } from '../shared/jobs.js';

/** Offline devices: a device silent for too long gets a maintenance job; hearing from it again closes it. */
export type DeviceLiveness = 'online' | 'offline';

/**
 * How long a device may stay silent, in seconds: three expected intervals, but never less than the latest-state
 * refresh period plus one interval. Latest state is written on change (INGEST_SETTINGS.latestStateRefreshSeconds),
 * so the stored `observedAt` of a device that keeps sending the same readings can lag the truth by up to the
 * refresh period plus one interval; three intervals of a device reporting every minute would call it offline
 * while it is fine.
 */
export function offlineAfterSeconds(
  intervalSeconds: number,
  refreshSeconds: number = INGEST_SETTINGS.latestStateRefreshSeconds,
): number {
  if (!(intervalSeconds > 0)) {
    throw new Error(`expected interval must be positive seconds, got ${intervalSeconds}`);
  }
  // One rule for the platform (cost model, docs) and this blueprint: delegate, never restate it.
  return platformOfflineAfterSeconds(intervalSeconds, refreshSeconds);
}

/** Offline when the silence is longer than the threshold (at exactly the threshold the device is still online). */
export function liveness(
  lastSeenAt: string,
  now: string,
  intervalSeconds: number,
  refreshSeconds: number = INGEST_SETTINGS.latestStateRefreshSeconds,
): DeviceLiveness {
  const silentMs = epochMs(now) - epochMs(lastSeenAt);
  return silentMs > offlineAfterSeconds(intervalSeconds, refreshSeconds) * 1000 ? 'offline' : 'online';
}

type LastPoint = Pick<
  TelemetryPoint,
  'deviceId' | 'deviceType' | 'site' | 'ward' | 'readings' | 'observedAt'
>;

/**
 * The periodic sweep for one device: `device.offline` when it has just gone silent for too long. The event
 * carries the last point heard (its readings and observedAt), and its id depends on that point only, so every
 * sweep during the same silence produces the same event id.
 */
export function offlineSweep(
  previous: DeviceLiveness,
  last: LastPoint,
  now: string,
  intervalSeconds: number,
  refreshSeconds: number = INGEST_SETTINGS.latestStateRefreshSeconds,
): { readonly liveness: DeviceLiveness; readonly events: readonly DomainEvent[] } {
  const status = liveness(last.observedAt, now, intervalSeconds, refreshSeconds);
  if (status === previous || status === 'online') return { liveness: status, events: [] };
  const silentSeconds = (epochMs(now) - epochMs(last.observedAt)) / 1000;
  return {
    liveness: status,
    events: [
      domainEvent(
        'device.offline',
        last,
        {
          lastSeenAt: last.observedAt,
          silentSeconds,
          offlineAfterSeconds: offlineAfterSeconds(intervalSeconds, refreshSeconds),
        },
        'offline',
      ),
    ],
  };
}

/** A reading from a device marked offline: `device.online`. Readings from online devices change nothing. */
export function deviceHeard(
  previous: DeviceLiveness,
  point: LastPoint,
): { readonly liveness: DeviceLiveness; readonly events: readonly DomainEvent[] } {
  if (previous === 'online') return { liveness: 'online', events: [] };
  return { liveness: 'online', events: [domainEvent('device.online', point, {}, 'online')] };
}

/**
 * Opens a maintenance job on `device.offline`, closes it on `device.online`; idempotent like the waste jobs.
 * `location` is where the crew will find the device (the registry's), carried on the job it opens.
 */
export function maintenanceJobDecision(
  jobs: readonly Job[],
  event: DomainEvent,
  options: { readonly location?: { readonly lat: number; readonly lon: number } } = {},
): { readonly open: readonly Job[]; readonly close: readonly Job[] } {
  const active = jobs.find(
    (j) => j.deviceId === event.deviceId && j.kind === 'maintenance' && isActiveJob(j),
  );
  if (event.type === 'device.offline' && !active) {
    return {
      open: [
        openJob({
          service: 'offline',
          kind: 'maintenance',
          deviceId: event.deviceId,
          ...(event.ward === undefined ? {} : { ward: event.ward }),
          ...(event.site === undefined ? {} : { site: event.site }),
          ...(options.location === undefined ? {} : { location: options.location }),
          priority: 'routine',
          reason: 'offline',
          openedAt: event.observedAt,
          note: `not heard from since ${event.observedAt}`,
        }),
      ],
      close: [],
    };
  }
  if (event.type === 'device.online' && active) {
    return {
      open: [],
      close: [closeJobByRule(active, 'back-online', `heard again at ${event.observedAt}`, event.observedAt)],
    };
  }
  return { open: [], close: [] };
}
