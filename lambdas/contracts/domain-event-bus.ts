/**
 * How domain events travel on the event bus: one EventBridge event per domain event, `detail-type` = the
 * domain event type, `detail` = the event itself. The CDK rules and the local in-process bus match with the
 * same patterns from {@link servicePattern}, so a rule that routes on AWS routes the same way on a laptop.
 */
export const DOMAIN_EVENT_SOURCE = 'civic-iot.services';

/** PutEvents takes at most 10 entries per call and 256 KB per entry. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
export const EVENT_ENTRY_MAX_BYTES = 256 * 1024;

/**
 * How EventBridge hands an event to a workflow's queue: a send that fails (throttled, the queue unreachable) is
 * retried with back-off this many times, for at most this long, then the event goes to the lane's dead-letter
 * queue. A failure of the workflow itself is not a delivery failure: it is retried by the queue
 * ({@link WORKFLOW_QUEUE}).
 */
export const BUS_TO_QUEUE_DELIVERY = { retryAttempts: 8, maxEventAgeSeconds: 6 * 3600 } as const;

/**
 * How a workflow lane consumes its queue: the CDK construct, the local bus and the cost model read these same
 * numbers, so the local runtime and the cost statement describe what is deployed.
 */
export const WORKFLOW_QUEUE = {
  /** Events handed to one workflow invocation; it applies them one at a time, in order. */
  batchSize: 10,
  /**
   * How long the event source mapping waits to fill a batch. Short: events are rare (a handful per device a day)
   * and a flood or air-quality alert should not wait for company.
   */
  maxBatchingWindowSeconds: 1,
  /**
   * Receives before an event moves to the dead-letter queue. Events that fail are retried one visibility timeout
   * apart (15 minutes in all): long enough to ride out DynamoDB throttling at the workflow tables' caps, short
   * enough that a malformed event reaches the alarmed dead-letter queue soon. Waiting in the queue behind the
   * mapping's maximum concurrency costs no receive (Lambda does not take batches it may not run); a throttle by
   * the account's concurrency quota does. It also bounds the SQS receives one event can cause, in the cost
   * statement's worst case.
   */
  maxReceiveCount: 5,
  /** The workflow function's timeout: a batch of events, or its lane's scheduled sweeps through the fleet. */
  functionTimeoutSeconds: 30,
  /** Lambda requires the visibility timeout to be at least the function timeout; AWS advises 6x. */
  visibilityTimeoutSeconds: 180,
  /** Events and dead letters wait this long (the SQS maximum) for a consumer or a fix. */
  retentionDays: 14,
} as const;

/**
 * The two workflow lanes, as the ingest lanes are two: the essential services' workflows (public safety: flood,
 * air quality) run in one lane, every other service's in the other. Each lane is one queue and one capped
 * workflow function hosting its lane's blueprints, which keeps the fixed cost (idle polls, alarms, metered
 * metrics) at two of each rather than one per service. Two lanes, not one: a burst of parking events must never
 * wait in front of a flood alert, and a lane's maximum concurrency is spent by its own services only.
 */
export const WORKFLOW_LANES = ['essential', 'ordinary'] as const;
export type WorkflowLane = (typeof WORKFLOW_LANES)[number];

/** The lane a blueprint's workflow runs in: essential blueprints in the essential lane, the rest in the ordinary. */
export function workflowLaneOf(blueprint: { readonly essential: boolean }): WorkflowLane {
  return blueprint.essential ? 'essential' : 'ordinary';
}

/** The lanes the given blueprints occupy, in {@link WORKFLOW_LANES} order: a lane nobody runs in is not deployed. */
export function workflowLanesOf(blueprints: readonly { readonly essential: boolean }[]): WorkflowLane[] {
  const occupied = new Set(blueprints.map(workflowLaneOf));
  return WORKFLOW_LANES.filter((lane) => occupied.has(lane));
}

/** An EventBridge event pattern, restricted to what the platform uses (exact values only). */
export interface EventPattern {
  readonly source: readonly string[];
  readonly 'detail-type': readonly string[];
}

/** The pattern of a service's rule: its own event types from the platform's source. */
export function servicePattern(eventTypes: readonly string[]): EventPattern {
  return { source: [DOMAIN_EVENT_SOURCE], 'detail-type': [...eventTypes] };
}

/** True when an event matches the pattern, with EventBridge's semantics for exact-value lists. */
export function matchesPattern(
  pattern: EventPattern,
  event: { readonly source: string; readonly 'detail-type': string },
): boolean {
  return pattern.source.includes(event.source) && pattern['detail-type'].includes(event['detail-type']);
}
