import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BatchGetCommand, BatchWriteCommand } from '@aws-sdk/lib-dynamodb';

/** A conditional write whose condition did not hold: an expected answer, not a failure. */
export function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string }).name === 'ConditionalCheckFailedException'
  );
}

/** A conditional write: true when it was made, false when its condition did not hold. */
export async function conditionally(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** DynamoDB's own limits per call. */
export const BATCH_WRITE_LIMIT = 25;
export const BATCH_GET_LIMIT = 100;
const MAX_UNPROCESSED_ROUNDS = 3;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes items with BatchWriteItem, 25 at a time, re-sending unprocessed items a few times with backoff.
 * Returns the indexes (into `items`) that DynamoDB still had not written, so the caller can retry them later
 * instead of failing the whole batch.
 */
export async function batchPut(
  client: DynamoDBDocumentClient,
  tableName: string,
  items: readonly Record<string, unknown>[],
  keyOf: (item: Record<string, unknown>) => string,
): Promise<number[]> {
  const indexByKey = new Map(items.map((item, index) => [keyOf(item), index]));
  const unwritten: number[] = [];
  await Promise.all(
    chunk(items, BATCH_WRITE_LIMIT).map(async (part) => {
      let pending = part;
      for (let round = 0; pending.length > 0; round++) {
        if (round === MAX_UNPROCESSED_ROUNDS) {
          for (const item of pending) unwritten.push(indexByKey.get(keyOf(item)) ?? -1);
          return;
        }
        if (round > 0) await pause(50 * 2 ** round);
        const response = await client.send(
          new BatchWriteCommand({
            RequestItems: { [tableName]: pending.map((Item) => ({ PutRequest: { Item } })) },
          }),
        );
        pending = (response.UnprocessedItems?.[tableName] ?? []).flatMap((request) =>
          request.PutRequest?.Item ? [request.PutRequest.Item] : [],
        );
      }
    }),
  );
  return unwritten.filter((index) => index >= 0);
}

/** Reads items by key with BatchGetItem, 100 at a time, following unprocessed keys. */
export async function batchGet(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  projection?: string,
  consistentRead = false,
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  await Promise.all(
    chunk(keys, BATCH_GET_LIMIT).map(async (part) => {
      let pending: Record<string, unknown>[] = part;
      for (let round = 0; pending.length > 0; round++) {
        if (round === MAX_UNPROCESSED_ROUNDS)
          throw new Error(`BatchGetItem on ${tableName} left keys unprocessed`);
        if (round > 0) await pause(50 * 2 ** round);
        const response = await client.send(
          new BatchGetCommand({
            RequestItems: {
              [tableName]: {
                Keys: pending,
                ...(projection ? { ProjectionExpression: projection } : {}),
                ...(consistentRead ? { ConsistentRead: true } : {}),
              },
            },
          }),
        );
        found.push(...(response.Responses?.[tableName] ?? []));
        pending = (response.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
    }),
  );
  return found;
}

/** Opaque pagination cursor: DynamoDB's LastEvaluatedKey, base64url-encoded. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key), 'utf8').toString('base64url') : undefined;
}

export class InvalidCursorError extends Error {
  constructor() {
    super('cursor is not one this API issued');
    this.name = 'InvalidCursorError';
  }
}

export function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidCursorError();
    return value as Record<string, unknown>;
  } catch {
    throw new InvalidCursorError();
  }
}
