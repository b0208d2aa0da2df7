import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { z } from 'zod';
import { blueprintNamed } from '../../services/catalogue.js';
import type { ServiceBlueprint, ServiceContext, WorkflowContext } from '../../services/shared/blueprint.js';
import type { DomainEvent } from '../../services/shared/domain-events.js';
import type { WorkflowPorts } from '../../services/shared/workflow-ports.js';
import type { Environment } from '../adapters/ports-from-environment.js';
import { required } from '../adapters/ports-from-environment.js';
import {
  serviceContextFromEnvironment,
  workflowPortsFromEnvironment,
} from '../adapters/workflow-ports-from-environment.js';
import { deviceTypeSchema } from '../contracts/device-types.js';
import { DOMAIN_EVENT_SOURCE } from '../contracts/domain-event-bus.js';
import { ENV } from '../contracts/environment.js';
import { createLogger } from './logger.js';

/**
 * What a workflow function is invoked with: a domain event from the bus (its rule matches the blueprint's event
 * types), or its schedule, either an EventBridge rule's "Scheduled Event" or a Scheduler target's fixed input
 * `{ "kind": "schedule" }`.
 */
export type WorkflowInvocation = EventBridgeEvent<string, unknown> | { readonly kind: 'schedule' };

/** An invocation the workflow must not apply: thrown, so the bus retries it and then dead-letters it. */
export class RejectedWorkflowEventError extends Error {
  override readonly name = 'RejectedWorkflowEventError';
}

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
 * A service's workflow function: a domain event goes to the blueprint's `onEvent`, a schedule to its
 * `onSchedule`. One log line per invocation says what changed (jobs, alerts, site views, notices), so a replay
 * shows as a line with nothing changed. Errors propagate: the bus retries the event and then dead-letters it.
 */
export function createServiceWorkflowHandler(options: ServiceWorkflowHandlerOptions) {
  const { blueprint } = options;
  const logger = options.logger ?? createLogger(`${blueprint.name}-workflow`);
  let ports: WorkflowPorts | undefined;
  let serviceContext: ServiceContext | undefined;

  return middy(async (invocation: WorkflowInvocation): Promise<void> => {
    const work = readInvocation(blueprint, invocation);
    ports ??= options.ports();
    serviceContext ??= options.context();
    const context: WorkflowContext = { ...serviceContext, now: options.now?.() ?? new Date() };
    const recorded = recordChanges(ports);
    if (work.kind === 'event') {
      await blueprint.workflow.onEvent(work.event, recorded.ports, context);
      logger.info('event applied', {
        service: blueprint.name,
        eventId: work.event.id,
        eventType: work.event.type,
        deviceId: work.event.deviceId,
        observedAt: work.event.observedAt,
        ...recorded.changes,
      });
      return;
    }
    if (!blueprint.workflow.onSchedule) {
      logger.info('schedule run', { service: blueprint.name, scheduled: false, ...recorded.changes });
      return;
    }
    await blueprint.workflow.onSchedule(recorded.ports, context);
    logger.info('schedule run', { service: blueprint.name, scheduled: true, ...recorded.changes });
  }).use(injectLambdaContext(logger));
}

type Work = { readonly kind: 'event'; readonly event: DomainEvent } | { readonly kind: 'schedule' };

function readInvocation(blueprint: ServiceBlueprint, invocation: WorkflowInvocation): Work {
  const raw = (typeof invocation === 'object' && invocation !== null ? invocation : {}) as Record<
    string,
    unknown
  >;
  if (raw.kind === 'schedule') return { kind: 'schedule' };
  const source = raw.source;
  const detailType = raw['detail-type'];
  if (source === 'aws.events' && detailType === 'Scheduled Event') return { kind: 'schedule' };
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
  return { kind: 'event', event: parsed.data as DomainEvent };
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
export const handler = (invocation: WorkflowInvocation, context: Context): Promise<void> => {
  deployed ??= serviceWorkflowHandlerFromEnvironment(process.env);
  return deployed(invocation, context);
};
