import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../lambdas/adapters/dynamodb-client.js';
import { DynamoDbDeviceDirectory } from '../../lambdas/adapters/dynamodb-device-directory.js';
import { DynamoDbQuarantine } from '../../lambdas/adapters/dynamodb-ingest-records.js';
import { DynamoDbLatestState } from '../../lambdas/adapters/dynamodb-latest-state.js';
import {
  bucketItemsFor,
  DynamoDbTelemetryStore,
  rollupAttributes,
} from '../../lambdas/adapters/dynamodb-telemetry-store.js';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import {
  type AggregatedTelemetryHistory,
  type CityQueryPorts,
  getTelemetryHistory,
} from '../../lambdas/domain/city-queries.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import { type AggregateStat, aggregateSeries } from '../../lambdas/domain/telemetry-aggregation.js';
import {
  DAILY,
  HOURLY,
  hourlyBuckets,
  SERIES_DEVICE,
  SERIES_FROM,
  SERIES_POINTS,
  SERIES_TO,
  WHOLE_DAY,
} from '../support/aggregation-series.js';
import { startDynamo } from '../support/dynalite.js';
import { device } from '../support/messages.js';

let dynamo: Awaited<ReturnType<typeof startDynamo>>;

beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.stop();
});

const store = () => new DynamoDbTelemetryStore(dynamo.client, dynamo.names.telemetry, 400);

/** A document client that records every request it sends (each attempt, as it goes on the wire). */
function countingClient() {
  const client = createDocumentClient({ endpoint: dynamo.endpoint, region: 'eu-west-2' });
  const requests: { command: string; projection: string | undefined }[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as {
        ProjectionExpression?: string;
        ExpressionAttributeNames?: Record<string, string>;
      };
      // Placeholders spelled out, so a test can see which attributes a request asked for.
      const projection = input.ProjectionExpression?.replace(
        /#\w+/g,
        (name) => input.ExpressionAttributeNames?.[name] ?? name,
      );
      requests.push({ command: context.commandName ?? 'unknown', projection });
      return next(args);
    },
    { step: 'deserialize', name: 'countRequests' },
  );
  return { client, requests };
}

async function itemsOf(deviceId: string): Promise<Record<string, unknown>[]> {
  const response = await dynamo.client.send(
    new QueryCommand({
      TableName: dynamo.names.telemetry,
      KeyConditionExpression: 'deviceId = :d',
      ExpressionAttributeValues: { ':d': deviceId },
      ConsistentRead: true,
    }),
  );
  return response.Items ?? [];
}

/** The rollup an item's own points make: what its n:/s: attributes must say. */
function rollupOfPoints(item: Record<string, unknown>, measure: string) {
  const values = (item.points as { r: Record<string, unknown> }[])
    .map((p) => p.r[measure])
    .filter((v): v is number => typeof v === 'number');
  return { count: values.length, sum: values.reduce((a, b) => a + b, 0) };
}

