/**
 * `npm run bench`: the enrichment use case on 10,000 messages with counting in-memory adapters, beside the naive
 * per-message design, in the same run; then the minified bundle size of each Lambda.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { CachedDeviceDirectory } from '../lambdas/adapters/dynamodb-device-directory.js';
import { WriteOnChangeLatestState } from '../lambdas/adapters/dynamodb-latest-state.js';
import { InMemoryPorts, type RequestCounts } from '../lambdas/adapters/in-memory-ports.js';
import { DEVICE_TYPES, type DeviceType } from '../lambdas/contracts/device-types.js';
import { INGEST_SETTINGS } from '../lambdas/contracts/ingest-settings.js';
import { applyRuleSql, ruleTopic } from '../lambdas/contracts/topics.js';
import type { Device } from '../lambdas/domain/device.js';
import { enrichTelemetryBatch } from '../lambdas/domain/enrich-telemetry.js';
import type { QueuedMessage } from '../lambdas/domain/message-validation.js';
import { naiveEnrichOne } from './naive-enrichment.js';
import { measureStorageLayouts } from './storage-layout.js';

const MESSAGES = 10_000;
const DEVICES = 1_000;
const ROUNDS = 5;
const NOW = new Date('2026-11-27T12:00:00.000Z');
const LIMITS = { retentionDays: 400, maxFutureSkewSeconds: 300 };

/**
 * Readings as the n-th report of a device: status-like readings change now and then (a bay every 4th report,
 * a river level every 3rd), measured quantities move with every report. Write-on-change saves on the former.
 */
const SAMPLE_READINGS: Record<DeviceType, (n: number) => Record<string, number | string>> = {
  'waste-container': (n) => ({ fillingLevel: Math.min(1, n / 20), temperature: 12 }),
  'parking-spot': (n) => ({ status: Math.floor(n / 4) % 2 ? 'occupied' : 'free' }),
  'air-quality': (n) => ({ no2: 20 + n, pm25: 8, pm10: 15 }),
  'traffic-flow': (n) => ({
    intensity: 50 + n,
    averageVehicleSpeed: 40 - n / 2,
    occupancy: 0.2,
    periodSeconds: 300,
  }),
  'water-level': (n) => ({ waterLevel: 1 + Math.floor(n / 3) / 100 }),
};

function fleet(): Device[] {
  return Array.from({ length: DEVICES }, (_, i) => ({
    deviceId: `dev-${i}`,
    deviceType: DEVICE_TYPES[i % DEVICE_TYPES.length] as DeviceType,
    status: 'active',
    location: { lat: 51.45, lon: -0.97 },
    ward: `ward-${i % 12}`,
    registeredAt: '2026-01-01T00:00:00.000Z',
  }));
}

