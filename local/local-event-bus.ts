import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import {
  DOMAIN_EVENT_SOURCE,
  type EventPattern,
  matchesPattern,
  WORKFLOW_QUEUE,
} from '../lambdas/contracts/domain-event-bus.js';
import type { DomainEvent } from '../services/shared/domain-events.js';
import { DurableQueue } from './durable-queue.js';
import { type BatchOutcome, QueueConsumer, type SqsBatchHandler } from './queue-consumer.js';

export interface LocalBusRule {
  /** The rule's name: the service it routes to. */
  readonly name: string;
  readonly pattern: EventPattern;
  /** The workflow handler, given SQS batches of EventBridge events as its event source mapping gives them. */
  readonly handler: SqsBatchHandler;
}

/**
 * Messages the workflow queues sent, handed out and deleted, for the usage meter: counted as the local lanes' are,
 * which the meter turns into SQS requests (the deployed meter reads the sends from CloudWatch).
 */
export interface LocalQueueMessages {
  readonly sent: number;
  readonly received: number;
  readonly deleted: number;
}

export interface LocalEventBusOptions {
  /** Where each rule's queue keeps its journal. */
  readonly directory: string;
  readonly rules: readonly LocalBusRule[];
  /**
   * The queues' visibility timeout: how long a failed event waits before it is received again (deployed:
   * {@link WORKFLOW_QUEUE.visibilityTimeoutSeconds}; locally short, so a retry is seen while it matters). @default 2000
   */
  readonly retryDelayMs?: number;
  /**
   * How long a consumer waits to fill a batch. @default - a hundredth of the deployed window
   * ({@link WORKFLOW_QUEUE.maxBatchingWindowSeconds}), as the local lanes scale theirs: the sped-up town's events
   * should not wait on a real-time window
   */
  readonly batchingWindowMs?: number;
  /** Batches of one rule's queue processed at once: config `workflowMaxConcurrency`. @default 2 */
  readonly maxConcurrency?: number;
  readonly region: string;
  readonly accountId: string;
  readonly log: (line: string) => void;
  /** Told of the messages each publish sent and each batch received and deleted. */
  readonly onQueueMessages?: (messages: LocalQueueMessages) => void;
}

/** What the bus did, for the status line and tests. */
export interface LocalBusCounts {
  /** Events accepted by `publish` (PutEvents entries). */
  published: number;
  /** Events no rule matched (accepted and dropped, as EventBridge does). */
  unmatched: number;
  /** Events a workflow handled (applied, or found already applied). */
  delivered: number;
  /** Events a workflow failed to handle, each time (each is received again, then dead-lettered). */
  failedAttempts: number;
}

/**
 * The local stand-in for the EventBridge bus and the workflow queues behind its rules: PutEvents in, routed by the
 * same patterns the CDK rules use (`servicePattern`), each matching event put on the rule's durable queue as an
 * EventBridge event, as the deployed rule's SQS target does. Each queue is consumed as the deployed event source
 * mapping consumes it: SQS batches of up to {@link WORKFLOW_QUEUE.batchSize} to the workflow handler, at most
 * `maxConcurrency` at once, partial batch failures received again after the visibility timeout and, after
 * {@link WORKFLOW_QUEUE.maxReceiveCount} receives, moved to the rule's dead-letter queue (`bus-<rule>-dlq.journal`).
 * An event accepted by `publish` survives a crash or a restart.
 */
export class LocalEventBus {
  readonly counts: LocalBusCounts = { published: 0, unmatched: 0, delivered: 0, failedAttempts: 0 };

  private constructor(
    private readonly options: LocalEventBusOptions,
    private readonly routes: readonly {
      readonly rule: LocalBusRule;
      readonly queue: DurableQueue;
      readonly deadLetter: DurableQueue;
      readonly consumer: QueueConsumer;
    }[],
  ) {}

