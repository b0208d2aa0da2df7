import type { Device } from '../../lambdas/domain/device.js';
import type { Page, TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { isActiveJob, type Job, jobAsAt } from './jobs.js';
import type {
  AlertBook,
  AlertQuery,
  AlertRecord,
  DeviceFleet,
  JobBook,
  JobQuery,
  ServiceNotifier,
  SiteBoard,
  SiteRecord,
  WorkflowPorts,
} from './workflow-ports.js';

/**
 * In-memory workflow ports with the same conditional semantics as the DynamoDB adapters: the blueprints' tests
 * run their workflows against these, and the adapter tests hold the DynamoDB ones to the same behaviour.
 */
export class InMemoryJobBook implements JobBook {
  readonly jobs = new Map<string, Job>();

  async create(job: Job): Promise<boolean> {
    if (this.jobs.has(job.id)) return false;
    this.jobs.set(job.id, job);
    return true;
  }

  async replace(job: Job, expectedUpdatedAt: string): Promise<boolean> {
    const stored = this.jobs.get(job.id);
    if (!stored || stored.updatedAt !== expectedUpdatedAt) return false;
    this.jobs.set(job.id, job);
    return true;
  }

  async get(id: string): Promise<Job | undefined> {
    return this.jobs.get(id);
  }

  async activeAt(deviceId: string, at: string): Promise<readonly Job[]> {
    return [...this.jobs.values()]
      .filter((j) => j.deviceId === deviceId)
      .flatMap((j) => {
        const then = jobAsAt(j, at);
        return then && isActiveJob(then) ? [then] : [];
      });
  }

  async list(query: JobQuery): Promise<Page<Job>> {
    const all = [...this.jobs.values()]
      .filter(
        (j) =>
          (query.service === undefined || j.service === query.service) &&
          (query.status === undefined || j.status === query.status) &&
          (query.ward === undefined || j.ward === query.ward),
      )
      .sort((a, b) => (a.openedAt < b.openedAt ? 1 : a.openedAt > b.openedAt ? -1 : a.id < b.id ? 1 : -1));
    return pageOf(all, query.limit, query.cursor);
  }
}

export class InMemoryAlertBook implements AlertBook {
  /** Every incident, by incident id. */
  readonly incidents = new Map<string, AlertRecord>();
  private readonly latest = new Map<string, string>();

  async current(key: string): Promise<AlertRecord | undefined> {
    return this.latestOf(key);
  }

  async save(alert: AlertRecord, expected: AlertRecord | undefined): Promise<boolean> {
    // Read and write without an await between them, as one conditional write: awaiting the read would let
    // another worker's save slip in between, and both would win.
    const stored = this.latestOf(alert.key);
    const same =
      stored === undefined
        ? expected === undefined
        : expected !== undefined &&
          stored.incidentId === expected.incidentId &&
          stored.lastSignalAt === expected.lastSignalAt &&
          stored.status === expected.status;
    if (!same) return false;
    this.incidents.set(alert.incidentId, alert);
    this.latest.set(alert.key, alert.incidentId);
    return true;
  }

  private latestOf(key: string): AlertRecord | undefined {
    const id = this.latest.get(key);
    return id === undefined ? undefined : this.incidents.get(id);
  }

  async byIncident(incidentId: string): Promise<AlertRecord | undefined> {
    return this.incidents.get(incidentId);
  }

  async active(service: string): Promise<readonly AlertRecord[]> {
    return [...this.incidents.values()].filter((a) => a.service === service && a.status !== 'cleared');
  }

  async list(query: AlertQuery): Promise<Page<AlertRecord>> {
    const all = [...this.incidents.values()]
      .filter(
        (a) =>
          (query.service === undefined || a.service === query.service) &&
          (query.status === undefined || a.status === query.status),
      )
      .sort((a, b) => (a.openedAt < b.openedAt ? 1 : a.openedAt > b.openedAt ? -1 : 0));
    return pageOf(all, query.limit, query.cursor);
  }
}

export class InMemorySiteBoard implements SiteBoard {
  readonly records = new Map<string, SiteRecord>();

  async get(service: string, site: string): Promise<SiteRecord | undefined> {
    return this.records.get(`${service}/${site}`);
  }

  async save(record: SiteRecord): Promise<boolean> {
    // No await between the version check and the write (see InMemoryAlertBook.save).
    const stored = this.records.get(`${record.service}/${record.site}`);
    if ((stored?.version ?? 0) !== record.version - 1) return false;
    this.records.set(`${record.service}/${record.site}`, record);
    return true;
  }

  async list(service: string): Promise<readonly SiteRecord[]> {
    return [...this.records.values()]
      .filter((r) => r.service === service)
      .sort((a, b) => (a.site < b.site ? -1 : 1));
  }
}

export class RecordingNotifier implements ServiceNotifier {
  readonly sent: { service: string; subject: string; message: string }[] = [];

  async notify(service: string, subject: string, message: string): Promise<void> {
    this.sent.push({ service, subject, message });
  }
}

export class InMemoryFleet implements DeviceFleet {
  readonly devices = new Map<string, Device>();
  readonly latest = new Map<string, TelemetryPoint>();

  async devicesWithLatest() {
    return [...this.devices.values()].map((device) => ({ device, latest: this.latest.get(device.deviceId) }));
  }

  async findMany(deviceIds: readonly string[]): Promise<ReadonlyMap<string, Device>> {
    return new Map(
      deviceIds.flatMap((id) => (this.devices.has(id) ? [[id, this.devices.get(id) as Device]] : [])),
    );
  }
}

export interface InMemoryWorkflowPorts extends WorkflowPorts {
  readonly jobs: InMemoryJobBook;
  readonly alerts: InMemoryAlertBook;
  readonly sites: InMemorySiteBoard;
  readonly notifier: RecordingNotifier;
  readonly fleet: InMemoryFleet;
}

export function inMemoryWorkflowPorts(devices: readonly Device[] = []): InMemoryWorkflowPorts {
  const fleet = new InMemoryFleet();
  for (const device of devices) fleet.devices.set(device.deviceId, device);
  return {
    jobs: new InMemoryJobBook(),
    alerts: new InMemoryAlertBook(),
    sites: new InMemorySiteBoard(),
    notifier: new RecordingNotifier(),
    devices: fleet,
    fleet,
  };
}

function pageOf<T>(items: readonly T[], limit: number, cursor: string | undefined): Page<T> {
  const start = cursor === undefined ? 0 : Number(cursor);
  const slice = items.slice(start, start + limit);
  const next = start + limit < items.length ? String(start + limit) : undefined;
  return { items: slice, ...(next === undefined ? {} : { nextCursor: next }) };
}
