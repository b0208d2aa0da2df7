import { randomUUID } from 'node:crypto';
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
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
  /** The rule's name: the service whose events it routes. */
  readonly name: string;
  readonly pattern: EventPattern;
  /** The workflow lane whose queue the rule puts its events on (one of {@link LocalEventBusOptions.lanes}). */
  readonly lane: string;
}

/** A workflow lane: one durable queue and the one workflow function consuming it. */
export interface LocalWorkflowLane {
  /** The lane's name (`essential`, `ordinary`): its queue is `bus-workflow-<name>`. */
  readonly name: string;
  /** The lane's workflow handler, given SQS batches of EventBridge events as its event source mapping gives them. */
  readonly handler: SqsBatchHandler;
}

/**
 * Messages the workflow lanes' queues sent (per publish) or handed out and deleted (per batch), for the usage
 * meter, which turns them into SQS requests (the deployed meter reads the sends from CloudWatch, hourly).
 */
export interface LocalQueueMessages {
  readonly sent: number;
  readonly received: number;
  readonly deleted: number;
}

export interface LocalEventBusOptions {
  /** Where each lane's queue keeps its journal. */
  readonly directory: string;
  readonly lanes: readonly LocalWorkflowLane[];
  /** One per service; several rules may route to one lane's queue. */
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
  /** Batches of one lane's queue processed at once: config `workflowMaxConcurrency`. @default 2 */
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

interface LaneQueues {
  readonly lane: LocalWorkflowLane;
  readonly queue: DurableQueue;
  readonly deadLetter: DurableQueue;
  readonly consumer: QueueConsumer;
}

/**
 * The local stand-in for the EventBridge bus and the workflow lanes behind its rules: PutEvents in, routed by the
 * same patterns the CDK rules use (`servicePattern`, one rule per service), each matching event put on its rule's
 * lane queue as an EventBridge event, as the deployed rule's SQS target does. Each lane's queue is consumed as the
 * deployed event source mapping consumes it: SQS batches of up to {@link WORKFLOW_QUEUE.batchSize} to the lane's
 * workflow handler, at most `maxConcurrency` at once, partial batch failures received again after the visibility
 * timeout and, after {@link WORKFLOW_QUEUE.maxReceiveCount} receives, moved to the lane's dead-letter queue
 * (`bus-workflow-<lane>-dlq.journal`). An event accepted by `publish` survives a crash or a restart.
 */
export class LocalEventBus {
  readonly counts: LocalBusCounts = { published: 0, unmatched: 0, delivered: 0, failedAttempts: 0 };

  private constructor(
    private readonly options: LocalEventBusOptions,
    private readonly lanes: ReadonlyMap<string, LaneQueues>,
  ) {}

  static async open(options: LocalEventBusOptions): Promise<LocalEventBus> {
    const retryDelayMs = options.retryDelayMs ?? 2000;
    for (const rule of options.rules) {
      if (!options.lanes.some((lane) => lane.name === rule.lane)) {
        throw new Error(
          `bus rule ${rule.name} routes to workflow lane ${rule.lane}, which is not among ` +
            `${options.lanes.map((lane) => lane.name).join(', ') || 'no lanes'}`,
        );
      }
    }
    const lanes = new Map<string, LaneQueues>();
    let bus: LocalEventBus | undefined;
    for (const lane of options.lanes) {
      const deadLetter = await DurableQueue.open({
        name: `bus-workflow-${lane.name}-dlq`,
        directory: options.directory,
        visibilityTimeoutMs: retryDelayMs,
      });
      const queue = await DurableQueue.open({
        name: `bus-workflow-${lane.name}`,
        directory: options.directory,
        visibilityTimeoutMs: retryDelayMs,
        maxReceiveCount: WORKFLOW_QUEUE.maxReceiveCount,
        deadLetterQueue: deadLetter,
        log: options.log,
      });
      // Before the lanes, each service had its own queue: what still waits there moves to its lane's queue.
      for (const rule of options.rules.filter((r) => r.lane === lane.name)) {
        await adoptQueue(options, `bus-${rule.name}`, queue);
        await adoptQueue(options, `bus-${rule.name}-dlq`, deadLetter);
      }
      const consumer = new QueueConsumer({
        queue,
        handler: lane.handler,
        functionName: `service-workflow-${lane.name}`,
        region: options.region,
        accountId: options.accountId,
        batchSize: WORKFLOW_QUEUE.batchSize,
        batchingWindowMs: options.batchingWindowMs ?? (WORKFLOW_QUEUE.maxBatchingWindowSeconds * 1000) / 100,
        maxConcurrency: options.maxConcurrency ?? 2,
        timeoutMs: WORKFLOW_QUEUE.functionTimeoutSeconds * 1000,
        onBatch: (outcome) => (bus as LocalEventBus).settled(lane, outcome),
        log: options.log,
      });
      if (deadLetter.size > 0) {
        options.log(`workflow lane ${lane.name}: ${deadLetter.size} event(s) in its dead-letter queue`);
      }
      lanes.set(lane.name, { lane, queue, deadLetter, consumer });
    }
    bus = new LocalEventBus(options, lanes);
    return bus;
  }

