import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { AlertSignal } from '../shared/alerts.js';
import { type DomainEvent, domainEvent, epochMs, numericReading } from '../shared/domain-events.js';

/**
 * The UK Daily Air Quality Index (DAQI), Defra / COMEAP. Concentrations in ug/m3.
 * Source: Defra UK-AIR, "Daily Air Quality Index", boundaries between index points for each pollutant,
 * https://uk-air.defra.gov.uk/air-pollution/daqi?view=more-info (see README.md for the table and how it was
 * checked). Each array holds the upper edge of indexes 1..9; above the ninth edge is index 10.
 */
export const DAQI_POLLUTANTS = ['pm25', 'pm10', 'no2', 'o3'] as const;
export type DaqiPollutant = (typeof DAQI_POLLUTANTS)[number];

export const DAQI_UPPER_EDGES: Readonly<Record<DaqiPollutant, readonly number[]>> = {
  /** PM2.5, 24-hour running mean. */
  pm25: [11, 23, 35, 41, 47, 53, 58, 64, 70],
  /** PM10, 24-hour running mean. */
  pm10: [16, 33, 50, 58, 66, 75, 83, 91, 100],
  /** NO2, hourly mean. */
  no2: [67, 134, 200, 267, 334, 400, 467, 534, 600],
  /** O3, 8-hour running mean. */
  o3: [33, 66, 100, 120, 140, 160, 187, 213, 240],
};

/** Averaging period of each pollutant's index, hours. */
export const DAQI_AVERAGING_HOURS: Readonly<Record<DaqiPollutant, number>> = {
  pm25: 24,
  pm10: 24,
  no2: 1,
  o3: 8,
};

/** How Defra writes each pollutant's name, for alerts and notices. */
export const DAQI_POLLUTANT_NAMES: Readonly<Record<DaqiPollutant, string>> = {
  pm25: 'PM2.5',
  pm10: 'PM10',
  no2: 'NO2',
  o3: 'O3',
};

export type DaqiIndex = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
export type DaqiBand = 'Low' | 'Moderate' | 'High' | 'Very High';

/**
 * The index of one pollutant's mean. Defra publishes the bands as whole numbers (PM2.5 index 1 is 0-11,
 * index 2 is 12-23); a mean between them (11.4) is read as above the edge, so index 2. Rounding down would
 * under-warn; this reading is the cautious one and matches an integer table for integer means.
 */
export function pollutantIndex(pollutant: DaqiPollutant, mean: number): DaqiIndex {
  const edges = DAQI_UPPER_EDGES[pollutant];
  const below = edges.findIndex((edge) => mean <= edge);
  return (below === -1 ? 10 : below + 1) as DaqiIndex;
}

export function daqiBand(index: DaqiIndex): DaqiBand {
  if (index <= 3) return 'Low';
  if (index <= 6) return 'Moderate';
  if (index <= 9) return 'High';
  return 'Very High';
}

export interface AirQualityConfig {
  /** Share of the averaging period's hours that must hold readings for a mean to count (Defra uses 75%). */
  readonly minCoverage: number;
  /** Index at or over which a site alerts (7 = High). */
  readonly alertAtIndex: DaqiIndex;
}

export const AIR_QUALITY_DEFAULTS: AirQualityConfig = { minCoverage: 0.75, alertAtIndex: 7 };

const HOUR_MS = 3_600_000;

/**
 * How long one DAQI hour lasts on the readings' clock: an hour on AWS, an hour divided by the time scale when
 * the local runtime runs the town faster (at `--speed 60` an hour of air passes in one real minute, so the
 * 24-hour mean covers 24 real minutes in 24 one-minute slots).
 */
export function slotLengthMs(timeScale = 1): number {
  return HOUR_MS / timeScale;
}

/**
 * One pollutant's readings in hour slots, newest first: `sums[k]` and `counts[k]` are the sum and number of the
 * readings in the slot `k` slots before the newest (0: the newest slot); a slot without readings holds 0 and 0.
 * Only as many slots as the pollutant's averaging period are kept, and trailing empty ones are dropped.
 */