describe('hourly rollups kept at ingest', () => {
  it('stay exact when readings are redelivered and written by two consumers at once', async () => {
    const a = store();
    const b = store();
    // Two consumers take the same readings in opposite orders at the same time, then one gets half of them again.
    await Promise.all([a.write(SERIES_POINTS), b.write([...SERIES_POINTS].reverse())]);
    const again = await a.write(SERIES_POINTS.filter((_, i) => i % 2 === 0));
    expect(again.duplicates).toHaveLength(Math.ceil(SERIES_POINTS.length / 2));

    const items = await itemsOf(SERIES_DEVICE);
    const stored = items.flatMap((item) => item.ids as string[]);
    expect(stored.sort()).toEqual(SERIES_POINTS.map((p) => p.messageId).sort());
    for (const item of items) {
      for (const measure of ['no2', 'pm25']) {
        const attributes = rollupAttributes(measure);
        const own = rollupOfPoints(item, measure);
        expect({ count: item[attributes.count] ?? 0, sum: item[attributes.sum] ?? 0 }).toEqual(own);
      }
    }
    // Merged per hour: 09:10, 09:40, 09:50 -> 3 readings summing to 130; 13:00 .. 13:40 -> 4 summing to 2019.
    const hourly = new Map<string, { count: number; sum: number }>();
    for (const item of items) {
      const hour = String(item.bucketKey).slice(11, 13);
      const total = hourly.get(hour) ?? { count: 0, sum: 0 };
      total.count += Number(item['n:no2'] ?? 0);
      total.sum += Number(item['s:no2'] ?? 0);
      hourly.set(hour, total);
    }
    expect(Object.fromEntries(hourly)).toEqual({
      '09': { count: 3, sum: 130 },
      '10': { count: 3, sum: 120 },
      '12': { count: 12, sum: 78 },
      '13': { count: 4, sum: 2019 },
    });
    // Hour 12 holds twelve readings: two bucket items, merged.
    expect(items.filter((item) => String(item.bucketKey).startsWith('2026-11-27T12'))).toHaveLength(2);
  });

  it('add decimals exactly, as DynamoDB numbers do', async () => {
    const points: TelemetryPoint[] = [0.1, 0.2, 0.7].map((fillingLevel, i) => ({
      deviceId: 'bin-decimals',
      deviceType: 'waste-container',
      messageId: `m${i}`,
      observedAt: `2026-11-27T10:0${i}:00.000Z`,
      receivedAt: `2026-11-27T10:0${i}:00.000Z`,
      readings: { fillingLevel, status: 'ok' },
    }));
    await store().write(points);
    const [item] = await itemsOf('bin-decimals');
    expect(item).toMatchObject({ 'n:fillingLevel': 3, 's:fillingLevel': 1 });
    expect(item?.['n:status']).toBeUndefined();
  });

  it('are what bucketItemsFor builds, so a bulk-loaded month reads like a written one', async () => {
    const points: TelemetryPoint[] = Array.from({ length: 27 }, (_, i) => ({
      deviceId: i % 3 === 0 ? 'tf-bulk' : 'wl-bulk',
      deviceType: i % 3 === 0 ? 'traffic-flow' : 'water-level',
      messageId: `bulk-${i}`,
      observedAt: new Date(Date.UTC(2026, 10, 27, 9, 50 + i * 3)).toISOString(),
      receivedAt: new Date(Date.UTC(2026, 10, 27, 9, 50 + i * 3, 2)).toISOString(),
      readings: (i % 3 === 0
        ? { intensity: 40 + i, averageVehicleSpeed: 31.5, occupancy: 0.25, periodSeconds: 300 }
        : { waterLevel: 1.25 + i / 100 }) as Readings,
      ...(i % 2 ? { battery: 0.5 } : {}),
      ward: 'Abbey',
      ...(i > 20 ? { site: 'Caversham Weir' } : {}),
    }));
    await store().write(points);
    const written = [...(await itemsOf('tf-bulk')), ...(await itemsOf('wl-bulk'))];
    const key = (item: Record<string, unknown>) => `${item.deviceId}|${item.bucketKey}`;
    const built = bucketItemsFor(points, 400).sort((x, y) => key(x).localeCompare(key(y)));
    expect(written.sort((x, y) => key(x).localeCompare(key(y)))).toEqual(built);
  });
});

