import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { DomainEvent } from '../../services/shared/domain-events.js';
import {
  DOMAIN_EVENT_SOURCE,
  EVENT_ENTRY_MAX_BYTES,
  PUT_EVENTS_MAX_ENTRIES,
} from '../contracts/domain-event-bus.js';
import type { DomainEventPublisher } from '../domain/change-detection.js';

/** EventBridge counts an entry's `Time` as 14 bytes, whatever its form. */
const TIME_BYTES = 14;

/** An entry's size as EventBridge counts it against the 256 KB per request: Time, Source, DetailType, Detail. */
export function putEventsEntrySize(entry: PutEventsRequestEntry): number {
  return (
    (entry.Time ? TIME_BYTES : 0) +
    Buffer.byteLength(entry.Source ?? '') +
    Buffer.byteLength(entry.DetailType ?? '') +
    Buffer.byteLength(entry.Detail ?? '')
  );
}

/** The bus entry of a domain event: see lambdas/contracts/domain-event-bus.ts for the routing contract. */
export function putEventsEntry(event: DomainEvent, eventBusName: string): PutEventsRequestEntry {
  return {
    EventBusName: eventBusName,
    Source: DOMAIN_EVENT_SOURCE,
    DetailType: event.type,
    Detail: JSON.stringify(event),
    // The device's observation time, not the send time: a late or retried event keeps when it happened.
    Time: new Date(event.observedAt),
  };
}

/**
 * Publishes domain events to an EventBridge bus with PutEvents: at most {@link PUT_EVENTS_MAX_ENTRIES} entries
 * and {@link EVENT_ENTRY_MAX_BYTES} per request, one request per group, the groups at once. PutEvents accepts or
 * refuses entry by entry; refused ones (and every entry of a request that failed as a whole) are reported by
 * index so the caller retries just their devices. An entry too large for any request is refused without sending:
 * it could never succeed, and the retries take its message to the dead-letter queue with the reason logged.
 */
export class EventBridgeEventPublisher implements DomainEventPublisher {
  /** @param onError told why entries were refused or a request failed, for the function's log. */
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  async publish(events: readonly DomainEvent[]): Promise<readonly number[]> {
    const refused: number[] = [];
    const groups: { index: number; entry: PutEventsRequestEntry }[][] = [];
    let group: { index: number; entry: PutEventsRequestEntry }[] = [];
    let groupBytes = 0;
    events.forEach((event, index) => {
      const entry = putEventsEntry(event, this.eventBusName);
      const bytes = putEventsEntrySize(entry);
      if (bytes > EVENT_ENTRY_MAX_BYTES) {
        this.onError(
          new Error(
            `domain event ${event.id} (${event.type}) is ${bytes} bytes; the bus takes at most ${EVENT_ENTRY_MAX_BYTES}`,
          ),
        );
        refused.push(index);
        return;
      }
      if (group.length === PUT_EVENTS_MAX_ENTRIES || groupBytes + bytes > EVENT_ENTRY_MAX_BYTES) {
        groups.push(group);
        group = [];
        groupBytes = 0;
      }
      group.push({ index, entry });
      groupBytes += bytes;
    });
    if (group.length > 0) groups.push(group);

    await Promise.all(
      groups.map(async (part) => {
        try {
          const response = await this.client.send(
            new PutEventsCommand({ Entries: part.map((p) => p.entry) }),
          );
          if (!response.FailedEntryCount) return;
          const reasons = new Set<string>();
          part.forEach(({ index }, position) => {
            const result = response.Entries?.[position];
            // The response lists one result per entry, in order; a missing one is not known to be sent.
            if (!result || result.ErrorCode || !result.EventId) {
              refused.push(index);
              reasons.add(`${result?.ErrorCode ?? 'NoResult'}: ${result?.ErrorMessage ?? 'no result entry'}`);
            }
          });
          this.onError(
            new Error(
              `PutEvents refused ${response.FailedEntryCount} of ${part.length} entries (${[...reasons].join('; ')})`,
            ),
          );
        } catch (error) {
          this.onError(error);
          for (const { index } of part) refused.push(index);
        }
      }),
    );
    return refused.sort((a, b) => a - b);
  }
}
