import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Device, DeviceDirectory } from '../domain/device.js';
import { batchGet } from './dynamodb-batches.js';

/** The device registry table. Items are the {@link Device} fields, keyed by deviceId. */
export class DynamoDbDeviceDirectory implements DeviceDirectory {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
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
    const response = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { deviceId } }));
    return response.Item as Device | undefined;
  }

  async put(device: Device): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: { ...device } }));
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