describe('DynamoDbTelemetryStore.aggregate against the hand-computed morning', () => {
  beforeAll(async () => {
    // The first test above wrote the series; write it again in case this block runs alone (duplicates are ignored).
    await store().write(SERIES_POINTS);
  });

  const ask = async (from: string, to: string, interval: '5m' | '1h' | '1d', stat: AggregateStat) =>
    aggregateSeries(
      Date.parse(from),
      Date.parse(to),
      interval,
      stat,
      await store().aggregate({ deviceId: SERIES_DEVICE, from, to, measure: 'no2', interval, stat }),
    );

  it.each(['avg', 'min', 'max', 'count'] as AggregateStat[])(
    'gives the hourly %s, the empty hour present and the cut hours holding only readings inside',
    async (stat) => {
      expect(await ask(SERIES_FROM, SERIES_TO, '1h', stat)).toEqual(hourlyBuckets(HOURLY[stat]));
    },
  );

  it('gives the daily bucket and the 5-minute buckets the in-memory store gives', async () => {
    for (const stat of ['avg', 'min', 'max', 'count'] as const) {
      expect(await ask(SERIES_FROM, SERIES_TO, '1d', stat)).toEqual([
        { start: '2026-11-27T00:00:00.000Z', count: DAILY.count, value: DAILY[stat] },
      ]);
    }
    const memory = new InMemoryPorts();
    await memory.telemetry.write(SERIES_POINTS);
    for (const stat of ['avg', 'max'] as const) {
      const query = {
        deviceId: SERIES_DEVICE,
        from: SERIES_FROM,
        to: SERIES_TO,
        measure: 'no2',
        interval: '5m',
        stat,
      } as const;
      expect(await ask(SERIES_FROM, SERIES_TO, '5m', stat)).toEqual(
        aggregateSeries(
          Date.parse(SERIES_FROM),
          Date.parse(SERIES_TO),
          '5m',
          stat,
          await memory.telemetry.aggregate(query),
        ),
      );
    }
  });

  it('answers whole hours from the rollups alone, without fetching a point', async () => {
    const { client, requests } = countingClient();
    const counted = new DynamoDbTelemetryStore(client, dynamo.names.telemetry, 400);
    const from = '2026-11-27T10:00:00.000Z';
    const to = '2026-11-27T13:00:00.000Z';
    const summaries = await counted.aggregate({
      deviceId: SERIES_DEVICE,
      from,
      to,
      measure: 'no2',
      interval: '1h',
      stat: 'avg',
    });
    expect(aggregateSeries(Date.parse(from), Date.parse(to), '1h', 'avg', summaries)).toEqual(
      hourlyBuckets(HOURLY.avg.slice(1, 4)),
    );
    expect(requests).toEqual([{ command: 'QueryCommand', projection: 'bucketKey, n:no2, s:no2' }]);
    // A whole day from rollups: every no2 reading of the day, the ones outside the morning's range too.
    const day = await counted.aggregate({
      deviceId: SERIES_DEVICE,
      from: '2026-11-27T00:00:00.000Z',
      to: '2026-11-28T00:00:00.000Z',
      measure: 'no2',
      interval: '1d',
      stat: 'avg',
    });
    expect(day.every((summary) => summary.min === undefined)).toBe(true);
    expect(
      aggregateSeries(
        Date.parse('2026-11-27T00:00:00Z'),
        Date.parse('2026-11-28T00:00:00Z'),
        '1d',
        'avg',
        day,
      ),
    ).toEqual([{ start: '2026-11-27T00:00:00.000Z', count: WHOLE_DAY.count, value: WHOLE_DAY.avg }]);
  });
});

describe('DynamoDbTelemetryStore.aggregate over a range longer than two days', () => {
  it('reads the whole hours from rollups and each cut hour apart, agreeing with the in-memory store', async () => {
    await store().write(SERIES_POINTS);
    const { client, requests } = countingClient();
    const counted = new DynamoDbTelemetryStore(client, dynamo.names.telemetry, 400);
    const memory = new InMemoryPorts();
    await memory.telemetry.write(SERIES_POINTS);
    const from = '2026-11-25T09:30:00.000Z';
    const to = '2026-11-28T13:15:00.000Z';
    for (const interval of ['1h', '1d'] as const) {
      const query = { deviceId: SERIES_DEVICE, from, to, measure: 'no2', interval, stat: 'avg' } as const;
      const expected = aggregateSeries(
        Date.parse(from),
        Date.parse(to),
        interval,
        'avg',
        await memory.telemetry.aggregate(query),
      );
      expect(
        aggregateSeries(Date.parse(from), Date.parse(to), interval, 'avg', await counted.aggregate(query)),
      ).toEqual(expected);
    }
    const hourly = aggregateSeries(
      Date.parse(from),
      Date.parse(to),
      '1h',
      'avg',
      await memory.telemetry.aggregate({
        deviceId: SERIES_DEVICE,
        from,
        to,
        measure: 'no2',
        interval: '1h',
        stat: 'avg',
      }),
    );
    // Now that 09:00 and 13:00 on the 27th are whole, they hold every reading of their hour.
    expect(hourly.find((b) => b.start === '2026-11-27T13:00:00.000Z')).toEqual({
      start: '2026-11-27T13:00:00.000Z',
      count: 4,
      value: 2019 / 4,
    });
    // Per answer: the two cut hours' points, then the whole hours' rollups only.
    expect(requests.slice(0, 3)).toEqual([
      { command: 'QueryCommand', projection: 'bucketKey, points' },
      { command: 'QueryCommand', projection: 'bucketKey, points' },
      { command: 'QueryCommand', projection: 'bucketKey, n:no2, s:no2' },
    ]);
    expect(requests).toHaveLength(6);
  });
});

