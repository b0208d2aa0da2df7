import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { DynamoDbDeviceDirectory } from '../lambdas/adapters/dynamodb-device-directory.js';
import { DynamoDbLatestState } from '../lambdas/adapters/dynamodb-latest-state.js';
import { DynamoDbDeviceFleet } from '../lambdas/adapters/dynamodb-service-records.js';
import { documentClient, type Environment, tableName } from '../lambdas/adapters/ports-from-environment.js';
import { serviceRecordsFromEnvironment } from '../lambdas/adapters/workflow-ports-from-environment.js';
import { servicePattern } from '../lambdas/contracts/domain-event-bus.js';
import type { ServiceQueryPorts } from '../lambdas/domain/service-queries.js';
import {
  createServiceWorkflowHandler,
  type WorkflowInvocation,
} from '../lambdas/handlers/service-workflow.js';
import { type ServiceBlueprint, WORKFLOW_SCHEDULE_SECONDS } from '../services/shared/blueprint.js';
import type { ServiceNotifier, WorkflowPorts } from '../services/shared/workflow-ports.js';
import { LocalEventBus, type LocalQueueMessages } from './local-event-bus.js';
import type { SqsBatchHandler } from './queue-consumer.js';

/** A workflow handler as this runtime calls it: SQS batches from its queue, or its schedule. */
type WorkflowHandler = (
  invocation: WorkflowInvocation,
  context: Context,
) => Promise<SQSBatchResponse | undefined>;

/** A notification a service sent (on AWS: an SNS message to the service's subscribers). */
export interface ServiceNotice {
  readonly at: string;
  readonly service: string;
  readonly subject: string;
  readonly message: string;
}

/**
 * The local stand-in for the per-service SNS topics: each notice is printed, appended to
 * `<data-dir>/notifications.log` (one JSON line each, so nothing is lost when the terminal scrolls) and kept in
 * memory for the status line and tests.
 */
export class LocalServiceNotifier implements ServiceNotifier {
  static readonly KEPT_NOTICES = 200;
  readonly notices: ServiceNotice[] = [];

  constructor(
    private readonly file: string,
    private readonly log: (line: string) => void,
  ) {}

  async notify(service: string, subject: string, message: string): Promise<void> {
    const notice: ServiceNotice = { at: new Date().toISOString(), service, subject, message };
    await appendFile(this.file, `${JSON.stringify(notice)}\n`, { mode: 0o600 });
    this.notices.push(notice);
    if (this.notices.length > LocalServiceNotifier.KEPT_NOTICES) this.notices.shift();
    this.log(`${service}: ${subject}`);
  }
}

export interface LocalServiceWorkflowsOptions {
  readonly blueprints: readonly ServiceBlueprint[];
  /** The handlers' environment (local table names, the local endpoint). */
  readonly env: Environment;
  readonly dataDir: string;
  /** Simulated seconds per real second: the rules' time scale and how much faster the schedule runs. */
  readonly timeScale: number;
  readonly settings: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly logger: (service: string) => Logger;
  readonly region: string;
  readonly accountId: string;
  readonly log: (line: string) => void;
  /** Told of each workflow invocation's duration (a batch of events or a scheduled run), for the usage meter. */
  readonly onInvocation?: (durationMs: number) => void;
  /** Told of the messages the workflow queues sent, received and deleted, for the usage meter. */
  readonly onQueueMessages?: (messages: LocalQueueMessages) => void;
  /**
   * Batches of one service's queue processed at once: config `workflowMaxConcurrency`, as the deployed event
   * source mapping's maximum concurrency. @default 2
   */
  readonly maxConcurrency?: number;
  /** Real milliseconds between scheduled runs. @default WORKFLOW_SCHEDULE_SECONDS / timeScale, at least 250 ms */
  readonly scheduleMs?: number;
}

/**
 * The service workflows as deployed, in this process: the local event bus with one rule and queue per enabled
 * blueprint (the same patterns as the CDK rules), the same workflow handler per service taking SQS batches from its
 * queue, the schedule that drives alert cool-downs, offline sweeps and the daily round, and notifications to a log
 * instead of SNS.
 */
