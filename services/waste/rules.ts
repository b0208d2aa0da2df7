import type { Readings } from '../../lambdas/contracts/device-types.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { AlertSignal } from '../shared/alerts.js';
import { type DomainEvent, domainEvent, numericReading, textReading } from '../shared/domain-events.js';
import { closeJobByRule, isActiveJob, type Job, openJob } from '../shared/jobs.js';

/** Waste collection: full bins become collection jobs, emptied bins close them, fires and vandalism are urgent. */
export interface WasteConfig {
  /** fillingLevel at or over this opens a collection job (0..1). Overridden per container. */
  readonly fullThreshold: number;
  /** fillingLevel under this, after a job, closes it as emptied (0..1). */
  readonly emptiedBelow: number;
}

export const WASTE_DEFAULTS: WasteConfig = { fullThreshold: 0.8, emptiedBelow: 0.2 };

/** Statuses that need a crew now, whatever the fill level. */
export const HAZARD_STATUSES: ReadonlySet<string> = new Set(['burning', 'vandalized']);

/** Per-container settings from the registry (e.g. a larger bin collected later). */
export interface ContainerSettings {
  readonly fullThreshold?: number;
}

export function fullThresholdFor(
  container: ContainerSettings | undefined,
  config: WasteConfig = WASTE_DEFAULTS,
) {
  return container?.fullThreshold ?? config.fullThreshold;
}

type EventPoint = Pick<
  TelemetryPoint,
  'deviceId' | 'deviceType' | 'site' | 'ward' | 'readings' | 'observedAt'
>;

/**
 * The events a new reading causes, given the container's previous readings (last known value of each).
 * Nothing changed, nothing emitted.
 */
export function wasteEvents(
  previous: Readings | undefined,
  point: EventPoint,
  container?: ContainerSettings,
  config: WasteConfig = WASTE_DEFAULTS,
): DomainEvent[] {
  const events: DomainEvent[] = [];
  const threshold = fullThresholdFor(container, config);
  const before = previous ? numericReading(previous, 'fillingLevel') : undefined;
  const level = numericReading(point.readings, 'fillingLevel');
  if (level !== undefined) {
    const wasFull = before !== undefined && before >= threshold;
    if (level >= threshold && !wasFull) {
      events.push(domainEvent('waste.full', point, { fillingLevel: level, threshold }, 'full'));
    }
    if (before !== undefined && before >= config.emptiedBelow && level < config.emptiedBelow) {
      events.push(
        domainEvent('waste.emptied', point, { fillingLevel: level, previousFillingLevel: before }, 'emptied'),
      );
    }
  }
  const statusBefore = previous ? textReading(previous, 'status') : undefined;
  const status = textReading(point.readings, 'status');
  if (status !== undefined && status !== statusBefore) {
    if (HAZARD_STATUSES.has(status)) {
      events.push(
        domainEvent('waste.hazard', point, { status, previousStatus: statusBefore ?? null }, status),
      );
    } else if (statusBefore !== undefined && HAZARD_STATUSES.has(statusBefore)) {
      events.push(
        domainEvent(
          'waste.hazard-cleared',
          point,
          { status, previousStatus: statusBefore },
          `cleared:${status}`,
        ),
      );
    }
  }
  return events;
}

export interface WasteJobDecision {
  /** Jobs to create (the adapter puts them only if no job with the same id exists). */
  readonly open: readonly Job[];
  /** Jobs to replace with their closed version. */
  readonly close: readonly Job[];
}

/**
 * What a reading does to the container's jobs. Decided from the jobs that exist, not from the event alone, so
 * it is idempotent: a second reading over the threshold finds the open job and opens nothing; a replayed
 * reading opens a job with the same deterministic id as before, which the store refuses.
 */
