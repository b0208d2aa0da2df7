import type { Device } from '../../lambdas/domain/device.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import {
  type ChangeDetector,
  deviceSetting,
  type ServiceContext,
  serviceSetting,
} from '../shared/blueprint.js';
import {
  FLOOD_DEFAULTS,
  floodStep,
  GAUGE_AT_REST,
  type GaugeConfig,
  type GaugeState,
  gaugeLevels,
} from './rules.js';

/** The rise window, minutes of river time: the service setting `riseWindowMinutes`, or 60. */
export function riseWindowMinutes(context: ServiceContext): number {
  return serviceSetting(context, 'riseWindowMinutes', FLOOD_DEFAULTS.riseWindowMinutes);
}

/** A per-gauge threshold from the registry, or undefined when the gauge has none. */
function threshold(device: Device | undefined, name: 'warningLevel' | 'severeLevel'): number | undefined {
  const value = deviceSetting(device, name, Number.NaN);
  return Number.isNaN(value) ? undefined : value;
}

/**
 * A gauge's rules: its `warningLevel` and `severeLevel` from the registry (either may be missing; see
 * `gaugeLevels`), `fallMargin` and `riseRateMetresPerHour` from the gauge, else the service settings, else the
 * blueprint's defaults, and the rise window and minimum span from the service settings (they set how much
 * history every reading reads, which is one figure for the service).
 */
export function gaugeConfigFor(device: Device | undefined, context: ServiceContext): GaugeConfig {
  const setting = (name: 'fallMargin' | 'riseRateMetresPerHour') =>
    deviceSetting(device, name, serviceSetting(context, name, FLOOD_DEFAULTS[name]));
  return {
    ...gaugeLevels(threshold(device, 'warningLevel'), threshold(device, 'severeLevel')),
    fallMargin: setting('fallMargin'),
    riseRateMetresPerHour: setting('riseRateMetresPerHour'),
    riseWindowMinutes: riseWindowMinutes(context),
    minRiseSpanMinutes: serviceSetting(context, 'minRiseSpanMinutes', FLOOD_DEFAULTS.minRiseSpanMinutes),
  };
}

/**
 * Each water-level reading through `floodStep` with the gauge's own thresholds and the rise window's history
 * (divided by the time scale). The state is the gauge's level and rising flag: undefined while at rest, and
 * rewritten only when one of them changes.
 */
export const floodDetector: ChangeDetector<GaugeState | undefined> = {
  deviceTypes: ['water-level'],
  historySeconds: (context) => (riseWindowMinutes(context) * 60) / context.timeScale,
  step({ state, point, device, history, context }) {
    const previous = state ?? GAUGE_AT_REST;
    const result = floodStep(
      previous,
      withPoint(history, point),
      point,
      gaugeConfigFor(device, context),
      context.timeScale,
    );
    const unchanged =
      result.state.level === previous.level && result.state.risingFast === previous.risingFast;
    return { state: unchanged ? state : result.state, events: result.events };
  },
};

/**
 * The history with the point itself as its newest reading. The platform includes the point when it has been
 * stored already; if it has not (or the read was eventually consistent and missed it), it is added here, so
 * the rate always reaches the reading being judged.
 */
function withPoint(history: readonly TelemetryPoint[], point: TelemetryPoint): readonly TelemetryPoint[] {
  return history.some((p) => p.observedAt === point.observedAt) ? history : [...history, point];
}
