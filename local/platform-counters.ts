import type { Lane } from '../lambdas/contracts/topics.js';
import type { RefusalReason } from './device-broker.js';

/** Running totals of what the local runtime did since it started; the status line prints their rates. */
export class PlatformCounters {
  /** Publishes that passed the broker and are durably queued. */
  messagesIn = 0;
  readonly messagesInByLane: Partial<Record<Lane, number>> = {};
  /**
   * Publishes acknowledged to the device but dropped because the lane's rule was disabled (cost guard tier stop),
   * as IoT Core drops them: never queued, never stored. Counted so that nothing is dropped silently.
   */
  notCollected = 0;
  readonly notCollectedByLane: Partial<Record<Lane, number>> = {};
  /** Valid readings the enrichment left out while the cost guard sampled their lane (tier degrade). */
  sampledOut = 0;
  readonly sampledOutByLane: Partial<Record<Lane, number>> = {};
  /** Redeliveries recognised as already stored. */
  duplicates = 0;
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

  accept(lane: Lane): void {
    this.messagesIn += 1;
    this.messagesInByLane[lane] = (this.messagesInByLane[lane] ?? 0) + 1;
  }

  dropNotCollected(lane: Lane): void {
    this.notCollected += 1;
    this.notCollectedByLane[lane] = (this.notCollectedByLane[lane] ?? 0) + 1;
  }

  sample(lane: Lane, sampledOut: number): void {
    if (sampledOut <= 0) return;
    this.sampledOut += sampledOut;
    this.sampledOutByLane[lane] = (this.sampledOutByLane[lane] ?? 0) + sampledOut;
  }

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
      notCollected: this.notCollected,
      sampledOut: this.sampledOut,
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
  // Only while the cost guard has done something: readings sampled out (degrade) and not collected (stop).
  const guard =
    (current.sampledOut > 0 ? ` | sampled out ${current.sampledOut}` : '') +
    (current.notCollected > 0 ? ` | not collected ${current.notCollected}` : '');
  return `in ${rate('messagesIn')} | stored ${rate('stored')} | quarantined ${rate('quarantined')} | refused ${rate('refused')}${guard}${extra}`;
}
