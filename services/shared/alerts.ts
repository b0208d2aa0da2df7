import { createHash } from 'node:crypto';
import { epochMs } from './domain-events.js';

/**
 * Alert lifecycle, one alert per incident: open -> acknowledged -> cleared.
 *
 * Storm control: an incident is opened (and notified) at once, but cleared only once its condition has stayed
 * away for the cool-down. A raise inside the cool-down returns the same incident to active silently, so a
 * sensor flapping across a threshold gives one "opened" and, when it settles, one "cleared": never fifty.
 * A raise after the incident was cleared opens a new incident.
 *
 * Rules emit events only on change, so after the last `clear` nothing may arrive for hours: the workflow sends
 * a `tick` (its schedule, e.g. every minute) to each alert that is waiting out its cool-down, and the tick
 * clears it once the cool-down has passed.
 *
 * The machine is pure: the caller passes the current state and a signal stamped with the observation time.
 * Signals older than the last one applied are ignored, so replaying signals (at-least-once delivery) changes
 * nothing and notifies nobody twice.
 */
export const ALERT_STATUSES = ['open', 'acknowledged', 'cleared'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export const ALERT_SEVERITIES = ['warning', 'severe'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** Default cool-down: the condition must stay away this long before an incident is cleared. */
export const DEFAULT_ALERT_COOL_DOWN_SECONDS = 900;

export interface Alert {
  /** Deterministic: the alert key and the time the incident opened. */
  readonly incidentId: string;
  /** What the alert is about, e.g. `flood:gauge-7:level` or `air-quality:site-3:daqi`. One incident at a time. */
  readonly key: string;
  readonly status: AlertStatus;
  readonly severity: AlertSeverity;
  /** The highest severity notified during this incident; only a raise above it notifies again. */
  readonly peakSeverity: AlertSeverity;
  readonly openedAt: string;
  readonly acknowledgedAt?: string;
  readonly acknowledgedBy?: string;
  readonly clearedAt?: string;
  /** When the condition went away while the incident is still active; absent while the condition holds. */
  readonly quietSince?: string;
  /** How many times the condition came back inside the cool-down (flaps absorbed without a notification). */
  readonly flaps: number;
  /** Time of the last signal applied, to ignore late or replayed signals. */
  readonly lastSignalAt: string;
}

export type AlertSignal =
  | { readonly kind: 'raise'; readonly at: string; readonly severity?: AlertSeverity }
  | { readonly kind: 'clear'; readonly at: string }
  | { readonly kind: 'tick'; readonly at: string }
  | { readonly kind: 'acknowledge'; readonly at: string; readonly by: string };

export type AlertNotification = 'opened' | 'escalated' | 'cleared';

export interface AlertTransition {
  /** The alert after the signal; undefined when there was none and the signal created none. */
  readonly alert: Alert | undefined;
  /** What to tell subscribers, if anything. */
  readonly notify?: AlertNotification;
  /**
   * Set when a raise found the previous incident quiet for longer than the cool-down (no tick cleared it in
   * time): that incident, now cleared. Send its "cleared" before the new incident's "opened".
   */
  readonly ended?: Alert;
}

export class InvalidAlertTransitionError extends Error {
  override readonly name = 'InvalidAlertTransitionError';
}

export interface AlertOptions {
  readonly coolDownSeconds?: number;
}

const SEVERITY_RANK: Record<AlertSeverity, number> = { warning: 1, severe: 2 };

export function incidentId(key: string, openedAt: string): string {
  return `alr_${createHash('sha256')
    .update(JSON.stringify([key, openedAt]))
    .digest('hex')
    .slice(0, 32)}`;
}

function isActive(alert: Alert | undefined): alert is Alert {
  return alert !== undefined && alert.status !== 'cleared';
}

/** Applies one signal to an alert key's current alert (the latest incident, or undefined). */
export function applyAlertSignal(
  key: string,
  current: Alert | undefined,
  signal: AlertSignal,
  options: AlertOptions = {},
): AlertTransition {
  const coolDownMs = (options.coolDownSeconds ?? DEFAULT_ALERT_COOL_DOWN_SECONDS) * 1000;
  const at = epochMs(signal.at);

  if (signal.kind === 'acknowledge') return acknowledge(current, signal);
  // Late or replayed signals: the state already reflects something newer (or this very signal).
  if (current && at < epochMs(current.lastSignalAt)) return { alert: current };

  if (signal.kind === 'raise') {
    const severity = signal.severity ?? 'warning';
    const overdue = isActive(current) && quietFor(current, at) >= coolDownMs;
    if (!isActive(current) || overdue) {
      const opened: Alert = {
        incidentId: incidentId(key, signal.at),
        key,
        status: 'open',
        severity,
        peakSeverity: severity,
        openedAt: signal.at,
        flaps: 0,
        lastSignalAt: signal.at,
      };
      if (overdue && current) return { alert: opened, notify: 'opened', ended: cleared(current, signal.at) };
      return { alert: opened, notify: 'opened' };
    }
    const { quietSince: _quiet, ...rest } = current;
    const escalated = SEVERITY_RANK[severity] > SEVERITY_RANK[current.peakSeverity];
    const next: Alert = {
      ...rest,
      severity,
      peakSeverity: escalated ? severity : current.peakSeverity,
      flaps: current.quietSince === undefined ? current.flaps : current.flaps + 1,
      lastSignalAt: signal.at,
    };
    return escalated ? { alert: next, notify: 'escalated' } : { alert: next };
  }

  if (!isActive(current)) return { alert: current };
  if (signal.kind === 'tick') {
    if (quietFor(current, at) >= coolDownMs) return { alert: cleared(current, signal.at), notify: 'cleared' };
    return { alert: current };
  }
  // clear
  const quietSince = current.quietSince ?? signal.at;
  if (at - epochMs(quietSince) >= coolDownMs)
    return { alert: cleared(current, signal.at), notify: 'cleared' };
  return { alert: { ...current, quietSince, lastSignalAt: signal.at } };
}

/** How long an active alert's condition has been away at `at`; -1 while it holds. */
function quietFor(alert: Alert, at: number): number {
  return alert.quietSince === undefined ? -1 : at - epochMs(alert.quietSince);
}

/** The incident, cleared by the signal at `at`. */
function cleared(alert: Alert, at: string): Alert {
  const { quietSince: _quiet, ...rest } = alert;
  return { ...rest, status: 'cleared', clearedAt: at, lastSignalAt: at };
}

function acknowledge(
  current: Alert | undefined,
  signal: Extract<AlertSignal, { kind: 'acknowledge' }>,
): AlertTransition {
  if (!current) throw new InvalidAlertTransitionError('there is no alert to acknowledge');
  if (current.status === 'cleared') {
    throw new InvalidAlertTransitionError(
      `alert ${current.incidentId} was cleared at ${current.clearedAt}; a cleared alert cannot be acknowledged`,
    );
  }
  // Acknowledging twice is a no-op: the first acknowledgement (who and when) stands.
  if (current.status === 'acknowledged') return { alert: current };
  return {
    alert: { ...current, status: 'acknowledged', acknowledgedAt: signal.at, acknowledgedBy: signal.by },
  };
}
