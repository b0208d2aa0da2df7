import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { AlertSignal } from '../shared/alerts.js';
import { type DomainEvent, domainEvent, epochMs, numericReading } from '../shared/domain-events.js';

/**
 * Flood warnings: a gauge's water level against its warning and severe levels, and a rate-of-rise alarm.
 * Essential: nothing here knows about cost tiers, and nothing may be suppressed by them.
 */
export type FloodLevel = 'normal' | 'warning' | 'severe';

export interface GaugeConfig {
  /** Metres above the gauge datum at or over which the level is `warning`. */
  readonly warningLevel: number;
  /** Metres above datum at or over which the level is `severe`. Must be above warningLevel. */
  readonly severeLevel: number;
  /**
   * A level steps down only once it is this far below the threshold it crossed, so ripples at a threshold do
   * not flap the status. Metres.
   */
  readonly fallMargin: number;
  /** Rising faster than this, metres per hour, is `rising-fast`. */
  readonly riseRateMetresPerHour: number;
  /** The rate is measured over this many minutes back from the newest reading. */
  readonly riseWindowMinutes: number;
  /** A rate needs readings spanning at least this many minutes (two readings a minute apart prove nothing). */
  readonly minRiseSpanMinutes: number;
}

export const FLOOD_DEFAULTS: Omit<GaugeConfig, 'warningLevel' | 'severeLevel'> = {
  fallMargin: 0.05,
  riseRateMetresPerHour: 0.3,
  riseWindowMinutes: 60,
  minRiseSpanMinutes: 30,
};

export function gaugeConfig(
  levels: Pick<GaugeConfig, 'warningLevel' | 'severeLevel'> & Partial<GaugeConfig>,
): GaugeConfig {
  const config = { ...FLOOD_DEFAULTS, ...levels };
  if (!(config.severeLevel > config.warningLevel)) {
    throw new Error(
      `severeLevel (${config.severeLevel}) must be above warningLevel (${config.warningLevel}) for a gauge`,
    );
  }
  return config;
}

/**
 * The levels a gauge alerts at, from whichever of its thresholds the registry holds, so a gauge half set up
 * still warns on what it has and no threshold is ever silently dropped:
 * - both, severe above warning: as given;
 * - warning only: warning alerts, never severe (severe at `Infinity`);
 * - severe only, or severe at or under warning: severe alerts at the severe level, no separate warning (the
 *   warning level is the severe level, so the rules go straight from normal to severe);
 * - neither: no level alerts at all (both `Infinity`); the rate-of-rise alarm still works.
 */
export function gaugeLevels(
  warningLevel: number | undefined,
  severeLevel: number | undefined,
): Pick<GaugeConfig, 'warningLevel' | 'severeLevel'> {
  if (severeLevel === undefined) return { warningLevel: warningLevel ?? Infinity, severeLevel: Infinity };
  if (warningLevel === undefined || warningLevel >= severeLevel)
    return { warningLevel: severeLevel, severeLevel };
  return { warningLevel, severeLevel };
}

const RANK: Record<FloodLevel, number> = { normal: 0, warning: 1, severe: 2 };

/**
 * The gauge's level status. Going up: at or over a threshold. Going down: only once under the threshold by
 * more than `fallMargin` (at exactly threshold - margin it holds).
 */
export function floodLevel(previous: FloodLevel, waterLevel: number, config: GaugeConfig): FloodLevel {
  const raw: FloodLevel =
    waterLevel >= config.severeLevel ? 'severe' : waterLevel >= config.warningLevel ? 'warning' : 'normal';
  if (RANK[raw] >= RANK[previous]) return raw;
  // Stepping down: hold each level until the water is clearly under its threshold.
  if (previous === 'severe' && waterLevel >= config.severeLevel - config.fallMargin) return 'severe';
  if (RANK[previous] >= RANK.warning && waterLevel >= config.warningLevel - config.fallMargin)
    return 'warning';
  return raw;
}

/** A gauge reading as the rise rate needs it: `[observed at (epoch ms), water level (metres above datum)]`. */
export type LevelReading = readonly [observedAtMs: number, waterLevel: number];

/**
 * The most readings a gauge's rise window keeps: a reading every 2.5 minutes over the default 60-minute window,
 * twice what a gauge reporting every 5 minutes sends (13), and small enough (~0.6 KB) for the detector's state.
 */
export const RISE_WINDOW_MAX_READINGS = 24;

/**
 * The readings the rise rate needs after `reading`: those within the rise window (divided by `timeScale`) back
 * from it, oldest first, `reading` last. `readings` must be oldest first and older than `reading` (the caller
 * drops replays and late readings). Over `maxReadings`, the window is thinned evenly: the reading whose
 * neighbours are closest together goes (the oldest of equals), so the oldest and the newest always stay and the
 * rest spread over the window; the rate, measured from the oldest to the newest, hardly moves.
 */
export function riseWindow(
  readings: readonly LevelReading[],
  reading: LevelReading,
  config: Pick<GaugeConfig, 'riseWindowMinutes'>,
  timeScale = 1,
  maxReadings = RISE_WINDOW_MAX_READINGS,
): readonly LevelReading[] {
  const start = reading[0] - (config.riseWindowMinutes * 60_000) / timeScale;
  const kept = [...readings.filter(([t]) => t >= start && t < reading[0]), reading];
  while (kept.length > Math.max(2, maxReadings)) {
    let drop = 1;
    let closest = Number.POSITIVE_INFINITY;
    for (let i = 1; i < kept.length - 1; i++) {
      const gap = (kept[i + 1]?.[0] ?? 0) - (kept[i - 1]?.[0] ?? 0);
      if (gap < closest) {
        closest = gap;
        drop = i;
      }
    }
    kept.splice(drop, 1);
  }
  return kept;
}

