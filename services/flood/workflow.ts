import { z } from 'zod';
import { DEFAULT_ALERT_COOL_DOWN_SECONDS } from '../shared/alerts.js';
import {
  type ServiceContext,
  type ServiceWorkflow,
  serviceSetting,
  type WorkflowContext,
} from '../shared/blueprint.js';
import { type DomainEvent, epochMs, numericReading } from '../shared/domain-events.js';
import type { WorkflowPorts } from '../shared/workflow-ports.js';
import { applyAlert, tickAlerts, updateSite } from '../shared/workflow-steps.js';
import { gaugeConfigFor } from './detector.js';
import { type FloodLevel, floodAlertSignal } from './rules.js';

export const FLOOD_SERVICE = 'flood';

/** Every event type the flood rules emit. */
export const FLOOD_EVENT_TYPES = [
  'flood.level-changed',
  'flood.rising-fast',
  'flood.rising-fast-ended',
] as const;
type FloodEventType = (typeof FLOOD_EVENT_TYPES)[number];

const metres = z.number().nullable();
/** The parts of the flood events' details the workflow reads (see `floodStep`). */
const levelChangedDetail = z.object({
  level: z.enum(['normal', 'warning', 'severe']),
  waterLevel: z.number(),
  warningLevel: metres,
  severeLevel: metres,
});
const riseDetail = z.object({ rateMetresPerHour: z.number().nullable(), alarmRate: z.number() });

/**
 * The site record of one gauge (`service-sites`, service `flood`, site = the gauge's device id). The level and
 * the rise are separate concerns with their own observation times, so an event of one that arrives late is
 * judged against the last event of the same kind only.
 */
export type FloodGauge = {
  readonly deviceId: string;
  /** The gauge's site name (the registry's site, else its device id). */
  readonly site: string;
  readonly level: FloodLevel;
  /** Metres above the gauge datum, from the newest reading that changed something. */
  readonly waterLevel: number;
  readonly risingFast: boolean;
  /** The rise rate when the rising flag last changed, metres per hour of river time. */
  readonly rateMetresPerHour: number | null;
  /** The gauge's thresholds; null for one it does not have. */
  readonly warningLevel: number | null;
  readonly severeLevel: number | null;
  /** The newest observation applied. */
  readonly observedAt: string;
  readonly levelObservedAt: string | null;
  readonly riseObservedAt: string | null;
};

/** The alert cool-down on the readings' clock: the service setting (or 900 s) divided by the time scale. */
export function floodCoolDownSeconds(context: ServiceContext): number {
  return serviceSetting(context, 'alertCoolDownSeconds', DEFAULT_ALERT_COOL_DOWN_SECONDS) / context.timeScale;
}

/** E.g. "River level at Gas Works Road: severe (2.41 m, severe at 2.30 m)". */
export function floodLevelSummary(
  gauge: Pick<FloodGauge, 'site' | 'level' | 'waterLevel' | 'warningLevel' | 'severeLevel'>,
): string {
  const threshold =
    gauge.level === 'severe' ? gauge.severeLevel : gauge.level === 'warning' ? gauge.warningLevel : null;
  const over = threshold === null ? '' : `, ${gauge.level} at ${threshold.toFixed(2)} m`;
  return `River level at ${gauge.site}: ${gauge.level} (${gauge.waterLevel.toFixed(2)} m${over})`;
}

/** E.g. "River rising fast at Gas Works Road: 0.45 m/h (alarm over 0.30 m/h)". */
export function floodRiseSummary(site: string, rate: number | null, alarmRate: number): string {
  const measured = rate === null ? '' : `${rate.toFixed(2)} m/h `;
  return `River rising fast at ${site}: ${measured}(alarm over ${alarmRate.toFixed(2)} m/h)`;
}

/**
 * Flood events -> the gauge's site record, then its alerts through `floodAlertSignal`: the level alert
 * (`flood:<deviceId>:level`, warning or severe, escalation notified, cleared when back to normal after the
 * cool-down) and the rise alert (`flood:<deviceId>:rise`). An event older than the last one of its kind is
 * stale: it changes neither the record nor the alerts (a late "rising fast" must not reopen an alarm that
 * has ended). Never suppressed by cost tiers: nothing here knows about them.
 */
