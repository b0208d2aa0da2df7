import type { Device } from '../../lambdas/domain/device.js';
import { DEFAULT_ALERT_COOL_DOWN_SECONDS } from '../shared/alerts.js';
import {
  deviceSetting,
  type ServiceContext,
  type ServiceWorkflow,
  serviceSetting,
  type WorkflowContext,
} from '../shared/blueprint.js';
import { type DomainEvent, textReading } from '../shared/domain-events.js';
import type { Job } from '../shared/jobs.js';
import type { JobBook, WorkflowPorts } from '../shared/workflow-ports.js';
import { applyAlert, applyJobDecision, tickAlerts, updateSite } from '../shared/workflow-steps.js';
import {
  type LatLon,
  planCollectionRound,
  WASTE_DEFAULTS,
  wasteAlertKey,
  wasteAlertSignal,
  wasteJobDecision,
} from './rules.js';

const SERVICE = 'waste';

/** The events this workflow acts on; the detector emits exactly these. */
export const WASTE_EVENT_TYPES = [
  'waste.full',
  'waste.emptied',
  'waste.hazard',
  'waste.hazard-cleared',
] as const;

/** Service settings this workflow reads (config `serviceSettings.waste`), with their defaults in the README. */
export const WASTE_SETTINGS = {
  alertCoolDownSeconds: 'alertCoolDownSeconds',
  depotLat: 'depotLat',
  depotLon: 'depotLon',
  roundPlannedAtHourUtc: 'roundPlannedAtHourUtc',
} as const;

/**
 * The day's rounds are planned at the first schedule run after this hour (UTC): 05:00 UTC is 05:00 or 06:00 in
 * the UK, before crews start, and late enough that bins which filled overnight are in the round.
 */
export const DEFAULT_ROUND_PLANNED_AT_HOUR_UTC = 5;

const DAY_SECONDS = 86_400;

/** Site record (service `waste`) that remembers which day's rounds were planned, so a rerun plans nothing. */
export const ROUND_PLAN_MARKER_SITE = 'rounds:last-planned';

/** The site record of one ward's round. */
export function roundSite(ward: string): string {
  return `round:${ward}`;
}

/** One stop of a ward's round, as a crew reads it. */
export interface RoundStopRecord {
  /** 1 for the first bin after the depot. */
  readonly order: number;
  readonly jobId: string;
  readonly deviceId: string;
  readonly site?: string;
  readonly location: LatLon;
  /** From the previous stop (the depot for the first), km, to the metre. */
  readonly legKm: number;
  /** From the depot to this stop along the round, km. */
  readonly cumulativeKm: number;
  /** When the bin was reported full (the job's opening). */
  readonly fullSince: string;
}

/** A ward's collection round (site record `round:<ward>`, `data`). */
export interface CollectionRoundRecord extends Readonly<Record<string, unknown>> {
  readonly ward: string;
  /** When this round was worked out (the schedule run's time). */
  readonly plannedAt: string;
  /** Start of the day (period) the round is for; at `--speed N` a "day" lasts 86400 / N seconds. */
  readonly roundFor: string;
  /**
   * Where the round starts. `configured`: the `depotLat`/`depotLon` settings. `centroid-of-jobs`: no depot is
   * configured, so the round starts from the middle of the ward's located jobs (say so to the crew: the first
   * leg is not from their yard). Null when neither exists (no depot set and no located job).
   */
  readonly depot: { readonly lat: number; readonly lon: number; readonly source: DepotSource } | null;
  readonly stops: readonly RoundStopRecord[];
  readonly stopCount: number;
  /** Depot to the last stop, km; the drive back is not counted (crews tip at a transfer station). */
  readonly totalKm: number;
  /** Open collection jobs whose bin has no location: the crew must find these themselves. */
  readonly unlocated: readonly {
    readonly jobId: string;
    readonly deviceId: string;
    readonly site?: string;
  }[];
}

export type DepotSource = 'configured' | 'centroid-of-jobs';

interface RoundPlanMarker extends Readonly<Record<string, unknown>> {
  readonly roundFor: string;
  readonly plannedAt: string;
  readonly wards: readonly string[];
}

/** Cool-down for hazard alerts, in real seconds (the configured value is in simulated seconds). */
export function wasteCoolDownSeconds(context: ServiceContext): number {
  return (
    serviceSetting(context, WASTE_SETTINGS.alertCoolDownSeconds, DEFAULT_ALERT_COOL_DOWN_SECONDS) /
    context.timeScale
  );
}

