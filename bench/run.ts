/**
 * `npm run bench`: the enrichment use case on 10,000 messages with counting in-memory adapters, beside the naive
 * per-message design, in the same run; the time-series storage layouts; the service blueprints' change detection
 * on a simulated week of the demo town, beside an event per reading; the 24-hour hourly-average history query
 * against the local runtime with a month of data for 200 devices, beside raw readings averaged in the client; then
 * the minified bundle size of each Lambda; onboarding a fleet with `import --csv` beside one `add` per device.
 * `npm run bench -- services`, `-- history` and `-- onboarding` run those sections alone.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { CachedDeviceDirectory } from '../lambdas/adapters/dynamodb-device-directory.js';
import { WriteOnChangeLatestState } from '../lambdas/adapters/dynamodb-latest-state.js';
import { InMemoryPorts, type RequestCounts } from '../lambdas/adapters/in-memory-ports.js';
import { DEVICE_TYPES, type DeviceType } from '../lambdas/contracts/device-types.js';
import { INGEST_SETTINGS } from '../lambdas/contracts/ingest-settings.js';
import { pricesFor } from '../lambdas/contracts/prices.js';
import { applyRuleSql, ruleTopic } from '../lambdas/contracts/topics.js';
import type { Device } from '../lambdas/domain/device.js';
import { enrichTelemetryBatch } from '../lambdas/domain/enrich-telemetry.js';
import type { QueuedMessage } from '../lambdas/domain/message-validation.js';
import { measureDeviceOnboarding } from './device-onboarding.js';
import { naiveEnrichOne } from './naive-enrichment.js';
import { type DesignTally, measureServiceChangeDetection } from './service-change-detection.js';
import { measureStorageLayouts } from './storage-layout.js';
import { measureHistoryQueries } from './telemetry-history.js';

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

/** The region whose prices the service section quotes: the platform's default. */
const PRICE_REGION = 'eu-west-2';
const DAYS_PER_MONTH = 30;

/** Per 1,000 readings, one decimal. */
const perThousand = (n: number, readings: number) =>
  readings === 0 ? 0 : Math.round((n / readings) * 10_000) / 10;

function sumTallies(tallies: readonly DesignTally[]): DesignTally {
  const total: DesignTally = {
    events: 0,
    stateWrites: 0,
    stateReads: 0,
    historyReads: 0,
    workflowWrites: 0,
    notices: 0,
    cpuMs: 0,
  };
  for (const tally of tallies) {
    for (const key of Object.keys(total) as (keyof DesignTally)[]) total[key] += tally[key];
  }
  return total;
}

/**
 * The service blueprints' detectors and workflows on a simulated week of the demo town, as the platform runs them
 * and as a rule per reading would, with what the difference costs.
 */
