import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { TABLES } from '../contracts/tables.js';
import type {
  Device,
  DeviceDirectory,
  DeviceFilter,
  DeviceListPage,
  DeviceListQuery,
  DeviceRegistry,
} from '../domain/device.js';
import {
  batchGet,
  decodeCursor,
  encodeCursor,
  InvalidCursorError,
  isConditionFailure,
} from './dynamodb-batches.js';

/** How far one page of a registry listing may read: the bound on what a sparse filter costs per request. */
export interface RegistryListingBounds {
  /** Query or Scan requests one page may spend before it answers with what it found and a cursor. */
  readonly maxRequestsPerPage: number;
  /**
   * Items evaluated per request while a ward, status or bounding-box filter is on (DynamoDB filters after
   * reading), so a sparse filter does not cost one request per match. Without one, a request reads just the
   * page's remaining items.
   */
  readonly filteredReadSize: number;
}

/**
 * At most 5 requests of at most 1,000 items (and DynamoDB's own 1 MB) per page: a filtered page of a
 * 5,000-device registry is one API call, and no page costs more than about 5 x 128 read units.
 */
export const REGISTRY_LISTING_BOUNDS: RegistryListingBounds = {
  maxRequestsPerPage: 5,
  filteredReadSize: 1000,
};

const BY_TYPE = TABLES.devices.globalSecondaryIndexes[0].indexName;

type Item = Record<string, unknown>;

interface Condition {
  readonly expression: string;
  readonly names: Record<string, string>;
  readonly values: Record<string, unknown>;
}

/** The filters DynamoDB applies after reading (all but the type, which picks the index partition). */
function postFilter(filter: DeviceFilter): Condition | undefined {
  const parts: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  if (filter.ward !== undefined) {
    parts.push('#ward = :ward');
    names['#ward'] = 'ward';
    values[':ward'] = filter.ward;
  }
  if (filter.status !== undefined) {
    parts.push('#status = :status');
    names['#status'] = 'status';
    values[':status'] = filter.status;
  }
  if (filter.bbox) {
    parts.push('#location.#lon BETWEEN :minLon AND :maxLon', '#location.#lat BETWEEN :minLat AND :maxLat');
    Object.assign(names, { '#location': 'location', '#lon': 'lon', '#lat': 'lat' });
    Object.assign(values, {
      ':minLon': filter.bbox.minLon,
      ':maxLon': filter.bbox.maxLon,
      ':minLat': filter.bbox.minLat,
      ':maxLat': filter.bbox.maxLat,
    });
  }
  return parts.length > 0 ? { expression: parts.join(' AND '), names, values } : undefined;
}

