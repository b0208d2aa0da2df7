import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { REASON_CODES } from '../contracts/reason-codes.js';
import { TTL_ATTRIBUTE } from '../contracts/tables.js';
import type { QuarantineEntry, QuarantineQuery, QuarantineStore } from '../domain/quarantine.js';
import type { RateLimitedDevice, RateLimitedDevices } from '../domain/runaway-devices.js';
import type { Page, ProcessedMessages } from '../domain/telemetry.js';
import { batchGet, batchPut, decodeCursor, encodeCursor, InvalidCursorError } from './dynamodb-batches.js';

const epochSeconds = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);

/** Idempotency records: one small item per stored message, expiring after the redelivery window. */
export class DynamoDbProcessedMessages implements ProcessedMessages {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly windowSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  async findProcessed(keys: readonly string[]): Promise<ReadonlySet<string>> {
    const items = await batchGet(
      this.client,
      this.tableName,
      keys.map((messageKey) => ({ messageKey })),
      'messageKey',
    );
    return new Set(items.map((item) => item.messageKey as string));
  }

  async markProcessed(keys: readonly string[]): Promise<void> {
    const expiresAt = Math.floor(this.now() / 1000) + this.windowSeconds;
    const unwritten = await batchPut(
      this.client,
      this.tableName,
      keys.map((messageKey) => ({ messageKey, [TTL_ATTRIBUTE]: expiresAt })),
      (item) => item.messageKey as string,
    );
    if (unwritten.length > 0) throw new Error(`${unwritten.length} idempotency records were not written`);
  }
}

/**
 * The quarantine table: partitioned by reason (so "all PAYLOAD_TOO_LARGE this week" is one query) and sorted by
 * receive time; a `byDevice` index answers "what has this device sent us that we refused".
 */
export class DynamoDbQuarantine implements QuarantineStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  async put(entries: readonly QuarantineEntry[]): Promise<readonly number[]> {
    const items = entries.map((entry) => ({
      ...entry,
      receivedKey: `${entry.receivedAt}#${entry.sourceId}`,
      [TTL_ATTRIBUTE]: epochSeconds(entry.receivedAt) + this.retentionDays * 86_400,
    }));
    return batchPut(this.client, this.tableName, items, (item) => `${item.reason}|${item.receivedKey}`);
  }

  async list(query: QuarantineQuery): Promise<Page<QuarantineEntry>> {
    // Without a reason filter, the cursor carries one position per reason partition; each page merges them.
    const reasons = query.reason ? [query.reason] : [...REASON_CODES];
    const positions = quarantinePositions(decodeCursor(query.cursor), query.from, query.to);
    const pages = await Promise.all(
      reasons
        .filter((reason) => positions[reason] !== null)
        .map(async (reason) => {
          const response = await this.client.send(
            new QueryCommand({
              TableName: this.tableName,
              KeyConditionExpression: '#reason = :reason AND receivedKey BETWEEN :from AND :to',
              ExpressionAttributeNames: { '#reason': 'reason' },
              ExpressionAttributeValues: {
                ':reason': reason,
                ':from': query.from,
                ':to': `${query.to}\uffff`,
              },
              ScanIndexForward: false,
              Limit: query.limit,
              ...(positions[reason] ? { ExclusiveStartKey: positions[reason] } : {}),
            }),
          );
          return {
            reason,
            items: (response.Items ?? []) as Record<string, unknown>[],
            last: response.LastEvaluatedKey,
          };
        }),
    );
    const merged = pages
      .flatMap((page) => page.items.map((item) => ({ reason: page.reason, item })))
      // Byte order, as DynamoDB sorts the keys (not locale order).
      .sort((a, b) => {
        const [x, y] = [String(a.item.receivedKey), String(b.item.receivedKey)];
        return x < y ? 1 : x > y ? -1 : 0;
      })
      .slice(0, query.limit);
    // Cursor per reason: a key to continue after, null when that reason is exhausted, absent to start over.
    const next: Record<string, Record<string, unknown> | null> = {};
    let more = false;
    for (const page of pages) {
      const taken = merged.filter((m) => m.reason === page.reason);
      const lastTaken = taken.at(-1)?.item;
      if (taken.length < page.items.length) {
        more = true;
        const position = lastTaken
          ? { reason: page.reason, receivedKey: lastTaken.receivedKey }
          : positions[page.reason];
        if (position) next[page.reason] = position;
      } else if (page.last) {
        next[page.reason] = page.last as Record<string, unknown>;
        more = true;
      } else next[page.reason] = null;
    }
    for (const reason of reasons) if (positions[reason] === null) next[reason] = null;
    const items = merged.map(({ item }) => toQuarantineEntry(item));
    return more ? { items, nextCursor: encodeCursor(next) } : { items };
  }
}

function toQuarantineEntry(item: Record<string, unknown>): QuarantineEntry {
  const { receivedKey: _key, [TTL_ATTRIBUTE]: _ttl, ...entry } = item;
  return entry as unknown as QuarantineEntry;
}

/**
 * Checks a quarantine cursor before it reaches DynamoDB: one entry per reason, each null (done) or the key of the
 * last entry read in that reason's partition, inside the queried range.
 */
function quarantinePositions(
  cursor: Record<string, unknown> | undefined,
  from: string,
  to: string,
): Record<string, Record<string, unknown> | null> {
  const positions: Record<string, Record<string, unknown> | null> = {};
  for (const [reason, position] of Object.entries(cursor ?? {})) {
    if (!(REASON_CODES as readonly string[]).includes(reason)) throw new InvalidCursorError();
    if (position === null) {
      positions[reason] = null;
      continue;
    }
    const key = position as Record<string, unknown>;
    const received = key?.receivedKey;
    if (
      key?.reason !== reason ||
      typeof received !== 'string' ||
      received < from ||
      received > `${to}\uffff`
    ) {
      throw new InvalidCursorError();
    }
    positions[reason] = { reason, receivedKey: received };
  }
  return positions;
}

/** Pages of RATE_LIMITED entries read per meter run at most: a bound on what policing itself can cost. */
const MAX_RATE_LIMITED_PAGES = 20;

/** Devices refused as RATE_LIMITED in a window, counted from the quarantine's RATE_LIMITED partition. */
export class DynamoDbRateLimitedDevices implements RateLimitedDevices {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async between(start: Date, end: Date): Promise<readonly RateLimitedDevice[]> {
    const counts = new Map<string, RateLimitedDevice>();
    let exclusiveStartKey: Record<string, unknown> | undefined;
    for (let page = 0; page < MAX_RATE_LIMITED_PAGES; page++) {
      const response = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#reason = :reason AND receivedKey BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#reason': 'reason' },
          ExpressionAttributeValues: {
            ':reason': 'RATE_LIMITED',
            ':from': start.toISOString(),
            ':to': `${end.toISOString()}\uffff`,
          },
          ProjectionExpression: 'deviceId, deviceType',
          ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
        }),
      );
      for (const item of response.Items ?? []) {
        const deviceId = String(item.deviceId);
        const seen = counts.get(deviceId);
        counts.set(deviceId, {
          deviceId,
          ...(item.deviceType ? { deviceType: String(item.deviceType) } : {}),
          refusals: (seen?.refusals ?? 0) + 1,
        });
      }
      exclusiveStartKey = response.LastEvaluatedKey;
      if (!exclusiveStartKey) break;
    }
    return [...counts.values()];
  }
}
