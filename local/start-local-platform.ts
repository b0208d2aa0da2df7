import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import {
  cityQueryPortsFromEnvironment,
  enrichTelemetryPortsFromEnvironment,
  retentionDays,
} from '../lambdas/adapters/ports-from-environment.js';
import type { DeviceType } from '../lambdas/contracts/device-types.js';
import { MESSAGE_LIMITS } from '../lambdas/contracts/envelope.js';
import { ENV } from '../lambdas/contracts/environment.js';
import { INGEST_SETTINGS } from '../lambdas/contracts/ingest-settings.js';
import { localTableName, TABLES, type TableId } from '../lambdas/contracts/tables.js';
import { LANES, type Lane, laneFor, telemetryTopic } from '../lambdas/contracts/topics.js';
import type { Device } from '../lambdas/domain/device.js';
import { createCityApiHandler, ROUTES } from '../lambdas/handlers/city-api.js';
import { createEnrichTelemetryHandler } from '../lambdas/handlers/enrich-telemetry.js';
import { loadPlatformConfig } from '../lib/config/platform-config.js';
import { type ApiHandler, type ApiRoute, startApiServer } from './api-server.js';
import { LocalCertificateAuthority } from './certificate-authority.js';
import { CitySimulator, type DeviceBundle } from './city-simulator.js';
import { demoCityDevices } from './demo-city.js';
import { startDeviceBroker } from './device-broker.js';
import { LocalDeviceRegistry } from './device-registry.js';
import { DurableQueue } from './durable-queue.js';
import { createLocalTables, localDynamoDbClient, startDynamoDbServer } from './dynamodb-server.js';
import { IngestMeter } from './ingest-meter.js';
import { loadOrCreateToken, writeLocalSettings } from './local-settings-file.js';
import { PlatformCounters } from './platform-counters.js';
import { type BatchOutcome, QueueConsumer, type SqsBatchHandler } from './queue-consumer.js';

/** Options for {@link startLocalPlatform}. Ports 0 pick free ports (tests). */
export interface LocalPlatformOptions {
  readonly dataDir: string;
  /** @default 3000 */
  readonly apiPort?: number;
  /** @default 8883 */
  readonly mqttPort?: number;
  /** @default true */
  readonly simulator?: boolean;
  /** Simulated seconds per real second for the demo city. @default 1 */
  readonly speed?: number;
  /** @default 'reading' */
  readonly seed?: string;
  /** Overrides of the locally scaled ingest timings (tests shorten them further). */
  readonly ingest?: Partial<LocalIngestTimings>;
  /** Replaces the enrichment handler (tests of the queue machinery); the real one by default. */
  readonly enrichHandler?: SqsBatchHandler;
  /** Where the runtime reports what it does. @default console.log */
  readonly log?: (line: string) => void;
}

/** Ingest timings of the local event source mapping. */
export interface LocalIngestTimings {
  readonly batchingWindowMs: number;
  readonly visibilityTimeoutMs: number;
  readonly maxConcurrency: number;
  readonly handlerTimeoutMs: number;
}

/** One lane's queue and its dead-letter queue. */
export interface LaneQueues {
  readonly queue: DurableQueue;
  readonly deadLetter: DurableQueue;
}

/** A running local platform. */
export interface LocalPlatform {
  readonly apiUrl: string;
  readonly mqttUrl: string;
  readonly mqttPort: number;
  /** Absolute. */
  readonly dataDir: string;
  readonly token: string;
  /** Absolute path of local.json. */
  readonly settingsPath: string;
  readonly caCertPath: string;
  readonly caPem: string;
  readonly dynamoEndpoint: string;
  readonly counters: PlatformCounters;
  readonly queues: Readonly<Record<Lane, LaneQueues>>;
  /** What the enrichment handler stored and quarantined, as it happens (counting, publish-to-stored latency). */
  readonly ingestMeter: IngestMeter;
  readonly simulator: CitySimulator | undefined;
  /** Registers devices (overwriting), issues their certificates and adds them to local.json. */
  provisionDevices(devices: readonly Device[]): Promise<DeviceBundle[]>;
  /** Drains in-flight work and stops everything; queued messages stay on disk for the next start. */
  stop(): Promise<void>;
}

const REGION = 'eu-west-2';
const ACCOUNT_ID = '000000000000';
const HOST = '127.0.0.1';

/**
 * The deployed numbers from INGEST_SETTINGS, scaled for one machine. The batching window is 1/100 (a laptop has no
 * per-invocation price to amortise and a demo should feel live); the visibility timeout 1/60 (a failed message
 * comes back in seconds, not minutes). Batch size, maxReceiveCount and the handler timeout are the deployed ones.
 */
