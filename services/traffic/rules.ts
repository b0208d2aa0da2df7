import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { type DomainEvent, domainEvent, epochMs, numericReading } from '../shared/domain-events.js';

/** Traffic: hourly flow per counter, and congestion incidents from speed and occupancy. */

const HOUR_MS = 3_600_000;

export interface HourlyFlow {
  /** Start of the hour, ISO-8601 UTC. */
  readonly hour: string;
  /** Vehicles counted in the hour's periods. */
  readonly vehicles: number;
  readonly periods: number;
  /** True when the periods cover the whole hour (a missing period makes the count a lower bound). */
  readonly complete: boolean;
}

/**
 * Start (epoch ms) of the hour a counting period belongs to: the hour in which the period starts
 * (observedAt - periodSeconds), since `observedAt` is the end of the period. With a `timeScale` above 1 (the
 * local runtime's `--speed`), an hour lasts 3600 / timeScale real seconds and a period of `periodSeconds`
 * simulated seconds lasts periodSeconds / timeScale real seconds; hours are aligned to the epoch.
 */
export function periodHourStart(observedAt: string, periodSeconds: number, timeScale = 1): number {
  const hourMs = HOUR_MS / timeScale;
  const start = epochMs(observedAt) - (periodSeconds * 1000) / timeScale;
  return Math.floor(start / hourMs) * hourMs;
}

/**
 * Hourly flow of one counter: the sum of `intensity` over the periods of each hour. A reading's `observedAt`
 * is the end of its counting period, so a period belongs to the hour in which it starts
 * (observedAt - periodSeconds): the 11:55-12:00 period counts in the 11:00 hour. Sorted by hour; points
 * without intensity or periodSeconds are skipped; duplicate observations (same observedAt) count once.
 * `timeScale` as in {@link periodHourStart}.
 */
export function hourlyFlows(
  points: readonly Pick<TelemetryPoint, 'readings' | 'observedAt'>[],
  timeScale = 1,
): HourlyFlow[] {
  const hours = new Map<number, HourTally>();
  const seen = new Set<string>();
  for (const point of points) {
    if (seen.has(point.observedAt)) continue;
    const hour = periodOf(point, timeScale);
    if (!hour) continue;
    seen.add(point.observedAt);
    hours.set(hour.start, addPeriod(hours.get(hour.start), hour));
  }
  return [...hours.entries()].sort(([a], [b]) => a - b).map(([, tally]) => flowOf(tally));
}

/** The running count of one counter's current hour (kept in the detector's state between readings). */
export interface HourTally {
  /** Start of the hour, ISO-8601 UTC. */
  readonly hour: string;
  readonly vehicles: number;
  readonly periods: number;
  /** Simulated seconds of counting the periods cover; 3600 or more makes the hour complete. */
  readonly seconds: number;
}

/**
 * One counting period into the current hour's tally. A period of a later hour closes the tally (`completed`,
 * the hour's flow) and starts the next; a period of an earlier hour than the tally's (a late one, its hour
 * already closed) changes nothing. The caller skips replayed periods (the congestion state's lastObservedAt).
 */
export function tallyPeriod(
  tally: HourTally | undefined,
  point: Pick<TelemetryPoint, 'readings' | 'observedAt'>,
  timeScale = 1,
): { readonly tally: HourTally | undefined; readonly completed?: HourlyFlow } {
  const period = periodOf(point, timeScale);
  if (!period) return { tally };
  if (!tally) return { tally: addPeriod(undefined, period) };
  const tallyStart = epochMs(tally.hour);
  if (period.start < tallyStart) return { tally };
  if (period.start === tallyStart) return { tally: addPeriod(tally, period) };
  return { tally: addPeriod(undefined, period), completed: flowOf(tally) };
}

function periodOf(point: Pick<TelemetryPoint, 'readings' | 'observedAt'>, timeScale: number) {
  const intensity = numericReading(point.readings, 'intensity');
  const periodSeconds = numericReading(point.readings, 'periodSeconds');
  if (intensity === undefined || periodSeconds === undefined) return undefined;
  return { start: periodHourStart(point.observedAt, periodSeconds, timeScale), intensity, periodSeconds };
}

function addPeriod(
  tally: HourTally | undefined,
  period: { start: number; intensity: number; periodSeconds: number },
): HourTally {
  return {
    hour: tally?.hour ?? new Date(period.start).toISOString(),
    vehicles: (tally?.vehicles ?? 0) + period.intensity,
    periods: (tally?.periods ?? 0) + 1,
    seconds: (tally?.seconds ?? 0) + period.periodSeconds,
  };
}