/** The device registry table. Items are the {@link Device} fields, keyed by deviceId. */
export class DynamoDbDeviceDirectory implements DeviceRegistry {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly bounds: RegistryListingBounds = REGISTRY_LISTING_BOUNDS,
  ) {}

  async findMany(deviceIds: readonly string[]): Promise<ReadonlyMap<string, Device>> {
    const items = await batchGet(
      this.client,
      this.tableName,
      deviceIds.map((deviceId) => ({ deviceId })),
    );
    return new Map(items.map((item) => [item.deviceId as string, item as unknown as Device]));
  }

  async get(deviceId: string): Promise<Device | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { deviceId }, ConsistentRead: true }),
    );
    return response.Item as Device | undefined;
  }

  /** Writes an entry whatever is there (seeding, tests); the registry routes use {@link add} and {@link replace}. */
  async put(device: Device): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...device } }));
  }

  async add(device: Device): Promise<boolean> {
    return this.conditionally(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...device },
        ConditionExpression: 'attribute_not_exists(deviceId)',
      }),
    );
  }

  async replace(device: Device, expectedRevision: number): Promise<boolean> {
    return this.conditionally(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...device },
        // Revision 0 is an entry written without one (seeding, older versions).
        ConditionExpression:
          expectedRevision === 0
            ? 'attribute_exists(deviceId) AND attribute_not_exists(revision)'
            : 'attribute_exists(deviceId) AND revision = :expected',
        ...(expectedRevision === 0 ? {} : { ExpressionAttributeValues: { ':expected': expectedRevision } }),
      }),
    );
  }

  /**
   * A type is one Query on the `byType` index (in id order); without one, a Scan. Ward, status and bounding box
   * are filter expressions, so reading goes on, request after request, until the page is full, the registry is
   * read to the end or {@link RegistryListingBounds.maxRequestsPerPage} is spent.
   */
  async list(query: DeviceListQuery): Promise<DeviceListPage> {
    const limit = Math.max(1, Math.floor(query.limit));
    const { deviceType } = query.filter;
    const condition = postFilter(query.filter);
    const found: Item[] = [];
    let from = this.startKey(query.after, deviceType);
    for (let request = 0; request < this.bounds.maxRequestsPerPage; request += 1) {
      const wanted = limit - found.length;
      const common = {
        TableName: this.tableName,
        Limit: condition ? Math.max(wanted, this.bounds.filteredReadSize) : wanted,
        ...(from ? { ExclusiveStartKey: from } : {}),
        ...(condition ? { FilterExpression: condition.expression } : {}),
      };
      const response = await this.client.send(
        deviceType
          ? new QueryCommand({
              ...common,
              IndexName: BY_TYPE,
              KeyConditionExpression: '#deviceType = :deviceType',
              ExpressionAttributeNames: { '#deviceType': 'deviceType', ...condition?.names },
              ExpressionAttributeValues: { ':deviceType': deviceType, ...condition?.values },
            })
          : new ScanCommand({
              ...common,
              ...(condition
                ? { ExpressionAttributeNames: condition.names, ExpressionAttributeValues: condition.values }
                : {}),
            }),
      );
      found.push(...((response.Items ?? []) as Item[]));
      from = response.LastEvaluatedKey as Item | undefined;
      if (found.length > limit) {
        // A read past the page: the next page starts right after its last device, not at DynamoDB's frontier.
        const page = found.slice(0, limit);
        return {
          items: page as unknown as Device[],
          next: this.positionAfter(page.at(-1) as Item, deviceType),
        };
      }
      if (found.length === limit || !from) break;
    }
    const next = encodeCursor(from);
    return { items: found as unknown as Device[], ...(next ? { next } : {}) };
  }

  private async conditionally(command: PutCommand): Promise<boolean> {
    try {
      await this.client.send(command);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** The attributes of a position: the table's key, and the index's with a type. */
  private static positionAttributes(deviceType: string | undefined): string[] {
    return deviceType ? ['deviceId', 'deviceType'] : ['deviceId'];
  }

  private positionAfter(item: Item, deviceType: string | undefined): string {
    const attributes = DynamoDbDeviceDirectory.positionAttributes(deviceType);
    return encodeCursor(Object.fromEntries(attributes.map((name) => [name, item[name]]))) as string;
  }

  /**
   * Checks a position before it reaches DynamoDB: exactly the key attributes of this listing, strings, and in the
   * type's partition. Anything else is a position this adapter did not issue (a malformed one would otherwise
   * come back from DynamoDB as a validation error, a 500).
   */
  private startKey(after: string | undefined, deviceType: string | undefined): Item | undefined {
    const key = decodeCursor(after);
    if (!key) return undefined;
    const attributes = DynamoDbDeviceDirectory.positionAttributes(deviceType);
    if (
      Object.keys(key).length !== attributes.length ||
      attributes.some((name) => typeof key[name] !== 'string') ||
      (deviceType !== undefined && key.deviceType !== deviceType)
    ) {
      throw new InvalidCursorError();
    }
    return key;
  }
}

interface CacheEntry {
  readonly device: Device | undefined;
  readonly expiresAt: number;
}

/**
 * Keeps registry answers in the function's memory for a short time, so the registry is read once per device per
 * TTL instead of once per message. Unknown devices are cached too: a misconfigured device publishing every
 * second must not turn into a registry read every second. The TTL bounds how long a registry change takes to
 * reach ingestion (a decommissioned device is refused within one TTL).
 */
export class CachedDeviceDirectory implements DeviceDirectory {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly inner: DeviceDirectory,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 50_000,
  ) {}

  async findMany(deviceIds: readonly string[]): Promise<ReadonlyMap<string, Device>> {
    const now = this.now();
    const found = new Map<string, Device>();
    const missing: string[] = [];
    for (const id of deviceIds) {
      const entry = this.cache.get(id);
      if (entry && entry.expiresAt > now) {
        if (entry.device) found.set(id, entry.device);
      } else missing.push(id);
    }
    if (missing.length > 0) {
      const fetched = await this.inner.findMany(missing);
      if (this.cache.size + missing.length > this.maxEntries) this.cache.clear();
      for (const id of missing) {
        const device = fetched.get(id);
        this.cache.set(id, { device, expiresAt: now + this.ttlMs });
        if (device) found.set(id, device);
      }
    }
    return found;
  }
}