export function localIngestTimings(maxConcurrency: number): LocalIngestTimings {
  return {
    batchingWindowMs: (INGEST_SETTINGS.maxBatchingWindowSeconds * 1000) / 100,
    visibilityTimeoutMs: (INGEST_SETTINGS.visibilityTimeoutSeconds * 1000) / 60,
    maxConcurrency,
    handlerTimeoutMs: INGEST_SETTINGS.enrichmentTimeoutSeconds * 1000,
  };
}

/** The environment the CDK constructs give the Lambdas, with local table names and the local endpoint. */
function handlerEnvironment(endpoint: string, retention: number): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.telemetryStore]: 'dynamodb',
    [ENV.retentionDays]: String(retention),
    [ENV.dynamoEndpoint]: endpoint,
  };
  for (const id of Object.keys(TABLES) as TableId[]) env[ENV.tables[id]] = localTableName(id);
  return env;
}

function handlerLogger(serviceName: string): Logger {
  // Handlers log a line per batch at INFO; locally the status line says the same, so only warnings by default.
  return new Logger({
    serviceName,
    logLevel: (process.env.POWERTOOLS_LOG_LEVEL as 'INFO' | undefined) ?? 'WARN',
  });
}

/**
 * Starts the whole platform in this process: local CA, DynamoDB-compatible store, one durable queue (with DLQ)
 * and consumer per ingest lane, the mTLS MQTT broker with the rule step, the REST API, and (unless disabled) the
 * demo city. Writes `<data-dir>/local.json`. Everything binds to 127.0.0.1 only.
 */
