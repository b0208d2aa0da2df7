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
import { airQualityConfig } from './detector.js';
import {
  airQualityAlertKey,
  airQualityAlertSignal,
  DAQI_POLLUTANT_NAMES,
  DAQI_POLLUTANTS,
  type DaqiBand,
  type DaqiIndex,
  type DaqiPollutant,
  type PollutantMeans,
} from './rules.js';

export const AIR_QUALITY_SERVICE = 'air-quality';

const pollutant = z.enum(DAQI_POLLUTANTS);
const index = z
  .number()
  .int()
  .min(1)
  .max(10)
  .transform((n) => n as DaqiIndex);

/** The part of an `air-quality.band-changed` event's detail the workflow reads (see `airQualityEvents`). */
const bandChangedDetail = z.object({
  index,
  band: z.enum(['Low', 'Moderate', 'High', 'Very High']),
  pollutant,
  perPollutant: z.partialRecord(pollutant, index),
  means: z.partialRecord(pollutant, z.number()),
});

/** One sensor's current index at a site, as its last `band-changed` event said. */
export type SensorIndex = {
  readonly index: DaqiIndex;
  readonly band: DaqiBand;
  readonly pollutant: DaqiPollutant;
  readonly perPollutant: Partial<Record<DaqiPollutant, DaqiIndex>>;
  readonly means: PollutantMeans;
  /** When the sensor's index became this (the reading that changed it). */
  readonly observedAt: string;
};

/**
 * The site record (`service-sites`, service `air-quality`, site = the device's site or, without one, its id).
 * A site may have several sensors: each keeps its own index under `sensors`, and the site's index is the
 * highest of them (the top-level fields are that sensor's).
 */
export type AirQualitySite = {
  readonly site: string;
  readonly index: DaqiIndex;
  readonly band: DaqiBand;
  /** The pollutant that set the site's index. */
  readonly pollutant: DaqiPollutant;
  readonly perPollutant: Partial<Record<DaqiPollutant, DaqiIndex>>;
  readonly means: PollutantMeans;
  /** The sensor whose index is the site's. */
  readonly deviceId: string;
  /** The newest index change over the site's sensors: the site's view holds as of then. */
  readonly observedAt: string;
  readonly sensors: Readonly<Record<string, SensorIndex>>;
};

/** The alert cool-down on the readings' clock: the service setting (or 900 s) divided by the time scale. */
export function airQualityCoolDownSeconds(context: ServiceContext): number {
  return serviceSetting(context, 'alertCoolDownSeconds', DEFAULT_ALERT_COOL_DOWN_SECONDS) / context.timeScale;
}

/** The site as a whole from its sensors: the highest index, ties to the newest reading, then the device id. */
export function siteFromSensors(
  site: string,
  sensors: Readonly<Record<string, SensorIndex>>,
): AirQualitySite {
  const ranked = Object.entries(sensors).sort(
    ([idA, a], [idB, b]) =>
      b.index - a.index || epochMs(b.observedAt) - epochMs(a.observedAt) || (idA < idB ? -1 : 1),
  );
  const [top] = ranked;
  if (!top) throw new Error(`air-quality site '${site}' has no sensors`);
  const [deviceId, sensor] = top;
  const newest = Math.max(...ranked.map(([, s]) => epochMs(s.observedAt)));
  return {
    site,
    index: sensor.index,
    band: sensor.band,
    pollutant: sensor.pollutant,
    perPollutant: sensor.perPollutant,
    means: sensor.means,
    deviceId,
    observedAt: new Date(newest).toISOString(),
    sensors,
  };
}

/** One line for a person, e.g. "Air quality at Market Square: High (DAQI 7, NO2)". */
export function airQualitySummary(
  site: Pick<AirQualitySite, 'site' | 'band' | 'index' | 'pollutant'>,
): string {
  return `Air quality at ${site.site}: ${site.band} (DAQI ${site.index}, ${DAQI_POLLUTANT_NAMES[site.pollutant]})`;
}

/**
 * `air-quality.band-changed` -> the sensor's index in its site record (a change older than the one stored for
 * that sensor is ignored), then the site's alert from the site's index: raised at High (7) or above, cleared
 * below it once the cool-down has passed (the schedule ticks it). The alert signal is derived from the stored
 * site, stamped with the site's newest observation, so a replayed or late event re-sends what the site says
 * now and never reopens an episode the site has left.
 */
export const airQualityWorkflow: ServiceWorkflow = {
  async onEvent(event, ports, context) {
    if (event.type !== 'air-quality.band-changed') return;
    const site = await recordSensor(event, ports, context);
    const config = airQualityConfig(context);
    await applyAlert(
      ports,
      {
        service: AIR_QUALITY_SERVICE,
        key: airQualityAlertKey(site.site),
        summary: airQualitySummary(site),
        deviceId: site.deviceId,
        site: site.site,
        ...(event.ward === undefined ? {} : { ward: event.ward }),
      },
      airQualityAlertSignal(site.index, site.observedAt, config),
      airQualityCoolDownSeconds(context),
    );
  },

  async onSchedule(ports, context) {
    await tickAlerts(
      ports,
      AIR_QUALITY_SERVICE,
      context.now.toISOString(),
      airQualityCoolDownSeconds(context),
    );
  },
};

async function recordSensor(
  event: DomainEvent,
  ports: WorkflowPorts,
  context: WorkflowContext,
): Promise<AirQualitySite> {
  const detail = bandChangedDetail.parse(event.detail);
  const siteName = event.site ?? event.deviceId;
  const sensor: SensorIndex = { ...detail, observedAt: event.observedAt };
  const device = (await ports.devices.findMany([event.deviceId])).get(event.deviceId);
  const outcome = await updateSite<AirQualitySite>(
    ports,
    AIR_QUALITY_SERVICE,
    siteName,
    (current) => {
      const known = current?.sensors[event.deviceId];
      if (known && epochMs(known.observedAt) >= epochMs(event.observedAt)) return undefined;
      return {
        data: siteFromSensors(siteName, { ...current?.sensors, [event.deviceId]: sensor }),
        ...(event.ward === undefined ? {} : { ward: event.ward }),
        // The first sensor places the site; later sensors at the same site do not move it.
        ...(current === undefined && device ? { location: device.location } : {}),
      };
    },
    context.now.toISOString(),
  );
  if (outcome) return outcome.after;
  const stored = await ports.sites.get(AIR_QUALITY_SERVICE, siteName);
  if (!stored) throw new Error(`air-quality site '${siteName}' vanished while applying ${event.id}`);
  return stored.data as AirQualitySite;
}
