import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { batchPut } from '../lambdas/adapters/dynamodb-batches.js';
import { createDocumentClient } from '../lambdas/adapters/dynamodb-client.js';
import { bucketItemsFor, DynamoDbTelemetryStore } from '../lambdas/adapters/dynamodb-telemetry-store.js';
import type { DeviceType, Readings } from '../lambdas/contracts/device-types.js';
import { localTableName } from '../lambdas/contracts/tables.js';
import type { Device } from '../lambdas/domain/device.js';
import type { TelemetryPoint } from '../lambdas/domain/telemetry.js';
import { startLocalPlatform } from '../local/start-local-platform.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** The default load profile's interval (cdk.json `messageIntervalSeconds`). */
const READING_INTERVAL_MS = 300_000;

/** The numeric device types, with the reading a chart of each would show and a day of it, report by report. */
const PROFILES: Record<
  Exclude<DeviceType, 'parking-spot'>,
  { measure: string; readings: (n: number, i: number) => Readings }
> = {
  'air-quality': {
    measure: 'no2',
    // Rush-hour peaks over a daily cycle, a little noise per monitor.
    readings: (n, i) => ({
      no2: round(28 + 14 * Math.sin((2 * Math.PI * (n % 288)) / 288) + ((n * 7 + i) % 5), 1),
      pm25: round(8 + ((n + i) % 6) / 2, 1),
      pm10: round(15 + ((n + i) % 9) / 2, 1),
      o3: round(55 + ((n * 3 + i) % 11), 1),
    }),
  },
  'waste-container': {
    measure: 'fillingLevel',
    // Fills over a week, then emptied.
    readings: (n, i) => ({
      fillingLevel: round(((n + i * 37) % 2016) / 2016, 3),
      temperature: 11 + ((n + i) % 7),
    }),
  },
  'traffic-flow': {
    measure: 'intensity',
    readings: (n, i) => ({
      intensity: 40 + ((n * 13 + i) % 60),
      averageVehicleSpeed: round(42 - ((n * 13 + i) % 60) / 4, 1),
      occupancy: round(((n * 13 + i) % 60) / 100, 2),
      periodSeconds: 300,
    }),
  },
  'water-level': {
    measure: 'waterLevel',
    readings: (n, i) => ({
      waterLevel: round(1.2 + 0.3 * Math.sin((2 * Math.PI * n) / 4032) + (i % 10) / 100, 3),
    }),
  },
};
type NumericType = keyof typeof PROFILES;

function round(value: number, decimals: number): number {
  return Number(value.toFixed(decimals));
}

const median = (sorted: readonly number[]) => percentile(sorted, 50);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export interface HistoryQueryOptions {
  /** @default 200 */
  readonly devices?: number;
  /** Days of 5-minute readings per device, ending now. @default 30 */
  readonly days?: number;
  /** Timed requests per design for the 24-hour query (after a warm-up round); a quarter as many for the month. @default 400 */
  readonly requests?: number;
  readonly log?: (line: string) => void;
}

/** One design's figures for one question. */
export interface HistoryDesignFigures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** API response bodies, bytes per answer (median). */
  readonly responseBytes: number;
  /** API requests per answer (the naive client pages through raw readings). */
  readonly apiRequests: number;
  /** DynamoDB read units per answer (median), measured on the store the API uses. */
  readonly readUnits: number;
}

/** One question, asked of both designs. */
export interface HistoryScenarioFigures {
  readonly question: string;
  readonly requests: number;
  readonly platform: HistoryDesignFigures;
  readonly naive: HistoryDesignFigures;
  /** Whether both designs gave every device the same buckets (hours, counts and averages). */
  readonly sameAnswers: boolean;
}

export interface HistoryQueryResult {
  readonly devices: number;
  readonly days: number;
  readonly readings: number;
  readonly bucketItems: number;
  readonly loadSeconds: number;
  /** The 24-hour 1h-average query first, then a month of daily averages. */
  readonly scenarios: readonly HistoryScenarioFigures[];
}

interface Bucket {
  readonly start: string;
  readonly count: number;
  readonly value: number | null;
}

/** A history question: its buckets and how many of them, ending with the bucket that holds now. */
interface Question {
  readonly name: string;
  readonly interval: '1h' | '1d';
  readonly bucketMs: number;
  readonly buckets: number;
  readonly requests: number;
}

/**
 * The 24-hour hourly-average history query against the local runtime (its REST API, city-api handler and
 * dynalite), with a month of 5-minute readings for 200 devices, beside the naive alternative: the same raw
 * readings fetched through the same API, page by page, and averaged in the client. Both run in the same process
 * against the same data, one request at a time, alternating. A month of daily averages follows, the same way.
 *
 * The month is loaded with BatchWriteItem from the bucket items the store adapter builds (`bucketItemsFor`, held to
 * `write` by a test): writing 1.7 million readings one conditional update each would take half an hour on dynalite.
 */
