import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, EventBridgeEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { blueprintsNamed } from '../../services/catalogue.js';
import {
  type ServiceBlueprint,
  type ServiceContext,
  WORKFLOW_SCHEDULE_SECONDS,
  type WorkflowContext,
} from '../../services/shared/blueprint.js';
import type { DomainEvent } from '../../services/shared/domain-events.js';
import type { WorkflowPorts } from '../../services/shared/workflow-ports.js';
import type { Environment } from '../adapters/ports-from-environment.js';
import {
  hostedServicesFromEnvironment,
  serviceContextFromEnvironment,
  workflowPortsFromEnvironment,
} from '../adapters/workflow-ports-from-environment.js';
import { deviceTypeSchema } from '../contracts/device-types.js';
import { DOMAIN_EVENT_SOURCE, WORKFLOW_QUEUE } from '../contracts/domain-event-bus.js';
import { createLogger } from './logger.js';

/**
 * What a workflow lane's function is invoked with: a batch from its queue (each service's bus rule puts each
 * matching domain event there, one EventBridge event per message body), or its schedule, either a Scheduler
 * target's fixed input `{ "kind": "schedule" }` or an EventBridge rule's "Scheduled Event". A single domain event,
 * as the bus once invoked the function directly, is still taken.
 */
export type WorkflowInvocation = SQSEvent | EventBridgeEvent<string, unknown> | { readonly kind: 'schedule' };

/** An event the workflow must not apply: its message fails (retried, then dead-lettered), naming what was wrong. */
export class RejectedWorkflowEventError extends Error {
  override readonly name = 'RejectedWorkflowEventError';
}

/** A scheduled run in which some hosted blueprints' `onSchedule` failed (the others' ran to the end). */
export class ScheduledRunFailedError extends Error {
  override readonly name = 'ScheduledRunFailedError';
  constructor(readonly failures: readonly { readonly service: string; readonly error: unknown }[]) {
    super(
      `scheduled run failed for ${failures
        .map(({ service, error }) => `${service} (${error instanceof Error ? error.message : String(error)})`)
        .join(', ')}; the other hosted services' scheduled work was done`,
    );
  }
}

/**
 * A record is not started with less time than this left: it is handed back to the queue instead, so a batch slowed
 * down (DynamoDB throttling at a table's cap) returns its remaining events rather than timing out, which would
 * hand back every event of the batch, those already applied included.
 */
export const RECORD_TIME_RESERVE_MS = 5_000;

/** The domain event contract (services/shared/domain-events.ts) as the bus delivers it in `detail`. */
const domainEventSchema = z.object({
  id: z.string().min(1),
  type: z.string().regex(/^[a-z0-9-]+\.[a-z0-9-]+$/, 'expected `<service>.<what>`'),
  deviceId: z.string().min(1),
  deviceType: deviceTypeSchema,
  site: z.string().optional(),
  ward: z.string().optional(),
  readings: z.record(z.string(), z.union([z.number(), z.string()])),
  observedAt: z.iso.datetime({ offset: true }),
  detail: z.record(z.string(), z.unknown()),
});

