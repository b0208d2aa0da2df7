import { type AlertNotification, type AlertSignal, applyAlertSignal } from './alerts.js';
import { closeJobByRule, type Job } from './jobs.js';
import type { AlertRecord, WorkflowPorts } from './workflow-ports.js';

/**
 * The steps every workflow shares: apply an alert signal with optimistic concurrency and notify on real
 * transitions only, and apply a job decision idempotently. Blueprints call these instead of talking to the
 * stores directly, so "one alert per incident" and "a replay changes nothing" hold for every service alike.
 */

/** Attempts before giving up on a contended alert or job (the bus then redelivers the event). */
const MAX_ATTEMPTS = 5;
/** Site views are shared by every device of a site (a car park's bays), so they may be contended harder. */
const SITE_ATTEMPTS = 12;

export class ConcurrentUpdateError extends Error {
  override readonly name = 'ConcurrentUpdateError';
}

export interface AlertSubject {
  readonly service: string;
  readonly key: string;
  /** What the alert is about, for a person: used in the record and in every notification. */
  readonly summary: string;
  readonly deviceId?: string;
  readonly site?: string;
  readonly ward?: string;
}

export interface AlertOutcome {
  readonly alert: AlertRecord | undefined;
  /** Notifications sent, in order (a raise after an overdue cool-down sends "cleared" then "opened"). */
  readonly notified: readonly AlertNotification[];
}

/**
 * Applies one signal to the subject's alert. A stored incident keeps its summary while it lasts (the first
 * reading's words describe the incident); a new incident takes the subject's.
 */
export async function applyAlert(
  ports: Pick<WorkflowPorts, 'alerts' | 'notifier'>,
  subject: AlertSubject,
  signal: AlertSignal,
  coolDownSeconds: number,
): Promise<AlertOutcome> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const current = await ports.alerts.current(subject.key);
    const transition = applyAlertSignal(subject.key, current, signal, { coolDownSeconds });
    if (transition.alert === undefined || transition.alert === current) {
      return { alert: current, notified: [] };
    }
    let expected = current;
    if (transition.ended && current) {
      const ended: AlertRecord = { ...subjectFields(current), ...transition.ended };
      if (!(await ports.alerts.save(ended, current))) continue;
      await notify(ports, ended, 'cleared');
      expected = ended;
    }
    const sameIncident = current !== undefined && current.incidentId === transition.alert.incidentId;
    // Only what the alert is about carries over: lifecycle fields the alert machine removed (quietSince) must
    // stay removed, or a replayed raise would count as one more flap.
    // An escalation takes the new words ("severe" instead of "warning"); otherwise the incident keeps its own.
    const base =
      sameIncident && transition.notify !== 'escalated' ? subjectFields(current) : subjectFields(subject);
    // The alert machine's result carries the stored record's fields along; what the alert is about comes last.
    const record: AlertRecord = { ...transition.alert, ...base };
    if (!(await ports.alerts.save(record, expected))) continue;
    const notified: AlertNotification[] = transition.ended ? ['cleared'] : [];
    if (transition.notify) {
      await notify(ports, record, transition.notify);
      notified.push(transition.notify);
    }
    return { alert: record, notified };
  }
  throw new ConcurrentUpdateError(`alert ${subject.key} kept changing under ${MAX_ATTEMPTS} attempts`);
}

function subjectFields(subject: Omit<AlertSubject, 'key'>) {
  return {
    service: subject.service,
    summary: subject.summary,
    ...(subject.deviceId === undefined ? {} : { deviceId: subject.deviceId }),
    ...(subject.site === undefined ? {} : { site: subject.site }),
    ...(subject.ward === undefined ? {} : { ward: subject.ward }),
  };
}

const NOTIFICATION_WORDS: Record<AlertNotification, string> = {
  opened: 'ALERT',
  escalated: 'ALERT ESCALATED',
  cleared: 'Cleared',
};

async function notify(
  ports: Pick<WorkflowPorts, 'notifier'>,
  alert: AlertRecord,
  what: AlertNotification,
): Promise<void> {
  const subject = `${NOTIFICATION_WORDS[what]}: ${alert.summary}`;
  const lines = [
    subject,
    `Service: ${alert.service}`,
    `Severity: ${alert.severity} (peak ${alert.peakSeverity})`,
    `Opened: ${alert.openedAt}`,
    ...(alert.clearedAt ? [`Cleared: ${alert.clearedAt}`] : []),
    ...(alert.site ? [`Site: ${alert.site}`] : []),
    ...(alert.ward ? [`Ward: ${alert.ward}`] : []),
    ...(alert.deviceId ? [`Device: ${alert.deviceId}`] : []),
    `Incident: ${alert.incidentId}`,
  ];
  await ports.notifier.notify(alert.service, subject, lines.join('\n'));
}

