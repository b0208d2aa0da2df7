import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidCursorError } from '../../lambdas/adapters/dynamodb-batches.js';
import {
  CachedDeviceDirectory,
  DynamoDbDeviceDirectory,
} from '../../lambdas/adapters/dynamodb-device-directory.js';
import {
  DynamoDbProcessedMessages,
  DynamoDbQuarantine,
  DynamoDbRateLimitedDevices,
} from '../../lambdas/adapters/dynamodb-ingest-records.js';
import { DynamoDbLatestState } from '../../lambdas/adapters/dynamodb-latest-state.js';
import {
  bucketKey,
  DynamoDbTelemetryStore,
  POINTS_PER_ITEM,
} from '../../lambdas/adapters/dynamodb-telemetry-store.js';
import type { DeviceDirectory } from '../../lambdas/domain/device.js';
import { enrichTelemetryBatch } from '../../lambdas/domain/enrich-telemetry.js';
import type { QuarantineEntry } from '../../lambdas/domain/quarantine.js';
import { MAX_READINGS_PER_HOUR } from '../../lambdas/domain/rate-policy.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { startDynamo } from '../support/dynalite.js';
import { device, LIMITS, NOW, queued, reading } from '../support/messages.js';

let dynamo: Awaited<ReturnType<typeof startDynamo>>;

beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.stop();
});

function point(
  deviceId: string,
  observedAt: string,
  readings: Record<string, number | string>,
): TelemetryPoint {
  return {
    deviceId,
    deviceType: 'waste-container',
    messageId: `m-${observedAt}`,
    observedAt,
    receivedAt: observedAt,
    readings,
    location: { lat: 51.45, lon: -0.97 },
  };
}