export interface ServiceWorkflowHandlerOptions {
  /**
   * The blueprints this function hosts: its workflow lane's (see `workflowLaneOf`). At least one; no event type
   * may belong to two of them, so every event has exactly one workflow.
   */
  readonly blueprints: readonly ServiceBlueprint[];
  /** Built on first use, so a cold start that is never invoked costs nothing. */
  readonly ports: () => WorkflowPorts;
  /** Built on first use per service: the time scale and that service's settings. */
  readonly context: (service: string) => ServiceContext;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

/**
 * A workflow lane's function, hosting its lane's blueprints. A batch from the lane's queue is applied one event at
 * a time, in order, each through the `onEvent` of the blueprint whose event types list its detail-type (a
 * detail-type no hosted blueprint lists is a failed record that names it); an event that is malformed or whose
 * workflow fails is reported as a batch item failure (the event source mapping has ReportBatchItemFailures on), so
 * only it is retried and, after {@link WORKFLOW_QUEUE.maxReceiveCount} receives, dead-lettered; the others are
 * done. A schedule runs the `onSchedule` of every hosted blueprint that has one, side by side: one blueprint's
 * failure does not stop the others', and once all have finished the run fails naming the ones that failed (Lambda
 * retries it, then sends it to the dead-letter queue; the schedules are idempotent, so the rerun of the others
 * changes nothing). One log line per event applied and per blueprint's scheduled run says what changed (jobs,
 * alerts, site views, notices), so a replay shows as a line with nothing changed.
 */
export function createServiceWorkflowHandler(options: ServiceWorkflowHandlerOptions) {
  const { blueprints } = options;
  const byEventType = blueprintsByEventType(blueprints);
  const hosted = blueprints.map((blueprint) => blueprint.name);
  const logger = options.logger ?? createLogger(`workflow-${hosted.join('-')}`);
  let ports: WorkflowPorts | undefined;
  const serviceContexts = new Map<string, ServiceContext>();

  const workflowContext = (service: string): WorkflowContext => {
    let serviceContext = serviceContexts.get(service);
    if (!serviceContext) {
      serviceContext = options.context(service);
      serviceContexts.set(service, serviceContext);
    }
    return { ...serviceContext, now: options.now?.() ?? new Date() };
  };

  const applyEvent = async (blueprint: ServiceBlueprint, event: DomainEvent): Promise<void> => {
    ports ??= options.ports();
    const recorded = recordChanges(ports);
    await blueprint.workflow.onEvent(event, recorded.ports, workflowContext(blueprint.name));
    logger.info('event applied', {
      service: blueprint.name,
      eventId: event.id,
      eventType: event.type,
      deviceId: event.deviceId,
      observedAt: event.observedAt,
      ...recorded.changes,
    });
  };

  const runSchedule = async (): Promise<void> => {
    ports ??= options.ports();
    const workPorts = ports;
    const scheduled = blueprints.filter((blueprint) => blueprint.workflow.onSchedule);
    if (scheduled.length === 0) {
      logger.info('schedule run', { services: hosted, scheduled: false, changed: false });
      return;
    }
    const outcomes = await Promise.allSettled(
      scheduled.map(async (blueprint) => {
        const recorded = recordChanges(workPorts);
        try {
          await blueprint.workflow.onSchedule?.(recorded.ports, workflowContext(blueprint.name));
        } catch (error) {
          // What it changed before it failed is logged too: a rerun will find it done.
          logger.error('schedule run failed', {
            service: blueprint.name,
            reason: error instanceof Error ? error.message : String(error),
            ...recorded.changes,
            error: error as Error,
          });
          throw error;
        }
        logger.info('schedule run', { service: blueprint.name, scheduled: true, ...recorded.changes });
      }),
    );
    const failures = outcomes.flatMap((outcome, index) =>
      outcome.status === 'rejected'
        ? [{ service: (scheduled[index] as ServiceBlueprint).name, error: outcome.reason as unknown }]
        : [],
    );
    if (failures.length > 0) throw new ScheduledRunFailedError(failures);
  };

  const applyBatch = async (records: readonly SQSRecord[], context: Context): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const [index, record] of records.entries()) {
      if (remainingMs(context) < RECORD_TIME_RESERVE_MS) {
        const handedBack = records.slice(index).map((r) => r.messageId);
        logger.warn('out of time; events handed back to the queue unapplied', {
          services: hosted,
          messageIds: handedBack,
        });
        batchItemFailures.push(...handedBack.map((itemIdentifier) => ({ itemIdentifier })));
        break;
      }
      try {
        const work = readRecord(byEventType, hosted, record);
        if (work.kind === 'event') {
          await applyEvent(work.blueprint, work.event);
        } else {
          logger.warn('a failed scheduled run, redriven from the dead-letter queue: nothing to redo', {
            services: hosted,
            messageId: record.messageId,
            reason: `the schedule runs every ${WORKFLOW_SCHEDULE_MINUTES} minutes and works from the stores`,
          });
        }
      } catch (error) {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        logRecordFailure(record, error);
      }
    }
    return { batchItemFailures };
  };

  const logRecordFailure = (record: SQSRecord, error: unknown) => {
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    const rejected = error instanceof RejectedWorkflowEventError;
    logger.error(rejected ? 'event rejected' : 'event failed', {
      services: hosted,
      messageId: record.messageId,
      // What was wrong, in words: the message names the field, the source or the detail-type at fault.
      reason: error instanceof Error ? error.message : String(error),
      receiveCount,
      next:
        receiveCount >= WORKFLOW_QUEUE.maxReceiveCount
          ? 'moves to the dead-letter queue'
          : 'retried after the visibility timeout',
      ...(rejected ? {} : { error: error as Error }),
    });
  };

  return middy(
    async (invocation: WorkflowInvocation, context: Context): Promise<SQSBatchResponse | undefined> => {
      const work = readInvocation(byEventType, hosted, invocation);
      switch (work.kind) {
        case 'batch':
          return applyBatch(work.records, context);
        case 'event':
          await applyEvent(work.blueprint, work.event);
          return undefined;
        case 'schedule':
          await runSchedule();
          return undefined;
      }
    },
  ).use(injectLambdaContext(logger));
}