describe('a 24-hour 1h-average query for one device', () => {
  const DEVICE = 'aq-day';
  // A day of 5-minute readings: no2 = the hour of the day + the reading's 5-minute slot / 100.
  const day: TelemetryPoint[] = Array.from({ length: 288 }, (_, n) => {
    const observedAt = new Date(Date.UTC(2026, 10, 27, 0, n * 5)).toISOString();
    return {
      deviceId: DEVICE,
      deviceType: 'air-quality',
      messageId: `day-${n}`,
      observedAt,
      receivedAt: observedAt,
      readings: { no2: Math.floor(n / 12) + (n % 12) / 100, pm25: 8, pm10: 15, o3: 60 },
    };
  });

  beforeAll(async () => {
    await store().write(day);
    await new DynamoDbDeviceDirectory(dynamo.client, dynamo.names.devices).put(device(DEVICE, 'air-quality'));
  });

  function countedPorts() {
    const { client, requests } = countingClient();
    const ports: CityQueryPorts = {
      devices: new DynamoDbDeviceDirectory(client, dynamo.names.devices),
      latestState: new DynamoDbLatestState(client, dynamo.names['latest-state']),
      telemetry: new DynamoDbTelemetryStore(client, dynamo.names.telemetry, 400),
      quarantine: new DynamoDbQuarantine(client, dynamo.names.quarantine, 30),
    };
    return { ports, requests };
  }

  it('answers from at most 2 DynamoDB requests, the registry lookup included, by default', async () => {
    const { ports, requests } = countedPorts();
    const answer = (await getTelemetryHistory(
      ports,
      { deviceId: DEVICE, measure: 'no2', interval: '1h', stat: 'avg', limit: 100 },
      new Date('2026-11-27T23:40:00.000Z'),
    )) as AggregatedTelemetryHistory;
    expect(answer.buckets).toHaveLength(24);
    // Each hour h holds h + 0.00 .. h + 0.11: an average of h + 0.055.
    answer.buckets.forEach((bucket, h) => {
      expect(bucket.count).toBe(12);
      expect(bucket.value).toBeCloseTo(h + 0.055, 9);
    });
    expect(requests.map((r) => r.command)).toEqual(['BatchGetItemCommand', 'QueryCommand']);
    // The hours are whole: rollups only, no points.
    expect(requests[1]?.projection).toBe('bucketKey, n:no2, s:no2');
  });

  it('still answers from 2 when the range cuts two hours, taking their readings from the same Query', async () => {
    const { ports, requests } = countedPorts();
    const answer = (await getTelemetryHistory(
      ports,
      {
        deviceId: DEVICE,
        from: '2026-11-26T23:30:00.000Z',
        to: '2026-11-27T23:30:00.000Z',
        measure: 'no2',
        interval: '1h',
        stat: 'avg',
        limit: 100,
      },
      new Date('2026-11-27T23:40:00.000Z'),
    )) as AggregatedTelemetryHistory;
    expect(answer.buckets).toHaveLength(25);
    expect(answer.buckets[0]).toEqual({ start: '2026-11-26T23:00:00.000Z', count: 0, value: null });
    // 23:00 is cut at 23:30: readings 23:00 .. 23:25 only, 23.00 .. 23.05, an average of 23.025.
    expect(answer.buckets.at(-1)?.count).toBe(6);
    expect(answer.buckets.at(-1)?.value).toBeCloseTo(23.025, 9);
    expect(requests.map((r) => r.command)).toEqual(['BatchGetItemCommand', 'QueryCommand']);
  });
});
