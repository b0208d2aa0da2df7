import type { TelemetryPoint } from './telemetry.js';

/** What a device's latest state holds now: its observation time and a fingerprint of its readings. */
export interface WrittenState {
  readonly observedAt: string;
  readonly fingerprint: string;
}

/** Readings and battery in a stable form, so two points with the same values compare equal. */
export function stateFingerprint(point: Pick<TelemetryPoint, 'readings' | 'battery'>): string {
  const keys = Object.keys(point.readings).sort();
  return JSON.stringify([keys.map((k) => [k, point.readings[k]]), point.battery ?? null]);
}

/**
 * Write-on-change: a device's latest state is rewritten only when its readings changed, or when the stored
 * observation time would otherwise fall more than `refreshSeconds` behind. A parking bay that stays occupied all
 * afternoon then costs one write per refresh period instead of one per message, and "last heard" stays within
 * the refresh period (offline detection must allow for it).
 */
export function needsLatestStateWrite(
  previous: WrittenState | undefined,
  next: Pick<TelemetryPoint, 'readings' | 'battery' | 'observedAt'>,
  refreshSeconds: number,
): boolean {
  if (!previous) return true;
  if (next.observedAt <= previous.observedAt) return false;
  if (stateFingerprint(next) !== previous.fingerprint) return true;
  return (
    new Date(next.observedAt).getTime() - new Date(previous.observedAt).getTime() >= refreshSeconds * 1000
  );
}

/**
 * How long a device may go unheard before it counts as offline: three missed readings, and never less than the
 * refresh period plus one interval, because write-on-change lets a device's stored "last heard" lag by up to the
 * refresh period while its readings do not change.
 */
export function offlineAfterSeconds(messageIntervalSeconds: number, refreshSeconds: number): number {
  return Math.max(3 * messageIntervalSeconds, refreshSeconds + messageIntervalSeconds);
}
