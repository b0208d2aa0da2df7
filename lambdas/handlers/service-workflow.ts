import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, EventBridgeEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { blueprintNamed } from '../../services/catalogue.js';
import {
  type ServiceBlueprint,
  type ServiceContext,
  WORKFLOW_SCHEDULE_SECONDS,
  type WorkflowContext,
} from '../../services/shared/blueprint.js';
import type { DomainEvent } from '../../services/shared/domain-events.js';
import type { WorkflowPorts } from '../../services/shared/workflow-ports.js';
import type { Environment } from '../adapters/ports-from-environment.js';
import { required } from '../adapters/ports-from-environment.js';
import {
  serviceContextFromEnvironment,
  workflowPortsFromEnvironment,
} from '../adapters/workflow-ports-from-environment.js';
import { deviceTypeSchema } from '../contracts/device-types.js';
import { DOMAIN_EVENT_SOURCE, WORKFLOW_QUEUE } from '../contracts/domain-event-bus.js';
import { ENV } from '../contracts/environment.js';
import { createLogger } from './logger.js';

/**
 * What a workflow function is invoked with: a batch from its queue (the bus rule puts each matching domain event
 * there, one EventBridge event per message body), or its schedule, either a Scheduler target's fixed input
 * `{ "kind": "schedule" }` or an EventBridge rule's "Scheduled Event". A single domain event, as the bus once
 * invoked the function directly, is still taken.
 */
export type WorkflowInvocation = SQSEvent | EventBridgeEvent<string, unknown> | { readonly kind: 'schedule' };