export interface PollutantSlots {
  readonly sums: readonly number[];
  readonly counts: readonly number[];
}

/**
 * A sensor's readings as hour slots: the running aggregates the DAQI means are computed from, small enough to
 * keep in the detector's state instead of reading a day of history on every reading.
 *
 * A slot is a clock hour (13:00:00.000 to 13:59:59.999 UTC): slot number `floor(epoch ms / slotMs)`. With a
 * time scale, `slotMs` is an hour divided by it and slots are aligned on the epoch the same way (at `--speed 60`,
 * whole real minutes). The newest slot is the one `observedAt` falls in.
 */
export interface HourSlots {
  /** The newest reading counted, ISO-8601. */
  readonly observedAt: string;
  /** The slot length the readings were cut with (see {@link slotLengthMs}). */
  readonly slotMs: number;
  readonly slots: Readonly<Partial<Record<DaqiPollutant, PollutantSlots>>>;
}

/**
 * Sums are kept to a thousandth of a ug/m3: sensors report whole or tenth units, and without the rounding the
 * binary fractions of repeated additions (0.1 + 0.2) would lengthen the stored numbers for no meaning.
 */
const SUM_DECIMALS = 1000;

/**
 * The slots after one more reading, which must be newer than `slots.observedAt` (the caller drops replays and
 * late readings). Moving into a later slot ages every pollutant's slots by the slots passed and drops those
 * older than its averaging period; the reading's pollutants are then added to the newest slot. Slots cut with a
 * different `slotMs` (the local runtime restarted at another speed) are dropped: they measured other hours.
 * Returns `slots` itself when the reading has none of the DAQI pollutants.
 */
export function addReading(
  slots: HourSlots | undefined,
  point: Pick<TelemetryPoint, 'readings' | 'observedAt'>,
  slotMs: number,
): HourSlots | undefined {
  const values = DAQI_POLLUTANTS.flatMap((pollutant) => {
    const value = numericReading(point.readings, pollutant);
    return value === undefined ? [] : [[pollutant, value] as const];
  });
  if (values.length === 0) return slots;
  const kept = slots?.slotMs === slotMs ? slots : undefined;
  const newest = Math.floor(epochMs(point.observedAt) / slotMs);
  const passed = kept ? Math.max(0, newest - Math.floor(epochMs(kept.observedAt) / slotMs)) : 0;
  const next: Partial<Record<DaqiPollutant, PollutantSlots>> = {};
  for (const pollutant of DAQI_POLLUTANTS) {
    const hours = DAQI_AVERAGING_HOURS[pollutant];
    const old = kept?.slots[pollutant];
    const sums = [...new Array<number>(passed).fill(0), ...(old?.sums ?? [])].slice(0, hours);
    const counts = [...new Array<number>(passed).fill(0), ...(old?.counts ?? [])].slice(0, hours);
    const value = values.find(([p]) => p === pollutant)?.[1];
    if (value !== undefined) {
      sums[0] = Math.round(((sums[0] ?? 0) + value) * SUM_DECIMALS) / SUM_DECIMALS;
      counts[0] = (counts[0] ?? 0) + 1;
    }
    while (counts.length > 0 && counts.at(-1) === 0) {
      counts.pop();
      sums.pop();
    }
    if (counts.length > 0) next[pollutant] = { sums, counts };
  }
  return { observedAt: point.observedAt, slotMs, slots: next };
}

/**
 * A pollutant's running mean over its `hours` newest slots (the slot of the newest reading and the `hours - 1`
 * before it): each slot's readings are averaged, and the slot means are averaged, so a sensor that sent more
 * often in one hour does not weigh more. Undefined when fewer than `minCoverage` of the slots hold a reading.
 * The newest slot is the clock hour in progress, so the NO2 hourly mean is the mean of this hour's readings so
 * far and the 24-hour means move with every reading.
 */