describe('DynamoDbTelemetryStore', () => {
  it('writes a batch and reads it back in time order, paginated', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    const points = Array.from({ length: 60 }, (_, i) =>
      point('series-1', new Date(Date.UTC(2026, 10, 27, 10, i)).toISOString(), { fillingLevel: i / 100 }),
    );
    expect(await store.write(points)).toEqual({ retry: [], rejected: [], duplicates: [] });
    // Writing the same points again reports each as already held, and stores nothing twice.
    const again = await store.write(points.slice(0, 3));
    expect([...again.duplicates].sort()).toEqual([0, 1, 2]);
    const first = await store.query({
      deviceId: 'series-1',
      from: '2026-11-27T10:00:00.000Z',
      to: '2026-11-27T11:00:00.000Z',
      limit: 50,
    });
    expect(first.items).toHaveLength(50);
    expect(first.items[0]?.observedAt).toBe('2026-11-27T10:00:00.000Z');
    expect(first.nextCursor).toBeDefined();
    const second = await store.query({
      deviceId: 'series-1',
      from: '2026-11-27T10:00:00.000Z',
      to: '2026-11-27T11:00:00.000Z',
      limit: 50,
      cursor: first.nextCursor,
    });
    expect(second.items).toHaveLength(10);
    expect(second.nextCursor).toBeUndefined();
    expect(second.items.at(-1)?.readings).toEqual({ fillingLevel: 0.59 });
  });

  it('keeps only the asked-for range and measure', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    await store.write([
      point('series-2', '2026-11-27T09:00:00.000Z', { fillingLevel: 0.1, temperature: 9 }),
      point('series-2', '2026-11-27T10:00:00.000Z', { status: 'ok' }),
      point('series-2', '2026-11-27T11:00:00.000Z', { fillingLevel: 0.3, temperature: 11 }),
    ]);
    const page = await store.query({
      deviceId: 'series-2',
      from: '2026-11-27T09:30:00.000Z',
      to: '2026-11-27T12:00:00.000Z',
      measure: 'temperature',
      limit: 10,
    });
    expect(page.items.map((p) => p.readings)).toEqual([{ temperature: 11 }]);
  });

  it('sets the bucket item TTL to the end of its hour plus retention', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 10);
    await store.write([point('series-ttl', '2026-11-01T00:20:00.000Z', { fillingLevel: 0.1 })]);
    const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const item = await dynamo.client.send(
      new GetCommand({
        TableName: dynamo.names.telemetry,
        Key: { deviceId: 'series-ttl', bucketKey: bucketKey(Date.UTC(2026, 10, 1), 1) },
      }),
    );
    expect(item.Item?.expiresAt).toBe(Date.UTC(2026, 10, 11, 1) / 1000);
  });

  it('groups an hour of readings into bucket items of at most POINTS_PER_ITEM and reads them all back', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    // 26 readings in one hour: three items (10 + 10 + 6).
    const points = Array.from({ length: 26 }, (_, i) =>
      point('series-busy', new Date(Date.UTC(2026, 10, 27, 8, i * 2)).toISOString(), {
        fillingLevel: i / 100,
      }),
    );
    const outcome = await store.write(points);
    expect(outcome).toEqual({ retry: [], rejected: [], duplicates: [] });
    const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    const items = await dynamo.client.send(
      new QueryCommand({
        TableName: dynamo.names.telemetry,
        KeyConditionExpression: 'deviceId = :d',
        ExpressionAttributeValues: { ':d': 'series-busy' },
      }),
    );
    expect(items.Items?.map((item) => (item.points as unknown[]).length)).toEqual([
      POINTS_PER_ITEM,
      POINTS_PER_ITEM,
      6,
    ]);
    const page = await store.query({
      deviceId: 'series-busy',
      from: '2026-11-27T08:00:00.000Z',
      to: '2026-11-27T09:00:00.000Z',
      limit: 100,
    });
    expect(page.items.map((p) => p.readings.fillingLevel)).toEqual(
      points.map((p) => p.readings.fillingLevel),
    );
    // A redelivery of a reading that sits in the second item is still recognised.
    expect((await store.write([points[15] as TelemetryPoint])).duplicates).toEqual([0]);
  });

  it('refuses readings beyond the hourly cap as RATE_LIMITED', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    const cap = MAX_READINGS_PER_HOUR;
    const points = Array.from({ length: cap + 2 }, (_, i) =>
      point('series-runaway', new Date(Date.UTC(2026, 10, 27, 7, 0, 0, i * 9000)).toISOString(), {
        fillingLevel: 0.5,
      }),
    );
    const outcome = await store.write(points);
    expect(outcome.rejected.map((r) => [r.index, r.reason])).toEqual([
      [cap, 'RATE_LIMITED'],
      [cap + 1, 'RATE_LIMITED'],
    ]);
    expect(outcome.rejected[0]?.detail).toMatch(/more than its allowance of 300 readings/);
  });

  it('holds each device to its own hourly allowance exactly', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    const points = Array.from({ length: 27 }, (_, i) =>
      point('series-allowance', new Date(Date.UTC(2026, 10, 27, 6, i)).toISOString(), { fillingLevel: 0.5 }),
    );
    const outcome = await store.write(points, () => 25);
    expect(outcome.rejected.map((r) => r.index)).toEqual([25, 26]);
    const page = await store.query({
      deviceId: 'series-allowance',
      from: '2026-11-27T06:00:00.000Z',
      to: '2026-11-27T07:00:00.000Z',
      limit: 100,
    });
    expect(page.items).toHaveLength(25);
  });

  it('refuses a cursor it did not issue', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    const cursor = Buffer.from(JSON.stringify({ deviceId: 'other' })).toString('base64url');
    await expect(
      store.query({
        deviceId: 'series-1',
        from: '2026-11-27T00:00:00.000Z',
        to: '2026-11-28T00:00:00.000Z',
        limit: 5,
        cursor,
      }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
  });
});

describe('DynamoDbLatestState', () => {
  it('replaces latest state only with a later observation', async () => {
    const latest = new DynamoDbLatestState(dynamo.client, dynamo.names['latest-state']);
    expect(
      await latest.putIfNewer([point('latest-1', '2026-11-27T10:00:00.000Z', { fillingLevel: 0.5 })]),
    ).toEqual([]);
    expect(
      await latest.putIfNewer([point('latest-1', '2026-11-27T09:00:00.000Z', { fillingLevel: 0.1 })]),
    ).toEqual([]);
    expect((await latest.get('latest-1'))?.readings).toEqual({ fillingLevel: 0.5 });
    await latest.putIfNewer([point('latest-1', '2026-11-27T11:00:00.000Z', { fillingLevel: 0.7 })]);
    expect((await latest.get('latest-1'))?.readings).toEqual({ fillingLevel: 0.7 });
  });
});