/** Sends every active alert of a service a tick, so incidents whose condition stayed away clear. */
export async function tickAlerts(
  ports: Pick<WorkflowPorts, 'alerts' | 'notifier'>,
  service: string,
  at: string,
  coolDownSeconds: number,
): Promise<number> {
  let cleared = 0;
  for (const alert of await ports.alerts.active(service)) {
    if (alert.quietSince === undefined) continue;
    const outcome = await applyAlert(
      ports,
      { service, key: alert.key, summary: alert.summary },
      { kind: 'tick', at },
      coolDownSeconds,
    );
    if (outcome.notified.includes('cleared')) cleared += 1;
  }
  return cleared;
}

export interface JobDecision {
  readonly open: readonly Job[];
  /** Jobs as the rule closed them; re-applied to the stored job so a crew's move in between is kept. */
  readonly close: readonly Job[];
}

export interface JobOutcome {
  readonly opened: readonly Job[];
  readonly closed: readonly Job[];
}

/**
 * Applies a rule's job decision: creates jobs that do not exist yet (a replay finds its job and creates
 * nothing) and closes the stored version of each closed job. Urgent jobs are notified when they open.
 */
export async function applyJobDecision(
  ports: Pick<WorkflowPorts, 'jobs' | 'notifier'>,
  decision: JobDecision,
): Promise<JobOutcome> {
  const opened: Job[] = [];
  const closed: Job[] = [];
  for (const job of decision.open) {
    if (!(await ports.jobs.create(job))) continue;
    opened.push(job);
    if (job.priority === 'urgent') {
      const where = [job.site, job.ward].filter(Boolean).join(', ');
      await ports.notifier.notify(
        job.service,
        `Urgent ${job.kind} job: ${job.deviceId} ${job.reason}`,
        [
          `An urgent ${job.kind} job was opened for ${job.deviceId}${where ? ` (${where})` : ''}.`,
          `Reason: ${job.reason}`,
          `Job: ${job.id}`,
        ].join('\n'),
      );
    }
  }
  for (const wanted of decision.close) {
    const last = wanted.history.at(-1);
    if (!last || !wanted.closedAs || wanted.closedAs === 'completed') continue;
    const done = await closeStored(ports, wanted.id, wanted.closedAs, last.note, last.at);
    if (done) closed.push(done);
  }
  return { opened, closed };
}

async function closeStored(
  ports: Pick<WorkflowPorts, 'jobs'>,
  id: string,
  closedAs: 'emptied' | 'back-online',
  note: string,
  at: string,
): Promise<Job | undefined> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const stored = await ports.jobs.get(id);
    if (!stored || stored.status === 'done') return undefined;
    const next = closeJobByRule(stored, closedAs, note, at);
    if (await ports.jobs.replace(next, stored.updatedAt)) return next;
  }
  throw new ConcurrentUpdateError(`job ${id} kept changing under ${MAX_ATTEMPTS} attempts`);
}

/**
 * Reads a site view, applies `change` and saves it with optimistic concurrency, retrying on conflict. `change`
 * returns undefined to leave the view as it is (e.g. a replayed or stale event).
 */
export async function updateSite<T extends Readonly<Record<string, unknown>>>(
  ports: Pick<WorkflowPorts, 'sites'>,
  service: string,
  site: string,
  change: (
    current: T | undefined,
  ) => { data: T; ward?: string; location?: { lat: number; lon: number } } | undefined,
  at: string,
): Promise<{ readonly before: T | undefined; readonly after: T } | undefined> {
  for (let attempt = 0; attempt < SITE_ATTEMPTS; attempt += 1) {
    // A busy car park gets many spot changes at once: back off a little, at random, so they land in turn.
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    const stored = await ports.sites.get(service, site);
    const before = stored?.data as T | undefined;
    const next = change(before);
    if (!next) return undefined;
    const saved = await ports.sites.save({
      service,
      site,
      version: (stored?.version ?? 0) + 1,
      updatedAt: at,
      ...(next.ward === undefined
        ? stored?.ward === undefined
          ? {}
          : { ward: stored.ward }
        : { ward: next.ward }),
      ...(next.location === undefined
        ? stored?.location === undefined
          ? {}
          : { location: stored.location }
        : { location: next.location }),
      data: next.data,
    });
    if (saved) return { before, after: next.data };
  }
  throw new ConcurrentUpdateError(`site ${service}/${site} kept changing under ${SITE_ATTEMPTS} attempts`);
}
