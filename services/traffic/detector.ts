import type { Device } from '../../lambdas/domain/device.js';
import {
  type ChangeDetector,
  deviceSetting,
  type ServiceContext,
  serviceSetting,
} from '../shared/blueprint.js';
import { type DomainEvent, domainEvent, epochMs } from '../shared/domain-events.js';
import {
  type CongestionState,
  congestionStep,
  FREE_FLOWING,
  type HourTally,
  TRAFFIC_DEFAULTS,
  type TrafficConfig,
  tallyPeriod,
} from './rules.js';

/**
 * Free-flow speed for a counter the council has not surveyed yet: 48 km/h, the UK's 30 mph urban limit, so an
 * unsurveyed town-centre counter flags congestion under 24 km/h. Set `freeFlowSpeedKmh` per counter (or for the
 * service) to do better.
 */
export const DEFAULT_FREE_FLOW_SPEED_KMH = 48;

/**
 * What the traffic detector remembers per counter: the congestion run and the current hour's running count.
 * Both move with every period, so this state is written on every reading.
 */
export interface TrafficState {
  readonly congestion: CongestionState;
  readonly hour?: HourTally;
}

/**
 * A counter's rules. Each setting is read from the counter (`Device.settings`), else from the service settings,
 * else from the defaults: `freeFlowSpeedKmh` (48), `speedFraction` (0.5), `occupancyAbove` (0.3),
 * `periodsToStart` (3), `periodsToClear` (3).
 */
export function trafficConfigFor(device: Device | undefined, context: ServiceContext): TrafficConfig {
  const setting = (name: keyof TrafficConfig, fallback: number) =>
    deviceSetting(device, name, serviceSetting(context, name, fallback));
  return {
    freeFlowSpeedKmh: setting('freeFlowSpeedKmh', DEFAULT_FREE_FLOW_SPEED_KMH),
    speedFraction: setting('speedFraction', TRAFFIC_DEFAULTS.speedFraction),
    occupancyAbove: setting('occupancyAbove', TRAFFIC_DEFAULTS.occupancyAbove),
    periodsToStart: setting('periodsToStart', TRAFFIC_DEFAULTS.periodsToStart),
    periodsToClear: setting('periodsToClear', TRAFFIC_DEFAULTS.periodsToClear),
  };
}

/**
 * Each counting period through the congestion rules (`traffic.congestion-started` / `-cleared`) and into the
 * current hour's count: the first period of a later hour closes the hour, `traffic.hour-counted`. Hours last
 * 3600 / timeScale real seconds. The congestion run compares the gap between a counter's reports with its
 * `periodSeconds` as sent, so a sped-up demo counter that reports one period in many still has consecutive
 * periods. A replayed or late period (at or before the last one) changes nothing.
 */
export const trafficDetector: ChangeDetector<TrafficState | undefined> = {
  deviceTypes: ['traffic-flow'],
  historySeconds: () => 0,
  step({ state, point, device, context }) {
    const congestion = state?.congestion ?? FREE_FLOWING;
    const last = congestion.lastObservedAt;
    if (last !== undefined && epochMs(point.observedAt) <= epochMs(last)) return { state, events: [] };

    const counted = tallyPeriod(state?.hour, point, context.timeScale);
    const step = congestionStep(congestion, point, trafficConfigFor(device, context));
    const events: DomainEvent[] = [];
    // The hour closed before this period began, so its count goes out first.
    if (counted.completed) {
      events.push(
        domainEvent('traffic.hour-counted', point, { ...counted.completed }, counted.completed.hour),
      );
    }
    events.push(...step.events);
    if (counted.tally === state?.hour && step.state === congestion) return { state, events };
    return {
      state: { congestion: step.state, ...(counted.tally === undefined ? {} : { hour: counted.tally }) },
      events,
    };
  },
};
