import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EventBridgeEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { servicePattern, WORKFLOW_QUEUE } from '../../lambdas/contracts/domain-event-bus.js';
import { DurableQueue } from '../../local/durable-queue.js';
import { LocalEventBus, type LocalQueueMessages } from '../../local/local-event-bus.js';
import type { SqsBatchHandler } from '../../local/queue-consumer.js';
import { type DomainEvent, domainEvent } from '../../services/shared/domain-events.js';
import { at, point } from '../../services/shared/telemetry-fixtures.js';

let dir: string;
let bus: LocalEventBus | undefined;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'civic-bus-'));
});
afterEach(async () => {
  await bus?.close();
  bus = undefined;
  await rm(dir, { recursive: true, force: true });
});

const until = async (check: () => boolean, what: string, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

const full = (deviceId: string): DomainEvent =>
  domainEvent('waste.full', point('waste-container', { fillingLevel: 0.9 }, at(0), { deviceId }), {
    fillingLevel: 0.9,
  });

const deviceOf = (body: string) =>
  (JSON.parse(body) as EventBridgeEvent<string, DomainEvent>).detail.deviceId;

/**
 * Opens the bus with the ordinary lane and one rule for `waste.full` routing to it, and starts its consumer
 * unless `started` is false.
 */
async function openBus(
  handler: SqsBatchHandler,
  { started = true, ...options }: { maxConcurrency?: number; started?: boolean } = {},
) {
  const messages: LocalQueueMessages[] = [];
  bus = await LocalEventBus.open({
    directory: dir,
    lanes: [{ name: 'ordinary', handler }],
    rules: [{ name: 'waste', pattern: servicePattern(['waste.full']), lane: 'ordinary' }],
    retryDelayMs: 20,
    batchingWindowMs: 30,
    region: 'eu-west-2',
    accountId: '000000000000',
    log: () => undefined,
    onQueueMessages: (m) => messages.push(m),
    ...options,
  });
  if (started) bus.start();
  return { bus, messages };
}

describe('local event bus: workflow queues consumed as the deployed event source mapping consumes them', () => {
  it('hands the workflow SQS batches of up to 10 EventBridge events, and counts what it handled', async () => {
    const batches: string[][] = [];
    const { bus, messages } = await openBus(
      async (event: SQSEvent) => {
        batches.push(event.Records.map((record) => deviceOf(record.body)));
        return { batchItemFailures: [] };
      },
      { started: false },
    );
    const bins = Array.from({ length: 12 }, (_, i) => `bin-${i}`);
    expect(await bus.publish(bins.map(full))).toEqual([]);
    // Not matched by the rule: accepted, counted, never delivered.
    expect(await bus.publish([{ ...full('gauge'), type: 'flood.level-changed' }])).toEqual([]);
    // All 12 wait in the queue (durably) before the consumer starts: a full batch, then the rest after the window.
    bus.start();
    await until(() => bus.counts.delivered === 12, 'every event delivered');
    expect(batches.map((batch) => batch.length).sort((a, b) => b - a)).toEqual([10, 2]);
    expect(batches.flat().sort()).toEqual([...bins].sort());
    expect(bus.counts).toEqual({ published: 13, unmatched: 1, delivered: 12, failedAttempts: 0 });
    expect(bus.backlog()).toEqual({ ordinary: { waiting: 0, deadLettered: 0 } });
    // Every event sent, received and deleted once, for the usage meter.
    const total = (key: keyof LocalQueueMessages) => messages.reduce((sum, r) => sum + r[key], 0);
    expect([total('sent'), total('received'), total('deleted')]).toEqual([12, 12, 12]);
  });

  it('receives a failed event again until its maxReceiveCount, then dead-letters it; the rest are done', async () => {
    const receives = new Map<string, number>();
    const { bus } = await openBus(async (event: SQSEvent): Promise<SQSBatchResponse> => {
      const failures = [];
      for (const record of event.Records) {
        const device = deviceOf(record.body);
        receives.set(device, (receives.get(device) ?? 0) + 1);
        if (device === 'bin-bad') failures.push({ itemIdentifier: record.messageId });
      }
      return { batchItemFailures: failures };
    });
    await bus.publish([full('bin-1'), full('bin-bad'), full('bin-2')]);
    // The move to the dead-letter queue is made before the batch is counted.
    await until(
      () =>
        bus.backlog().ordinary?.deadLettered === 1 &&
        bus.counts.failedAttempts === WORKFLOW_QUEUE.maxReceiveCount,
      'the failing event dead-lettered and the batch counted',
    );
    expect(receives.get('bin-bad')).toBe(WORKFLOW_QUEUE.maxReceiveCount);
    expect(receives.get('bin-1')).toBe(1);
    expect(bus.counts).toMatchObject({ delivered: 2, failedAttempts: WORKFLOW_QUEUE.maxReceiveCount });
    expect(bus.backlog()).toEqual({ ordinary: { waiting: 0, deadLettered: 1 } });
  });

  it('runs at most maxConcurrency batches of one queue at once', async () => {
    let running = 0;
    let most = 0;
    const { bus } = await openBus(
      async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 40));
        running -= 1;
        return { batchItemFailures: [] };
      },
      { maxConcurrency: 3, started: false },
    );
    // 80 events: 8 full batches waiting at once.
    await bus.publish(Array.from({ length: 80 }, (_, i) => full(`bin-${i}`)));
    bus.start();
    await until(() => bus.counts.delivered === 80, 'every event delivered');
    expect(most).toBe(3);
  });

  it("routes each service's rule to its lane's one queue: two services share the ordinary lane's batches", async () => {
    const batches: string[][] = [];
    const handler = async (event: SQSEvent) => {
      batches.push(
        event.Records.map(
          (record) => (JSON.parse(record.body) as EventBridgeEvent<string, DomainEvent>)['detail-type'],
        ),
      );
      return { batchItemFailures: [] };
    };
    bus = await LocalEventBus.open({
      directory: dir,
      lanes: [{ name: 'ordinary', handler }],
      rules: [
        { name: 'waste', pattern: servicePattern(['waste.full']), lane: 'ordinary' },
        { name: 'parking', pattern: servicePattern(['parking.spot-changed']), lane: 'ordinary' },
      ],
      retryDelayMs: 20,
      batchingWindowMs: 30,
      region: 'eu-west-2',
      accountId: '000000000000',
      log: () => undefined,
    });
    await bus.publish([full('bin-1'), { ...full('bay-1'), type: 'parking.spot-changed' }]);
    bus.start();
    await until(() => bus?.counts.delivered === 2, 'both events delivered');
    expect(batches).toEqual([['waste.full', 'parking.spot-changed']]);
    expect(Object.keys(bus.backlog())).toEqual(['ordinary']);
  });

  it("never holds an essential event behind the ordinary lane's backlog", async () => {
    let releaseOrdinary: () => void = () => undefined;
    const ordinaryBusy = new Promise<void>((resolve) => {
      releaseOrdinary = resolve;
    });
    const essential: string[] = [];
    bus = await LocalEventBus.open({
      directory: dir,
      lanes: [
        {
          name: 'essential',
          handler: async (event: SQSEvent) => {
            essential.push(...event.Records.map((record) => deviceOf(record.body)));
            return { batchItemFailures: [] };
          },
        },
        {
          name: 'ordinary',
          handler: async () => {
            await ordinaryBusy;
            return { batchItemFailures: [] };
          },
        },
      ],
      rules: [
        { name: 'parking', pattern: servicePattern(['parking.spot-changed']), lane: 'ordinary' },
        { name: 'flood', pattern: servicePattern(['flood.level-changed']), lane: 'essential' },
      ],
      maxConcurrency: 2,
      retryDelayMs: 5_000,
      batchingWindowMs: 5,
      region: 'eu-west-2',
      accountId: '000000000000',
      log: () => undefined,
    });
    bus.start();
    // A burst of parking events takes every ordinary consumer and leaves a backlog; then the river rises.
    await bus.publish(
      Array.from({ length: 50 }, (_, i) => ({ ...full(`bay-${i}`), type: 'parking.spot-changed' })),
    );
    await bus.publish([{ ...full('gauge-1'), type: 'flood.level-changed' }]);
    await until(() => essential.includes('gauge-1'), 'the flood event delivered');
    expect(bus.backlog().ordinary?.waiting).toBeGreaterThan(0);
    releaseOrdinary();
    await until(() => bus?.counts.delivered === 51, 'the parking burst delivered');
  });

  it('refuses a rule that routes to a lane it does not have', async () => {
    await expect(
      LocalEventBus.open({
        directory: dir,
        lanes: [{ name: 'ordinary', handler: async () => ({ batchItemFailures: [] }) }],
        rules: [{ name: 'flood', pattern: servicePattern(['flood.level-changed']), lane: 'essential' }],
        region: 'eu-west-2',
        accountId: '000000000000',
        log: () => undefined,
      }),
    ).rejects.toThrow('bus rule flood routes to workflow lane essential, which is not among ordinary');
  });

  it("moves what waits in a service's own queue from before the lanes to its lane's queue", async () => {
    const legacy = await DurableQueue.open({ name: 'bus-waste', directory: dir, visibilityTimeoutMs: 10 });
    const legacyDlq = await DurableQueue.open({
      name: 'bus-waste-dlq',
      directory: dir,
      visibilityTimeoutMs: 10,
    });
    const event = (deviceId: string) =>
      JSON.stringify({ 'detail-type': 'waste.full', detail: full(deviceId) });
    await legacy.send(event('bin-old-1'));
    await legacy.send(event('bin-old-2'));
    await legacyDlq.send(event('bin-dead'));
    await legacy.close();
    await legacyDlq.close();
    const delivered: string[] = [];
    const { bus } = await openBus(async (sqs: SQSEvent) => {
      delivered.push(...sqs.Records.map((record) => deviceOf(record.body)));
      return { batchItemFailures: [] };
    });
    await until(() => delivered.length === 2, 'the old events delivered');
    expect(delivered.sort()).toEqual(['bin-old-1', 'bin-old-2']);
    expect(bus.backlog()).toEqual({ ordinary: { waiting: 0, deadLettered: 1 } });
    await bus.close();
    // Moved once: a restart finds the old journals gone.
    const again = await openBus(async () => ({ batchItemFailures: [] }), { started: false });
    expect(again.bus.backlog()).toEqual({ ordinary: { waiting: 0, deadLettered: 1 } });
  });
});
