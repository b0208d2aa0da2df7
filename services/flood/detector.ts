import type { Device } from '../../lambdas/domain/device.js';
import {
  type ChangeDetector,
  deviceSetting,
  type ServiceContext,
  serviceSetting,
} from '../shared/blueprint.js';
import { epochMs, numericReading } from '../shared/domain-events.js';
import {
  FLOOD_DEFAULTS,
  floodStep,
  GAUGE_AT_REST,
  type GaugeConfig,
  type GaugeState,
  gaugeLevels,
  type LevelReading,
  riseWindow,
} from './rules.js';

/**
 * What the flood detector remembers per gauge: its level and rising flag, and its readings within the rise
 * window (oldest first, at most `RISE_WINDOW_MAX_READINGS`: about 0.6 KB), from which the rise rate is measured
 * without reading the gauge's history. The window moves with every reading, so the state is written on every
 * reading.
 */
export interface FloodState extends GaugeState {
  readonly readings: readonly LevelReading[];
}

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
 * blueprint's defaults, and the rise window and minimum span from the service settings (the window sets how
 * many readings every gauge's state keeps, one figure for the service).
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
 * Each water-level reading through `floodStep` with the gauge's own thresholds and the readings of the rise
 * window (divided by the time scale) kept in the state. A reading observed at or before the newest one kept (a
 * redelivery, or a late reading the platform let through) changes nothing; a reading without a water level
 * returns the very same state.
 */
export const floodDetector: ChangeDetector<FloodState | undefined> = {
  deviceTypes: ['water-level'],
  historySeconds: () => 0,
  step({ state, point, device, context }) {
    const waterLevel = numericReading(point.readings, 'waterLevel');
    const t = epochMs(point.observedAt);
    const newest = state?.readings?.at(-1);
    if (waterLevel === undefined || (newest !== undefined && t <= newest[0])) return { state, events: [] };
    const config = gaugeConfigFor(device, context);
    const readings = riseWindow(state?.readings ?? [], [t, waterLevel], config, context.timeScale);
    const previous: GaugeState = state ? { level: state.level, risingFast: state.risingFast } : GAUGE_AT_REST;
    const result = floodStep(previous, readings, point, config, context.timeScale);
    return { state: { ...result.state, readings }, events: result.events };
  },
};
