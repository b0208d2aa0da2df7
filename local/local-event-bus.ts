import { randomUUID } from 'node:crypto';
import type { Context, EventBridgeEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  DOMAIN_EVENT_SOURCE,
  type EventPattern,
  matchesPattern,
  WORKFLOW_DELIVERY,
} from '../lambdas/contracts/domain-event-bus.js';
import type { DomainEvent } from '../services/shared/domain-events.js';
import { DurableQueue } from './durable-queue.js';
import { QueueConsumer } from './queue-consumer.js';

/** An EventBridge target as the local bus invokes it: a Lambda handler taking one event. */
export type EventTargetHandler = (
  event: EventBridgeEvent<string, unknown>,
  context: Context,
) => Promise<unknown>;

export interface LocalBusRule {
  /** The rule's name: the service it routes to. */
  readonly name: string;
  readonly pattern: EventPattern;
  readonly handler: EventTargetHandler;
}

export interface LocalEventBusOptions {
  /** Where each rule's delivery queue keeps its journal. */
  readonly directory: string;
  readonly rules: readonly LocalBusRule[];
  /** Wait before a failed delivery is retried (EventBridge backs off; locally a fixed, short wait). @default 2000 */
  readonly retryDelayMs?: number;
  /** Deliveries to one target at a time. @default 2 */
  readonly maxConcurrency?: number;
  readonly region: string;
  readonly accountId: string;
  readonly log: (line: string) => void;
}

/** What the bus did, for the status line and tests. */
export interface LocalBusCounts {
  /** Events accepted by `publish` (PutEvents entries). */
  published: number;
  /** Events no rule matched (accepted and dropped, as EventBridge does). */
  unmatched: number;
  /** Deliveries a target handled. */
  delivered: number;
  /** Delivery attempts that failed (each is retried, then dead-lettered). */
  failedAttempts: number;
}

/**
 * The local stand-in for the EventBridge bus: PutEvents in, the same event shape out, routed by the same patterns
 * the CDK rules use (`servicePattern`). Each rule delivers through its own durable queue, so an event accepted by
 * `publish` survives a crash or a restart, a failed delivery is retried after a wait, and after
 * `WORKFLOW_DELIVERY.retryAttempts` retries it goes to the rule's dead-letter queue (`bus-<rule>-dlq.journal`),
 * as the deployed rules' DLQs.
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
        // The first delivery plus the retries.
        maxReceiveCount: WORKFLOW_DELIVERY.retryAttempts + 1,
        deadLetterQueue: deadLetter,
        log: options.log,
      });
      const consumer = new QueueConsumer({
        queue,
        handler: (event, context) => (bus as LocalEventBus).deliver(rule, event, context),
        functionName: `service-workflow-${rule.name}`,
        region: options.region,
        accountId: options.accountId,
        // EventBridge invokes a Lambda target with one event at a time.
        batchSize: 1,
        batchingWindowMs: 0,
        maxConcurrency: options.maxConcurrency ?? 2,
        timeoutMs: 60_000,
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

  /** Events waiting for delivery and in the dead-letter queues, per rule. */
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

  private async deliver(rule: LocalBusRule, batch: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of batch.Records) {
      try {
        await rule.handler(JSON.parse(record.body) as EventBridgeEvent<string, unknown>, context);
        this.counts.delivered += 1;
      } catch (error) {
        this.counts.failedAttempts += 1;
        const attempt = Number(record.attributes.ApproximateReceiveCount);
        const last = attempt > WORKFLOW_DELIVERY.retryAttempts;
        this.options.log(
          `bus rule ${rule.name}: delivery ${attempt} failed${last ? ', event goes to the dead-letter queue' : ', retrying'}: ${String(error)}`,
        );
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  }

  /** Stops delivering (in-flight deliveries finish); queued events stay on disk for the next start. */
  async close(): Promise<void> {
    for (const route of this.routes) await route.consumer.stop();
    for (const route of this.routes) {
      await route.queue.close();
      await route.deadLetter.close();
    }
  }
}