/** The schedule's period in minutes, for log lines. */
const WORKFLOW_SCHEDULE_MINUTES = WORKFLOW_SCHEDULE_SECONDS / 60;

/** Time left in this invocation; unbounded when the context cannot tell (a test's or a local caller's). */
function remainingMs(context: Context | undefined): number {
  return typeof context?.getRemainingTimeInMillis === 'function'
    ? context.getRemainingTimeInMillis()
    : Number.POSITIVE_INFINITY;
}

/** Which hosted blueprint handles each event type; refuses an empty lane and an event type two blueprints claim. */
function blueprintsByEventType(
  blueprints: readonly ServiceBlueprint[],
): ReadonlyMap<string, ServiceBlueprint> {
  if (blueprints.length === 0) throw new Error('a workflow function needs at least one blueprint to host');
  const byEventType = new Map<string, ServiceBlueprint>();
  for (const blueprint of blueprints) {
    for (const type of blueprint.eventTypes) {
      const claimed = byEventType.get(type);
      if (claimed) {
        throw new Error(
          `event type ${type} is listed by both ${claimed.name} and ${blueprint.name}: each event must have one workflow`,
        );
      }
      byEventType.set(type, blueprint);
    }
  }
  return byEventType;
}

type EventWork = {
  readonly kind: 'event';
  readonly blueprint: ServiceBlueprint;
  readonly event: DomainEvent;
};

type Work =
  | { readonly kind: 'batch'; readonly records: readonly SQSRecord[] }
  | EventWork
  | { readonly kind: 'schedule' };

