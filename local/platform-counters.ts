import type { RefusalReason } from './device-broker.js';

/** Running totals of what the local runtime did since it started; the status line prints their rates. */
export class PlatformCounters {
  /** Publishes that passed the broker and are durably queued. */
  messagesIn = 0;
  /** Telemetry points written to the telemetry table. */
  stored = 0;
  /** Entries written to the quarantine. */
  quarantined = 0;
  /** Broker refusals (TLS, connect, publish, subscribe). */
  refused = 0;
  readonly refusedByReason: Partial<Record<RefusalReason, number>> = {};
  batches = 0;
  /** Batches the handler threw on (the whole batch went back to the queue). */
  failedBatches = 0;
  /** Messages handed back as partial batch failures. */
  retriedMessages = 0;

  refuse(reason: RefusalReason): void {
    this.refused += 1;
    this.refusedByReason[reason] = (this.refusedByReason[reason] ?? 0) + 1;
  }

  snapshot() {
    return {
      messagesIn: this.messagesIn,
      stored: this.stored,
      quarantined: this.quarantined,
      refused: this.refused,
      at: Date.now(),
    };
  }
}

/** What {@link PlatformCounters.snapshot} returns. */
export type CounterSnapshot = ReturnType<PlatformCounters['snapshot']>;

/** One status line: totals and per-second rates since the previous snapshot. */
export function statusLine(previous: CounterSnapshot, current: CounterSnapshot, extra: string): string {
  const seconds = Math.max(0.001, (current.at - previous.at) / 1000);
  const rate = (key: 'messagesIn' | 'stored' | 'quarantined' | 'refused') =>
    `${((current[key] - previous[key]) / seconds).toFixed(1)}/s (${current[key]})`;
  return `in ${rate('messagesIn')} | stored ${rate('stored')} | quarantined ${rate('quarantined')} | refused ${rate('refused')}${extra}`;
}
