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
 * How often the bus retries a failed delivery to a workflow before dead-lettering it, and for how long: EventBridge
 * retries with back-off; the local bus uses the same counts.
 */
export const WORKFLOW_DELIVERY = { retryAttempts: 8, maxEventAgeSeconds: 6 * 3600 } as const;

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
