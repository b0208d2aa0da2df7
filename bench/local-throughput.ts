/**
 * `npm run bench:local [-- --devices 200 --seconds 20 --warmup 3 --outstanding 400 --concurrency 5]`
 *
 * End-to-end throughput of the local runtime: 200 devices (mutual TLS, one mqtt.js client and certificate each,
 * QoS 1) publish through the broker, the rule step, the durable lane queues and the real enrichment handler into
 * dynalite. Reports the sustained publish -> stored rate and the publish-to-stored latency (p50/p99), measured
 * after a warm-up. The devices run on a worker thread; the platform has the main thread to itself.
 */
import { rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DeviceType } from '../lambdas/contracts/device-types.js';
import type { Device } from '../lambdas/domain/device.js';
import { startLocalPlatform } from '../local/start-local-platform.js';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} needs a positive number`);
    process.exit(2);
  }
  return value;
}

const DEVICES = flag('devices', 200);
const SECONDS = flag('seconds', 20);
const WARMUP = flag('warmup', 3);
const OUTSTANDING = flag('outstanding', 400);
/** Batches per lane at once; the default is the deployed event source mapping's maximum concurrency. */
const CONCURRENCY = process.argv.includes('--concurrency') ? flag('concurrency', 5) : undefined;
/**
 * Readings each device sends per hour of observation time (the generator steps `observedAt` back an hour every
 * this many). The devices declare that rate, so rate policing (3x the declared rate, at most the store's 300 per
 * device-hour) lets every one of them through.
 */
const READINGS_PER_HOUR = 250;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function main(): Promise<void> {
  const dataDir = path.join(tmpdir(), `civic-bench-${process.pid}`);
  const platform = await startLocalPlatform({
    dataDir,
    apiPort: 0,
    mqttPort: 0,
    simulator: false,
    ...(CONCURRENCY ? { ingest: { maxConcurrency: CONCURRENCY } } : {}),
    log: (line) => {
      if (!line.startsWith('broker refused')) console.log(line);
    },
  });
  // Half essential (air quality), half ordinary (bins): both lanes, both consumers.
  const types: DeviceType[] = ['air-quality', 'waste-container'];
  const devices: Device[] = Array.from({ length: DEVICES }, (_, i) => ({
    deviceId: `bench-${String(i).padStart(4, '0')}`,
    deviceType: types[i % 2] as DeviceType,
    status: 'active',
    location: { lat: 51.4551, lon: -0.9734 },
    ward: 'Abbey',
    expectedIntervalSeconds: 3600 / READINGS_PER_HOUR,
    registeredAt: new Date().toISOString(),
  }));
  const bundles = await platform.provisionDevices(devices);

  let stored = 0;
  let measuring = false;
  let storedInWindow = 0;
  const latencies: number[] = [];
  platform.ingestMeter.on('stored', (points) => {
    const now = Date.now();
    stored += points.length;
    if (measuring) {
      storedInWindow += points.length;
      for (const point of points) {
        const published = Number(/^b(\d+)-/.exec(point.messageId)?.[1]);
        if (Number.isFinite(published)) latencies.push(now - published);
      }
    }
  });

  // Worker threads do not inherit tsx's loader; register it in the worker before importing the TypeScript file.
  const generator = new URL('./local-load-generator.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(generator)}); })`;
  const worker = new Worker(bootstrap, {
    eval: true,
    workerData: {
      mqttUrl: platform.mqttUrl,
      caPem: platform.caPem,
      devices: bundles.map(({ deviceId, type, topic, certPem, keyPem }) => ({
        deviceId,
        type,
        topic,
        certPem,
        keyPem,
      })),
      maxOutstanding: OUTSTANDING,
      perClientWindow: 10,
      readingsPerHour: READINGS_PER_HOUR,
    },
  });
  const done = new Promise<{ published: number; acknowledged: number }>((resolve, reject) => {
    worker.on('message', (message: { done?: boolean; published: number; acknowledged: number }) => {
      if (message.done) resolve(message);
    });
    worker.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  const credit = setInterval(() => worker.postMessage({ stored }), 20);

  console.log(
    `${DEVICES} devices connected; ${WARMUP} s warm-up, then ${SECONDS} s measured (${cpus().length} CPUs)`,
  );
  worker.postMessage({ start: true, stored });
  await new Promise((resolve) => setTimeout(resolve, WARMUP * 1000));
  const cpuStart = process.cpuUsage();
  const inStart = platform.counters.messagesIn;
  measuring = true;
  const windowStart = Date.now();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  measuring = false;
  const windowSeconds = (Date.now() - windowStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const inWindow = platform.counters.messagesIn - inStart;
  worker.postMessage({ stop: true });
  const generated = await done;
  clearInterval(credit);

  // Everything acknowledged must end stored: wait for the queues to drain.
  const drainDeadline = Date.now() + 30_000;
  const backlog = () => Object.values(platform.queues).reduce((n, q) => n + q.queue.size, 0);
  while (backlog() > 0 && Date.now() < drainDeadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  await worker.terminate();

  latencies.sort((a, b) => a - b);
  const result = {
    devices: DEVICES,
    measuredSeconds: Number(windowSeconds.toFixed(1)),
    storedPerSecond: Math.round(storedInWindow / windowSeconds),
    acceptedPerSecond: Math.round(inWindow / windowSeconds),
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
    },
    platformThreadCpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / (windowSeconds * 1000)) * 100),
    // CPU of the whole process (every thread, the load generator's included) per stored message: unlike the rate,
    // it hardly moves when something else on the machine takes a share of the cores.
    cpuMsPerMessage: Number(((cpu.user + cpu.system) / 1000 / Math.max(1, storedInWindow)).toFixed(2)),
    published: generated.published,
    acknowledged: generated.acknowledged,
    storedTotal: platform.counters.stored,
    quarantined: platform.counters.quarantined,
    refused: platform.counters.refused,
    backlogAfterDrain: backlog(),
    deadLettered: Object.values(platform.queues).reduce((n, q) => n + q.deadLetter.size, 0),
    cpus: cpus().length,
  };
  console.log(
    [
      `sustained end-to-end: ${result.storedPerSecond} msg/s stored (${result.acceptedPerSecond} msg/s accepted by the broker)`,
      `publish -> stored latency: p50 ${result.latencyMs.p50} ms, p90 ${result.latencyMs.p90} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms`,
      `process CPU: ${result.platformThreadCpuPercent}% of one core, ${result.cpuMsPerMessage} ms per stored message`,
      `published ${result.published}, acknowledged ${result.acknowledged}, stored ${result.storedTotal}, quarantined ${result.quarantined}, backlog ${result.backlogAfterDrain}, DLQ ${result.deadLettered}`,
    ].join('\n'),
  );
  console.log(JSON.stringify(result));
  await platform.stop();
  await rm(dataDir, { recursive: true, force: true });
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
