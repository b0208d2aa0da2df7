import { createHash } from 'node:crypto';
import type { ServiceName } from './domain-events.js';

/**
 * Work orders raised by service rules (a bin to collect, a device to visit). Crews move them
 * open -> scheduled -> done, each step with a note; rules close them automatically when the reading says the
 * work happened (a bin emptied, a device heard again).
 */
export const JOB_STATUSES = ['open', 'scheduled', 'done'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export type JobPriority = 'routine' | 'urgent';

export interface JobHistoryEntry {
  readonly at: string;
  readonly status: JobStatus;
  readonly note: string;
}

export interface Job {
  /** Deterministic: service, device, kind and the observation that opened it (so a replay opens nothing new). */
  readonly id: string;
  readonly service: ServiceName;
  /** What the job is, e.g. `collection`, `hazard`, `maintenance`. At most one active job per device and kind. */
  readonly kind: string;
  readonly deviceId: string;
  readonly ward?: string;
  readonly site?: string;
  readonly location?: { readonly lat: number; readonly lon: number };
  readonly priority: JobPriority;
  readonly status: JobStatus;
  /** Why it was opened, in the council's words (e.g. `full`, `burning`, `offline`). */
  readonly reason: string;
  readonly openedAt: string;
  readonly updatedAt: string;
  /** How a done job ended: by a crew (`completed`) or because the readings showed the work was done. */
  readonly closedAs?: 'completed' | 'emptied' | 'back-online';
  readonly history: readonly JobHistoryEntry[];
}

export class InvalidJobTransitionError extends Error {
  override readonly name = 'InvalidJobTransitionError';
}

/** The only moves a crew may make. */
const NEXT_STATUS: Record<JobStatus, JobStatus | undefined> = {
  open: 'scheduled',
  scheduled: 'done',
  done: undefined,
};

export function jobId(service: ServiceName, deviceId: string, kind: string, openedAt: string): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([service, deviceId, kind, openedAt]))
    .digest('hex');
  return `job_${digest.slice(0, 32)}`;
}

export function isActiveJob(job: Job): boolean {
  return job.status !== 'done';
}

/**
 * The job as it stood at `at`, from its history: a job closed after `at` shows as it was then (open or
 * scheduled); undefined when it was opened after `at`. Rules decide on a reading as the world stood when it was
 * observed, so a replayed `full` from before a collection finds the job that was open then and opens no other.
 */
export function jobAsAt(job: Job, at: string): Job | undefined {
  const then = Date.parse(at);
  if (Date.parse(job.openedAt) > then) return undefined;
  const history = job.history.filter((entry) => Date.parse(entry.at) <= then);
  const last = history.at(-1);
  if (!last || last === job.history.at(-1)) return job;
  const { closedAs: _closedAs, ...rest } = job;
  return { ...rest, status: last.status, updatedAt: last.at, history };
}

export interface NewJob {
  readonly service: ServiceName;
  readonly kind: string;
  readonly deviceId: string;
  readonly ward?: string;
  readonly site?: string;
  readonly location?: { readonly lat: number; readonly lon: number };
  readonly priority: JobPriority;
  readonly reason: string;
  readonly openedAt: string;
  readonly note: string;
}

export function openJob(job: NewJob): Job {
  const { note, ...rest } = job;
  return {
    ...rest,
    id: jobId(job.service, job.deviceId, job.kind, job.openedAt),
    status: 'open',
    updatedAt: job.openedAt,
    history: [{ at: job.openedAt, status: 'open', note }],
  };
}

/**
 * A crew's move (`PATCH /jobs/{id}`): open -> scheduled -> done, with a note. Anything else is refused with an
 * error that says what the job is and what it may become.
 */
export function transitionJob(job: Job, to: JobStatus, note: string, at: string): Job {
  const allowed = NEXT_STATUS[job.status];
  if (to !== allowed) {
    const may = allowed ? `it can only move to ${allowed}` : 'it cannot move any further';
    throw new InvalidJobTransitionError(`job ${job.id} is ${job.status}; ${may} (asked: ${to})`);
  }
  if (note.trim() === '') {
    throw new InvalidJobTransitionError(`moving job ${job.id} to ${to} needs a note`);
  }
  return {
    ...job,
    status: to,
    updatedAt: at,
    ...(to === 'done' ? { closedAs: 'completed' as const } : {}),
    history: [...job.history, { at, status: to, note }],
  };
}

/**
 * A rule closes a job because the readings show the work was done. Allowed from open or scheduled; closing a
 * done job returns it unchanged (a replayed reading must not add a second history entry).
 */
export function closeJobByRule(job: Job, closedAs: 'emptied' | 'back-online', note: string, at: string): Job {
  if (job.status === 'done') return job;
  return {
    ...job,
    status: 'done',
    closedAs,
    updatedAt: at,
    history: [...job.history, { at, status: 'done', note }],
  };
}