/** 10,000 messages from 1,000 devices, 1% of them malformed, as the IoT rule would put them on the queue. */
function messages(devices: Device[]): QueuedMessage[] {
  return Array.from({ length: MESSAGES }, (_, i) => {
    const device = devices[i % DEVICES] as Device;
    const payload =
      i % 100 === 99
        ? '{"broken":'
        : JSON.stringify({
            messageId: `m-${i}`,
            // Every device reports every 5 minutes, as in the default load profile.
            observedAt: new Date(
              NOW.getTime() - (MESSAGES / DEVICES - Math.floor(i / DEVICES)) * 300_000,
            ).toISOString(),
            readings: SAMPLE_READINGS[device.deviceType](Math.floor(i / DEVICES)),
          });
    const body = applyRuleSql(
      Buffer.from(payload),
      ruleTopic(device.deviceType, device.deviceId),
      device.deviceId,
      NOW.getTime(),
    );
    return { queueMessageId: `q-${i}`, body: JSON.stringify(body) };
  });
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function runPlatform(devices: Device[], input: QueuedMessage[]) {
  const ports = new InMemoryPorts(devices);
  // As deployed: the registry is cached in the function's memory between batches, latest state is write-on-change.
  const cachedPorts = {
    ...portsOf(ports),
    devices: new CachedDeviceDirectory(ports.devices, INGEST_SETTINGS.registryCacheSeconds * 1000, () =>
      NOW.getTime(),
    ),
    latestState: new WriteOnChangeLatestState(ports.latestState, INGEST_SETTINGS.latestStateRefreshSeconds),
  };
  const start = process.cpuUsage();
  for (let i = 0; i < input.length; i += INGEST_SETTINGS.batchSize) {
    await enrichTelemetryBatch(input.slice(i, i + INGEST_SETTINGS.batchSize), cachedPorts, NOW, LIMITS);
  }
  return {
    cpu: cpuMs(start),
    counts: ports.counts,
    stored: ports.series.length,
    quarantined: ports.quarantined.length,
  };
}

async function runNaive(devices: Device[], input: QueuedMessage[]) {
  const ports = new InMemoryPorts(devices);
  const start = process.cpuUsage();
  for (const message of input) await naiveEnrichOne(message, ports, NOW, LIMITS);
  return {
    cpu: cpuMs(start),
    counts: ports.counts,
    stored: ports.series.length,
    quarantined: ports.quarantined.length,
  };
}

function portsOf(ports: InMemoryPorts) {
  return {
    devices: ports.devices,
    telemetry: ports.telemetry,
    latestState: ports.latestState,
    quarantine: ports.quarantine,
    processed: ports.processed,
  };
}

const per1000 = (n: number) => (n / MESSAGES) * 1000;

function requestRow(counts: RequestCounts) {
  return {
    registry: per1000(counts.registryReads),
    store: per1000(counts.storeWrites),
    'latest reads': per1000(counts.latestStateReads),
    'latest writes': per1000(counts.latestStateWrites),
    quarantine: per1000(counts.quarantineWrites),
    'total requests': per1000(
      counts.registryReads +
        counts.latestStateReads +
        counts.storeWrites +
        counts.latestStateWrites +
        counts.dedupeReads +
        counts.dedupeWrites +
        counts.quarantineWrites,
    ),
  };
}

async function bundleSizes() {
  const entries = readdirSync(new URL('../lambdas/handlers/', import.meta.url))
    .filter((file) => file.endsWith('.ts'))
    // Only the files that are Lambda entry points (they export a handler), not their shared helpers.
    .filter((file) =>
      readFileSync(new URL(`../lambdas/handlers/${file}`, import.meta.url), 'utf8').includes(
        'export const handler',
      ),
    )
    .sort();
  const rows: { handler: string; minifiedKiB: number; gzipKiB: number }[] = [];
  for (const file of entries) {
    const result = await build({
      entryPoints: [new URL(`../lambdas/handlers/${file}`, import.meta.url).pathname],
      bundle: true,
      minify: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      write: false,
      logLevel: 'silent',
      // As NodejsFunction deploys them: the AWS SDK v3 comes from the Lambda runtime, not the bundle.
      external: ['@aws-sdk/*'],
      banner: {
        js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
    });
    const bytes = result.outputFiles[0]?.contents ?? new Uint8Array();
    rows.push({
      handler: file.replace(/\.ts$/, ''),
      minifiedKiB: Math.round(bytes.length / 102.4) / 10,
      gzipKiB: Math.round(gzipSync(bytes).length / 102.4) / 10,
    });
  }
  return rows;
}

async function main() {
  const devices = fleet();
  const input = messages(devices);
  await runPlatform(devices, input);
  await runNaive(devices, input);
  const platform = [];
  const naive = [];
  for (let round = 0; round < ROUNDS; round++) {
    platform.push(await runPlatform(devices, input));
    naive.push(await runNaive(devices, input));
  }
  const p = platform.at(-1) as Awaited<ReturnType<typeof runPlatform>>;
  const n = naive.at(-1) as Awaited<ReturnType<typeof runNaive>>;
  console.log(
    `Enrichment: ${MESSAGES} messages from ${DEVICES} devices (1% malformed), batch size ${INGEST_SETTINGS.batchSize}, median of ${ROUNDS} rounds`,
  );
  console.log(
    `  stored ${p.stored} / quarantined ${p.quarantined} (platform); stored ${n.stored} / quarantined ${n.quarantined} (naive)`,
  );
  console.table({
    'platform (batched, cached registry, write-on-change)': {
      'CPU ms per 1k msgs': Number(per1000(median(platform.map((r) => r.cpu))).toFixed(1)),
      ...requestRow(p.counts),
    },
    'naive (per message)': {
      'CPU ms per 1k msgs': Number(per1000(median(naive.map((r) => r.cpu))).toFixed(1)),
      ...requestRow(n.counts),
    },
  });
  console.log(
    '  Per 1,000 messages. Requests: registry = BatchGetItem (platform, cached) or GetItem (naive); store = one conditional',
  );
  console.log(
    '  append per point (UpdateItem on its bucket item); latest reads = BatchGetItem of the stored states (platform: once per batch, to write only on change); latest writes = PutItem (platform: one per changed device per batch, only if newer); quarantine = BatchWriteItem.',
  );
  console.log(
    '  Not shown: the naive design also pays one Lambda invocation per message; the platform one per batch.',
  );
  console.log(
    '\nTime-series storage layout, measured on a DynamoDB-compatible server (dynalite): one day of 5-minute',
  );
  console.log('readings from 50 devices, written through the platform store and as one item per reading:');
  console.table(
    (await measureStorageLayouts()).map((row) => ({
      design: row.design,
      'write units / reading': Number(row.writeUnitsPerReading.toFixed(3)),
      'stored bytes / reading': Math.round(row.storedBytesPerReading),
      'read units, 24 h chart': row.readUnitsFor24hChart,
    })),
  );
  console.log(
    '\nLambda bundles as deployed (esbuild, minified, ESM, node22; AWS SDK v3 from the Lambda runtime):',
  );
  console.table(await bundleSizes());
}

await main();
