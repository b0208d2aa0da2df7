import type { Device, DeviceDirectory } from '../../lambdas/domain/device.js';
import type { Page, TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { Alert, AlertStatus } from './alerts.js';
import type { Job, JobStatus } from './jobs.js';

/**
 * The ports a service workflow works through. Adapters: DynamoDB + SNS on AWS (lambdas/adapters/), the same
 * DynamoDB adapters plus a log-writing notifier locally, and in-memory ones for the blueprints' tests.
 */
export interface WorkflowPorts {
  readonly jobs: JobBook;
  readonly alerts: AlertBook;
  readonly sites: SiteBoard;
  readonly notifier: ServiceNotifier;
  /** Registry lookups: a job's location, a device's settings. */
  readonly devices: DeviceDirectory;
  /** The whole fleet with each device's newest reading, for sweeps. */
  readonly fleet: DeviceFleet;
}

export interface JobQuery {
  readonly service?: string;
  readonly status?: JobStatus;
  readonly ward?: string;
  readonly limit: number;
  readonly cursor?: string;
}

/** Port: work orders. Writes are conditional, so replays and concurrent workers never double a job. */
export interface JobBook {
  /** Creates the job unless a job with its id exists; false when it did (a replay). */
  create(job: Job): Promise<boolean>;
  /** Replaces the job if it is still as last read (`expectedUpdatedAt`); false when it changed meanwhile. */
  replace(job: Job, expectedUpdatedAt: string): Promise<boolean>;
  get(id: string): Promise<Job | undefined>;
  /**
   * A device's jobs that were not done at `at`, each as it stood then (`jobAsAt` in jobs.ts): what a rule deciding on
   * a reading observed at `at` must see, so a late or replayed reading changes nothing that came after it.
   */
  activeAt(deviceId: string, at: string): Promise<readonly Job[]>;
  /** Newest first. */
  list(query: JobQuery): Promise<Page<Job>>;
}

/** An alert as stored and served: the lifecycle from `alerts.ts` plus what it is about. */
export interface AlertRecord extends Alert {
  readonly service: string;
  /** One line for a person: what happened where (e.g. "River Kennet at Gas Works Road: severe flood level"). */
  readonly summary: string;
  readonly deviceId?: string;
  readonly site?: string;
  readonly ward?: string;
}

export interface AlertQuery {
  readonly service?: string;
  readonly status?: AlertStatus;
  readonly limit: number;
  readonly cursor?: string;
}

/** Port: alerts, one incident per record, found by key (the latest incident) or by incident id. */
export interface AlertBook {
  /** The key's latest incident, whatever its status. */
  current(key: string): Promise<AlertRecord | undefined>;
  /**
   * Saves `alert` as the key's latest incident if the stored one is still `expected` (same incident and
   * `lastSignalAt`, or none when `expected` is undefined); false when another worker changed it first.
   */
  save(alert: AlertRecord, expected: AlertRecord | undefined): Promise<boolean>;
  byIncident(incidentId: string): Promise<AlertRecord | undefined>;
  /** A service's incidents that are not cleared (the schedule ticks them through their cool-down). */
  active(service: string): Promise<readonly AlertRecord[]>;
  /** Newest first. */
  list(query: AlertQuery): Promise<Page<AlertRecord>>;
}

/**
 * A service's current view of one site or device (a car park's occupancy, an air-quality site's band, a
 * counter's congestion): open data is served from these, never computed per request.
 */
export interface SiteRecord {
  readonly service: string;
  readonly site: string;
  /** Starts at 1; every save adds 1. */
  readonly version: number;
  readonly updatedAt: string;
  readonly ward?: string;
  readonly location?: { readonly lat: number; readonly lon: number };
  readonly data: Readonly<Record<string, unknown>>;
}

/** Port: site views with optimistic concurrency. */
export interface SiteBoard {
  get(service: string, site: string): Promise<SiteRecord | undefined>;
  /**
   * Saves the record if the stored version is still `record.version - 1` (absent when `record.version` is 1);
   * false when another worker saved first: read again and re-apply.
   */
  save(record: SiteRecord): Promise<boolean>;
  list(service: string): Promise<readonly SiteRecord[]>;
}

/** Port: tell the service's subscribers (SNS topic per service on AWS; a log and the API locally). */
export interface ServiceNotifier {
  notify(service: string, subject: string, message: string): Promise<void>;
}

/** Port: every registered device with its newest reading (undefined if never heard). */
export interface DeviceFleet {
  devicesWithLatest(): Promise<
    readonly { readonly device: Device; readonly latest: TelemetryPoint | undefined }[]
  >;
}
