import { randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** A message as the queue hands it to a consumer, with SQS's bookkeeping. */
export interface ReceivedMessage {
  readonly messageId: string;
  /** New for every receive, as in SQS. */
  readonly receiptHandle: string;
  readonly body: string;
  /** Epoch ms when the message was first sent (kept when it moves to the dead-letter queue). */
  readonly sentTimestamp: number;
  /** How many times the message has been handed out, this receive included. */
  readonly receiveCount: number;
  readonly firstReceiveTimestamp: number;
}

/** Options for {@link DurableQueue.open}. */
export interface DurableQueueOptions {
  /** Queue name (the lane, or `<lane>-dlq`). */
  readonly name: string;
  /** Directory holding the journal file `<name>.journal`. */
  readonly directory: string;
  /** How long a received message that was not deleted stays invisible. */
  readonly visibilityTimeoutMs: number;
  /** Receives after which a failed message moves to {@link deadLetterQueue}. */
  readonly maxReceiveCount?: number;
  /** Where messages go after `maxReceiveCount` failed receives; without one they are retried forever. */
  readonly deadLetterQueue?: DurableQueue;
  /**
   * Rewrite the journal when this many records are dead and they outnumber live messages four to one, so the
   * file tracks the backlog instead of the total ever sent. @default 50_000
   */
  readonly compactAfterDeadRecords?: number;
  /** Where the queue reports failures no caller sees (a move to the dead-letter queue that failed on receive). */
  readonly log?: (line: string) => void;
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp: number;
  state: 'sending' | 'ready' | 'inFlight' | 'delayed' | 'moving';
  visibleAt: number;
}

/**
 * Journal records, one JSON object a line: send, delete, receive (the new receive count and first receive time).
 * Short keys keep lines small.
 */
type JournalRecord =
  | { s: string; t: number; b: string; n?: number; f?: number }
  | { d: string }
  | { r: string; n: number; f: number };

interface PendingWrite {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * A durable, SQS-like queue for one lane of the local runtime: at-least-once delivery, visibility timeout,
 * receive counts and a dead-letter queue.
 *
 * Durability: every change is appended to a journal file (`<name>.journal`, JSON lines) and `send` resolves only
 * after the line is on disk (fdatasync). Writes are group-committed: whatever arrives while one fdatasync runs goes
 * into the next, so the cost of a sync is shared by every message that waited for it and throughput does not depend
 * on the disk's sync latency. On open the journal is replayed and rewritten with only the live messages.
 *
 * Deletes are journalled with the same group commit; a delete lost in a crash only means a redelivery, which the
 * enrichment step's dedupe absorbs (the store refuses a message id it already holds), exactly as with SQS's
 * at-least-once delivery. Receives are journalled
 * with it too, before the messages are handed out, so a message whose processing kills the process is still counted
 * and reaches the dead-letter queue after `maxReceiveCount` receives, however often the process restarts.
 */
export class DurableQueue {
  private readonly messages = new Map<string, StoredMessage>();
  /** Visible messages in arrival order; ids may be stale (deleted or in flight) and are skipped on receive. */
  private ready: string[] = [];
  private readyHead = 0;
  private readyCount = 0;
  private delayed: StoredMessage[] = [];
  private delayTimer: NodeJS.Timeout | undefined;
  private pending: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  private deadRecords = 0;
  private closed = false;
  /** Moves to the dead-letter queue started by `receive`; `close` waits for them. */
  private readonly moves = new Set<Promise<void>>();
  private readonly listeners = new Set<() => void>();
  private readonly journalPath: string;
  private readonly maxReceiveCount: number;
  private readonly compactAfter: number;

  private constructor(
    private readonly options: DurableQueueOptions,
    private handle: FileHandle,
  ) {
    this.journalPath = path.join(options.directory, `${options.name}.journal`);
    this.maxReceiveCount = options.maxReceiveCount ?? Number.POSITIVE_INFINITY;
    this.compactAfter = options.compactAfterDeadRecords ?? 50_000;
  }

  /** Opens (or creates) the queue, replaying its journal: every message not deleted is visible again. */
  static async open(options: DurableQueueOptions): Promise<DurableQueue> {
    await mkdir(options.directory, { recursive: true });
    const journal = path.join(options.directory, `${options.name}.journal`);
    let text = '';
    try {
      text = await readFile(journal, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const replayed = new Map<string, StoredMessage>();
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      let record: JournalRecord;
      try {
        record = JSON.parse(line) as JournalRecord;
      } catch {
        // Only the last line can be torn (a crash mid-append); it was never acknowledged, so skipping it is right.
        continue;
      }
      if ('s' in record) {
        replayed.set(record.s, {
          messageId: record.s,
          body: record.b,
          sentTimestamp: record.t,
          receiveCount: record.n ?? 0,
          firstReceiveTimestamp: record.f ?? 0,
          state: 'ready',
          visibleAt: 0,
        });
      } else if ('d' in record) {
        replayed.delete(record.d);
      } else {
        const message = replayed.get(record.r);
        if (message) {
          message.receiveCount = record.n;
          message.firstReceiveTimestamp = record.f;
        }
      }
    }
    // Start from a compact journal: only live messages, written to a new file and renamed over the old one.
    const handle = await DurableQueue.writeSnapshot(journal, [...replayed.values()]);
    const queue = new DurableQueue(options, handle);
    for (const message of replayed.values()) {
      queue.messages.set(message.messageId, message);
      queue.pushReady(message);
    }
    return queue;
  }

  private static async writeSnapshot(journal: string, live: readonly StoredMessage[]): Promise<FileHandle> {
    // Lines are built before the first await, so the snapshot is of one instant.
    const lines = live.map((m) => DurableQueue.sendLine(m));
    const temp = `${journal}.compacting`;
    await rm(temp, { force: true });
    const out = await open(temp, 'w');
    if (lines.length > 0) await out.write(`${lines.join('\n')}\n`);
    await out.datasync();
    await out.close();
    await rename(temp, journal);
    // Make the rename itself durable.
    const dir = await open(path.dirname(journal), 'r');
    await dir.sync().catch(() => undefined);
    await dir.close();
    return open(journal, 'a');
  }

  private static sendLine(m: StoredMessage): string {
    const record: JournalRecord = { s: m.messageId, t: m.sentTimestamp, b: m.body };
    if (m.receiveCount > 0) {
      record.n = m.receiveCount;
      record.f = m.firstReceiveTimestamp;
    }
    return JSON.stringify(record);
  }

  /** Queue name. */
  get name(): string {
    return this.options.name;
  }

  /** Messages that can be received now. */
  get visibleCount(): number {
    return this.readyCount;
  }

  /** Every message not yet deleted (visible, in flight or waiting out a visibility timeout). */
  get size(): number {
    return this.messages.size;
  }

  /** Messages received and neither deleted nor released yet. */
  get inFlightCount(): number {
    let n = 0;
    for (const m of this.messages.values()) if (m.state === 'inFlight') n += 1;
    return n;
  }

  /** Called whenever messages become visible (sent, released, or visibility timeout over). */
  onAvailable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Appends a message durably. Resolves with its id once it is on disk: only then may the sender treat it as
   * accepted (the broker sends the MQTT PUBACK after this).
   */
  async send(
    body: string,
    keep?: Pick<ReceivedMessage, 'messageId' | 'sentTimestamp' | 'receiveCount'>,
  ): Promise<string> {
    const message: StoredMessage = {
      messageId: keep?.messageId ?? randomUUID(),
      body,
      sentTimestamp: keep?.sentTimestamp ?? Date.now(),
      receiveCount: keep?.receiveCount ?? 0,
      firstReceiveTimestamp: 0,
      state: 'sending',
      visibleAt: 0,
    };
    // In the map before the write, so a compaction running meanwhile keeps it; not receivable until durable.
    this.messages.set(message.messageId, message);
    try {
      await this.append(DurableQueue.sendLine(message));
    } catch (error) {
      this.messages.delete(message.messageId);
      throw error;
    }
    this.pushReady(message);
    this.notify();
    return message.messageId;
  }

  /**
   * Hands out up to `max` visible messages and hides them for the visibility timeout. The messages are taken at once
   * (a concurrent call does not get them); the promise resolves when their receive counts are on disk, so a crash
   * while they are processed still counts this receive, as SQS does. If that write fails the promise rejects and the
   * messages come back after the visibility timeout. A message already received `maxReceiveCount` times (its last
   * attempt crashed the process) is not handed out again but moved to the dead-letter queue.
   */
  async receive(max: number): Promise<ReceivedMessage[]> {
    this.promoteDelayed();
    const now = Date.now();
    const taken: StoredMessage[] = [];
    const lines: string[] = [];
    const toDeadLetter: StoredMessage[] = [];
    while (taken.length < max && this.readyHead < this.ready.length) {
      const id = this.ready[this.readyHead] as string;
      this.readyHead += 1;
      const message = this.messages.get(id);
      if (message?.state !== 'ready') continue;
      this.readyCount -= 1;
      if (this.exhausted(message)) {
        message.state = 'moving';
        toDeadLetter.push(message);
        continue;
      }
      message.state = 'inFlight';
      message.receiveCount += 1;
      if (message.firstReceiveTimestamp === 0) message.firstReceiveTimestamp = now;
      message.visibleAt = now + this.options.visibilityTimeoutMs;
      taken.push(message);
      lines.push(
        JSON.stringify({
          r: id,
          n: message.receiveCount,
          f: message.firstReceiveTimestamp,
        } satisfies JournalRecord),
      );
    }
    if (this.readyHead > 4096 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
    if (toDeadLetter.length > 0) {
      const move = this.moveToDeadLetter(toDeadLetter)
        .catch((error: unknown) =>
          this.options.log?.(
            `queue ${this.name}: moving ${toDeadLetter.map((m) => m.messageId).join(', ')} to the dead-letter queue failed, retrying after the visibility timeout: ${String(error)}`,
          ),
        )
        .finally(() => this.moves.delete(move));
      this.moves.add(move);
    }
    if (lines.length === 0) return [];
    // Superseded by the next receive record or the delete.
    this.deadRecords += lines.length;
    try {
      await this.append(lines.join('\n'));
    } catch (error) {
      // Not counted durably, so not handed out: back after the visibility timeout, like a receive not processed.
      for (const m of taken) if (m.state === 'inFlight') this.delay(m, m.visibleAt);
      this.scheduleDelayed();
      throw error;
    }
    return taken.map((m) => ({
      messageId: m.messageId,
      receiptHandle: `${m.messageId}:${m.receiveCount}:${randomUUID()}`,
      body: m.body,
      sentTimestamp: m.sentTimestamp,
      receiveCount: m.receiveCount,
      firstReceiveTimestamp: m.firstReceiveTimestamp,
    }));
  }

  /**
   * Deletes processed messages (DeleteMessageBatch). If the delete cannot be journalled the promise rejects and
   * received messages come back after their visibility timeout, as when an SQS delete fails.
   */
  delete(messageIds: readonly string[]): Promise<void> {
    return this.remove(messageIds, true);
  }

  private async remove(messageIds: readonly string[], restoreOnFailure: boolean): Promise<void> {
    const lines: string[] = [];
    const removed: StoredMessage[] = [];
    for (const id of messageIds) {
      const message = this.messages.get(id);
      if (!message) continue;
      this.messages.delete(id);
      removed.push(message);
      lines.push(JSON.stringify({ d: id } satisfies JournalRecord));
    }
    if (lines.length === 0) return;
    this.deadRecords += lines.length * 2;
    try {
      await this.append(lines.join('\n'));
    } catch (error) {
      if (restoreOnFailure) {
        for (const m of removed) {
          if (this.messages.has(m.messageId)) continue;
          this.messages.set(m.messageId, m);
          if (m.state === 'inFlight') this.delay(m, m.visibleAt);
        }
        this.scheduleDelayed();
      }
      throw error;
    }
  }

  /**
   * Returns received messages that were not processed: they become visible again when their visibility timeout
   * (counted from the receive, as in SQS) is over, or move to the dead-letter queue when they have been received
   * `maxReceiveCount` times. (The receive count was journalled by `receive`, so a restart does not reset it.) If the
   * move fails the promise rejects and the message stays in this queue: it is visible again after the visibility
   * timeout, and the next receive retries the move instead of handing it out.
   */
  async release(messageIds: readonly string[]): Promise<void> {
    const toDeadLetter: StoredMessage[] = [];
    for (const id of messageIds) {
      const message = this.messages.get(id);
      if (message?.state !== 'inFlight') continue;
      if (this.exhausted(message)) {
        message.state = 'moving';
        toDeadLetter.push(message);
        continue;
      }
      this.delay(message, message.visibleAt);
    }
    this.scheduleDelayed();
    if (toDeadLetter.length > 0) await this.moveToDeadLetter(toDeadLetter);
  }

  private exhausted(message: StoredMessage): boolean {
    return message.receiveCount >= this.maxReceiveCount && this.options.deadLetterQueue !== undefined;
  }

  private async moveToDeadLetter(messages: StoredMessage[]): Promise<void> {
    const dlq = this.options.deadLetterQueue as DurableQueue;
    // Into the DLQ durably first, then out of this queue: a crash in between leaves a copy in both, never none.
    const sent = await Promise.allSettled(messages.map((m) => dlq.send(m.body, m)));
    const moved: StoredMessage[] = [];
    let failure: unknown;
    const retryAt = Date.now() + this.options.visibilityTimeoutMs;
    messages.forEach((m, i) => {
      const result = sent[i] as PromiseSettledResult<string>;
      if (result.status === 'fulfilled') {
        m.state = 'inFlight';
        moved.push(m);
      } else {
        failure ??= result.reason;
        // Still only in this queue: visible again after the visibility timeout, when a receive retries the move.
        if (m.state === 'moving' && this.messages.get(m.messageId) === m) this.delay(m, retryAt);
      }
    });
    this.scheduleDelayed();
    // A failed delete leaves a copy in both queues, like a crash here; the next open moves it again.
    if (moved.length > 0)
      await this.remove(
        moved.map((m) => m.messageId),
        false,
      );
    if (failure !== undefined) throw failure;
  }

  /** A read-only look at up to `limit` messages (for inspecting a dead-letter queue). */
  peek(limit = 100): Omit<ReceivedMessage, 'receiptHandle'>[] {
    const out: Omit<ReceivedMessage, 'receiptHandle'>[] = [];
    for (const m of this.messages.values()) {
      if (out.length >= limit) break;
      out.push({
        messageId: m.messageId,
        body: m.body,
        sentTimestamp: m.sentTimestamp,
        receiveCount: m.receiveCount,
        firstReceiveTimestamp: m.firstReceiveTimestamp,
      });
    }
    return out;
  }

  /** Writes what is pending and closes the journal. In-flight messages stay in the journal and return on open. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.delayTimer) clearTimeout(this.delayTimer);
    while (this.moves.size > 0) await Promise.all([...this.moves]);
    while (this.flushing || this.pending.length > 0) await (this.flushing ?? this.flush());
    this.closed = true;
    await this.handle.close();
  }

  private pushReady(message: StoredMessage): void {
    message.state = 'ready';
    this.ready.push(message.messageId);
    this.readyCount += 1;
  }

  /** Hides a message until `visibleAt`, then makes it visible again (see `scheduleDelayed`). */
  private delay(message: StoredMessage, visibleAt: number): void {
    message.state = 'delayed';
    message.visibleAt = visibleAt;
    this.delayed.push(message);
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  private promoteDelayed(): void {
    if (this.delayed.length === 0) return;
    const now = Date.now();
    const still: StoredMessage[] = [];
    let promoted = false;
    for (const m of this.delayed) {
      if (m.state !== 'delayed') continue;
      if (m.visibleAt <= now) {
        this.pushReady(m);
        promoted = true;
      } else still.push(m);
    }
    this.delayed = still;
    if (promoted) this.notify();
  }

  private scheduleDelayed(): void {
    if (this.delayTimer || this.delayed.length === 0 || this.closed) return;
    const next = Math.min(...this.delayed.map((m) => m.visibleAt));
    this.delayTimer = setTimeout(
      () => {
        this.delayTimer = undefined;
        this.promoteDelayed();
        this.scheduleDelayed();
      },
      Math.max(0, next - Date.now()),
    );
    this.delayTimer.unref();
  }

  private append(line: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`queue ${this.name} is closed`));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  /** Group commit: one write and one fdatasync for everything that queued up meanwhile. */
  private async flush(): Promise<void> {
    // Let the current tick's appends join this commit.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.handle.write(`${batch.map((p) => p.line).join('\n')}\n`);
        await this.handle.datasync();
        for (const p of batch) p.resolve();
      } catch (error) {
        for (const p of batch) p.reject(error as Error);
      }
      if (this.deadRecords >= this.compactAfter && this.deadRecords > 4 * this.messages.size)
        await this.compact();
    }
    this.flushing = undefined;
  }

  private async compact(): Promise<void> {
    const old = this.handle;
    this.handle = await DurableQueue.writeSnapshot(this.journalPath, [...this.messages.values()]);
    await old.close();
    this.deadRecords = 0;
  }
}
