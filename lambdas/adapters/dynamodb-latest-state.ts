import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { needsLatestStateWrite, stateFingerprint } from '../domain/latest-state-policy.js';
import type { LatestStateStore, TelemetryPoint } from '../domain/telemetry.js';
import { batchGet, isConditionFailure } from './dynamodb-batches.js';

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

  async getMany(deviceIds: readonly string[]): Promise<ReadonlyMap<string, TelemetryPoint>> {
    if (deviceIds.length === 0) return new Map();
    const items = await batchGet(
      this.client,
      this.tableName,
      deviceIds.map((deviceId) => ({ deviceId })),
      undefined,
      true,
    );
    return new Map(items.map((item) => [item.deviceId as string, item as unknown as TelemetryPoint]));
  }

  /**
   * Every device's latest state, for fleet sweeps. A Scan reads eventually consistent and is billed on the bytes
   * it reads (half a unit per 4 KB), where a BatchGetItem bills every item as at least one unit: for latest-state
   * items of a few hundred bytes the Scan costs about a tenth. A sweep tolerates a state a second old.
   */
  async all(): Promise<TelemetryPoint[]> {
    const points: TelemetryPoint[] = [];
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const response = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
        }),
      );
      points.push(...((response.Items ?? []) as unknown as TelemetryPoint[]));
      exclusiveStartKey = response.LastEvaluatedKey;
    } while (exclusiveStartKey);
    return points;
  }
}

/**
 * Write-on-change: reads the stored latest states of a batch's devices (one strongly consistent BatchGetItem,
 * a read unit costs a fifth of a write unit) and writes only those whose readings changed or whose stored
 * observation is older than the refresh period (see {@link needsLatestStateWrite}). Deciding against what is
 * stored, not against what this instance last wrote, keeps concurrent consumers from leaving a stale state;
 * the only gap left is another instance writing between this read and this decision, which the next change or
 * refresh corrects.
 */
export class WriteOnChangeLatestState implements LatestStateStore {
  constructor(
    private readonly inner: LatestStateStore,
    private readonly refreshSeconds: number,
  ) {}

  async putIfNewer(points: readonly TelemetryPoint[]): Promise<readonly number[]> {
    if (points.length === 0) return [];
    const stored = await this.inner.getMany(points.map((point) => point.deviceId));
    const toWrite = points
      .map((point, index) => ({ point, index }))
      .filter(({ point }) => {
        const current = stored.get(point.deviceId);
        const written = current
          ? { observedAt: current.observedAt, fingerprint: stateFingerprint(current) }
          : undefined;
        return needsLatestStateWrite(written, point, this.refreshSeconds);
      });
    if (toWrite.length === 0) return [];
    const failed = new Set(await this.inner.putIfNewer(toWrite.map(({ point }) => point)));
    return toWrite.filter((_, i) => failed.has(i)).map(({ index }) => index);
  }

  get(deviceId: string): Promise<TelemetryPoint | undefined> {
    return this.inner.get(deviceId);
  }

  getMany(deviceIds: readonly string[]): Promise<ReadonlyMap<string, TelemetryPoint>> {
    return this.inner.getMany(deviceIds);
  }
}
