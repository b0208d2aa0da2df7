import { z } from 'zod';
import { DEFAULT_ALERT_COOL_DOWN_SECONDS } from '../shared/alerts.js';
import {
  type ServiceContext,
  type ServiceWorkflow,
  serviceSetting,
  type WorkflowContext,
} from '../shared/blueprint.js';
import { type DomainEvent, epochMs } from '../shared/domain-events.js';
import type { WorkflowPorts } from '../shared/workflow-ports.js';
import { applyAlert, tickAlerts, updateSite } from '../shared/workflow-steps.js';
import type { HourlyFlow } from './rules.js';

export const TRAFFIC_SERVICE = 'traffic';

/** How many hourly flows a counter's record keeps: the last day. */
export const RECENT_HOURS = 24;

/** The parts of the traffic events' details the workflow reads (see `congestionStep` and the detector). */
const congestionDetail = z.object({
  averageVehicleSpeed: z.number(),
  occupancy: z.number(),
  freeFlowSpeedKmh: z.number(),
  since: z.string().nullable(),
});
const hourCountedDetail = z.object({
  hour: z.string(),
  vehicles: z.number(),
  periods: z.number(),
  complete: z.boolean(),
});

/**
 * The site record of one counter (`service-sites`, service `traffic`, site = the counter's device id).
 * Congestion and hourly counts are separate concerns: congestion changes are ordered by their observation
 * time, hours are keyed by the hour.
 */
export type TrafficCounter = {
  readonly deviceId: string;
  /** The counter's site name (the registry's site, else its device id). */
  readonly site: string;
  readonly congested: boolean;
  /** When the current congestion began; null while traffic flows. */
  readonly since: string | null;
  /** Average speed and free-flow speed at the last congestion change, km/h. */
  readonly averageVehicleSpeed: number | null;
  readonly freeFlowSpeedKmh: number | null;
  /** The observation of the last congestion change applied; null before the first. */
  readonly congestionChangedAt: string | null;
  /** The last {@link RECENT_HOURS} hourly flows, oldest first, one per hour. */
  readonly hourly: readonly HourlyFlow[];
};

/** The alert cool-down on the readings' clock: the service setting (or 900 s) divided by the time scale. */
export function trafficCoolDownSeconds(context: ServiceContext): number {
  return serviceSetting(context, 'alertCoolDownSeconds', DEFAULT_ALERT_COOL_DOWN_SECONDS) / context.timeScale;
}

export function trafficAlertKey(deviceId: string): string {
  return `traffic:${deviceId}:congestion`;
}

/** E.g. "Congestion at A33 Relief Road: 15 km/h against 48 km/h free flow". */
export function congestionSummary(site: string, speed: number, freeFlow: number): string {
  return `Congestion at ${site}: ${Math.round(speed)} km/h against ${Math.round(freeFlow)} km/h free flow`;
}

/**
 * `traffic.congestion-started` -> a warning alert for the counter and its record marked congested since the
 * incident began; `traffic.congestion-cleared` -> the alert cleared (after the cool-down, through the
 * schedule's tick) and the record back to flowing. A congestion change older than the last one applied is
 * stale and changes nothing (a late "started" must not reopen an incident that has cleared).
 * `traffic.hour-counted` -> the hour in the record's recent flows, once per hour.
 */
export const trafficWorkflow: ServiceWorkflow = {
  async onEvent(event, ports, context) {
    if (event.type === 'traffic.hour-counted') {
      await recordHour(event, ports, context);
      return;
    }
    if (event.type !== 'traffic.congestion-started' && event.type !== 'traffic.congestion-cleared') return;
    const started = event.type === 'traffic.congestion-started';
    const detail = congestionDetail.parse(event.detail);
    const outcome = await recordCongestion(event, started, detail, ports, context);
    if (outcome.stale) return;
    await applyAlert(
      ports,
      {
        service: TRAFFIC_SERVICE,
        key: trafficAlertKey(event.deviceId),
        summary: congestionSummary(outcome.site, detail.averageVehicleSpeed, detail.freeFlowSpeedKmh),
        deviceId: event.deviceId,
        site: outcome.site,
        ...(event.ward === undefined ? {} : { ward: event.ward }),
      },
      started
        ? { kind: 'raise', at: event.observedAt, severity: 'warning' }
        : { kind: 'clear', at: event.observedAt },
      trafficCoolDownSeconds(context),
    );
  },

  async onSchedule(ports, context) {
    await tickAlerts(ports, TRAFFIC_SERVICE, context.now.toISOString(), trafficCoolDownSeconds(context));
  },
};

function emptyCounter(event: DomainEvent): TrafficCounter {
  return {
    deviceId: event.deviceId,
    site: event.site ?? event.deviceId,
    congested: false,
    since: null,
    averageVehicleSpeed: null,
    freeFlowSpeedKmh: null,
    congestionChangedAt: null,
    hourly: [],
  };
}

async function recordCongestion(
  event: DomainEvent,
  started: boolean,
  detail: z.infer<typeof congestionDetail>,
  ports: WorkflowPorts,
  context: WorkflowContext,
): Promise<{ readonly stale: boolean; readonly site: string }> {
  const at = epochMs(event.observedAt);
  let stale = false;
  let site = event.site ?? event.deviceId;
  await changeCounter(event, ports, context, (current) => {
    site = event.site ?? current.site;
    const changedAt = current.congestionChangedAt;
    stale = changedAt !== null && at < epochMs(changedAt);
    if (changedAt !== null && at <= epochMs(changedAt)) return undefined;
    return {
      ...current,
      site: event.site ?? current.site,
      congested: started,
      since: started ? detail.since : null,
      averageVehicleSpeed: detail.averageVehicleSpeed,
      freeFlowSpeedKmh: detail.freeFlowSpeedKmh,
      congestionChangedAt: event.observedAt,
    };
  });
  return { stale, site };
}

async function recordHour(event: DomainEvent, ports: WorkflowPorts, context: WorkflowContext): Promise<void> {
  const flow: HourlyFlow = hourCountedDetail.parse(event.detail);
  await changeCounter(event, ports, context, (current) => {
    if (current.hourly.some((h) => h.hour === flow.hour)) return undefined;
    const hourly = [...current.hourly, flow]
      .sort((a, b) => epochMs(a.hour) - epochMs(b.hour))
      .slice(-RECENT_HOURS);
    // An hour older than the whole kept day falls straight off the end: nothing to save.
    if (!hourly.includes(flow)) return undefined;
    return { ...current, hourly };
  });
}

/** Applies `change` to the counter's record (a new record to start from when there is none). */
async function changeCounter(
  event: DomainEvent,
  ports: WorkflowPorts,
  context: WorkflowContext,
  change: (current: TrafficCounter) => TrafficCounter | undefined,
): Promise<void> {
  const device = (await ports.devices.findMany([event.deviceId])).get(event.deviceId);
  await updateSite<TrafficCounter>(
    ports,
    TRAFFIC_SERVICE,
    event.deviceId,
    (current) => {
      const data = change(current ?? emptyCounter(event));
      if (!data) return undefined;
      return {
        data,
        ...(event.ward === undefined ? {} : { ward: event.ward }),
        ...(device ? { location: device.location } : {}),
      };
    },
    context.now.toISOString(),
  );
}
