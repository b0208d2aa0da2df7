import { createHash, randomUUID } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { INGEST_SETTINGS } from '../lambdas/contracts/ingest-settings.js';
import type { DurableQueue, ReceivedMessage } from './durable-queue.js';

/** An SQS-triggered Lambda handler, as the enrichment handler exports it. */
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

/** What one batch came to; for the status line and tests. */
export interface BatchOutcome {
  readonly queue: string;
  readonly size: number;
  readonly failed: number;
  /** The handler threw or timed out: the whole batch was handed back. */
  readonly error?: unknown;
  readonly durationMs: number;
}

/** Options for {@link QueueConsumer}; the numbers mirror the event source mapping's. */
export interface QueueConsumerOptions {
  readonly queue: DurableQueue;
  readonly handler: SqsBatchHandler;
  /** Lambda function name, for the context object. */
  readonly functionName: string;
  readonly region: string;
  readonly accountId: string;
  readonly batchSize: number;
  /** How long to wait for a full batch once a first message is visible. */
  readonly batchingWindowMs: number;
  /** Batches of this queue processed at once (the mapping's maximum concurrency). */
  readonly maxConcurrency: number;
  /** An invocation running longer than this counts as failed, like a Lambda timeout. */
  readonly timeoutMs: number;
  readonly onBatch?: (outcome: BatchOutcome) => void;
  /** Where failures of the queue itself (receive, delete, release) are reported. @default console.error */
  readonly log?: (line: string) => void;
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/**
 * The local stand-in for a Lambda event source mapping on an SQS queue with `ReportBatchItemFailures`: it polls the
 * lane's queue, builds real `SQSEvent`s, invokes the handler, deletes what succeeded and hands the rest back to the
 * queue (which redelivers after the visibility timeout and dead-letters after `maxReceiveCount`). A handler that
 * throws, times out, or names an id that is not in the batch fails the whole batch, as Lambda does.
 */
export class QueueConsumer {
  private running = 0;
  private stopped = true;
  private windowTimer: NodeJS.Timeout | undefined;
  private windowStartedAt = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  private readonly queueArn: string;
  private readonly log: (line: string) => void;

  constructor(private readonly options: QueueConsumerOptions) {
    this.queueArn = `arn:aws:sqs:${options.region}:${options.accountId}:${options.queue.name}`;
    this.log = options.log ?? ((line: string) => console.error(line));
  }

  /** Starts polling. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.options.queue.onAvailable(() => this.pump());
    this.pump();
  }

  /** Stops taking new batches and waits for the ones being processed: the drain on shutdown. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Batches being processed now. */
  get activeBatches(): number {
    return this.running;
  }

  private pump(): void {
    const { queue, batchSize, batchingWindowMs, maxConcurrency } = this.options;
    while (!this.stopped && this.running < maxConcurrency && queue.visibleCount > 0) {
      if (queue.visibleCount < batchSize) {
        // A partial batch waits for the batching window, counted from when messages were first seen waiting.
        const now = Date.now();
        if (this.windowStartedAt === 0) this.windowStartedAt = now;
        const due = this.windowStartedAt + batchingWindowMs;
        if (now < due) {
          if (!this.windowTimer) {
            this.windowTimer = setTimeout(() => {
              this.windowTimer = undefined;
              this.pump();
            }, due - now);
          }
          return;
        }
      }
      // The queue takes the messages now (visibleCount drops at once) and resolves once the receive is journalled.
      const visible = queue.visibleCount;
      const received = queue.receive(batchSize);
      // Nothing taken: nothing to process (the promise resolves empty).
      if (queue.visibleCount === visible) return;
      this.windowStartedAt = queue.visibleCount > 0 ? Date.now() : 0;
      this.running += 1;
      const work = received
        .then(
          (messages) => (messages.length > 0 ? this.process(messages) : undefined),
          (error: unknown) =>
            // The queue hands the messages back after the visibility timeout.
            this.log(
              `queue ${queue.name}: receive failed, messages return after the visibility timeout: ${String(error)}`,
            ),
        )
        .catch((error: unknown) => this.log(`queue ${queue.name}: batch processing failed: ${String(error)}`))
        .finally(() => {
          this.running -= 1;
          this.inFlight.delete(work);
          this.pump();
        });
      this.inFlight.add(work);
    }
    if (queue.visibleCount === 0) this.windowStartedAt = 0;
  }

  private toRecord(message: ReceivedMessage): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentTimestamp),
        SenderId: 'AROAIOTRULELOCAL:iot-rule',
        ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
      },
      messageAttributes: {},
      md5OfBody: md5(message.body),
      eventSource: 'aws:sqs',
      eventSourceARN: this.queueArn,
      awsRegion: this.options.region,
    };
  }

  private context(deadline: number): Context {
    const { functionName, region, accountId } = this.options;
    return {
      callbackWaitsForEmptyEventLoop: false,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${functionName}`,
      memoryLimitInMB: String(INGEST_SETTINGS.enrichmentMemoryMb),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
  }

  private async process(messages: ReceivedMessage[]): Promise<void> {
    const { queue, handler, timeoutMs, onBatch } = this.options;
    const started = Date.now();
    const ids = new Set(messages.map((m) => m.messageId));
    let failed: string[];
    let error: unknown;
    try {
      const event: SQSEvent = { Records: messages.map((m) => this.toRecord(m)) };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`handler timed out after ${timeoutMs} ms`)), timeoutMs);
      });
      const response = await Promise.race([
        handler(event, this.context(started + timeoutMs)),
        timeout,
      ]).finally(() => clearTimeout(timer));
      failed = (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
      const unknown = failed.find((id) => !ids.has(id));
      if (unknown !== undefined)
        throw new Error(`batchItemFailures names '${unknown}', which is not in the batch`);
    } catch (caught) {
      error = caught;
      failed = [...ids];
    }
    const failedSet = new Set(failed);
    const succeeded = [...ids].filter((id) => !failedSet.has(id));
    const [deleted, released] = await Promise.allSettled([
      queue.delete(succeeded),
      queue.release([...failedSet]),
    ]);
    // As with SQS, messages whose delete or release failed come back after the visibility timeout (a failed move to
    // the dead-letter queue is retried then); only report it. An unhandled rejection would end the process.
    if (deleted.status === 'rejected')
      this.log(
        `queue ${queue.name}: delete failed, messages return after the visibility timeout: ${succeeded.join(', ')}: ${String(deleted.reason)}`,
      );
    if (released.status === 'rejected')
      this.log(
        `queue ${queue.name}: release failed, messages return after the visibility timeout: ${[...failedSet].join(', ')}: ${String(released.reason)}`,
      );
    onBatch?.({
      queue: queue.name,
      size: messages.length,
      failed: failedSet.size,
      error,
      durationMs: Date.now() - started,
    });
  }
}