async function serviceSection() {
  // A day first, discarded, so the figures are of warm (JIT-compiled) code, as in a function that has run a while.
  await measureServiceChangeDetection({ days: 1 });
  const run = await measureServiceChangeDetection({ days: 7 });
  const readings = run.services.reduce((sum, s) => sum + s.readings, 0);
  console.log(
    `\nService blueprints' change detection: the demo town (seed 'reading'), ${run.days} simulated days from ${run.start},`,
  );
  console.log(
    `${readings.toLocaleString('en-GB')} readings, each device on its profile's interval, through every blueprint's detector and workflow.`,
  );
  console.log(
    `  Platform: each enrichment batch (${run.batchSize} readings in arrival order) through the detectors, state per device written`,
  );
  console.log(
    '  only when it changed, events only on change, each delivered to its workflow. Naive ("a rule per reading"): every reading',
  );
  console.log(
    "  is an event delivered to the service's workflow, which reads the state, runs the same rules and writes the state back.",
  );
  // History columns only when some detector asks for history: without it they are zeros.
  const withHistory = run.services.some((s) => s.platform.historyReads + s.naive.historyReads > 0);
  const row = (n: number, p: DesignTally, q: DesignTally, largest: number | undefined) => ({
    readings: n,
    'events P': perThousand(p.events, n),
    'events N': perThousand(q.events, n),
    'state writes P': perThousand(p.stateWrites, n),
    'state writes N': perThousand(q.stateWrites, n),
    ...(withHistory
      ? {
          'history reads P': perThousand(p.historyReads, n),
          'history reads N': perThousand(q.historyReads, n),
        }
      : {}),
    'workflow writes P': perThousand(p.workflowWrites, n),
    'workflow writes N': perThousand(q.workflowWrites, n),
    'CPU ms P': perThousand(p.cpuMs, n),
    'CPU ms N': perThousand(q.cpuMs, n),
    ...(largest === undefined ? {} : { 'state bytes': largest }),
  });
  const platformTotal = sumTallies(run.services.map((s) => s.platform));
  const naiveTotal = sumTallies(run.services.map((s) => s.naive));
  console.table({
    ...Object.fromEntries(
      run.services.map((s) => [s.service, row(s.readings, s.platform, s.naive, s.largestStateBytes)]),
    ),
    'all services': row(readings, platformTotal, naiveTotal, undefined),
  });
  console.log(
    '  Per 1,000 readings; P = platform, N = naive. Workflow writes: job creates and replaces, alert and site-view saves.',
  );
  console.log(
    `  Both designs ended with the same jobs, alerts and site views: ${run.sameOutcome ? 'yes' : 'NO'}. ` +
      `Not in the comparison: ${run.scheduleOnly.join(', ')} (no detector: driven by its schedule), and the schedules.`,
  );

  const prices = pricesFor(PRICE_REGION);
  const eventUsd = prices['eventbridge.customEventsPerMillion'].usd / 1e6;
  const writeUsd = prices['dynamodb.writeUnitsPerMillion'].usd / 1e6;
  const invokeUsd = prices['lambda.requestsPerMillion'].usd / 1e6;
  const monthly = (tally: DesignTally) => {
    const scale = DAYS_PER_MONTH / run.days;
    const events = tally.events * scale * eventUsd;
    // States are under 1 KB (the 'state bytes' column), one write unit each; the workflow writes are the same in both.
    const states = tally.stateWrites * scale * writeUsd;
    // The bus rule invokes the workflow function once per event.
    const invocations = tally.events * scale * invokeUsd;
    const total = events + states + invocations;
    return {
      'bus events $': Number(events.toFixed(2)),
      'state writes $': Number(states.toFixed(2)),
      'workflow invocations $': Number(invocations.toFixed(2)),
      'total $ a month': Number(total.toFixed(2)),
      '$ per million readings': Number(((total / (readings * scale)) * 1e6).toFixed(3)),
    };
  };
  const fallbacks = (['eventbridge.customEventsPerMillion', 'dynamodb.writeUnitsPerMillion'] as const).filter(
    (item) => prices[item].fallback,
  );
  console.log(
    `\nWhat that costs the demo town a month (${DAYS_PER_MONTH} days, ${PRICE_REGION} list prices: events $${prices['eventbridge.customEventsPerMillion'].usd.toFixed(2)}/M, ` +
      `write units $${prices['dynamodb.writeUnitsPerMillion'].usd.toFixed(3)}/M, Lambda requests $${prices['lambda.requestsPerMillion'].usd.toFixed(2)}/M):`,
  );
  console.table({ platform: monthly(platformTotal), naive: monthly(naiveTotal) });
  if (fallbacks.length > 0) {
    console.log(
      `  ${fallbacks.join(' and ')}: ${prices[fallbacks[0] as (typeof fallbacks)[number]].fallback}.`,
    );
  }
  console.log(
    `  Not shown: the naive invocations' duration (each at least 1 ms billed) and the state reads, which are alike: ` +
      `${perThousand(platformTotal.stateReads, readings)} (platform) and ${perThousand(naiveTotal.stateReads, readings)} (naive) per 1,000 readings.`,
  );

  console.log("\nMeasured beside each blueprint's cost profile (what the cost statement budgets):");
  console.table(
    Object.fromEntries(
      run.services.map((s) => [
        s.service,
        {
          'state writes / reading': Number((s.platform.stateWrites / s.readings).toFixed(3)),
          'profile: state writes / reading': Number(s.profile.stateWritesPerReading.toFixed(3)),
          'events / device / day': Number((s.platform.events / s.devices / run.days).toFixed(2)),
          'profile: events / device / day': Number(s.profile.eventsPerDevicePerDay.toFixed(2)),
        },
      ]),
    ),
  );
}