/** An event the workflow must not apply: its message fails (retried, then dead-lettered), naming what was wrong. */
export class RejectedWorkflowEventError extends Error {
  override readonly name = 'RejectedWorkflowEventError';
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
  readonly blueprint: ServiceBlueprint;
  /** Built on first use, so a cold start that is never invoked costs nothing. */
  readonly ports: () => WorkflowPorts;
  /** Built on first use: the time scale and the service's settings. */
  readonly context: () => ServiceContext;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

/**
 * A service's workflow function. A batch from its queue is applied one event at a time, in order, each through
 * the blueprint's `onEvent`; an event that is malformed or whose workflow fails is reported as a batch item
 * failure (the event source mapping has ReportBatchItemFailures on), so only it is retried and, after
 * {@link WORKFLOW_QUEUE.maxReceiveCount} receives, dead-lettered; the others are done. A schedule goes to
 * `onSchedule`. One log line per event applied and per scheduled run says what changed (jobs, alerts, site views,
 * notices), so a replay shows as a line with nothing changed. A scheduled run's (or a single event's) failure
 * propagates: Lambda retries it and then sends it to the dead-letter queue.
 */
export function createServiceWorkflowHandler(options: ServiceWorkflowHandlerOptions) {
  const { blueprint } = options;
  const logger = options.logger ?? createLogger(`${blueprint.name}-workflow`);
  let ports: WorkflowPorts | undefined;
  let serviceContext: ServiceContext | undefined;

  const workflowContext = (): WorkflowContext => {
    serviceContext ??= options.context();
    return { ...serviceContext, now: options.now?.() ?? new Date() };
  };

  const applyEvent = async (event: DomainEvent): Promise<void> => {
    ports ??= options.ports();
    const recorded = recordChanges(ports);
    await blueprint.workflow.onEvent(event, recorded.ports, workflowContext());
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
    const recorded = recordChanges(ports);
    if (!blueprint.workflow.onSchedule) {
      logger.info('schedule run', { service: blueprint.name, scheduled: false, ...recorded.changes });
      return;
    }
    await blueprint.workflow.onSchedule(recorded.ports, workflowContext());
    logger.info('schedule run', { service: blueprint.name, scheduled: true, ...recorded.changes });
  };

  const applyBatch = async (records: readonly SQSRecord[], context: Context): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const [index, record] of records.entries()) {
      if (remainingMs(context) < RECORD_TIME_RESERVE_MS) {
        const handedBack = records.slice(index).map((r) => r.messageId);
        logger.warn('out of time; events handed back to the queue unapplied', {
          service: blueprint.name,
          messageIds: handedBack,
        });
        batchItemFailures.push(...handedBack.map((itemIdentifier) => ({ itemIdentifier })));
        break;
      }
      try {
        const work = readRecord(blueprint, record);
        if (work.kind === 'event') {
          await applyEvent(work.event);
        } else {
          logger.warn('a failed scheduled run, redriven from the dead-letter queue: nothing to redo', {
            service: blueprint.name,
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
      service: blueprint.name,
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
      const work = readInvocation(blueprint, invocation);
      switch (work.kind) {
        case 'batch':
          return applyBatch(work.records, context);
        case 'event':
          await applyEvent(work.event);
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

type Work =
  | { readonly kind: 'batch'; readonly records: readonly SQSRecord[] }
  | { readonly kind: 'event'; readonly event: DomainEvent }
  | { readonly kind: 'schedule' };

function asObject(value: unknown): Record<string, unknown> {
  return (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
}

function readInvocation(blueprint: ServiceBlueprint, invocation: WorkflowInvocation): Work {
  const raw = asObject(invocation);
  if (raw.kind === 'schedule') return { kind: 'schedule' };
  if (raw.source === 'aws.events' && raw['detail-type'] === 'Scheduled Event') return { kind: 'schedule' };
  if (Array.isArray(raw.Records)) return { kind: 'batch', records: raw.Records as SQSRecord[] };
  return { kind: 'event', event: readDomainEvent(blueprint, raw) };
}

/**
 * One queue message: an EventBridge event with a domain event of the blueprint's types, or (after a redrive of
 * the dead-letter queue, which also holds the schedule's failed invocations) Lambda's record of a failed
 * scheduled run, which needs nothing redone.
 */
function readRecord(
  blueprint: ServiceBlueprint,
  record: SQSRecord,
): { readonly kind: 'event'; readonly event: DomainEvent } | { readonly kind: 'failed-schedule' } {
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
  return { kind: 'event', event: readDomainEvent(blueprint, raw) };
}

/** The domain event an EventBridge event carries, checked against the blueprint: source, detail-type, detail. */
function readDomainEvent(blueprint: ServiceBlueprint, raw: Record<string, unknown>): DomainEvent {
  const source = raw.source;
  const detailType = raw['detail-type'];
  if (source !== DOMAIN_EVENT_SOURCE) {
    throw new RejectedWorkflowEventError(
      `${blueprint.name} workflow takes domain events (source ${DOMAIN_EVENT_SOURCE}) or its schedule; ` +
        `got source ${JSON.stringify(source)}, detail-type ${JSON.stringify(detailType)}`,
    );
  }
  if (typeof detailType !== 'string' || !blueprint.eventTypes.includes(detailType)) {
    throw new RejectedWorkflowEventError(
      `${blueprint.name} workflow does not handle detail-type ${JSON.stringify(detailType)}; ` +
        `it handles ${blueprint.eventTypes.join(', ')} (is the bus rule's pattern right?)`,
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
  return parsed.data as DomainEvent;
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

/** The handler as deployed: the blueprint named by `SERVICE_NAME`, its ports and settings from the environment. */
export function serviceWorkflowHandlerFromEnvironment(env: Environment, logger?: Logger) {
  const blueprint = blueprintNamed(required(env, ENV.serviceName));
  return createServiceWorkflowHandler({
    blueprint,
    ports: () => workflowPortsFromEnvironment(env),
    context: () => serviceContextFromEnvironment(env),
    ...(logger ? { logger } : {}),
  });
}

let deployed: ReturnType<typeof serviceWorkflowHandlerFromEnvironment> | undefined;

/** Resolves the blueprint on the first invocation, so importing this module never needs the environment. */
export const handler = (
  invocation: WorkflowInvocation,
  context: Context,
): Promise<SQSBatchResponse | undefined> => {
  deployed ??= serviceWorkflowHandlerFromEnvironment(process.env);
  return deployed(invocation, context);
};