export function wasteJobDecision(
  jobs: readonly Job[],
  point: EventPoint,
  options: {
    readonly container?: ContainerSettings;
    readonly location?: { readonly lat: number; readonly lon: number };
    readonly config?: WasteConfig;
  } = {},
): WasteJobDecision {
  const config = options.config ?? WASTE_DEFAULTS;
  const threshold = fullThresholdFor(options.container, config);
  const active = (kind: string) =>
    jobs.find((j) => j.deviceId === point.deviceId && j.kind === kind && isActiveJob(j));
  const open: Job[] = [];
  const close: Job[] = [];
  const base = {
    service: 'waste' as const,
    deviceId: point.deviceId,
    ...(point.ward === undefined ? {} : { ward: point.ward }),
    ...(point.site === undefined ? {} : { site: point.site }),
    ...(options.location === undefined ? {} : { location: options.location }),
    openedAt: point.observedAt,
  };

  const level = numericReading(point.readings, 'fillingLevel');
  const collection = active('collection');
  if (level !== undefined && level >= threshold && !collection) {
    open.push(
      openJob({
        ...base,
        kind: 'collection',
        priority: 'routine',
        reason: 'full',
        note: `fillingLevel ${level} at or over ${threshold}`,
      }),
    );
  }
  if (level !== undefined && level < config.emptiedBelow && collection) {
    close.push(
      closeJobByRule(
        collection,
        'emptied',
        `fillingLevel ${level} under ${config.emptiedBelow}`,
        point.observedAt,
      ),
    );
  }

  const status = textReading(point.readings, 'status');
  if (status !== undefined && HAZARD_STATUSES.has(status) && !active('hazard')) {
    open.push(
      openJob({
        ...base,
        kind: 'hazard',
        priority: 'urgent',
        reason: status,
        note: `container reported ${status}`,
      }),
    );
  }
  return { open, close };
}

/** Alert key for a container's hazard alert. */
export function wasteAlertKey(deviceId: string): string {
  return `waste:${deviceId}:hazard`;
}

/** The alert signal a waste event carries, if any: a hazard raises a severe alert, its end clears it. */
export function wasteAlertSignal(event: DomainEvent): AlertSignal | undefined {
  if (event.type === 'waste.hazard') return { kind: 'raise', at: event.observedAt, severity: 'severe' };
  if (event.type === 'waste.hazard-cleared') return { kind: 'clear', at: event.observedAt };
  return undefined;
}

export interface LatLon {
  readonly lat: number;
  readonly lon: number;
}

/** Mean Earth radius (IUGG), km. */
const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance in km (haversine). */
export function haversineKm(a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export interface RoundStop {
  readonly jobId: string;
  readonly deviceId: string;
  /** Distance from the previous stop (the depot for the first), km. */
  readonly legKm: number;
}

export interface CollectionRound {
  readonly ward: string;
  readonly stops: readonly RoundStop[];
  /** Depot to the last stop; the drive back is not counted (crews tip at a transfer station, not the depot). */
  readonly totalKm: number;
  /** Open jobs whose container has no location: listed for the crew, not routed. */
  readonly unlocated: readonly string[];
}

/**
 * The day's collection round for one ward: its open collection jobs ordered by nearest neighbour from the
 * depot. Equal distances are broken by device id, then job id, so the same jobs always give the same round.
 */
export function planCollectionRound(ward: string, depot: LatLon, jobs: readonly Job[]): CollectionRound {
  const candidates = jobs
    .filter((j) => j.service === 'waste' && j.kind === 'collection' && j.status === 'open' && j.ward === ward)
    .sort(byDeviceThenId);
  const remaining = candidates.filter((j) => j.location !== undefined);
  const unlocated = candidates.filter((j) => j.location === undefined).map((j) => j.id);
  const stops: RoundStop[] = [];
  let here: LatLon = depot;
  let totalKm = 0;
  while (remaining.length > 0) {
    let best = 0;
    let bestKm = Number.POSITIVE_INFINITY;
    remaining.forEach((job, index) => {
      const km = haversineKm(here, job.location as LatLon);
      // Strictly shorter only: candidates are pre-sorted, so the first of equal distances wins the tie.
      if (km < bestKm) {
        best = index;
        bestKm = km;
      }
    });
    const [next] = remaining.splice(best, 1);
    if (!next?.location) break;
    stops.push({ jobId: next.id, deviceId: next.deviceId, legKm: bestKm });
    totalKm += bestKm;
    here = next.location;
  }
  return { ward, stops, totalKm, unlocated };
}

function byDeviceThenId(a: Job, b: Job): number {
  return a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