/**
 * Rise in metres per hour, to the millimetre: from the oldest reading within the window to the newest (`at`).
 * Undefined when the readings span less than `minRiseSpanMinutes`.
 *
 * `timeScale` is the local runtime's `--speed`: the simulated river rises `timeScale` times faster per real
 * hour, so the window and the minimum span shrink by it and the measured rate is divided by it (a rise
 * compared with `riseRateMetresPerHour` x timeScale per real hour), giving the river's own metres per hour.
 */
export function riseRate(
  window: readonly LevelReading[],
  at: string,
  config: GaugeConfig,
  timeScale = 1,
): number | undefined {
  const end = epochMs(at);
  const start = end - (config.riseWindowMinutes * 60_000) / timeScale;
  let oldest: LevelReading | undefined;
  let newest: LevelReading | undefined;
  for (const reading of window) {
    const [t] = reading;
    if (t < start || t > end) continue;
    if (!oldest || t < oldest[0]) oldest = reading;
    if (!newest || t > newest[0]) newest = reading;
  }
  if (!oldest || !newest || newest[0] - oldest[0] < (config.minRiseSpanMinutes * 60_000) / timeScale)
    return undefined;
  const metresPerHour = ((newest[1] - oldest[1]) / (newest[0] - oldest[0])) * (3_600_000 / timeScale);
  // To the millimetre per hour: a rise of exactly the alarm rate must not alarm because of binary fractions
  // (1.3 - 1.0 is 0.30000000000000004 in floating point).
  return Math.round(metresPerHour * 1000) / 1000;
}

export interface GaugeState {
  readonly level: FloodLevel;
  readonly risingFast: boolean;
}

export const GAUGE_AT_REST: GaugeState = { level: 'normal', risingFast: false };

type EventPoint = Pick<
  TelemetryPoint,
  'deviceId' | 'deviceType' | 'site' | 'ward' | 'readings' | 'observedAt'
>;

/**
 * A gauge reading through the rules: `flood.level-changed` when the status moves, `flood.rising-fast` when
 * the rise rate goes over the alarm rate and `flood.rising-fast-ended` when it is back at or under it.
 * `window` holds the gauge's readings for at least the rise window (divided by `timeScale`), including
 * `point` (see {@link riseWindow}). A threshold of `Infinity` is one the gauge does not have (see {@link gaugeLevels}); events say
 * `null` for it.
 */
export function floodStep(
  state: GaugeState,
  window: readonly LevelReading[],
  point: EventPoint,
  config: GaugeConfig,
  timeScale = 1,
): { readonly state: GaugeState; readonly events: readonly DomainEvent[] } {
  const waterLevel = numericReading(point.readings, 'waterLevel');
  if (waterLevel === undefined) return { state, events: [] };
  const events: DomainEvent[] = [];
  const level = floodLevel(state.level, waterLevel, config);
  if (level !== state.level) {
    events.push(
      domainEvent(
        'flood.level-changed',
        point,
        {
          previousLevel: state.level,
          level,
          waterLevel,
          warningLevel: Number.isFinite(config.warningLevel) ? config.warningLevel : null,
          severeLevel: Number.isFinite(config.severeLevel) ? config.severeLevel : null,
        },
        level,
      ),
    );
  }
  const rate = riseRate(window, point.observedAt, config, timeScale);
  // Without enough readings to measure a rate, keep the current verdict rather than flapping it.
  const risingFast = rate === undefined ? state.risingFast : rate > config.riseRateMetresPerHour;
  if (risingFast !== state.risingFast) {
    const type = risingFast ? 'flood.rising-fast' : 'flood.rising-fast-ended';
    events.push(
      domainEvent(
        type,
        point,
        { rateMetresPerHour: rate ?? null, alarmRate: config.riseRateMetresPerHour },
        type,
      ),
    );
  }
  return { state: { level, risingFast }, events };
}

/** Two alerts per gauge: its level and its rate of rise. */
export function floodAlertKey(deviceId: string, kind: 'level' | 'rise'): string {
  return `flood:${deviceId}:${kind}`;
}

/** The alert key and signal a flood event carries. */
export function floodAlertSignal(event: DomainEvent): { key: string; signal: AlertSignal } | undefined {
  const at = event.observedAt;
  if (event.type === 'flood.level-changed') {
    const level = event.detail.level as FloodLevel;
    const signal: AlertSignal =
      level === 'normal' ? { kind: 'clear', at } : { kind: 'raise', at, severity: level };
    return { key: floodAlertKey(event.deviceId, 'level'), signal };
  }
  if (event.type === 'flood.rising-fast') {
    return { key: floodAlertKey(event.deviceId, 'rise'), signal: { kind: 'raise', at, severity: 'warning' } };
  }
  if (event.type === 'flood.rising-fast-ended') {
    return { key: floodAlertKey(event.deviceId, 'rise'), signal: { kind: 'clear', at } };
  }
  return undefined;
}
