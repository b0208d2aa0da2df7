import { type AlertStatus, applyAlertSignal } from '../../services/shared/alerts.js';
import type { ServiceBlueprint } from '../../services/shared/blueprint.js';
import { type Job, type JobStatus, transitionJob } from '../../services/shared/jobs.js';
import type { AlertBook, AlertRecord, JobBook, SiteBoard } from '../../services/shared/workflow-ports.js';
import { InvalidRequestError, NotFoundError } from './city-queries.js';
import type { Page } from './telemetry.js';

/**
 * What the city API asks of the service workflows: jobs, alerts and each service's open data. The stores are
 * the workflows' own ports, so the API and the workflows can never disagree on how a job or alert is kept.
 */
export interface ServiceQueryPorts {
  readonly jobs: JobBook;
  readonly alerts: AlertBook;
  readonly sites: SiteBoard;
  /** The blueprints this deployment runs (config `services`). */
  readonly enabled: readonly ServiceBlueprint[];
}

/** The request would break a rule of the thing it changes (a job moved backwards, a cleared alert acknowledged). */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** Attempts at a conditional write before telling the caller someone else is changing the same thing. */
const MAX_ATTEMPTS = 3;

function requireService(ports: ServiceQueryPorts, service: string | undefined): void {
  if (service === undefined || ports.enabled.some((b) => b.name === service)) return;
  const known = ports.enabled.map((b) => b.name).join(', ') || 'none';
  throw new InvalidRequestError(`service '${service}' is not enabled here; enabled: ${known}`, 'service');
}

export interface JobListRequest {
  readonly service?: string;
  readonly status?: JobStatus;
  readonly ward?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export async function listJobs(ports: ServiceQueryPorts, request: JobListRequest): Promise<Page<Job>> {
  requireService(ports, request.service);
  return ports.jobs.list(request);
}

export async function getJob(ports: ServiceQueryPorts, id: string): Promise<Job> {
  const job = await ports.jobs.get(id);
  if (!job) throw new NotFoundError(`job '${id}' does not exist`);
  return job;
}

/**
 * A crew's move: open -> scheduled -> done with a note, recorded with who made it. A move the job's status does
 * not allow is a conflict that says what the job may become.
 */
export async function moveJob(
  ports: ServiceQueryPorts,
  id: string,
  change: { readonly status: JobStatus; readonly note: string },
  by: string,
  now: Date,
): Promise<Job> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const job = await getJob(ports, id);
    let moved: Job;
    try {
      moved = transitionJob(job, change.status, `${change.note} (by ${by})`, now.toISOString());
    } catch (error) {
      throw new ConflictError((error as Error).message);
    }
    if (await ports.jobs.replace(moved, job.updatedAt)) return moved;
  }
  throw new ConflictError(`job '${id}' is being changed by someone else; read it again and retry`);
}

export interface AlertListRequest {
  readonly service?: string;
  readonly status?: AlertStatus;
  readonly limit: number;
  readonly cursor?: string;
}

export async function listAlerts(
  ports: ServiceQueryPorts,
  request: AlertListRequest,
): Promise<Page<AlertRecord>> {
  requireService(ports, request.service);
  return ports.alerts.list(request);
}

/**
 * Acknowledges an incident: someone is dealing with it. Notifications are not re-sent; acknowledging twice
 * keeps the first acknowledgement; a cleared incident cannot be acknowledged.
 */
export async function acknowledgeAlert(
  ports: ServiceQueryPorts,
  incidentId: string,
  by: string,
  now: Date,
): Promise<AlertRecord> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const alert = await ports.alerts.byIncident(incidentId);
    if (!alert) throw new NotFoundError(`alert '${incidentId}' does not exist`);
    const latest = await ports.alerts.current(alert.key);
    if (latest?.incidentId !== alert.incidentId || alert.status === 'cleared') {
      throw new ConflictError(
        `alert '${incidentId}' was cleared${alert.clearedAt ? ` at ${alert.clearedAt}` : ''}; ` +
          'a cleared alert cannot be acknowledged',
      );
    }
    const transition = applyAlertSignal(alert.key, alert, { kind: 'acknowledge', at: now.toISOString(), by });
    const next = transition.alert;
    if (!next || next === alert) return alert;
    const record: AlertRecord = { ...alert, ...next };
    if (await ports.alerts.save(record, alert)) return record;
  }
  throw new ConflictError(`alert '${incidentId}' is being changed; read it again and retry`);
}

/** A service's open data: its site records through the blueprint's public view. */
export async function openDataOf(
  ports: ServiceQueryPorts,
  blueprint: ServiceBlueprint,
): Promise<{ readonly service: string; readonly items: readonly Readonly<Record<string, unknown>>[] }> {
  const view = blueprint.openData;
  if (!view) throw new NotFoundError(`service '${blueprint.name}' publishes no open data`);
  const records = await ports.sites.list(blueprint.name);
  const items = records.flatMap((record) => {
    const item = view.view(record);
    return item === undefined ? [] : [item];
  });
  return { service: blueprint.name, items };
}