describe('DynamoDbProcessedMessages', () => {
  it('remembers which message keys were processed', async () => {
    const processed = new DynamoDbProcessedMessages(dynamo.client, dynamo.names['processed-messages'], 3600);
    const keys = Array.from({ length: 130 }, (_, i) => `dev#${i}`);
    await processed.markProcessed(keys.slice(0, 70));
    const found = await processed.findProcessed(keys);
    expect(found.size).toBe(70);
    expect(found.has('dev#69')).toBe(true);
    expect(found.has('dev#70')).toBe(false);
  });
});

describe('DynamoDbQuarantine', () => {
  const entry = (
    reason: QuarantineEntry['reason'],
    receivedAt: string,
    sourceId: string,
  ): QuarantineEntry => ({
    reason,
    detail: 'test',
    deviceId: 'bin-9',
    receivedAt,
    sourceId,
    payload: '{}',
    payloadEncoding: 'utf8',
    payloadBytes: 2,
    payloadTruncated: false,
  });

  it('lists newest first across reasons, filters by reason, and pages without losing entries', async () => {
    const quarantine = new DynamoDbQuarantine(dynamo.client, dynamo.names.quarantine, 90);
    const entries = [
      entry('MALFORMED_JSON', '2026-11-27T10:00:00.000Z', 'a'),
      entry('SCHEMA_VIOLATION', '2026-11-27T10:01:00.000Z', 'b'),
      entry('MALFORMED_JSON', '2026-11-27T10:02:00.000Z', 'c'),
      entry('UNKNOWN_DEVICE', '2026-11-27T10:03:00.000Z', 'd'),
      entry('MALFORMED_JSON', '2026-11-27T10:04:00.000Z', 'e'),
    ];
    expect(await quarantine.put(entries)).toEqual([]);
    const range = { from: '2026-11-27T00:00:00.000Z', to: '2026-11-28T00:00:00.000Z' };
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await quarantine.list({ ...range, limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.sourceId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['e', 'd', 'c', 'b', 'a']);
    const malformed = await quarantine.list({ ...range, reason: 'MALFORMED_JSON', limit: 10 });
    expect(malformed.items.map((i) => i.sourceId)).toEqual(['e', 'c', 'a']);
  });
});

describe('CachedDeviceDirectory', () => {
  it('serves repeated lookups from memory until the TTL passes, including unknown devices', async () => {
    let reads = 0;
    const inner: DeviceDirectory = {
      findMany: async (ids) => {
        reads += 1;
        return new Map(ids.filter((id) => id === 'known').map((id) => [id, device(id, 'water-level')]));
      },
    };
    let now = 0;
    const cached = new CachedDeviceDirectory(inner, 60_000, () => now);
    await cached.findMany(['known', 'ghost']);
    await cached.findMany(['known', 'ghost']);
    expect(reads).toBe(1);
    now = 60_001;
    expect((await cached.findMany(['known'])).has('known')).toBe(true);
    expect(reads).toBe(2);
  });

  it('reads through to the real registry table', async () => {
    const registry = new DynamoDbDeviceDirectory(dynamo.client, dynamo.names.devices);
    await registry.put(device('gauge-7', 'water-level'));
    const found = await new CachedDeviceDirectory(registry, 1000).findMany(['gauge-7', 'nobody']);
    expect([...found.keys()]).toEqual(['gauge-7']);
  });
});

describe('enrichment against the DynamoDB-compatible server', () => {
  it('stores once even when the same batch is delivered twice', async () => {
    const registry = new DynamoDbDeviceDirectory(dynamo.client, dynamo.names.devices);
    // Declared every minute: 30 readings in half an hour are within its allowance.
    await registry.put(device('bin-e2e', 'waste-container', { expectedIntervalSeconds: 60 }));
    const ports = {
      devices: registry,
      telemetry: new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400),
      latestState: new DynamoDbLatestState(dynamo.client, dynamo.names['latest-state']),
      quarantine: new DynamoDbQuarantine(dynamo.client, dynamo.names.quarantine, 90),
      processed: new DynamoDbProcessedMessages(dynamo.client, dynamo.names['processed-messages'], 3600),
    };
    const batch = Array.from({ length: 30 }, (_, i) =>
      queued({
        deviceId: 'bin-e2e',
        payload: reading(
          { fillingLevel: i / 100 },
          { observedAt: new Date(NOW.getTime() - i * 60_000).toISOString() },
        ),
      }),
    );
    const first = await enrichTelemetryBatch(batch, ports, NOW, LIMITS);
    const second = await enrichTelemetryBatch(batch, ports, NOW, LIMITS);
    expect(first).toMatchObject({ stored: 30, duplicates: 0, retry: [] });
    expect(second).toMatchObject({ stored: 0, duplicates: 30, retry: [] });
    const page = await ports.telemetry.query({
      deviceId: 'bin-e2e',
      from: new Date(NOW.getTime() - 3_600_000).toISOString(),
      to: NOW.toISOString(),
      limit: 100,
    });
    expect(page.items).toHaveLength(30);
    expect((await ports.latestState.get('bin-e2e'))?.readings).toEqual({ fillingLevel: 0 });
  });
});

