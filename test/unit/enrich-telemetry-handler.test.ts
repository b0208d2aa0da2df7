import {
  RejectedRecordsException,
  TimestreamWriteClient,
  WriteRecordsCommand,
} from '@aws-sdk/client-timestream-write';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enrichTelemetryPortsFromEnvironment } from '../../lambdas/adapters/ports-from-environment.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import { createEnrichTelemetryHandler } from '../../lambdas/handlers/enrich-telemetry.js';
import { device, LIMITS, NOW, queued, reading } from '../support/messages.js';

process.env.AWS_REGION = 'eu-west-2';

const dynamo = mockClient(DynamoDBDocumentClient);
const timestream = mockClient(TimestreamWriteClient);

const baseEnv = {
  [ENV.tables.devices]: 'devices',
  [ENV.tables['latest-state']]: 'latest',
  [ENV.tables.quarantine]: 'quarantine',
  [ENV.tables['processed-messages']]: 'processed',
  [ENV.tables.telemetry]: 'telemetry',
  [ENV.retentionDays]: '400',
};

function sqsEvent(messages: { queueMessageId: string; body: string }[]): SQSEvent {
  return {
    Records: messages.map(
      (m) =>
        ({
          messageId: m.queueMessageId,
          receiptHandle: `rh-${m.queueMessageId}`,
          body: m.body,
          attributes: { ApproximateReceiveCount: '1' },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:eu-west-2:111122223333:civic_ingest',
          awsRegion: 'eu-west-2',
        }) as unknown as SQSRecord,
    ),
  };
}

const context = { functionName: 'enrich', awsRequestId: 'req-1' } as Context;

function handlerFor(env: Record<string, string>) {
  return createEnrichTelemetryHandler({
    ports: () => enrichTelemetryPortsFromEnvironment(env),
    limits: () => LIMITS,
    now: () => NOW,
  });
}

function registryHas(...ids: string[]) {
  dynamo.on(BatchGetCommand).callsFake((input) => {
    const [table, request] =
      Object.entries(input.RequestItems as Record<string, { Keys: Record<string, string>[] }>)[0] ?? [];
    if (table !== 'devices') return { Responses: { [table as string]: [] } };
    return {
      Responses: {
        devices: (request?.Keys ?? [])
          .filter((k) => ids.includes(k.deviceId as string))
          .map((k) =>
            device(k.deviceId as string, k.deviceId?.startsWith('river') ? 'water-level' : 'waste-container'),
          ),
      },
    };
  });
}

beforeEach(() => {
  dynamo.reset();
  timestream.reset();
});
afterEach(() => {
  dynamo.reset();
  timestream.reset();
});

describe('enrich-telemetry handler on the DynamoDB store', () => {
  it('reports only the messages whose writes failed as batch item failures, and keeps no idempotency records', async () => {
    registryHas('bin-001', 'bin-002');
    // One device's series partition is throttled; the other point is written.
    dynamo.on(PutCommand).resolves({});
    dynamo.on(UpdateCommand).callsFake((input) => {
      if (input.TableName === 'telemetry' && input.Key.deviceId === 'bin-002') {
        throw Object.assign(new Error('Throughput exceeds the table maximum'), {
          name: 'ThrottlingException',
        });
      }
      return {};
    });
    const response = await handlerFor(baseEnv)(
      sqsEvent([
        queued({ queueMessageId: 'ok-1', payload: reading({ fillingLevel: 0.2 }) }),
        queued({ queueMessageId: 'stuck-1', deviceId: 'bin-002', payload: reading({ fillingLevel: 0.9 }) }),
      ]),
      context,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'stuck-1' }]);
    const appends = dynamo
      .commandCalls(UpdateCommand)
      .filter((c) => c.args[0].input.TableName === 'telemetry');
    expect(appends).toHaveLength(2);
    for (const append of appends)
      expect(append.args[0].input.ConditionExpression).toContain('NOT contains(#ids, :id)');
    expect(dynamo.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });

  it('treats a failed append whose bucket already holds the message id as an already stored point', async () => {
    registryHas('bin-001');
    const message = reading({ fillingLevel: 0.2 });
    dynamo.on(PutCommand).resolves({});
    dynamo.on(UpdateCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
      }),
    );
    dynamo.on(GetCommand).resolves({ Item: { ids: [message.messageId] } });
    const response = await handlerFor(baseEnv)(
      sqsEvent([queued({ queueMessageId: 'dup', payload: message })]),
      context,
    );
    expect(response.batchItemFailures).toEqual([]);
    // Latest state is still offered the point: an earlier delivery may have stopped before writing it.
    expect(
      dynamo.commandCalls(PutCommand).filter((c) => c.args[0].input.TableName === 'latest'),
    ).toHaveLength(1);
  });

  it('returns every message for retry when DynamoDB is unreachable', async () => {
    dynamo.on(BatchGetCommand).rejects(new Error('socket hang up'));
    const response = await handlerFor(baseEnv)(
      sqsEvent([queued({ queueMessageId: 'a', payload: reading({ fillingLevel: 0.2 }) })]),
      context,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'a' }]);
  });
});