function asObject(value: unknown): Record<string, unknown> {
  return (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
}

function readInvocation(
  byEventType: ReadonlyMap<string, ServiceBlueprint>,
  hosted: readonly string[],
  invocation: WorkflowInvocation,
): Work {
  const raw = asObject(invocation);
  if (raw.kind === 'schedule') return { kind: 'schedule' };
  if (raw.source === 'aws.events' && raw['detail-type'] === 'Scheduled Event') return { kind: 'schedule' };
  if (Array.isArray(raw.Records)) return { kind: 'batch', records: raw.Records as SQSRecord[] };
  return readDomainEvent(byEventType, hosted, raw);
}

/**
 * One queue message: an EventBridge event with a domain event of a hosted blueprint's types, or (after a redrive
 * of the dead-letter queue, which also holds the schedule's failed invocations) Lambda's record of a failed
 * scheduled run, which needs nothing redone.
 */
function readRecord(
  byEventType: ReadonlyMap<string, ServiceBlueprint>,
  hosted: readonly string[],
  record: SQSRecord,
): EventWork | { readonly kind: 'failed-schedule' } {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (error) {
    throw new RejectedWorkflowEventError(
      `message body is not JSON (${(error as Error).message}): ${JSON.stringify(record.body.slice(0, 80))}`,
    );
  }
  const raw = asObject(body);
  if (asObject(raw.requestPayload).kind === 'schedule' && 'requestContext' in raw) {
    return { kind: 'failed-schedule' };
  }
  return readDomainEvent(byEventType, hosted, raw);
}

/**
 * The domain event an EventBridge event carries and the hosted blueprint it is for, checked: source, detail-type
 * (one a hosted blueprint lists), detail.
 */
function readDomainEvent(
  byEventType: ReadonlyMap<string, ServiceBlueprint>,
  hosted: readonly string[],
  raw: Record<string, unknown>,
): EventWork {
  const source = raw.source;
  const detailType = raw['detail-type'];
  if (source !== DOMAIN_EVENT_SOURCE) {
    throw new RejectedWorkflowEventError(
      `the ${hosted.join(', ')} workflow lane takes domain events (source ${DOMAIN_EVENT_SOURCE}) or its ` +
        `schedule; got source ${JSON.stringify(source)}, detail-type ${JSON.stringify(detailType)}`,
    );
  }
  const blueprint = typeof detailType === 'string' ? byEventType.get(detailType) : undefined;
  if (!blueprint) {
    throw new RejectedWorkflowEventError(
      `no hosted blueprint handles detail-type ${JSON.stringify(detailType)}; this lane hosts ` +
        `${hosted.join(', ')}, which handle ${[...byEventType.keys()].join(', ')} (is a bus rule's target right?)`,
    );
  }
  const parsed = domainEventSchema.safeParse(raw.detail);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${['detail', ...issue.path.map(String)].join('.')}: ${issue.message}`)
      .join('; ');
    throw new RejectedWorkflowEventError(`malformed ${detailType} event: ${issues}`);
  }
  if (parsed.data.type !== detailType) {
    throw new RejectedWorkflowEventError(
      `event ${parsed.data.id} has detail-type ${detailType} but detail.type ${parsed.data.type}`,
    );
  }
  return { kind: 'event', blueprint, event: parsed.data as DomainEvent };
}

/** What one invocation changed, for its log line: ids only, never readings or summaries. */
interface WorkflowChanges {
  readonly changed: boolean;
  readonly jobsOpened: string[];
  /** `<job id>:<status>` after the change. */
  readonly jobsUpdated: string[];
  /** `<incident id>:<status>` after the change. */
  readonly alertsSaved: string[];
  readonly sitesSaved: string[];
  readonly notices: number;
}

/** The ports, passing through, noting each write that was made (a refused conditional write changed nothing). */
function recordChanges(ports: WorkflowPorts): {
  readonly ports: WorkflowPorts;
  readonly changes: WorkflowChanges;
} {
  const jobsOpened: string[] = [];
  const jobsUpdated: string[] = [];
  const alertsSaved: string[] = [];
  const sitesSaved: string[] = [];
  let notices = 0;
  const noted = <T>(made: boolean, list: T[], entry: T) => {
    if (made) list.push(entry);
    return made;
  };
  const recorded: WorkflowPorts = {
    ...ports,
    jobs: {
      create: async (job) => noted(await ports.jobs.create(job), jobsOpened, job.id),
      replace: async (job, expected) =>
        noted(await ports.jobs.replace(job, expected), jobsUpdated, `${job.id}:${job.status}`),
      get: (id) => ports.jobs.get(id),
      activeAt: (deviceId, at) => ports.jobs.activeAt(deviceId, at),
      list: (query) => ports.jobs.list(query),
    },
    alerts: {
      save: async (alert, expected) =>
        noted(await ports.alerts.save(alert, expected), alertsSaved, `${alert.incidentId}:${alert.status}`),
      current: (key) => ports.alerts.current(key),
      byIncident: (id) => ports.alerts.byIncident(id),
      active: (service) => ports.alerts.active(service),
      list: (query) => ports.alerts.list(query),
    },
    sites: {
      save: async (record) => noted(await ports.sites.save(record), sitesSaved, record.site),
      get: (service, site) => ports.sites.get(service, site),
      list: (service) => ports.sites.list(service),
    },
    notifier: {
      notify: async (service, subject, message) => {
        await ports.notifier.notify(service, subject, message);
        notices += 1;
      },
    },
  };
  return {
    ports: recorded,
    get changes() {
      const changed =
        jobsOpened.length + jobsUpdated.length + alertsSaved.length + sitesSaved.length + notices > 0;
      return { changed, jobsOpened, jobsUpdated, alertsSaved, sitesSaved, notices };
    },
  };
}

/**
 * The handler as deployed: the blueprints named by `SERVICE_NAMES` (its workflow lane's), their ports, topics and
 * settings from the environment.
 */
export function serviceWorkflowHandlerFromEnvironment(env: Environment, logger?: Logger) {
  const blueprints = blueprintsNamed(hostedServicesFromEnvironment(env));
  return createServiceWorkflowHandler({
    blueprints,
    ports: () => workflowPortsFromEnvironment(env),
    context: (service) => serviceContextFromEnvironment(env, service),
    ...(logger ? { logger } : {}),
  });
}

let deployed: ReturnType<typeof serviceWorkflowHandlerFromEnvironment> | undefined;

/** Resolves the blueprints on the first invocation, so importing this module never needs the environment. */
export const handler = (
  invocation: WorkflowInvocation,
  context: Context,
): Promise<SQSBatchResponse | undefined> => {
  deployed ??= serviceWorkflowHandlerFromEnvironment(process.env);
  return deployed(invocation, context);
};
