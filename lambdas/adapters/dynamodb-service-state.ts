import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  type ServiceStateEntry,
  type ServiceStateKey,
  type ServiceStateStore,
  type StoredServiceState,
  serviceStateKey,
} from '../domain/change-detection.js';
import { forEachLimited } from '../domain/for-each-limited.js';
import { batchGet, isConditionFailure } from './dynamodb-batches.js';

/**
 * Conditional writes in flight at once. Only changed states are written (a bin crossing its threshold, a band
 * changing), a handful per batch; the bound keeps a batch in which a whole site changed at once from opening a
 * hundred connections.
 */
export const STATE_SAVE_CONCURRENCY = 10;

/**
 * Service detector states in the `service-state` table: one item per device (`deviceId`) and service
 * (`service`) holding the detector's `state` (a map) and `at`, the observation time of the point that last
 * changed it. Reads are strongly consistent, so a consumer sees the state another one wrote a moment ago instead
 * of folding on an old one and losing the race at the write. Writes are conditional on `at`, so of two consumers
 * working on one device at once, the later writer is refused and retries: no update is ever lost.
 */
export class DynamoDbServiceStateStore implements ServiceStateStore {
  /**
   * @param onError told of each write that failed for a reason other than a lost race (throttling past the
   *   client's retries, an item DynamoDB refuses); the entry is retried either way.
   */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly onError: (error: unknown, entry: ServiceStateKey) => void = () => {},
  ) {}

  async getMany(keys: readonly ServiceStateKey[]): Promise<ReadonlyMap<string, StoredServiceState>> {
    // BatchGetItem refuses a request that names one key twice.
    const unique = new Map(keys.map((key) => [serviceStateKey(key), key]));
    if (unique.size === 0) return new Map();
    const items = await batchGet(
      this.client,
      this.tableName,
      [...unique.values()].map(({ deviceId, service }) => ({ deviceId, service })),
      undefined,
      true,
    );
    return new Map(
      items.map((item) => [
        serviceStateKey({ deviceId: String(item.deviceId), service: String(item.service) }),
        { state: item.state, at: String(item.at) },
      ]),
    );
  }

  async save(entries: readonly ServiceStateEntry[]): Promise<readonly number[]> {
    const retry: number[] = [];
    await forEachLimited(entries, STATE_SAVE_CONCURRENCY, async (entry, index) => {
      try {
        await this.client.send(this.putCommand(entry));
      } catch (error) {
        if (!isConditionFailure(error)) this.onError(error, entry);
        retry.push(index);
      }
    });
    return retry.sort((a, b) => a - b);
  }

  private putCommand(entry: ServiceStateEntry): PutCommand {
    const { deviceId, service, state, at, expectedAt } = entry;
    return new PutCommand({
      TableName: this.tableName,
      Item: { deviceId, service, state, at },
      // `at` is a reserved word.
      ...(expectedAt === undefined
        ? { ConditionExpression: 'attribute_not_exists(deviceId)' }
        : {
            ConditionExpression: '#at = :expectedAt',
            ExpressionAttributeNames: { '#at': 'at' },
            ExpressionAttributeValues: { ':expectedAt': expectedAt },
          }),
    });
  }
}