describe('enrich-telemetry handler on the Timestream store', () => {
  const env = {
    ...baseEnv,
    [ENV.telemetryStore]: 'timestream',
    [ENV.timestreamDatabase]: 'civic',
    [ENV.timestreamTable]: 'telemetry',
  };

  it('writes multi-measure records in calls of at most 100', async () => {
    registryHas('bin-001');
    dynamo.on(BatchWriteCommand).resolves({});
    dynamo.on(PutCommand).resolves({});
    timestream.on(WriteRecordsCommand).resolves({});
    const messages = Array.from({ length: 150 }, (_, i) =>
      queued({
        payload: reading(
          { fillingLevel: 0.5, status: 'ok' },
          { observedAt: new Date(NOW.getTime() - i * 1000).toISOString() },
        ),
      }),
    );
    const response = await handlerFor(env)(sqsEvent(messages), context);
    expect(response.batchItemFailures).toEqual([]);
    const calls = timestream.commandCalls(WriteRecordsCommand);
    expect(calls.map((c) => c.args[0].input.Records?.length)).toEqual([100, 50]);
    const record = calls[0]?.args[0].input.Records?.[0];
    expect(record).toMatchObject({
      MeasureValueType: 'MULTI',
      MeasureName: 'waste-container',
      TimeUnit: 'MILLISECONDS',
    });
    expect(record?.MeasureValues).toEqual(
      expect.arrayContaining([
        { Name: 'fillingLevel', Value: '0.5', Type: 'DOUBLE' },
        { Name: 'status', Value: 'ok', Type: 'VARCHAR' },
      ]),
    );
  });

  it('quarantines the records Timestream rejects and keeps the rest of the call', async () => {
    registryHas('bin-001');
    dynamo.on(BatchWriteCommand).resolves({});
    dynamo.on(PutCommand).resolves({});
    timestream.on(WriteRecordsCommand).rejects(
      new RejectedRecordsException({
        message: 'One or more records have been rejected.',
        $metadata: {},
        RejectedRecords: [
          {
            RecordIndex: 1,
            Reason: 'A record with the same time and dimensions has a different measure value.',
            ExistingVersion: 1,
          },
          {
            RecordIndex: 2,
            Reason: 'The record timestamp is outside the time range of the data ingestion window',
          },
        ],
      }),
    );
    const messages = [0, 1, 2].map((i) =>
      queued({
        queueMessageId: `m${i}`,
        payload: reading(
          { fillingLevel: 0.1 * i },
          { observedAt: new Date(NOW.getTime() - i * 1000).toISOString() },
        ),
      }),
    );
    const response = await handlerFor(env)(sqsEvent(messages), context);
    expect(response.batchItemFailures).toEqual([]);
    const quarantined = dynamo
      .commandCalls(BatchWriteCommand)
      .flatMap((call) => (call.args[0].input.RequestItems?.quarantine ?? []).map((r) => r.PutRequest?.Item));
    expect(quarantined.map((q) => [q?.sourceId, q?.reason])).toEqual([
      ['m1', 'STORE_REJECTED'],
      ['m2', 'STORE_REJECTED'],
    ]);
    expect(String(quarantined[0]?.detail)).toContain('existing version 1');
    const marks = dynamo
      .commandCalls(BatchWriteCommand)
      .flatMap((call) => call.args[0].input.RequestItems?.processed ?? []);
    expect(marks).toHaveLength(1);
  });

  it('retries the records of a throttled WriteRecords call', async () => {
    registryHas('bin-001');
    dynamo.on(BatchWriteCommand).resolves({});
    timestream
      .on(WriteRecordsCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const response = await handlerFor(env)(
      sqsEvent([queued({ queueMessageId: 't1', payload: reading({ fillingLevel: 0.3 }) })]),
      context,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 't1' }]);
  });
});