export const floodWorkflow: ServiceWorkflow = {
  async onEvent(event, ports, context) {
    if (!isFloodEvent(event.type)) return;
    const outcome = await recordGauge(event, event.type, ports, context);
    if (outcome.stale) return;
    const alert = floodAlertSignal(event);
    if (!alert) return;
    const { site } = outcome.gauge;
    await applyAlert(
      ports,
      {
        service: FLOOD_SERVICE,
        key: alert.key,
        summary: summaryOf(event, site),
        deviceId: event.deviceId,
        site,
        ...(event.ward === undefined ? {} : { ward: event.ward }),
      },
      alert.signal,
      floodCoolDownSeconds(context),
    );
  },

  async onSchedule(ports, context) {
    await tickAlerts(ports, FLOOD_SERVICE, context.now.toISOString(), floodCoolDownSeconds(context));
  },
};

/** Worded from the event itself: the level and threshold it crossed, or the rate it measured. */
function summaryOf(event: DomainEvent, site: string): string {
  if (event.type === 'flood.level-changed') {
    return floodLevelSummary({ site, ...levelChangedDetail.parse(event.detail) });
  }
  const rise = riseDetail.parse(event.detail);
  return floodRiseSummary(site, rise.rateMetresPerHour, rise.alarmRate);
}

function isFloodEvent(type: string): type is FloodEventType {
  return (FLOOD_EVENT_TYPES as readonly string[]).includes(type);
}

async function recordGauge(
  event: DomainEvent,
  type: FloodEventType,
  ports: WorkflowPorts,
  context: WorkflowContext,
): Promise<{ readonly stale: boolean; readonly gauge: FloodGauge }> {
  const device = (await ports.devices.findMany([event.deviceId])).get(event.deviceId);
  const isLevel = type === 'flood.level-changed';
  const levelDetail = isLevel ? levelChangedDetail.parse(event.detail) : undefined;
  const rise = isLevel ? undefined : riseDetail.parse(event.detail);
  // The registry's thresholds as the detector reads them; without a registry entry, the event's own.
  const levels = device ? gaugeConfigFor(device, context) : undefined;
  const finite = (metres: number | undefined) =>
    metres !== undefined && Number.isFinite(metres) ? metres : null;
  const at = epochMs(event.observedAt);
  let stale = false;

  const outcome = await updateSite<FloodGauge>(
    ports,
    FLOOD_SERVICE,
    event.deviceId,
    (current) => {
      const kindAt = isLevel ? current?.levelObservedAt : current?.riseObservedAt;
      stale = kindAt != null && at < epochMs(kindAt);
      if (kindAt != null && at <= epochMs(kindAt)) return undefined;
      const newest = current === undefined || at >= epochMs(current.observedAt);
      const waterLevel = levelDetail?.waterLevel ?? numericReading(event.readings, 'waterLevel');
      const data: FloodGauge = {
        deviceId: event.deviceId,
        site: event.site ?? current?.site ?? event.deviceId,
        level: levelDetail?.level ?? current?.level ?? 'normal',
        waterLevel: (newest ? waterLevel : undefined) ?? current?.waterLevel ?? 0,
        risingFast: rise ? type === 'flood.rising-fast' : (current?.risingFast ?? false),
        rateMetresPerHour: rise ? rise.rateMetresPerHour : (current?.rateMetresPerHour ?? null),
        warningLevel: levels
          ? finite(levels.warningLevel)
          : (levelDetail?.warningLevel ?? current?.warningLevel ?? null),
        severeLevel: levels
          ? finite(levels.severeLevel)
          : (levelDetail?.severeLevel ?? current?.severeLevel ?? null),
        observedAt: newest ? event.observedAt : (current?.observedAt ?? event.observedAt),
        levelObservedAt: isLevel ? event.observedAt : (current?.levelObservedAt ?? null),
        riseObservedAt: isLevel ? (current?.riseObservedAt ?? null) : event.observedAt,
      };
      return {
        data,
        ...(event.ward === undefined ? {} : { ward: event.ward }),
        ...(device ? { location: device.location } : {}),
      };
    },
    context.now.toISOString(),
  );
  if (outcome) return { stale: false, gauge: outcome.after };
  const stored = await ports.sites.get(FLOOD_SERVICE, event.deviceId);
  if (!stored) throw new Error(`flood gauge '${event.deviceId}' vanished while applying ${event.id}`);
  return { stale, gauge: stored.data as FloodGauge };
}