export async function startLocalPlatform(options: LocalPlatformOptions): Promise<LocalPlatform> {
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const settingsPath = path.join(dataDir, 'local.json');
  // The same defaults the CDK app uses (essential lanes, retention, consumer concurrency): one source of truth.
  const config = loadPlatformConfig({
    stage: 'local',
    councilName: 'Local runtime',
    devices: 200,
    messageIntervalSeconds: 60,
    apiRequestsPerDay: 10_000,
  });
  const timings = { ...localIngestTimings(config.enrichmentMaxConcurrency), ...options.ingest };
  const counters = new PlatformCounters();
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((error: Error) => log(`shutdown: ${error.message}`));
    stops.length = 0;
  };

  try {
    // The AWS SDK wants a region and credentials even for a local endpoint; placeholders unless the user set them.
    process.env.AWS_REGION ??= REGION;
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';

    const token = await loadOrCreateToken(settingsPath);
    const ca = await LocalCertificateAuthority.loadOrCreate(path.join(dataDir, 'certs'));
    const serverCert = await ca.serverCertificate();

    const dynamo = await startDynamoDbServer(path.join(dataDir, 'dynamodb'));
    stops.push(() => dynamo.close());
    const client = localDynamoDbClient(dynamo.endpoint, REGION);
    stops.push(async () => client.destroy());
    await createLocalTables(client);
    const registry = new LocalDeviceRegistry(client);
    const ingestMeter = new IngestMeter();
    ingestMeter.on('stored', (points) => {
      counters.stored += points.length;
    });
    ingestMeter.on('quarantined', (entries) => {
      counters.quarantined += entries.length;
    });

    const env = handlerEnvironment(dynamo.endpoint, config.retentionDays);
    const enrich: SqsBatchHandler =
      options.enrichHandler ??
      (createEnrichTelemetryHandler({
        ports: () => ingestMeter.wrap(enrichTelemetryPortsFromEnvironment(env)),
        limits: () => ({
          retentionDays: retentionDays(env),
          maxFutureSkewSeconds: MESSAGE_LIMITS.maxFutureSkewSeconds,
        }),
        logger: handlerLogger('enrich-telemetry'),
      }) as unknown as SqsBatchHandler);
    const cityApi = createCityApiHandler({
      ports: () => cityQueryPortsFromEnvironment(env),
      logger: handlerLogger('city-api'),
    }) as unknown as ApiHandler;

    const queueDir = path.join(dataDir, 'queues');
    const queues = {} as Record<Lane, LaneQueues>;
    const consumers: QueueConsumer[] = [];
    const onBatch = (outcome: BatchOutcome) => {
      counters.batches += 1;
      counters.retriedMessages += outcome.failed;
      if (outcome.error !== undefined) {
        counters.failedBatches += 1;
        log(
          `enrich ${outcome.queue}: batch of ${outcome.size} failed and goes back to the queue: ${String(outcome.error)}`,
        );
      }
    };
    for (const lane of LANES) {
      const deadLetter = await DurableQueue.open({
        name: `${lane}-dlq`,
        directory: queueDir,
        visibilityTimeoutMs: timings.visibilityTimeoutMs,
      });
      const queue = await DurableQueue.open({
        name: lane,
        directory: queueDir,
        visibilityTimeoutMs: timings.visibilityTimeoutMs,
        maxReceiveCount: INGEST_SETTINGS.maxReceiveCount,
        deadLetterQueue: deadLetter,
      });
      queues[lane] = { queue, deadLetter };
      stops.push(async () => {
        await queue.close();
        await deadLetter.close();
      });
      const consumer = new QueueConsumer({
        queue,
        handler: enrich,
        functionName: `enrich-telemetry-${lane}`,
        region: REGION,
        accountId: ACCOUNT_ID,
        batchSize: INGEST_SETTINGS.batchSize,
        batchingWindowMs: timings.batchingWindowMs,
        maxConcurrency: timings.maxConcurrency,
        timeoutMs: timings.handlerTimeoutMs,
        onBatch,
      });
      consumers.push(consumer);
      if (queue.size > 0) log(`queue ${lane}: ${queue.size} message(s) kept from the last run`);
      if (deadLetter.size > 0)
        log(`queue ${lane}-dlq: ${deadLetter.size} message(s) in the dead-letter queue`);
    }
    stops.push(async () => {
      await Promise.all(consumers.map((c) => c.stop()));
    });
    for (const consumer of consumers) consumer.start();

    const broker = await startDeviceBroker({
      host: HOST,
      port: options.mqttPort ?? 8883,
      caPem: ca.certPem,
      serverCertPem: serverCert.certPem,
      serverKeyPem: serverCert.keyPem,
      essentialDeviceTypes: config.essentialDeviceTypes,
      findDevice: (deviceId) => registry.get(deviceId),
      enqueue: async (lane, message) => {
        await queues[lane].queue.send(JSON.stringify(message));
        counters.messagesIn += 1;
      },
      onRefusal: (refusal) => {
        counters.refuse(refusal.reason);
        log(
          `broker refused (${refusal.reason})${refusal.clientId ? ` ${refusal.clientId}` : ''}: ${refusal.detail}`,
        );
      },
    });
    stops.push(() => broker.close());

    const routes: ApiRoute[] = Object.entries(ROUTES).map(([key, definition]) => {
      const [method = 'GET', resource = '/'] = key.split(' ');
      return { method, resource, public: definition.groups === undefined };
    });
    const api = await startApiServer({
      host: HOST,
      port: options.apiPort ?? 3000,
      routes,
      handler: cityApi,
      token,
      claims: { sub: 'local-admin', 'cognito:groups': 'admin', 'cognito:username': 'local-admin' },
      region: REGION,
      accountId: ACCOUNT_ID,
    });
    stops.push(() => api.close());

    const bundles = new Map<string, DeviceBundle>();
    const writeSettings = () =>
      writeLocalSettings(settingsPath, {
        apiUrl: api.url,
        mqttUrl: broker.url,
        token,
        caCert: ca.certPath,
        devices: [...bundles.values()].map(({ deviceId, type, topic, cert, key }) => ({
          deviceId,
          type,
          topic,
          cert,
          key,
        })),
      });
    const bundleFor = async (device: Device): Promise<DeviceBundle> => {
      const issued = await ca.deviceCertificate(device.deviceId);
      const type: DeviceType = device.deviceType;
      const bundle: DeviceBundle = {
        deviceId: device.deviceId,
        type,
        topic: telemetryTopic(laneFor(type, config.essentialDeviceTypes), type, device.deviceId),
        cert: issued.certPath,
        key: issued.keyPath,
        certPem: issued.certPem,
        keyPem: issued.keyPem,
      };
      bundles.set(device.deviceId, bundle);
      return bundle;
    };

    let simulator: CitySimulator | undefined;
    if (options.simulator ?? true) {
      const demo = demoCityDevices(options.seed ?? 'reading');
      const added = await registry.registerMissing(demo.map((d) => d.device));
      const simulated = await Promise.all(
        demo.map(async (d) => ({ demo: d, bundle: await bundleFor(d.device) })),
      );
      await writeSettings();
      simulator = new CitySimulator({
        mqttUrl: broker.url,
        caPem: ca.certPem,
        devices: simulated,
        seed: options.seed ?? 'reading',
        speed: options.speed ?? 1,
        log,
      });
      // Registered first, stopped first: devices go quiet before the broker closes.
      stops.push(() => (simulator as CitySimulator).stop());
      await simulator.start();
      log(
        `simulator: ${demo.length} devices in Reading (${added} newly registered), speed x${options.speed ?? 1}`,
      );
    } else {
      await writeSettings();
    }

    return {
      apiUrl: api.url,
      mqttUrl: broker.url,
      mqttPort: broker.port,
      dataDir,
      token,
      settingsPath,
      caCertPath: ca.certPath,
      caPem: ca.certPem,
      dynamoEndpoint: dynamo.endpoint,
      counters,
      queues,
      ingestMeter,
      simulator,
      provisionDevices: async (devices) => {
        await registry.register(devices);
        const issued = await Promise.all(devices.map(bundleFor));
        await writeSettings();
        return issued;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