/**
 * The start of the round period `now` falls in. A period is a day (86400 s divided by the time scale) starting
 * at the planning hour; at time scale 1 it is the calendar day (UTC) from 05:00.
 */
export function roundPeriodStart(now: Date, context: ServiceContext): string {
  const periodMs = (DAY_SECONDS * 1000) / context.timeScale;
  const hour = serviceSetting(
    context,
    WASTE_SETTINGS.roundPlannedAtHourUtc,
    DEFAULT_ROUND_PLANNED_AT_HOUR_UTC,
  );
  const offsetMs = (hour * 3600 * 1000) / context.timeScale;
  const start = Math.floor((now.getTime() - offsetMs) / periodMs) * periodMs + offsetMs;
  return new Date(start).toISOString();
}

/** "Bin waste-0007 on Broad Street reported burning": what an officer reads in the alert and its e-mails. */
export function hazardSummary(event: DomainEvent): string {
  const status = textReading(event.readings, 'status') ?? 'a hazard';
  const where = event.site ? ` on ${event.site}` : event.ward ? ` in ward ${event.ward}` : '';
  return `Bin ${event.deviceId}${where} reported ${status}`;
}

/**
 * Waste collection workflow: full and emptied bins open and close collection jobs, hazards open urgent jobs and
 * a severe alert, and once a day each ward's open collection jobs become a round.
 */
export const wasteWorkflow: ServiceWorkflow = {
  async onEvent(event, ports, context) {
    if (!(WASTE_EVENT_TYPES as readonly string[]).includes(event.type)) return;
    if (event.type !== 'waste.hazard-cleared') await applyWasteJobs(event, ports);
    const signal = wasteAlertSignal(event);
    if (signal) {
      await applyAlert(
        ports,
        {
          service: SERVICE,
          key: wasteAlertKey(event.deviceId),
          summary: hazardSummary(event),
          deviceId: event.deviceId,
          ...(event.site === undefined ? {} : { site: event.site }),
          ...(event.ward === undefined ? {} : { ward: event.ward }),
        },
        signal,
        wasteCoolDownSeconds(context),
      );
    }
  },

  async onSchedule(ports, context) {
    await tickAlerts(ports, SERVICE, context.now.toISOString(), wasteCoolDownSeconds(context));
    await planDailyRounds(ports, context);
  },
};

async function applyWasteJobs(event: DomainEvent, ports: WorkflowPorts): Promise<void> {
  const [active, devices] = await Promise.all([
    // As the container stood when the event was observed: a late or replayed `emptied` must not close a job
    // opened by a later `full`, and a replayed `full` finds the job that was open then, even if it is done now.
    ports.jobs.activeAt(event.deviceId, event.observedAt),
    ports.devices.findMany([event.deviceId]),
  ]);
  const device: Device | undefined = devices.get(event.deviceId);
  const decision = wasteJobDecision(active, event, {
    container: { fullThreshold: deviceSetting(device, 'fullThreshold', WASTE_DEFAULTS.fullThreshold) },
    ...(device === undefined ? {} : { location: device.location }),
  });
  await applyJobDecision(ports, decision);
}

/**
 * Plans every ward's round once per day. The marker record is written last, so a run that fails halfway is
 * repeated by the next schedule run; a rerun in the same day finds the marker and plans nothing.
 */