export class LocalServiceWorkflows {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly busy = new Set<string>();

  private constructor(
    readonly bus: LocalEventBus,
    readonly notifier: LocalServiceNotifier,
    /** What the city API reads: jobs, alerts and site views of the enabled services. */
    readonly queries: ServiceQueryPorts,
    private readonly handlers: ReadonlyMap<string, WorkflowHandler>,
    private readonly options: LocalServiceWorkflowsOptions,
  ) {}

  static async start(options: LocalServiceWorkflowsOptions): Promise<LocalServiceWorkflows> {
    const { env, blueprints } = options;
    const names = blueprints.map((b) => b.name);
    const client = documentClient(env);
    const records = serviceRecordsFromEnvironment(env, names, client);
    const notifier = new LocalServiceNotifier(path.join(options.dataDir, 'notifications.log'), options.log);
    const ports: WorkflowPorts = {
      ...records,
      notifier,
      devices: new DynamoDbDeviceDirectory(client, tableName(env, 'devices')),
      fleet: new DynamoDbDeviceFleet(
        client,
        tableName(env, 'devices'),
        new DynamoDbLatestState(client, tableName(env, 'latest-state')),
      ),
    };
    const handlers = new Map<string, WorkflowHandler>();
    for (const blueprint of blueprints) {
      const handler = createServiceWorkflowHandler({
        blueprint,
        ports: () => ports,
        context: () => ({ timeScale: options.timeScale, settings: options.settings[blueprint.name] ?? {} }),
        logger: options.logger(blueprint.name),
      });
      handlers.set(blueprint.name, async (invocation, context) => {
        const started = Date.now();
        try {
          return await handler(invocation, context);
        } finally {
          options.onInvocation?.(Date.now() - started);
        }
      });
    }
    const bus = await LocalEventBus.open({
      directory: path.join(options.dataDir, 'queues'),
      rules: blueprints.map((b) => ({
        name: b.name,
        pattern: servicePattern(b.eventTypes),
        handler: handlers.get(b.name) as SqsBatchHandler,
      })),
      region: options.region,
      accountId: options.accountId,
      log: options.log,
      ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
      ...(options.onQueueMessages ? { onQueueMessages: options.onQueueMessages } : {}),
    });
    bus.start();
    const workflows = new LocalServiceWorkflows(
      bus,
      notifier,
      { ...records, enabled: blueprints },
      handlers,
      options,
    );
    workflows.startSchedule();
    return workflows;
  }

  /** Notifications the services sent, oldest first (the last {@link LocalServiceNotifier.KEPT_NOTICES}). */
  get notices(): readonly ServiceNotice[] {
    return this.notifier.notices;
  }

  private startSchedule(): void {
    const scheduled = this.options.blueprints.filter((b) => b.workflow.onSchedule);
    if (scheduled.length === 0) return;
    const everyMs =
      this.options.scheduleMs ?? Math.max(250, (WORKFLOW_SCHEDULE_SECONDS * 1000) / this.options.timeScale);
    this.timer = setInterval(() => {
      for (const blueprint of scheduled) this.runSchedule(blueprint.name);
    }, everyMs);
    this.timer.unref();
  }

  /** Runs one service's scheduled work now, unless its previous run is still going (as one schedule target). */
  runSchedule(service: string): Promise<void> {
    const handler = this.handlers.get(service);
    if (!handler || this.busy.has(service)) return Promise.resolve();
    this.busy.add(service);
    const run = handler({ kind: 'schedule' }, scheduleContext(service))
      .then(() => undefined)
      .catch((error: unknown) =>
        this.options.log(`${service} schedule failed (next run retries): ${String(error)}`),
      )
      .finally(() => {
        this.busy.delete(service);
        this.running.delete(run);
      });
    this.running.add(run);
    return run;
  }

  /** Stops the schedule and the bus; queued events stay on disk for the next start. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.running]);
    await this.bus.close();
  }
}

function scheduleContext(service: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `service-workflow-${service}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:service-workflow-${service}`,
    memoryLimitInMB: '256',
    awsRequestId: `schedule-${Date.now()}`,
    logGroupName: `/aws/lambda/service-workflow-${service}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
