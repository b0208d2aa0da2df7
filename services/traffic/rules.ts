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
 * Hourly flow of one counter: the sum of `intensity` over the periods of each hour. A reading's `observedAt`
 * is the end of its counting period, so a period belongs to the hour in which it starts
 * (observedAt - periodSeconds): the 11:55-12:00 period counts in the 11:00 hour. Sorted by hour; points
 * without intensity or periodSeconds are skipped; duplicate observations (same observedAt) count once.
 */
export function hourlyFlows(
  points: readonly Pick<TelemetryPoint, 'readings' | 'observedAt'>[],
): HourlyFlow[] {
  const hours = new Map<number, { vehicles: number; periods: number; seconds: number }>();
  const seen = new Set<string>();
  for (const point of points) {
    const intensity = numericReading(point.readings, 'intensity');
    const periodSeconds = numericReading(point.readings, 'periodSeconds');
    if (intensity === undefined || periodSeconds === undefined || seen.has(point.observedAt)) continue;
    seen.add(point.observedAt);
    const start = epochMs(point.observedAt) - periodSeconds * 1000;
    const hour = Math.floor(start / HOUR_MS) * HOUR_MS;
    const entry = hours.get(hour) ?? { vehicles: 0, periods: 0, seconds: 0 };
    hours.set(hour, {
      vehicles: entry.vehicles + intensity,
      periods: entry.periods + 1,
      seconds: entry.seconds + periodSeconds,
    });
  }
  return [...hours.entries()]
    .sort(([a], [b]) => a - b)
    .map(([hour, e]) => ({
      hour: new Date(hour).toISOString(),
      vehicles: e.vehicles,
      periods: e.periods,
      complete: e.seconds >= 3600,
    }));
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
  const needed = state.congested ? config.periodsToClear : config.periodsToStart;
  const base = { lastObservedAt: point.observedAt };

  if (run < needed) {
    const since = state.since === undefined ? {} : { since: state.since };
    return { state: { congested: state.congested, run, ...since, ...base }, events: [] };
  }
  const detail = {
    averageVehicleSpeed: speed,
    occupancy,
    freeFlowSpeedKmh: config.freeFlowSpeedKmh,
    periods: run,
  };
  if (!state.congested) {
    const since = new Date(at - (run - 1) * periodSeconds * 1000).toISOString();
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
