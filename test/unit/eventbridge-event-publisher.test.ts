import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  EventBridgeEventPublisher,
  putEventsEntrySize,
} from '../../lambdas/adapters/eventbridge-event-publisher.js';
import { DOMAIN_EVENT_SOURCE, EVENT_ENTRY_MAX_BYTES } from '../../lambdas/contracts/domain-event-bus.js';
import { type DomainEvent, domainEvent } from '../../services/shared/domain-events.js';
import { at, point } from '../../services/shared/telemetry-fixtures.js';

process.env.AWS_REGION = 'eu-west-2';

const bus = mockClient(EventBridgeClient);
beforeEach(() => bus.reset());

function events(
  count: number,
  readings: Record<string, number | string> = { fillingLevel: 0.9 },
): DomainEvent[] {
  return Array.from({ length: count }, (_, i) =>
    domainEvent('waste.full', point('waste-container', readings, at(i), { deviceId: `bin-${i}` }), {
      fillingLevel: 0.9,
      threshold: 0.8,
    }),
  );
}

function publisher(errors: unknown[] = []) {
  return new EventBridgeEventPublisher(new EventBridgeClient({}), 'civic-services', (error) =>
    errors.push(error),
  );
}

/** What PutEvents answers when every entry of a request is accepted. */
const accepted = (input: { Entries?: unknown[] }) => ({
  FailedEntryCount: 0,
  Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `id-${i}` })),
});

describe('EventBridgeEventPublisher', () => {
  it('sends each event as one entry: the platform source, its type as detail-type, itself as detail, its observation time', async () => {
    bus.on(PutEventsCommand).callsFake(accepted);
    const [event] = events(1);
    expect(await publisher().publish(events(1))).toEqual([]);
    expect(bus.commandCalls(PutEventsCommand)[0]?.args[0].input).toEqual({
      Entries: [
        {
          EventBusName: 'civic-services',
          Source: DOMAIN_EVENT_SOURCE,
          DetailType: 'waste.full',
          Detail: JSON.stringify(event),
          Time: new Date(at(0)),
        },
      ],
    });
    expect(
      JSON.parse(bus.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.Detail ?? ''),
    ).toMatchObject({
      deviceId: 'bin-0',
      ward: 'E05000001',
      site: 'site-1',
      readings: { fillingLevel: 0.9 },
      observedAt: at(0),
    });
  });

  it('sends at most ten entries per request', async () => {
    bus.on(PutEventsCommand).callsFake(accepted);
    expect(await publisher().publish(events(23))).toEqual([]);
    expect(bus.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([
      10, 10, 3,
    ]);
  });

  it('starts a new request before the entries of one would pass 256 KB', async () => {
    bus.on(PutEventsCommand).callsFake(accepted);
    const big = events(3, { status: 'x'.repeat(100_000) });
    expect(await publisher().publish(big)).toEqual([]);
    const requests = bus.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? []);
    expect(requests.map((r) => r.length)).toEqual([2, 1]);
    for (const entries of requests) {
      expect(entries.reduce((sum, entry) => sum + putEventsEntrySize(entry), 0)).toBeLessThanOrEqual(
        EVENT_ENTRY_MAX_BYTES,
      );
    }
  });

  it('hands back the entries PutEvents refused, by their index in the whole list', async () => {
    bus
      .on(PutEventsCommand)
      .callsFakeOnce(accepted)
      .callsFakeOnce((input: { Entries?: unknown[] }) => ({
        FailedEntryCount: 2,
        Entries: (input.Entries ?? []).map((_, i) =>
          i === 0 || i === 2
            ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }
            : { EventId: `id-${i}` },
        ),
      }));
    const errors: unknown[] = [];
    expect(await publisher(errors).publish(events(13))).toEqual([10, 12]);
    expect(errors.map((e) => (e as Error).message)).toEqual([
      'PutEvents refused 2 of 3 entries (ThrottlingException: slow down)',
    ]);
  });

  it('hands back every entry of a request that failed as a whole, and only those', async () => {
    bus
      .on(PutEventsCommand)
      .callsFakeOnce(accepted)
      .rejectsOnce(Object.assign(new Error('access denied'), { name: 'AccessDeniedException' }));
    const errors: unknown[] = [];
    expect(await publisher(errors).publish(events(12))).toEqual([10, 11]);
    expect((errors[0] as Error).name).toBe('AccessDeniedException');
  });

  it('refuses, without sending, an event too large for any request', async () => {
    bus.on(PutEventsCommand).callsFake(accepted);
    const errors: unknown[] = [];
    const mixed = [...events(1), ...events(1, { status: 'x'.repeat(EVENT_ENTRY_MAX_BYTES) })];
    expect(await publisher(errors).publish(mixed)).toEqual([1]);
    expect(bus.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries?.length)).toEqual([1]);
    expect((errors[0] as Error).message).toMatch(/bytes; the bus takes at most 262144/);
  });

  it('sends nothing for no events', async () => {
    expect(await publisher().publish([])).toEqual([]);
    expect(bus.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
