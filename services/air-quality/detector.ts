import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { type ChangeDetector, type ServiceContext, serviceSetting } from '../shared/blueprint.js';
import {
  AIR_QUALITY_DEFAULTS,
  type AirQualityConfig,
  airQualityEvents,
  DAQI_AVERAGING_HOURS,
  type DaqiIndex,
} from './rules.js';

/**
 * What the air-quality detector remembers per sensor: the index it last reported. It changes only when the
 * index changes (a few times a day), so the state is rarely written; undefined until the sensor has enough
 * readings for a first mean.
 */
export interface AirQualityState {
  readonly index: DaqiIndex;
}

/** The longest DAQI averaging period (PM2.5 and PM10, 24 hours): the history every reading needs. */
export const LONGEST_AVERAGING_HOURS = Math.max(...Object.values(DAQI_AVERAGING_HOURS));

/** The rules' settings: the service settings `minCoverage` and `alertAtIndex`, or Defra's defaults. */
export function airQualityConfig(context: ServiceContext): AirQualityConfig {
  return {
    minCoverage: serviceSetting(context, 'minCoverage', AIR_QUALITY_DEFAULTS.minCoverage),
    alertAtIndex: serviceSetting(context, 'alertAtIndex', AIR_QUALITY_DEFAULTS.alertAtIndex) as DaqiIndex,
  };
}

/**
 * The sensor's DAQI from its own readings over the last 24 hours (divided by the time scale), through
 * `airQualityEvents`: `air-quality.band-changed` whenever the index moves. The site's index over several
 * sensors is the workflow's business (it keeps each sensor's index and serves the highest).
 */
export const airQualityDetector: ChangeDetector<AirQualityState | undefined> = {
  deviceTypes: ['air-quality'],
  historySeconds: (context) => (LONGEST_AVERAGING_HOURS * 3600) / context.timeScale,
  step({ state, point, history, context }) {
    const events = airQualityEvents(
      state?.index,
      withPoint(history, point),
      point,
      airQualityConfig(context),
      context.timeScale,
    );
    const index = events[0]?.detail.index as DaqiIndex | undefined;
    return { state: index === undefined ? state : { index }, events };
  },
};

/**
 * The history with the point itself as its newest reading. The platform includes the point when it has been
 * stored already; if it has not (or the read was eventually consistent and missed it), it is added here, so
 * the index always reflects the reading being judged.
 */
function withPoint(history: readonly TelemetryPoint[], point: TelemetryPoint): readonly TelemetryPoint[] {
  return history.some((p) => p.observedAt === point.observedAt) ? history : [...history, point];
}
