import type { ReasonCode } from '../contracts/reason-codes.js';
import type { Page } from './telemetry.js';

/** A message that was not stored, kept with why and what it was. */
export interface QuarantineEntry {
  readonly reason: ReasonCode;
  /** Human-readable: which field, which value, what is allowed. */
  readonly detail: string;
  /** Device id from the topic, or `unknown` when the message did not say. */
  readonly deviceId: string;
  readonly deviceType?: string;
  readonly clientId?: string;
  readonly messageId?: string;
  readonly receivedAt: string;
  /** Unique per received message, so a redelivered queue message overwrites its own entry. */
  readonly sourceId: string;
  /** The raw payload (UTF-8, or base64 when it was not text), cut to a bounded size. */
  readonly payload: string;
  readonly payloadEncoding: 'utf8' | 'base64';
  readonly payloadBytes: number;
  readonly payloadTruncated: boolean;
}

export interface QuarantineQuery {
  readonly reason?: ReasonCode;
  readonly from: string;
  readonly to: string;
  readonly limit: number;
  readonly cursor?: string;
}

/** Port: the quarantine. */
export interface QuarantineStore {
  /** Returns input indexes to retry. */
  put(entries: readonly QuarantineEntry[]): Promise<readonly number[]>;
  list(query: QuarantineQuery): Promise<Page<QuarantineEntry>>;
}