export async function planDailyRounds(
  ports: WorkflowPorts,
  context: WorkflowContext,
): Promise<{ readonly planned: boolean; readonly rounds: readonly CollectionRoundRecord[] }> {
  const roundFor = roundPeriodStart(context.now, context);
  const marker = (await ports.sites.get(SERVICE, ROUND_PLAN_MARKER_SITE))?.data as
    | RoundPlanMarker
    | undefined;
  if (marker !== undefined && marker.roundFor >= roundFor) return { planned: false, rounds: [] };

  const plannedAt = context.now.toISOString();
  const open = await openCollectionJobs(ports.jobs);
  const byWard = new Map<string, Job[]>();
  for (const job of open) {
    // A job with no ward belongs to no round; the registry should give every bin its ward.
    if (job.ward === undefined) continue;
    byWard.set(job.ward, [...(byWard.get(job.ward) ?? []), job]);
  }
  // Wards with yesterday's round and no open job today get an empty round, so no crew follows a stale one.
  for (const record of await ports.sites.list(SERVICE)) {
    if (record.site.startsWith('round:') && record.ward !== undefined && !byWard.has(record.ward)) {
      byWard.set(record.ward, []);
    }
  }

  const depot = configuredDepot(context);
  const rounds: CollectionRoundRecord[] = [];
  for (const ward of [...byWard.keys()].sort()) {
    const round = collectionRoundRecord(ward, byWard.get(ward) ?? [], depot, roundFor, plannedAt);
    await updateSite<CollectionRoundRecord>(
      ports,
      SERVICE,
      roundSite(ward),
      (current) =>
        current?.roundFor === roundFor
          ? undefined
          : {
              data: round,
              ward,
              ...(round.depot ? { location: { lat: round.depot.lat, lon: round.depot.lon } } : {}),
            },
      plannedAt,
    );
    rounds.push(round);
  }

  await updateSite<RoundPlanMarker>(
    ports,
    SERVICE,
    ROUND_PLAN_MARKER_SITE,
    (current) =>
      current !== undefined && current.roundFor >= roundFor
        ? undefined
        : { data: { roundFor, plannedAt, wards: rounds.map((r) => r.ward) } },
    plannedAt,
  );
  return { planned: true, rounds };
}

function configuredDepot(context: ServiceContext): LatLon | undefined {
  const lat = serviceSetting(context, WASTE_SETTINGS.depotLat, Number.NaN);
  const lon = serviceSetting(context, WASTE_SETTINGS.depotLon, Number.NaN);
  return Number.isNaN(lat) || Number.isNaN(lon) ? undefined : { lat, lon };
}

/**
 * Mean position of the located jobs, to six decimals (10 cm): a ward spans a few km, where averaging degrees is
 * accurate enough.
 */
function centroid(jobs: readonly Job[]): LatLon | undefined {
  const located = jobs.flatMap((j) => (j.location ? [j.location] : []));
  if (located.length === 0) return undefined;
  const sum = located.reduce((acc, l) => ({ lat: acc.lat + l.lat, lon: acc.lon + l.lon }), {
    lat: 0,
    lon: 0,
  });
  const sixDecimals = (value: number) => Math.round(value * 1e6) / 1e6;
  return { lat: sixDecimals(sum.lat / located.length), lon: sixDecimals(sum.lon / located.length) };
}

/** Km to the metre: finer digits are noise for a crew and only make records differ. */
function km(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** A ward's round as the crew's record: ordered stops with where to go and how far, and the bins to find. */
export function collectionRoundRecord(
  ward: string,
  jobs: readonly Job[],
  configured: LatLon | undefined,
  roundFor: string,
  plannedAt: string,
): CollectionRoundRecord {
  const estimated = configured === undefined ? centroid(jobs.filter((j) => j.ward === ward)) : undefined;
  const depot = configured ?? estimated;
  // No depot means no located job either, so nothing is routed from the stand-in origin: every job is unlocated.
  const round = planCollectionRound(ward, depot ?? { lat: 0, lon: 0 }, jobs);
  const byId = new Map(jobs.map((j) => [j.id, j]));
  let cumulative = 0;
  const stops = round.stops.map((stop, index): RoundStopRecord => {
    const job = byId.get(stop.jobId) as Job;
    cumulative += stop.legKm;
    return {
      order: index + 1,
      jobId: stop.jobId,
      deviceId: stop.deviceId,
      ...(job.site === undefined ? {} : { site: job.site }),
      location: job.location as LatLon,
      legKm: km(stop.legKm),
      cumulativeKm: km(cumulative),
      fullSince: job.openedAt,
    };
  });
  return {
    ward,
    plannedAt,
    roundFor,
    depot: depot === undefined ? null : { ...depot, source: configured ? 'configured' : 'centroid-of-jobs' },
    stops,
    stopCount: stops.length,
    totalKm: km(round.totalKm),
    unlocated: round.unlocated.map((id) => {
      const job = byId.get(id) as Job;
      return { jobId: id, deviceId: job.deviceId, ...(job.site === undefined ? {} : { site: job.site }) };
    }),
  };
}

/** Every open collection job, all pages (the round is planned once a day, so reading them all is cheap). */
async function openCollectionJobs(jobs: JobBook): Promise<Job[]> {
  const all: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await jobs.list({
      service: SERVICE,
      status: 'open',
      limit: 100,
      ...(cursor === undefined ? {} : { cursor }),
    });
    all.push(...page.items.filter((j) => j.kind === 'collection'));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return all;
}
