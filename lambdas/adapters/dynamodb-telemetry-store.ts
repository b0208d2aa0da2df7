import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TTL_ATTRIBUTE } from '../contracts/tables.js';
import { needsLatestStateWrite, stateFingerprint, type WrittenState } from '../domain/latest-state-policy.js';
import type {
  LatestStateStore,
  Page,
  TelemetryPoint,
  TelemetryQuery,
  TelemetryStore,
  WriteOutcome,
} from '../domain/telemetry.js';
import { decodeCursor, encodeCursor, InvalidCursorError } from './dynamodb-batches.js';

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string }).name === 'ConditionalCheckFailedException'
  );
}

/** Sort key: observation time first so a time range is one key condition; message id keeps it unique. */
export function observedKey(point: Pick<TelemetryPoint, 'observedAt' | 'messageId'>): string {
  return `${point.observedAt}#${point.messageId}`;
}

function toSeriesItem(point: TelemetryPoint, retentionDays: number): Record<string, unknown> {
  const { location: _location, ...rest } = point;
  return {
    ...rest,
    observedKey: observedKey(point),
    [TTL_ATTRIBUTE]: Math.floor(new Date(point.observedAt).getTime() / 1000) + retentionDays * 86_400,
  };
}

function fromSeriesItem(item: Record<string, unknown>): TelemetryPoint {
  const { observedKey: _key, [TTL_ATTRIBUTE]: _ttl, ...point } = item;
  return point as unknown as TelemetryPoint;
}

/**
 * The default telemetry store: a DynamoDB table with one partition per device and the observation time as sort
 * key. Items expire through TTL at the end of the retention period, which costs nothing to delete.
 */
export class DynamoDbTelemetryStore implements TelemetryStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  readonly detectsDuplicates = true;

  /**
   * One conditional PutItem per point. It costs the same write unit as a batched put, and the condition tells a
   * redelivered point from a new one for free, so no separate idempotency record (a second write) is needed.
   */
  async write(points: readonly TelemetryPoint[]): Promise<WriteOutcome> {
    const retry: number[] = [];
    const duplicates: number[] = [];
    await Promise.all(
      points.map(async (point, index) => {
        try {
          await this.client.send(
            new PutCommand({
              TableName: this.tableName,
              Item: toSeriesItem(point, this.retentionDays),
              ConditionExpression: 'attribute_not_exists(observedKey)',
            }),
          );
        } catch (error) {
          if (isConditionFailure(error)) duplicates.push(index);
          else retry.push(index);
        }
      }),
    );
    return { retry, rejected: [], duplicates };
  }

  async query(query: TelemetryQuery): Promise<Page<TelemetryPoint>> {
    const start = decodeCursor(query.cursor);
    if (start && start.deviceId !== query.deviceId) throw new InvalidCursorError();
    const names: Record<string, string> = { '#device': 'deviceId', '#key': 'observedKey' };
    if (query.measure) names['#measure'] = query.measure;
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#device = :device AND #key BETWEEN :from AND :to',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ':device': query.deviceId,
          ':from': query.from,
          ':to': `${query.to}\uffff`,
        },
        ...(query.measure ? { FilterExpression: 'attribute_exists(readings.#measure)' } : {}),
        Limit: query.limit,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    const items = (response.Items ?? []).map((item) => {
      const point = fromSeriesItem(item);
      if (!query.measure) return point;
      const value = point.readings[query.measure];
      return { ...point, readings: value === undefined ? {} : { [query.measure]: value } };
    });
    const nextCursor = encodeCursor(response.LastEvaluatedKey);
    return nextCursor ? { items, nextCursor } : { items };
  }
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
