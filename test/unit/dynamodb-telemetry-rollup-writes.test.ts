import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbTelemetryStore } from '../../lambdas/adapters/dynamodb-telemetry-store.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';

const dynamo = mockClient(DynamoDBDocumentClient);

beforeEach(() => {
  dynamo.reset();
  dynamo.on(UpdateCommand).resolves({});
});

const store = () =>
  new DynamoDbTelemetryStore(
    DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-2' })),
    'telemetry',
    400,
  );

function point(readings: Record<string, number | string>): TelemetryPoint {
  return {
    deviceId: 'bin-1',
    deviceType: 'waste-container',
    messageId: 'm-1',
    observedAt: '2026-11-27T10:00:00.000Z',
    receivedAt: '2026-11-27T10:00:00.000Z',
    readings,
  };
}

describe('the append that keeps the rollups', () => {
  it('adds count and sum of each numeric reading in the same conditional update that appends the point', async () => {
    await store().write([point({ fillingLevel: 0.5, temperature: 12, status: 'ok' })]);
    const input = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.UpdateExpression).toMatch(
      /^SET #points = list_append\(.*, #expires = :expires ADD #n0 :one, #s0 :v0, #n1 :one, #s1 :v1$/,
    );
    // The dedupe condition guards the additions: a redelivered reading adds nothing.
    expect(input?.ConditionExpression).toContain('NOT contains(#ids, :id)');
    expect(input?.ExpressionAttributeNames).toMatchObject({
      '#n0': 'n:fillingLevel',
      '#s0': 's:fillingLevel',
      '#n1': 'n:temperature',
      '#s1': 's:temperature',
    });
    expect(input?.ExpressionAttributeValues).toMatchObject({ ':one': 1, ':v0': 0.5, ':v1': 12 });
    expect(JSON.stringify(input)).not.toContain('n:status');
  });

  it('rounds what enters a sum to 9 decimal places, so sums stay within DynamoDB’s 38 digits', async () => {
    await store().write([point({ fillingLevel: 1e-40, temperature: 12.1234567894321 })]);
    const values = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues;
    expect(values).toMatchObject({ ':v0': 0, ':v1': 12.123456789 });
    // The point itself keeps the reading as sent.
    expect(values?.[':point']).toEqual([
      {
        t: Date.parse('2026-11-27T10:00:00.000Z'),
        r: { fillingLevel: 1e-40, temperature: 12.1234567894321 },
      },
    ]);
  });

  it('adds nothing for a reading without numbers', async () => {
    await store().write([point({ status: 'lidOpen' })]);
    const input = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.UpdateExpression).not.toContain('ADD');
    expect(input?.ExpressionAttributeValues).not.toHaveProperty(':one');
  });
});
