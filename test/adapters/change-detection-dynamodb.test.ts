import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingEventPublisher } from '../../lambdas/adapters/in-memory-ports.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import type { TableId } from '../../lambdas/contracts/tables.js';
import { enrichTelemetryHandlerFromEnvironment } from '../../lambdas/handlers/enrich-telemetry.js';
import { startDynamo } from '../support/dynalite.js';
import { device, queued, reading } from '../support/messages.js';

/**
 * The enrichment handler as the local runtime builds it (environment plus its own bus), on real DynamoDB
 * tables, running the real waste blueprint: the one test here that depends on a blueprint's rules.
 */
let dynamo: Awaited<ReturnType<typeof startDynamo>>;

beforeAll(async () => {
  dynamo = await startDynamo();
  await dynamo.client.send(
    new PutCommand({ TableName: dynamo.names.devices, Item: { ...device('bin-e2e', 'waste-container') } }),
  );
});
afterAll(async () => {
  await dynamo.stop();
});

function sqsEvent(messages: { queueMessageId: string; body: string }[]): SQSEvent {
  return {
    Records: messages.map(
      (m) =>
        ({
          messageId: m.queueMessageId,
          body: m.body,
          attributes: { ApproximateReceiveCount: '1' },
          eventSource: 'aws:sqs',
        }) as unknown as SQSRecord,
    ),
  };
}

const context = { functionName: 'enrich', awsRequestId: 'req-1' } as Context;

function handler(publisher: RecordingEventPublisher) {
  const env: Record<string, string> = {
    [ENV.dynamoEndpoint]: dynamo.endpoint,
    [ENV.retentionDays]: '400',
    [ENV.enabledServices]: 'waste',
  };
  for (const [id, name] of Object.entries(dynamo.names)) env[ENV.tables[id as TableId]] = name;
  return enrichTelemetryHandlerFromEnvironment(env, new Logger({ logLevel: 'SILENT' }), undefined, {
    publisher,
    timeScale: 60,
  });
}

describe('enrichment with the waste blueprint enabled', () => {
  it('publishes waste.full once when a bin fills, keeps the state in the service-state table, and emits nothing on redelivery', async () => {
    const publisher = new RecordingEventPublisher();
    const enrich = handler(publisher);
    const now = Date.now();
    const observed = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString();
    const messages = [
      queued({
        deviceId: 'bin-e2e',
        queueMessageId: 'a',
        receivedAt: now,
        payload: reading({ fillingLevel: 0.5 }, { observedAt: observed(120) }),
      }),
      queued({
        deviceId: 'bin-e2e',
        queueMessageId: 'b',
        receivedAt: now,
        payload: reading({ fillingLevel: 0.85 }, { observedAt: observed(60) }),
      }),
      queued({
        deviceId: 'bin-e2e',
        queueMessageId: 'c',
        receivedAt: now,
        payload: reading({ fillingLevel: 0.9 }, { observedAt: observed(0) }),
      }),
    ];
    expect(await enrich(sqsEvent(messages), context)).toEqual({ batchItemFailures: [] });
    expect(publisher.published.map((e) => [e.type, e.deviceId, e.readings])).toEqual([
      ['waste.full', 'bin-e2e', { fillingLevel: 0.85 }],
    ]);
    const stored = await dynamo.client.send(
      new GetCommand({
        TableName: dynamo.names['service-state'],
        Key: { deviceId: 'bin-e2e', service: 'waste' },
      }),
    );
    expect(stored.Item).toMatchObject({ at: new Date(now - 60_000).toISOString() });

    expect(await enrich(sqsEvent(messages), context)).toEqual({ batchItemFailures: [] });
    expect(publisher.published).toHaveLength(1);
  });

  it('hands a message back to the queue while the bus refuses its event', async () => {
    const publisher = new RecordingEventPublisher();
    publisher.refuse = () => true;
    const enrich = handler(publisher);
    const now = Date.now();
    const message = queued({
      deviceId: 'bin-e2e',
      queueMessageId: 'hazard',
      receivedAt: now,
      payload: reading({ status: 'burning' }, { observedAt: new Date(now).toISOString() }),
    });
    expect(await enrich(sqsEvent([message]), context)).toEqual({
      batchItemFailures: [{ itemIdentifier: 'hazard' }],
    });
    publisher.refuse = () => false;
    expect(await enrich(sqsEvent([message]), context)).toEqual({ batchItemFailures: [] });
    expect(publisher.published.map((e) => e.type)).toEqual(['waste.hazard']);
  });
});
