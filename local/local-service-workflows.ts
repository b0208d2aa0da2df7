import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { DynamoDbDeviceDirectory } from '../lambdas/adapters/dynamodb-device-directory.js';
import { DynamoDbLatestState } from '../lambdas/adapters/dynamodb-latest-state.js';
import { DynamoDbDeviceFleet } from '../lambdas/adapters/dynamodb-service-records.js';
import { documentClient, type Environment, tableName } from '../lambdas/adapters/ports-from-environment.js';
import { serviceRecordsFromEnvironment } from '../lambdas/adapters/workflow-ports-from-environment.js';
import {
  servicePattern,
  type WorkflowLane,
  workflowLaneOf,
  workflowLanesOf,
} from '../lambdas/contracts/domain-event-bus.js';
import type { ServiceQueryPorts } from '../lambdas/domain/service-queries.js';
import {
  createServiceWorkflowHandler,
  type WorkflowInvocation,
} from '../lambdas/handlers/service-workflow.js';
import { type ServiceBlueprint, WORKFLOW_SCHEDULE_SECONDS } from '../services/shared/blueprint.js';
import type { ServiceNotifier, WorkflowPorts } from '../services/shared/workflow-ports.js';
import { LocalEventBus, type LocalQueueMessages } from './local-event-bus.js';
import type { SqsBatchHandler } from './queue-consumer.js';

/** A workflow lane's handler as this runtime calls it: SQS batches from its queue, or its schedule. */
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
  /** Told of the messages the workflow lanes' queues sent, received and deleted, for the usage meter. */
  readonly onQueueMessages?: (messages: LocalQueueMessages) => void;
  /**
   * Batches of one workflow lane's queue processed at once: config `workflowMaxConcurrency`, as the deployed
   * event source mapping's maximum concurrency. @default 2
   */
  readonly maxConcurrency?: number;
  /** Real milliseconds between scheduled runs. @default WORKFLOW_SCHEDULE_SECONDS / timeScale, at least 250 ms */
  readonly scheduleMs?: number;
}

/**
 * The service workflows as deployed, in this process: the local event bus with one rule per enabled blueprint (the
 * same patterns as the CDK rules), each routing to its workflow lane's durable queue (essential, ordinary: a lane
 * no enabled blueprint runs in has none), the same workflow handler per lane hosting the lane's blueprints and
 * taking SQS batches from its queue, one schedule per lane that drives its blueprints' alert cool-downs, offline
 * sweeps and daily rounds, and notifications to a log instead of SNS. Two lanes for the reason they are two on
 * AWS: a burst of parking events must never delay a flood alert.
 */
export class LocalServiceWorkflows {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  private readonly busy = new Set<WorkflowLane>();

  private constructor(
    readonly bus: LocalEventBus,
    readonly notifier: LocalServiceNotifier,
    /** What the city API reads: jobs, alerts and site views of the enabled services. */
    readonly queries: ServiceQueryPorts,
    private readonly handlers: ReadonlyMap<WorkflowLane, WorkflowHandler>,
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
    const handlers = new Map<WorkflowLane, WorkflowHandler>();
    for (const lane of workflowLanesOf(blueprints)) {
      const handler = createServiceWorkflowHandler({
        blueprints: blueprints.filter((blueprint) => workflowLaneOf(blueprint) === lane),
        ports: () => ports,
        context: (service) => ({ timeScale: options.timeScale, settings: options.settings[service] ?? {} }),
        logger: options.logger(`${lane}-lane`),
      });
      handlers.set(lane, async (invocation, context) => {
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
      lanes: [...handlers].map(([lane, handler]) => ({ name: lane, handler: handler as SqsBatchHandler })),
      rules: blueprints.map((b) => ({
        name: b.name,
        pattern: servicePattern(b.eventTypes),
        lane: workflowLaneOf(b),
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

  /** The names of the services this runtime runs. */
  get enabled(): readonly string[] {
    return this.options.blueprints.map((blueprint) => blueprint.name);
  }

  /** Notifications the services sent, oldest first (the last {@link LocalServiceNotifier.KEPT_NOTICES}). */
  get notices(): readonly ServiceNotice[] {
    return this.notifier.notices;
  }

  /** One schedule per lane hosting a blueprint with scheduled work, as deployed. */
  private startSchedule(): void {
    const scheduled = workflowLanesOf(this.options.blueprints.filter((b) => b.workflow.onSchedule));
    if (scheduled.length === 0) return;
    const everyMs =
      this.options.scheduleMs ?? Math.max(250, (WORKFLOW_SCHEDULE_SECONDS * 1000) / this.options.timeScale);
    this.timer = setInterval(() => {
      for (const lane of scheduled) this.runSchedule(lane);
    }, everyMs);
    this.timer.unref();
  }

  /**
   * Runs one workflow lane's scheduled work now (every hosted blueprint's `onSchedule`), unless its previous run is
   * still going (as one schedule target).
   */
  runSchedule(lane: WorkflowLane): Promise<void> {
    const handler = this.handlers.get(lane);
    if (!handler || this.busy.has(lane)) return Promise.resolve();
    this.busy.add(lane);
    const run = handler({ kind: 'schedule' }, scheduleContext(lane))
      .then(() => undefined)
      .catch((error: unknown) =>
        this.options.log(`${lane} workflow lane: schedule failed (next run retries): ${String(error)}`),
      )
      .finally(() => {
        this.busy.delete(lane);
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

function scheduleContext(lane: WorkflowLane): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `service-workflow-${lane}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:service-workflow-${lane}`,
    memoryLimitInMB: '256',
    awsRequestId: `schedule-${Date.now()}`,
    logGroupName: `/aws/lambda/service-workflow-${lane}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