describe('DynamoDbTelemetryStore paging edge cases', () => {
  it('pages through readings that share a timestamp, whatever their ids', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    const at = '2026-11-27T05:00:00.000Z';
    const ids = ['a', 'B', 'm_1', 'm-10', 'Z.9', 'z:1'];
    await store.write(
      ids.map((messageId) => ({ ...point('series-same-ms', at, { fillingLevel: 0.2 }), messageId })),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.query({
        deviceId: 'series-same-ms',
        from: at,
        to: at,
        limit: 1,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.items.map((p) => p.messageId));
      cursor = page.nextCursor;
    } while (cursor);
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(seen).toHaveLength(ids.length);
  });

  it('never skips a reading when a page ends inside an hour whose items arrived out of order', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    // 25 readings in one hour written newest first: item 1 holds the latest ones, item 3 the earliest.
    const points = Array.from({ length: 25 }, (_, i) =>
      point('series-out-of-order', new Date(Date.UTC(2026, 10, 27, 4, 59 - i * 2)).toISOString(), {
        fillingLevel: i,
      }),
    );
    for (const p of points) await store.write([p]);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.query({
        deviceId: 'series-out-of-order',
        from: '2026-11-27T04:00:00.000Z',
        to: '2026-11-27T05:00:00.000Z',
        limit: 4,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.items.map((p) => p.observedAt));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(points.map((p) => p.observedAt).sort());
  });

  it('recognises a redelivery beyond a shrunken allowance as a duplicate, not RATE_LIMITED', async () => {
    const store = new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);
    const points = Array.from({ length: 15 }, (_, i) =>
      point('series-shrunk', new Date(Date.UTC(2026, 10, 27, 3, i)).toISOString(), { fillingLevel: 0.1 }),
    );
    await store.write(points, () => 100);
    const again = await store.write([points[14] as TelemetryPoint], () => 12);
    expect(again).toEqual({ retry: [], rejected: [], duplicates: [0] });
  });
});

describe('DynamoDbRateLimitedDevices', () => {
  it('counts RATE_LIMITED refusals per device inside the window only', async () => {
    const quarantine = new DynamoDbQuarantine(dynamo.client, dynamo.names.quarantine, 90);
    const refusal = (deviceId: string, receivedAt: string, sourceId: string): QuarantineEntry => ({
      reason: 'RATE_LIMITED',
      detail: 'over its allowance',
      deviceId,
      deviceType: 'parking-spot',
      receivedAt,
      sourceId,
      payload: '{}',
      payloadEncoding: 'utf8',
      payloadBytes: 2,
      payloadTruncated: false,
    });
    await quarantine.put([
      refusal('bay-1', '2026-11-20T10:01:00.000Z', 'r1'),
      refusal('bay-1', '2026-11-20T10:02:00.000Z', 'r2'),
      refusal('bay-2', '2026-11-20T10:03:00.000Z', 'r3'),
      refusal('bay-1', '2026-11-20T10:06:00.000Z', 'r4'),
    ]);
    const refused = await new DynamoDbRateLimitedDevices(dynamo.client, dynamo.names.quarantine).between(
      new Date('2026-11-20T10:00:00.000Z'),
      new Date('2026-11-20T10:05:00.000Z'),
    );
    expect([...refused].sort((a, b) => a.deviceId.localeCompare(b.deviceId))).toEqual([
      { deviceId: 'bay-1', deviceType: 'parking-spot', refusals: 2 },
      { deviceId: 'bay-2', deviceType: 'parking-spot', refusals: 1 },
    ]);
  });
});