  static async open(options: LocalEventBusOptions): Promise<LocalEventBus> {
    const retryDelayMs = options.retryDelayMs ?? 2000;
    const routes = [];
    let bus: LocalEventBus | undefined;
    for (const rule of options.rules) {
      const deadLetter = await DurableQueue.open({
        name: `bus-${rule.name}-dlq`,
        directory: options.directory,
        visibilityTimeoutMs: retryDelayMs,
      });
      const queue = await DurableQueue.open({
        name: `bus-${rule.name}`,
        directory: options.directory,
        visibilityTimeoutMs: retryDelayMs,
        maxReceiveCount: WORKFLOW_QUEUE.maxReceiveCount,
        deadLetterQueue: deadLetter,
        log: options.log,
      });
      const consumer = new QueueConsumer({
        queue,
        handler: rule.handler,
        functionName: `service-workflow-${rule.name}`,
        region: options.region,
        accountId: options.accountId,
        batchSize: WORKFLOW_QUEUE.batchSize,
        batchingWindowMs: options.batchingWindowMs ?? (WORKFLOW_QUEUE.maxBatchingWindowSeconds * 1000) / 100,
        maxConcurrency: options.maxConcurrency ?? 2,
        timeoutMs: WORKFLOW_QUEUE.functionTimeoutSeconds * 1000,
        onBatch: (outcome) => (bus as LocalEventBus).settled(rule, outcome),
        log: options.log,
      });
      if (deadLetter.size > 0) {
        options.log(`bus rule ${rule.name}: ${deadLetter.size} event(s) in its dead-letter queue`);
      }
      routes.push({ rule, queue, deadLetter, consumer });
    }
    bus = new LocalEventBus(options, routes);
    return bus;
  }

  start(): void {
    for (const route of this.routes) route.consumer.start();
  }

  /** Events waiting in each rule's queue and in its dead-letter queue. */
  backlog(): Record<string, { readonly waiting: number; readonly deadLettered: number }> {
    return Object.fromEntries(
      this.routes.map((r) => [r.rule.name, { waiting: r.queue.size, deadLettered: r.deadLetter.size }]),
    );
  }

  /**
   * PutEvents: each domain event becomes one EventBridge event, queued durably for every rule it matches. Returns
   * the indexes that could not be accepted (the caller retries them, as with FailedEntryCount).
   */
  async publish(events: readonly DomainEvent[]): Promise<readonly number[]> {
    const failed: number[] = [];
    await Promise.all(
      events.map(async (domainEvent, index) => {
        const event: EventBridgeEvent<string, DomainEvent> = {
          version: '0',
          id: randomUUID(),
          'detail-type': domainEvent.type,
          source: DOMAIN_EVENT_SOURCE,
          account: this.options.accountId,
          time: new Date().toISOString(),
          region: this.options.region,
          resources: [],
          detail: domainEvent,
        };
        const routes = this.routes.filter((r) => matchesPattern(r.rule.pattern, event));
        try {
          await Promise.all(routes.map((r) => r.queue.send(JSON.stringify(event))));
          this.counts.published += 1;
          if (routes.length === 0) this.counts.unmatched += 1;
          else this.options.onQueueMessages?.({ sent: routes.length, received: 0, deleted: 0 });
        } catch (error) {
          this.options.log(
            `bus: event ${domainEvent.id} (${domainEvent.type}) not accepted: ${String(error)}`,
          );
          failed.push(index);
        }
      }),
    );
    return failed;
  }

  /** Counts a batch the workflow handled; the handler has logged each failed event and why. */
  private settled(rule: LocalBusRule, outcome: BatchOutcome): void {
    this.counts.delivered += outcome.size - outcome.failed;
    this.counts.failedAttempts += outcome.failed;
    this.options.onQueueMessages?.({
      sent: 0,
      received: outcome.size,
      deleted: outcome.size - outcome.failed,
    });
    if (outcome.error !== undefined) {
      this.options.log(
        `bus rule ${rule.name}: the workflow failed a whole batch of ${outcome.size}; received again after the ` +
          `visibility timeout, dead-lettered after ${WORKFLOW_QUEUE.maxReceiveCount} receives: ${String(outcome.error)}`,
      );
    } else if (outcome.failed > 0) {
      this.options.log(
        `bus rule ${rule.name}: ${outcome.failed} of ${outcome.size} event(s) failed; received again after the ` +
          `visibility timeout, dead-lettered after ${WORKFLOW_QUEUE.maxReceiveCount} receives`,
      );
    }
  }

  /** Stops delivering (in-flight batches finish); queued events stay on disk for the next start. */
  async close(): Promise<void> {
    for (const route of this.routes) await route.consumer.stop();
    for (const route of this.routes) {
      await route.queue.close();
      await route.deadLetter.close();
    }
  }
}