  start(): void {
    for (const lane of this.lanes.values()) lane.consumer.start();
  }

  /** Events waiting in each lane's queue and in its dead-letter queue. */
  backlog(): Record<string, { readonly waiting: number; readonly deadLettered: number }> {
    return Object.fromEntries(
      [...this.lanes].map(([name, l]) => [name, { waiting: l.queue.size, deadLettered: l.deadLetter.size }]),
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
        // Each matching rule sends the event to its lane's queue, as each deployed rule's target does.
        const targets = this.options.rules
          .filter((rule) => matchesPattern(rule.pattern, event))
          .map((rule) => this.lanes.get(rule.lane) as LaneQueues);
        try {
          await Promise.all(targets.map((target) => target.queue.send(JSON.stringify(event))));
          this.counts.published += 1;
          if (targets.length === 0) this.counts.unmatched += 1;
          else this.options.onQueueMessages?.({ sent: targets.length, received: 0, deleted: 0 });
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
  private settled(lane: LocalWorkflowLane, outcome: BatchOutcome): void {
    this.counts.delivered += outcome.size - outcome.failed;
    this.counts.failedAttempts += outcome.failed;
    this.options.onQueueMessages?.({
      sent: 0,
      received: outcome.size,
      deleted: outcome.size - outcome.failed,
    });
    if (outcome.error !== undefined) {
      this.options.log(
        `workflow lane ${lane.name}: the workflow failed a whole batch of ${outcome.size}; received again after the ` +
          `visibility timeout, dead-lettered after ${WORKFLOW_QUEUE.maxReceiveCount} receives: ${String(outcome.error)}`,
      );
    } else if (outcome.failed > 0) {
      this.options.log(
        `workflow lane ${lane.name}: ${outcome.failed} of ${outcome.size} event(s) failed; received again after the ` +
          `visibility timeout, dead-lettered after ${WORKFLOW_QUEUE.maxReceiveCount} receives`,
      );
    }
  }

  /** Stops delivering (in-flight batches finish); queued events stay on disk for the next start. */
  async close(): Promise<void> {
    for (const lane of this.lanes.values()) await lane.consumer.stop();
    for (const lane of this.lanes.values()) {
      await lane.queue.close();
      await lane.deadLetter.close();
    }
  }
}

/**
 * Moves every message of the queue journalled as `name` (a service's own queue, from before the workflow lanes)
 * to `into`, keeping ids and receive counts, then removes its journal. A crash midway sends some again on the next
 * start: the same ids, and the workflows are idempotent.
 */
async function adoptQueue(options: LocalEventBusOptions, name: string, into: DurableQueue): Promise<void> {
  const journal = path.join(options.directory, `${name}.journal`);
  try {
    await access(journal);
  } catch {
    return;
  }
  const old = await DurableQueue.open({ name, directory: options.directory, visibilityTimeoutMs: 0 });
  const messages = old.peek(old.size);
  for (const message of messages) await into.send(message.body, message);
  await old.close();
  await rm(journal, { force: true });
  if (messages.length > 0) options.log(`${name}: ${messages.length} event(s) moved to ${into.name}`);
}
