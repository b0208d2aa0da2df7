import { type ChangeDetector, type ServiceContext, serviceSetting } from '../shared/blueprint.js';
import { epochMs } from '../shared/domain-events.js';
import {
  AIR_QUALITY_DEFAULTS,
  type AirQualityConfig,
  addReading,
  airQualityEvents,
  type DaqiIndex,
  type HourSlots,
  slotLengthMs,
  slotMeans,
} from './rules.js';

/**
 * What the air-quality detector remembers per sensor: its readings as hour slots (sum and count per pollutant
 * and clock hour, only as many hours as each pollutant's mean needs: at most 24 + 24 + 8 + 1 slots, well under
 * 1 KB) and the index it last reported (absent until a first mean exists). The slots move with every reading, so
 * the state is written on every reading; in exchange no reading reads the sensor's history.
 */
export interface AirQualityState extends HourSlots {
  readonly index?: DaqiIndex;
}

/** The rules' settings: the service settings `minCoverage` and `alertAtIndex`, or Defra's defaults. */
export function airQualityConfig(context: ServiceContext): AirQualityConfig {
  return {
    minCoverage: serviceSetting(context, 'minCoverage', AIR_QUALITY_DEFAULTS.minCoverage),
    alertAtIndex: serviceSetting(context, 'alertAtIndex', AIR_QUALITY_DEFAULTS.alertAtIndex) as DaqiIndex,
  };
}

/**
 * The sensor's DAQI from its own hour slots (an hour divided by the time scale): each reading is added to its
 * slot, the running means are taken from the slots and `airQualityEvents` says `air-quality.band-changed`
 * whenever the index moves. A reading observed at or before the newest one counted (a redelivery, or a late
 * reading the platform let through) changes nothing, so it is never counted twice. The site's index over
 * several sensors is the workflow's business (it keeps each sensor's index and serves the highest).
 */
export const airQualityDetector: ChangeDetector<AirQualityState | undefined> = {
  deviceTypes: ['air-quality'],
  historySeconds: () => 0,
  step({ state, point, context }) {
    if (state?.observedAt !== undefined && epochMs(point.observedAt) <= epochMs(state.observedAt)) {
      return { state, events: [] };
    }
    const slots = addReading(state, point, slotLengthMs(context.timeScale));
    // None of the DAQI pollutants in the reading: nothing to count, nothing to write.
    if (slots === undefined || slots === state) return { state, events: [] };
    const events = airQualityEvents(state?.index, slotMeans(slots, airQualityConfig(context)), point);
    const index = (events[0]?.detail.index as DaqiIndex | undefined) ?? state?.index;
    return { state: { ...(index === undefined ? {} : { index }), ...slots }, events };
  },
};
