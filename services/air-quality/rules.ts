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
 * A pollutant's running mean over the `hours` hours ending at `at`: the window is cut into one-hour slots
 * ending at `at`, each slot's readings are averaged, and the slot means are averaged (so a sensor that sent
 * more often in one hour does not weigh more). Undefined when fewer than `minCoverage` of the slots hold a
 * reading. Readings after `at` are ignored.
 *
 * `slotMs` is how long one of those hours lasts on the readings' clock: an hour on AWS, an hour divided by the
 * time scale when the local runtime runs the town faster (at `--speed 60` an hour of air passes in a minute,
 * so the 24-hour mean covers 24 real minutes in 24 one-minute slots).
 */
export function runningMean(
  window: readonly Pick<TelemetryPoint, 'readings' | 'observedAt'>[],
  pollutant: DaqiPollutant,
  at: string,
  hours: number = DAQI_AVERAGING_HOURS[pollutant],
  minCoverage: number = AIR_QUALITY_DEFAULTS.minCoverage,
  slotMs: number = HOUR_MS,
): number | undefined {
  const end = epochMs(at);
  const sums = new Array<number>(hours).fill(0);
  const counts = new Array<number>(hours).fill(0);
  for (const point of window) {
    const value = numericReading(point.readings, pollutant);
    if (value === undefined) continue;
    const age = end - epochMs(point.observedAt);
    // Slot k holds (end - (k+1)h, end - kh]: a reading exactly at `at` is in the newest slot.
    if (age < 0 || age >= hours * slotMs) continue;
    const slot = Math.floor(age / slotMs);
    sums[slot] = (sums[slot] ?? 0) + value;
    counts[slot] = (counts[slot] ?? 0) + 1;
  }
  const slotMeans = counts.flatMap((n, k) => (n > 0 ? [(sums[k] ?? 0) / n] : []));
  if (slotMeans.length === 0 || slotMeans.length < Math.ceil(minCoverage * hours)) return undefined;
  return slotMeans.reduce((a, b) => a + b, 0) / slotMeans.length;
}

export type PollutantMeans = Partial<Record<DaqiPollutant, number>>;

/**
 * Every pollutant's running mean at `at`, from a window holding at least the last 24 hours of readings
 * (24 hours / `timeScale` on the readings' clock; see {@link runningMean}).
 */
export function runningMeans(
  window: readonly Pick<TelemetryPoint, 'readings' | 'observedAt'>[],
  at: string,
  config: AirQualityConfig = AIR_QUALITY_DEFAULTS,
  timeScale = 1,
): PollutantMeans {
  const means: PollutantMeans = {};
  const slotMs = HOUR_MS / timeScale;
  for (const pollutant of DAQI_POLLUTANTS) {
    const hours = DAQI_AVERAGING_HOURS[pollutant];
    const mean = runningMean(window, pollutant, at, hours, config.minCoverage, slotMs);
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
 * `air-quality.band-changed` when the site's index moved (any step of 1..10, so the open-data view and the
 * alert both follow it). `window` holds the sensor's readings for the last 24 hours (divided by `timeScale`),
 * including `point`.
 */
export function airQualityEvents(
  previousIndex: DaqiIndex | undefined,
  window: readonly Pick<TelemetryPoint, 'readings' | 'observedAt'>[],
  point: EventPoint,
  config: AirQualityConfig = AIR_QUALITY_DEFAULTS,
  timeScale = 1,
): DomainEvent[] {
  const means = runningMeans(window, point.observedAt, config, timeScale);
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
