import type { Readings } from '../../lambdas/contracts/device-types.js';
import { type ChangeDetector, deviceSetting } from '../shared/blueprint.js';
import { numericReading, textReading } from '../shared/domain-events.js';
import { fullThresholdFor, WASTE_DEFAULTS, type WasteConfig, wasteEvents } from './rules.js';

/**
 * Where a container's fill level stands against its two thresholds. Only the band matters to the rules, so the
 * detector keeps the band, not the level: a bin filling by a percent every reading changes no state, and the
 * state is rewritten (a DynamoDB write) only when the bin crosses a threshold.
 *
 * - `empty`: under `emptiedBelow` (0.2)
 * - `partial`: from `emptiedBelow` up to the container's full threshold
 * - `full`: at or over the container's full threshold
 */
export type FillBand = 'empty' | 'partial' | 'full';

/** The waste detector's state per container: its fill band and its last status, each once known. */
export interface WasteDetectorState {
  readonly fill?: FillBand;
  readonly status?: string;
}

export function fillBand(level: number, threshold: number, config: WasteConfig = WASTE_DEFAULTS): FillBand {
  if (level >= threshold) return 'full';
  return level < config.emptiedBelow ? 'empty' : 'partial';
}

/**
 * A fill level that stands for a band, for `wasteEvents`, which compares the previous level with the
 * thresholds only: any level in the band gives the same events. `full` uses the higher of the two thresholds so
 * a container configured with a full threshold under 0.2 still counts as "at or over 0.2" when emptied.
 */
function levelStandingFor(band: FillBand, threshold: number, config: WasteConfig): number {
  if (band === 'full') return Math.max(threshold, config.emptiedBelow);
  return band === 'partial' ? config.emptiedBelow : 0;
}

/**
 * Waste change detection: `waste.full`, `waste.emptied`, `waste.hazard`, `waste.hazard-cleared`, from the
 * container's band and status. The full threshold is the container's own (`settings.fullThreshold` in the
 * registry), else 0.8. Needs no history.
 */
export const wasteDetector: ChangeDetector<WasteDetectorState> = {
  deviceTypes: ['waste-container'],
  historySeconds: () => 0,
  step({ state, point, device }) {
    const threshold = fullThresholdFor({
      fullThreshold: deviceSetting(device, 'fullThreshold', WASTE_DEFAULTS.fullThreshold),
    });
    const previous: Readings | undefined =
      state === undefined
        ? undefined
        : {
            ...(state.fill === undefined
              ? {}
              : { fillingLevel: levelStandingFor(state.fill, threshold, WASTE_DEFAULTS) }),
            ...(state.status === undefined ? {} : { status: state.status }),
          };
    const events = wasteEvents(previous, point, { fullThreshold: threshold });

    const level = numericReading(point.readings, 'fillingLevel');
    const fill = level === undefined ? state?.fill : fillBand(level, threshold);
    const status = textReading(point.readings, 'status') ?? state?.status;
    if (state !== undefined && fill === state.fill && status === state.status) return { state, events };
    return {
      state: { ...(fill === undefined ? {} : { fill }), ...(status === undefined ? {} : { status }) },
      events,
    };
  },
};
