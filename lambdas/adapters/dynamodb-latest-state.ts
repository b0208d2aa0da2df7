import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { needsLatestStateWrite, stateFingerprint, type WrittenState } from '../domain/latest-state-policy.js';
import type { LatestStateStore, TelemetryPoint } from '../domain/telemetry.js';

export function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string }).name === 'ConditionalCheckFailedException'
  );
}

/**
 * Latest state per device. The condition makes the write "only if newer", so out-of-order and redelivered
 * messages can never move a device's state backwards.
 */
export class DynamoDbLatestState implements LatestStateStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async putIfNewer(points: readonly TelemetryPoint[]): Promise<readonly number[]> {
    const outcomes = await Promise.all(
      points.map(async (point, index) => {
        try {
          await this.client.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...point },
              ConditionExpression: 'attribute_not_exists(deviceId) OR observedAt < :observedAt',
              ExpressionAttributeValues: { ':observedAt': point.observedAt },
            }),
          );
          return undefined;
        } catch (error) {
          // Not newer than what is stored: nothing to do, and not a failure.
          return isConditionFailure(error) ? undefined : index;
        }
      }),
    );
    return outcomes.filter((index): index is number => index !== undefined);
  }

  async get(deviceId: string): Promise<TelemetryPoint | undefined> {
    const response = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { deviceId } }));
    return response.Item as TelemetryPoint | undefined;
  }
}

/**
 * Remembers, in the function's memory, what this instance last wrote for each device, and skips latest-state
 * writes that would change nothing but the timestamp (see {@link needsLatestStateWrite}). Another instance may
 * hold an older memory; that only costs an extra conditional write, never a wrong state.
 */
export class WriteOnChangeLatestState implements LatestStateStore {
  private readonly written = new Map<string, WrittenState>();

  constructor(
    private readonly inner: LatestStateStore,
    private readonly refreshSeconds: number,
    private readonly maxEntries = 100_000,
  ) {}

  async putIfNewer(points: readonly TelemetryPoint[]): Promise<readonly number[]> {
    const toWrite = points
      .map((point, index) => ({ point, index }))
      .filter(({ point }) =>
        needsLatestStateWrite(this.written.get(point.deviceId), point, this.refreshSeconds),
      );
    if (toWrite.length === 0) return [];
    const failed = new Set(await this.inner.putIfNewer(toWrite.map(({ point }) => point)));
    if (this.written.size + toWrite.length > this.maxEntries) this.written.clear();
    toWrite.forEach(({ point }, i) => {
      if (failed.has(i)) this.written.delete(point.deviceId);
      else
        this.written.set(point.deviceId, {
          observedAt: point.observedAt,
          fingerprint: stateFingerprint(point),
        });
    });
    return toWrite.filter((_, i) => failed.has(i)).map(({ index }) => index);
  }

  get(deviceId: string): Promise<TelemetryPoint | undefined> {
    return this.inner.get(deviceId);
  }
}