export function slotMean(
  slots: PollutantSlots | undefined,
  hours: number,
  minCoverage: number = AIR_QUALITY_DEFAULTS.minCoverage,
): number | undefined {
  if (!slots) return undefined;
  const slotMeans: number[] = [];
  for (let k = 0; k < Math.min(hours, slots.counts.length); k++) {
    const count = slots.counts[k] ?? 0;
    if (count > 0) slotMeans.push((slots.sums[k] ?? 0) / count);
  }
  if (slotMeans.length === 0 || slotMeans.length < Math.ceil(minCoverage * hours)) return undefined;
  return slotMeans.reduce((a, b) => a + b, 0) / slotMeans.length;
}

export type PollutantMeans = Partial<Record<DaqiPollutant, number>>;

/**
 * Every pollutant's running mean over its averaging period (PM2.5 and PM10 24 slots, NO2 1, O3 8; see
 * {@link slotMean}), for the pollutants with enough coverage.
 */
export function slotMeans(
  slots: HourSlots | undefined,
  config: AirQualityConfig = AIR_QUALITY_DEFAULTS,
): PollutantMeans {
  const means: PollutantMeans = {};
  for (const pollutant of DAQI_POLLUTANTS) {
    const mean = slotMean(slots?.slots[pollutant], DAQI_AVERAGING_HOURS[pollutant], config.minCoverage);
    if (mean !== undefined) means[pollutant] = mean;
  }
  return means;
}

export interface SiteIndex {
  readonly index: DaqiIndex;
  readonly band: DaqiBand;
  /** The pollutant that set the index (the first in DAQI_POLLUTANTS order among equals). */
  readonly pollutant: DaqiPollutant;
  readonly perPollutant: Partial<Record<DaqiPollutant, DaqiIndex>>;
}

/** The site's DAQI: the highest index over the pollutants with a mean. Undefined when none has one. */
export function siteIndex(means: PollutantMeans): SiteIndex | undefined {
  let best: { index: DaqiIndex; pollutant: DaqiPollutant } | undefined;
  const perPollutant: Partial<Record<DaqiPollutant, DaqiIndex>> = {};
  for (const pollutant of DAQI_POLLUTANTS) {
    const mean = means[pollutant];
    if (mean === undefined) continue;
    const index = pollutantIndex(pollutant, mean);
    perPollutant[pollutant] = index;
    if (!best || index > best.index) best = { index, pollutant };
  }
  return best && { index: best.index, band: daqiBand(best.index), pollutant: best.pollutant, perPollutant };
}

type EventPoint = Pick<
  TelemetryPoint,
  'deviceId' | 'deviceType' | 'site' | 'ward' | 'readings' | 'observedAt'
>;

/**
 * `air-quality.band-changed` when the sensor's index moved (any step of 1..10, so the open-data view and the
 * alert both follow it), from the running means after `point` (see {@link slotMeans}).
 */
export function airQualityEvents(
  previousIndex: DaqiIndex | undefined,
  means: PollutantMeans,
  point: EventPoint,
): DomainEvent[] {
  const now = siteIndex(means);
  if (!now || now.index === previousIndex) return [];
  return [
    domainEvent(
      'air-quality.band-changed',
      point,
      {
        previousIndex: previousIndex ?? null,
        previousBand: previousIndex === undefined ? null : daqiBand(previousIndex),
        index: now.index,
        band: now.band,
        pollutant: now.pollutant,
        perPollutant: now.perPollutant,
        means,
      },
      now.index,
    ),
  ];
}

export function airQualityAlertKey(site: string): string {
  return `air-quality:${site}:daqi`;
}

/** Raise at the alert index or above (severe at 10, Very High), clear below it. */
export function airQualityAlertSignal(
  index: DaqiIndex,
  at: string,
  config: AirQualityConfig = AIR_QUALITY_DEFAULTS,
): AlertSignal {
  if (index < config.alertAtIndex) return { kind: 'clear', at };
  return { kind: 'raise', at, severity: index === 10 ? 'severe' : 'warning' };
}