function flowOf(tally: HourTally): HourlyFlow {
  return {
    hour: tally.hour,
    vehicles: tally.vehicles,
    periods: tally.periods,
    complete: tally.seconds >= 3600,
  };
}

export interface TrafficConfig {
  /** The counter's free-flow speed, km/h (per counter; e.g. the 85th percentile speed at night). */
  readonly freeFlowSpeedKmh: number;
  /** A period is slow when averageVehicleSpeed is under this fraction of the free-flow speed. */
  readonly speedFraction: number;
  /** ... and busy when occupancy is over this (0..1). */
  readonly occupancyAbove: number;
  /** Consecutive slow-and-busy periods that start an incident. */
  readonly periodsToStart: number;
  /** Consecutive periods that are not slow-and-busy that clear it. */
  readonly periodsToClear: number;
}

export const TRAFFIC_DEFAULTS: Omit<TrafficConfig, 'freeFlowSpeedKmh'> = {
  speedFraction: 0.5,
  occupancyAbove: 0.3,
  periodsToStart: 3,
  periodsToClear: 3,
};

export interface CongestionState {
  readonly congested: boolean;
  /** Consecutive periods so far that point the other way (towards starting, or towards clearing). */
  readonly run: number;
  readonly lastObservedAt?: string;
  /** When the current run began (its first period's observedAt); absent while `run` is 0. */
  readonly runFrom?: string;
  /** When the current incident started (its first congested period). */
  readonly since?: string;
}

export const FREE_FLOWING: CongestionState = { congested: false, run: 0 };

/** A period is congested when slow (speed < fraction x free flow) and busy (occupancy > threshold). */
export function isCongestedPeriod(
  readings: { readonly averageVehicleSpeed: number; readonly occupancy: number },
  config: TrafficConfig,
): boolean {
  return (
    readings.averageVehicleSpeed < config.speedFraction * config.freeFlowSpeedKmh &&
    readings.occupancy > config.occupancyAbove
  );
}

type EventPoint = Pick<
  TelemetryPoint,
  'deviceId' | 'deviceType' | 'site' | 'ward' | 'readings' | 'observedAt'
>;

/**
 * One counting period through the congestion state machine. Periods must be consecutive: a gap longer than one
 * and a half periods since the last one restarts the run. Readings older than or equal to the last one are
 * ignored (replays, late arrivals), so applying a point twice changes nothing.
 */
export function congestionStep(
  state: CongestionState,
  point: EventPoint,
  config: TrafficConfig,
): { readonly state: CongestionState; readonly events: readonly DomainEvent[] } {
  const speed = numericReading(point.readings, 'averageVehicleSpeed');
  const occupancy = numericReading(point.readings, 'occupancy');
  const periodSeconds = numericReading(point.readings, 'periodSeconds');
  if (speed === undefined || occupancy === undefined || periodSeconds === undefined)
    return { state, events: [] };
  const at = epochMs(point.observedAt);
  if (state.lastObservedAt !== undefined && at <= epochMs(state.lastObservedAt)) return { state, events: [] };

  const contiguous =
    state.lastObservedAt === undefined || at - epochMs(state.lastObservedAt) <= 1.5 * periodSeconds * 1000;
  const congestedPeriod = isCongestedPeriod({ averageVehicleSpeed: speed, occupancy }, config);
  // The run counts periods that point away from the current state.
  const towardsChange = congestedPeriod !== state.congested;
  const run = towardsChange ? (contiguous ? state.run : 0) + 1 : 0;
  // The run's first period, remembered rather than counted back from this one, so `since` is right even when
  // the counter reports less often than one period (the local runtime's sped-up demo).
  const runFrom = run === 0 ? undefined : run === 1 ? point.observedAt : (state.runFrom ?? point.observedAt);
  const needed = state.congested ? config.periodsToClear : config.periodsToStart;
  const base = { lastObservedAt: point.observedAt };

  if (run < needed) {
    const since = state.since === undefined ? {} : { since: state.since };
    const from = runFrom === undefined ? {} : { runFrom };
    return { state: { congested: state.congested, run, ...from, ...since, ...base }, events: [] };
  }
  const detail = {
    averageVehicleSpeed: speed,
    occupancy,
    freeFlowSpeedKmh: config.freeFlowSpeedKmh,
    periods: run,
  };
  if (!state.congested) {
    const since = runFrom ?? point.observedAt;
    return {
      state: { congested: true, run: 0, since, ...base },
      events: [domainEvent('traffic.congestion-started', point, { ...detail, since }, 'started')],
    };
  }
  return {
    state: { congested: false, run: 0, ...base },
    events: [
      domainEvent('traffic.congestion-cleared', point, { ...detail, since: state.since ?? null }, 'cleared'),
    ],
  };
}