/**
 * The history API's 24-hour hourly-average query, timed through the local runtime's REST API, beside the naive
 * client that fetches the day's raw readings through the same API and averages them itself.
 */
async function historySection() {
  console.log(
    '\nHistory: a 24-hour 1h-average query through the local runtime (REST API, city-api handler, dynalite); loading a month...',
  );
  const run = await measureHistoryQueries({ log: (line) => console.log(line) });
  console.log(
    `${run.devices} devices, ${run.days} days of 5-minute readings (${run.readings.toLocaleString('en-GB')} readings in ` +
      `${run.bucketItems.toLocaleString('en-GB')} bucket items, loaded in ${run.loadSeconds.toFixed(0)} s); ` +
      'each question asked of every device in a warm-up round, then timed one request at a time, alternating:',
  );
  const row = (f: (typeof run.scenarios)[number]['platform']) => ({
    'p50 ms': Number(f.p50Ms.toFixed(1)),
    'p99 ms': Number(f.p99Ms.toFixed(1)),
    'mean ms': Number(f.meanMs.toFixed(1)),
    'API requests': f.apiRequests,
    'response bytes': f.responseBytes,
    'DynamoDB read units': f.readUnits,
  });
  console.table(
    Object.fromEntries(
      run.scenarios.flatMap((s) => [
        [`${s.question} (${s.requests}x): platform, interval and stat`, row(s.platform)],
        [`${s.question}: naive, raw readings averaged by the client`, row(s.naive)],
      ]),
    ),
  );
  console.log(
    `  Both designs gave every device the same buckets: ${run.scenarios.every((s) => s.sameAnswers) ? 'yes' : 'NO'}. ` +
      'Read units per answer are measured on the store adapter the API uses',
  );
  console.log('  (eventually consistent; a Query is billed on whole items, whatever it projects).');
}

/** Devices each onboarding design registers in the bench (the check imports 1,000 in its e2e test). */
const ONBOARDING_DEVICES = 500;

/** Onboarding a fleet through the local runtime: `import --csv` beside one `add` per asset. */
async function onboardingSection() {
  console.log(
    `\nOnboarding: ${ONBOARDING_DEVICES} devices into the local runtime (certificate, bundle, registry entry each)...`,
  );
  const run = await measureDeviceOnboarding(ONBOARDING_DEVICES);
  const row = (t: typeof run.importCsv) => ({
    seconds: Number(t.seconds.toFixed(1)),
    'ms per device': Number(t.perDeviceMs.toFixed(1)),
  });
  console.table({
    'import --csv (checked first, 8 in flight)': row(run.importCsv),
    'naive: one add per device': row(run.addOneByOne),
  });
}

async function main() {
  if (process.argv.includes('onboarding')) {
    await onboardingSection();
    return;
  }
  if (process.argv.includes('services')) {
    await serviceSection();
    return;
  }
  if (process.argv.includes('history')) {
    await historySection();
    return;
  }
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
  await serviceSection();
  await historySection();
  await onboardingSection();
  console.log(
    '\nLambda bundles as deployed (esbuild, minified, ESM, node22; AWS SDK v3 from the Lambda runtime):',
  );
  console.table(await bundleSizes());
}

await main();