export async function measureHistoryQueries(options: HistoryQueryOptions = {}): Promise<HistoryQueryResult> {
  const deviceCount = options.devices ?? 200;
  const days = options.days ?? 30;
  const requests = options.requests ?? 400;
  const log = options.log ?? (() => {});
  const dataDir = path.join(tmpdir(), `civic-bench-history-${process.pid}`);
  const platform = await startLocalPlatform({
    dataDir,
    apiPort: 0,
    mqttPort: 0,
    simulator: false,
    services: [],
    log: () => {},
  });
  try {
    const types = Object.keys(PROFILES) as NumericType[];
    const devices: Device[] = Array.from({ length: deviceCount }, (_, i) => ({
      deviceId: `hist-${String(i).padStart(4, '0')}`,
      deviceType: types[i % types.length] as NumericType,
      status: 'active',
      location: { lat: 51.4551, lon: -0.9734 },
      ward: 'Abbey',
      expectedIntervalSeconds: READING_INTERVAL_MS / 1000,
      registeredAt: new Date(Date.now() - (days + 1) * DAY_MS).toISOString(),
    }));
    await platform.provisionDevices(devices);

    // A month up to the current reading slot, each device on the 5-minute clock.
    const client = createDocumentClient({ endpoint: platform.dynamoEndpoint });
    const table = localTableName('telemetry');
    const end = Math.floor(Date.now() / READING_INTERVAL_MS) * READING_INTERVAL_MS;
    const perDevice = (days * DAY_MS) / READING_INTERVAL_MS;
    const loadStart = performance.now();
    let bucketItems = 0;
    for (const [i, device] of devices.entries()) {
      const profile = PROFILES[device.deviceType as NumericType];
      const points: TelemetryPoint[] = Array.from({ length: perDevice }, (_, k) => {
        const t = end - (perDevice - 1 - k) * READING_INTERVAL_MS;
        const observedAt = new Date(t).toISOString();
        return {
          deviceId: device.deviceId,
          deviceType: device.deviceType,
          messageId: `${device.deviceId}-${t.toString(36)}`,
          observedAt,
          receivedAt: new Date(t + 800).toISOString(),
          readings: profile.readings(Math.floor(t / READING_INTERVAL_MS), i),
          ward: 'Abbey',
        };
      });
      const items = bucketItemsFor(points, 400);
      bucketItems += items.length;
      const unwritten = await batchPut(client, table, items, (item) => `${item.deviceId}|${item.bucketKey}`);
      if (unwritten.length > 0) throw new Error(`${unwritten.length} bucket items were not written`);
      if ((i + 1) % 50 === 0) log(`  loaded ${i + 1} of ${devices.length} devices`);
    }
    const loadSeconds = (performance.now() - loadStart) / 1000;

    const headers = { authorization: `Bearer ${platform.token}` };
    const get = async (url: string) => {
      const response = await fetch(url, { headers });
      const body = await response.text();
      if (response.status !== 200) throw new Error(`${url}: ${response.status} ${body}`);
      return body;
    };

    const ask = async (question: Question): Promise<HistoryScenarioFigures> => {
      // The route's default range: the last whole buckets, the one holding now included.
      const to = Math.floor(Date.now() / question.bucketMs) * question.bucketMs + question.bucketMs;
      const from = to - question.buckets * question.bucketMs;
      const platformAnswer = async (device: Device) => {
        const measure = PROFILES[device.deviceType as NumericType].measure;
        const body = await get(
          `${platform.apiUrl}/devices/${device.deviceId}/telemetry?measure=${measure}&interval=${question.interval}&stat=avg`,
        );
        return { buckets: (JSON.parse(body) as { buckets: Bucket[] }).buckets, bytes: body.length, calls: 1 };
      };
      // Naive: the raw readings of the same range (`to` is inclusive there), every page, averaged here.
      const naiveAnswer = async (device: Device) => {
        const measure = PROFILES[device.deviceType as NumericType].measure;
        const range = `from=${new Date(from).toISOString()}&to=${new Date(to - 1).toISOString()}`;
        const sums = Array.from({ length: question.buckets }, () => ({ count: 0, sum: 0 }));
        let cursor: string | undefined;
        let bytes = 0;
        let calls = 0;
        do {
          const body = await get(
            `${platform.apiUrl}/devices/${device.deviceId}/telemetry?measure=${measure}&${range}&limit=1000` +
              (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''),
          );
          bytes += body.length;
          calls += 1;
          const page = JSON.parse(body) as { items: TelemetryPoint[]; nextCursor?: string };
          for (const point of page.items) {
            const value = point.readings[measure];
            const bucket = sums[Math.floor((Date.parse(point.observedAt) - from) / question.bucketMs)];
            if (typeof value !== 'number' || !bucket) continue;
            bucket.count += 1;
            bucket.sum += value;
          }
          cursor = page.nextCursor;
        } while (cursor);
        const buckets: Bucket[] = sums.map((bucket, b) => ({
          start: new Date(from + b * question.bucketMs).toISOString(),
          count: bucket.count,
          value: bucket.count === 0 ? null : bucket.sum / bucket.count,
        }));
        return { buckets, bytes, calls };
      };

      // Warm-up (a round per design, discarded): JIT, the API handler's first-use setup, dynalite's caches.
      let sameAnswers = true;
      for (const device of devices) {
        const [p, n] = [await platformAnswer(device), await naiveAnswer(device)];
        sameAnswers &&= sameBuckets(p.buckets, n.buckets);
      }
      const timings = { platform: [] as number[], naive: [] as number[] };
      const sizes = { platform: [] as number[], naive: [] as number[] };
      const calls = { platform: [] as number[], naive: [] as number[] };
      for (let r = 0; r < question.requests; r++) {
        const device = devices[r % devices.length] as Device;
        for (const design of r % 2 === 0
          ? (['platform', 'naive'] as const)
          : (['naive', 'platform'] as const)) {
          const started = performance.now();
          const answer = design === 'platform' ? await platformAnswer(device) : await naiveAnswer(device);
          timings[design].push(performance.now() - started);
          sizes[design].push(answer.bytes);
          calls[design].push(answer.calls);
        }
      }

      // Read units per answer, on the store the API uses (the API process does not report its own).
      const units = { platform: [] as number[], naive: [] as number[] };
      for (const device of devices.slice(0, 20)) {
        const measure = PROFILES[device.deviceType as NumericType].measure;
        const aggregate = new DynamoDbTelemetryStore(client, table, 400);
        await aggregate.aggregate({
          deviceId: device.deviceId,
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          measure,
          interval: question.interval,
          stat: 'avg',
        });
        units.platform.push(aggregate.consumed.readUnits);
        const raw = new DynamoDbTelemetryStore(client, table, 400);
        let cursor: string | undefined;
        do {
          const page = await raw.query({
            deviceId: device.deviceId,
            from: new Date(from).toISOString(),
            to: new Date(to - 1).toISOString(),
            measure,
            limit: 1000,
            ...(cursor ? { cursor } : {}),
          });
          cursor = page.nextCursor;
        } while (cursor);
        units.naive.push(raw.consumed.readUnits);
      }

      const figures = (design: 'platform' | 'naive'): HistoryDesignFigures => {
        const sorted = [...timings[design]].sort((a, b) => a - b);
        return {
          p50Ms: median(sorted),
          p99Ms: percentile(sorted, 99),
          meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
          responseBytes: median([...sizes[design]].sort((a, b) => a - b)),
          apiRequests: median([...calls[design]].sort((a, b) => a - b)),
          readUnits: median([...units[design]].sort((a, b) => a - b)),
        };
      };
      return {
        question: question.name,
        requests: question.requests,
        platform: figures('platform'),
        naive: figures('naive'),
        sameAnswers,
      };
    };

    const scenarios = [
      await ask({
        name: '24 hours, hourly average',
        interval: '1h',
        bucketMs: HOUR_MS,
        buckets: 24,
        requests,
      }),
      await ask({
        name: '30 days, daily average',
        interval: '1d',
        bucketMs: DAY_MS,
        buckets: 30,
        requests: Math.max(1, Math.round(requests / 4)),
      }),
    ];
    return {
      devices: deviceCount,
      days,
      readings: perDevice * deviceCount,
      bucketItems,
      loadSeconds,
      scenarios,
    };
  } finally {
    await platform.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Same hours, counts and averages (to a billionth: the platform's sums are decimal, the client's binary). */
function sameBuckets(a: readonly Bucket[], b: readonly Bucket[]): boolean {
  return (
    a.length === b.length &&
    a.every((bucket, i) => {
      const other = b[i] as Bucket;
      if (bucket.start !== other.start || bucket.count !== other.count) return false;
      if (bucket.value === null || other.value === null) return bucket.value === other.value;
      return Math.abs(bucket.value - other.value) < 1e-9 * Math.max(1, Math.abs(bucket.value));
    })
  );
}
