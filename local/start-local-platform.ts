import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDocumentClient } from '../lambdas/adapters/dynamodb-client.js';
import { DynamoDbCostRecords } from '../lambdas/adapters/dynamodb-cost-records.js';
import { cityQueryPortsFromEnvironment } from '../lambdas/adapters/ports-from-environment.js';
import { admissionTablesFromEnvironment } from '../lambdas/adapters/provisioning-ports-from-environment.js';
import type { DeviceType } from '../lambdas/contracts/device-types.js';
import { workflowLanesOf } from '../lambdas/contracts/domain-event-bus.js';
import { ENV } from '../lambdas/contracts/environment.js';
import { INGEST_SETTINGS } from '../lambdas/contracts/ingest-settings.js';
import { WORKFLOW_FUNCTION_MEMORY_MB } from '../lambdas/contracts/metered-resources.js';
import { pricesFor, type RegionPrices } from '../lambdas/contracts/prices.js';
import { LOCAL_PROVISIONING_TEMPLATE_NAME } from '../lambdas/contracts/provisioning-template.js';
import { localTableName, TABLES, type TableId } from '../lambdas/contracts/tables.js';
import { LANES, type Lane, laneFor, telemetryTopic } from '../lambdas/contracts/topics.js';
import type { CostControlSettings } from '../lambdas/domain/cost-control.js';
import { COST_ASSUMPTIONS, dailyFixedAccrualUsd, estimatePlatform } from '../lambdas/domain/cost-model.js';
import type { Device } from '../lambdas/domain/device.js';
import { createCityApiHandler, routeSpecsFor } from '../lambdas/handlers/city-api.js';
import { enrichTelemetryHandlerFromEnvironment } from '../lambdas/handlers/enrich-telemetry.js';
import { LOG_LEVELS, loadPlatformConfig, type PlatformConfig } from '../lib/config/platform-config.js';
import { serviceLoads } from '../lib/cost/platform-estimate.js';
import { blueprintsNamed } from '../services/catalogue.js';
import { type ApiHandler, type ApiRoute, startApiServer } from './api-server.js';
import { LocalCertificateAuthority } from './certificate-authority.js';
import { CitySimulator, type DeviceBundle, reportingIntervalSeconds } from './city-simulator.js';
import { demoCityDevices } from './demo-city.js';
import { startDeviceBroker } from './device-broker.js';
import { LocalDeviceRegistry } from './device-registry.js';
import { DurableQueue } from './durable-queue.js';
import { createLocalTables, localDynamoDbClient, startDynamoDbServer } from './dynamodb-server.js';
import { IngestMeter } from './ingest-meter.js';
import { LocalClaimedCertificates } from './local-claimed-certificates.js';
import { LocalCostGuard, LocalLaneControls, type LocalNotice, LocalNotifier } from './local-cost-guard.js';
import { LocalDeviceIdentities, watchIdentityRegister } from './local-device-identities.js';
import { LocalFleetProvisioning } from './local-fleet-provisioning.js';
import { LocalFunctionLogger, type LoggedLine } from './local-function-logger.js';
import { LocalServiceWorkflows } from './local-service-workflows.js';
import { loadOrCreateApiKey, loadOrCreateToken, writeLocalSettings } from './local-settings-file.js';
import { LocalUsageCounters, LocalUsageSource } from './local-usage-source.js';
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
  /** The cost guard's meter: ceiling, how often it runs, and (for tests) prices and the fixed accrual. */
  readonly costGuard?: LocalCostGuardOptions;
  /** The service blueprints to run. @default - config `services` from cdk.json (every blueprint) */
  readonly services?: readonly string[];
  /** Real ms between the workflows' scheduled runs. @default WORKFLOW_SCHEDULE_SECONDS / speed */
  readonly serviceScheduleMs?: number;
}

/** Options of the local usage meter and spending guard. */
export interface LocalCostGuardOptions {
  /** Monthly ceiling in USD. @default - `monthlyCeilingUsd` from cdk.json; none (no ladder) when it has none */
  readonly ceilingUsd?: number;
  /** Seconds between meter runs. @default 300, as the deployed schedule */
  readonly meterSeconds?: number;
  /** Unit prices. @default - the configured region's, from lambdas/contracts/prices.ts */
  readonly prices?: RegionPrices;
  /** Storage and alarms per day. @default - the clock-driven lines of the configured deployment's estimate */
  readonly fixedDailyUsd?: number;
  /**
   * How long the enrichment handlers keep the degrade settings. @default the deployed value,
   * INGEST_SETTINGS.degradeSettingsCacheSeconds
   */
  readonly degradeCacheSeconds?: number;
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
  /** The open-data API key (`x-api-key`), as in local.json. */
  readonly apiKey: string;
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
  /** The usage meter and spending guard running over this runtime's own counters. */
  readonly costGuard: {
    readonly guard: LocalCostGuard;
    readonly settings: CostControlSettings;
    readonly lanes: LocalLaneControls;
    /** Notices the guard sent (newest last). */
    readonly notices: readonly LocalNotice[];
  };
  /** The enabled services' workflows: their event bus, notifications and schedule. */
  readonly services: LocalServiceWorkflows;
  /** Registers devices (overwriting), issues their certificates and adds them to local.json. */
  provisionDevices(devices: readonly Device[]): Promise<DeviceBundle[]>;
  /** Drains in-flight work and stops everything; queued messages stay on disk for the next start. */
  stop(): Promise<void>;
}

const REGION = 'eu-west-2';
const ACCOUNT_ID = '000000000000';
const HOST = '127.0.0.1';
/** Degrade settings cache: the deployed value, which the guard's wait after a restore is sized for. */
const LOCAL_DEGRADE_CACHE_SECONDS = INGEST_SETTINGS.degradeSettingsCacheSeconds;
const DEFAULT_METER_SECONDS = 300;
/** The deployed memory of the city API function (lib/constructs/city-api.ts), for GB-seconds. */
const CITY_API_MEMORY_MB = COST_ASSUMPTIONS.apiFunctionMemoryMb;

const CDK_JSON = fileURLToPath(new URL('../cdk.json', import.meta.url));

/**
 * The platform settings the local runtime mirrors: the context of the project's cdk.json (region, essential types,
 * retention, ceiling, load profile) through the same loader and validation as synth, as stage `local`. Without a
 * cdk.json, the loader's defaults and a small load profile.
 */
export async function loadLocalConfig(cdkJsonPath = CDK_JSON): Promise<PlatformConfig> {
  let context: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(await readFile(cdkJsonPath, 'utf8')) as { context?: Record<string, unknown> };
    context = parsed.context ?? {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return loadPlatformConfig({
    councilName: 'Local runtime',
    devices: 200,
    messageIntervalSeconds: 60,
    apiRequestsPerDay: 10_000,
    ...context,
    stage: 'local',
  });
}

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
function handlerEnvironment(
  endpoint: string,
  retention: number,
  degradeCacheSeconds: number,
): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.telemetryStore]: 'dynamodb',
    [ENV.retentionDays]: String(retention),
    [ENV.dynamoEndpoint]: endpoint,
    [ENV.degradeCacheSeconds]: String(degradeCacheSeconds),
  };
  for (const id of Object.keys(TABLES) as TableId[]) env[ENV.tables[id]] = localTableName(id);
  return env;
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
  // The same settings the CDK app reads (essential lanes, retention, ceiling, region): one source of truth.
  const config = await loadLocalConfig();
  const timings = { ...localIngestTimings(config.enrichmentMaxConcurrency), ...options.ingest };
  const counters = new PlatformCounters();
  const usage = new LocalUsageCounters();
  const guardOptions = options.costGuard ?? {};
  const prices = guardOptions.prices ?? pricesFor(config.region);
  const costSettings: CostControlSettings = {
    ceilingUsd: guardOptions.ceilingUsd ?? config.monthlyCeilingUsd ?? Number.POSITIVE_INFINITY,
    prices,
    fixed: {
      dailyUsd:
        guardOptions.fixedDailyUsd ??
        // The same daily accrual the deployed meter is given (storage, alarms, the guard's own fixed costs).
        dailyFixedAccrualUsd(
          estimatePlatform(
            {
              ...config.loadProfile,
              retentionDays: config.retentionDays,
              telemetryStore: 'dynamodb',
              services: serviceLoads(options.services ?? config.services),
            },
            prices,
          ),
        ),
    },
    councilName: config.councilName,
  };
  // The lines the deployed functions would ingest (at or above the configured log level) are metered as
  // CloudWatch Logs; the enrichment's per-batch summary also says how many readings the cost guard's sampling
  // left out, which nothing else reports, so it is read whatever its level.
  const billedLevels = LOG_LEVELS.slice(LOG_LEVELS.indexOf(config.logLevel));
  const functionLogger = (serviceName: string, lane?: Lane) =>
    new LocalFunctionLogger(serviceName, (line: LoggedLine) => {
      if ((billedLevels as readonly string[]).includes(line.level)) usage.logBytes += line.bytes;
      if (lane && line.message === 'batch enriched') {
        const { sampledOut, duplicates } = line.attributes;
        if (typeof sampledOut === 'number') counters.sample(lane, sampledOut);
        if (typeof duplicates === 'number') counters.duplicates += duplicates;
      }
    });
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
    const apiKey = await loadOrCreateApiKey(settingsPath);
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

    const blueprints = blueprintsNamed(options.services ?? config.services);
    const env: Record<string, string> = {
      ...handlerEnvironment(
        dynamo.endpoint,
        config.retentionDays,
        guardOptions.degradeCacheSeconds ?? LOCAL_DEGRADE_CACHE_SECONDS,
      ),
      [ENV.enabledServices]: blueprints.map((b) => b.name).join(','),
    };
    // The rules' clock runs as fast as the simulated town's (see ServiceContext).
    const timeScale = options.speed ?? 1;
    const services = await LocalServiceWorkflows.start({
      blueprints,
      env,
      dataDir,
      timeScale,
      settings: config.serviceSettings,
      logger: (service) => functionLogger(`${service}-workflow`),
      region: REGION,
      accountId: ACCOUNT_ID,
      log,
      // Counted apart from the data path's, as the deployed meter reads the workflow lanes hourly.
      onInvocation: (durationMs) => usage.workflowInvocation(durationMs, WORKFLOW_FUNCTION_MEMORY_MB),
      onQueueMessages: (messages) => usage.workflowQueueMessages(messages),
      ...(options.serviceScheduleMs === undefined ? {} : { scheduleMs: options.serviceScheduleMs }),
    });
    stops.push(() => services.close());
    usage.settleIdlePolls(0);
    usage.workflowLanes = workflowLanesOf(blueprints).length;
    // One enrichment function per lane, as deployed: each knows its lane (INGEST_LANE), so only the ordinary
    // lane's reads the guard's sampling rate.
    const enrichFor = (lane: Lane): SqsBatchHandler => {
      if (options.enrichHandler) return options.enrichHandler;
      const laneEnv = { ...env, [ENV.ingestLane]: lane };
      const logger = functionLogger('enrich-telemetry', lane);
      return enrichTelemetryHandlerFromEnvironment(laneEnv, logger, (ports) => ingestMeter.wrap(ports), {
        publisher: services.bus,
        timeScale,
        serviceSettings: config.serviceSettings,
      }) as unknown as SqsBatchHandler;
    };

    const queueDir = path.join(dataDir, 'queues');
    const queues = {} as Record<Lane, LaneQueues>;
    const consumers = {} as Record<Lane, QueueConsumer>;
    const onBatch = (outcome: BatchOutcome) => {
      usage.sqsReceived += outcome.size;
      usage.sqsDeleted += outcome.size - outcome.failed;
      usage.invocation(outcome.durationMs, INGEST_SETTINGS.enrichmentMemoryMb);
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
        log,
      });
      queues[lane] = { queue, deadLetter };
      stops.push(async () => {
        await queue.close();
        await deadLetter.close();
      });
      const consumer = new QueueConsumer({
        queue,
        handler: enrichFor(lane),
        functionName: `enrich-telemetry-${lane}`,
        region: REGION,
        accountId: ACCOUNT_ID,
        batchSize: INGEST_SETTINGS.batchSize,
        batchingWindowMs: timings.batchingWindowMs,
        maxConcurrency: timings.maxConcurrency,
        timeoutMs: timings.handlerTimeoutMs,
        onBatch,
        log,
      });
      consumers[lane] = consumer;
      if (queue.size > 0) log(`queue ${lane}: ${queue.size} message(s) kept from the last run`);
      if (deadLetter.size > 0)
        log(`queue ${lane}-dlq: ${deadLetter.size} message(s) in the dead-letter queue`);
    }
    // The cost guard's records in the local cost-guard table; the meter and the API each have their own, as the
    // meter function and the API function do on AWS (the ledger's save condition is per instance).
    const costRecords = () =>
      new DynamoDbCostRecords(
        createDocumentClient({ endpoint: dynamo.endpoint }),
        localTableName('cost-guard'),
      );
    const meterRecords = costRecords();
    const degradeCacheMs = Number(env[ENV.degradeCacheSeconds]) * 1000;
    const laneControls = new LocalLaneControls(
      consumers,
      () => usage.settleIdlePolls(laneControls.runningConsumers),
      // A resumed lane's backlog waits until its sampling is back to full and the handlers' cached rate has expired
      // (see LocalLaneControls.resumeConsumer); at most half a minute, then it flows whatever the settings say.
      async (lane) => {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const rate = (await meterRecords.loadDegradeSettings()).sampleRates[lane];
          if (rate === undefined || rate >= 1) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await new Promise((resolve) => setTimeout(resolve, degradeCacheMs));
      },
    );
    stops.push(() => laneControls.close());

    const notifier = new LocalNotifier(log);
    const guardState = await meterRecords.loadGuardState();
    laneControls.startConsumers(guardState?.tier);
    if (guardState?.tier === 'stop') {
      log(
        `cost guard: tier stop from the last run: ${LANES.filter((l) => !laneControls.ruleEnabled(l)).join(', ')} ` +
          'not collected and paused until restore (POST /cost/restore) or the new month',
      );
    }

    // Certificates and quarantine as `npm run device` sets them; re-read while running (revocation within seconds).
    const identities = await watchIdentityRegister(ca.directory, { log });
    stops.push(async () => identities.close());
    // This process writes the identity register too (under its lock, as the CLI writes it), for fleet provisioning
    // and the API's decommissioning; each change is read back before it is reported done.
    let writer: LocalDeviceIdentities | undefined;
    const identityWriter = () =>
      (writer ??= new LocalDeviceIdentities({
        ca,
        endpoint: broker.url,
        essentialDeviceTypes: config.essentialDeviceTypes,
        rotationGraceSeconds: 0,
      }));
    // Fleet provisioning by claim: the AWS hook's use case on the same tables, the certificate recorded in the
    // identity register and read back before the device is told to connect.
    const provisioning = new LocalFleetProvisioning({
      templateName: LOCAL_PROVISIONING_TEMPLATE_NAME,
      issueCertificate: () => ca.issueProvisionalCertificate(),
      // A provisioned serial's certificate is looked up in the identity register, as IoT's status is on AWS.
      ports: () => ({
        ...admissionTablesFromEnvironment(env),
        certificates: new LocalClaimedCertificates(ca.directory),
      }),
      settings: {
        essentialDeviceTypes: config.essentialDeviceTypes,
        ...(config.councilArea === undefined ? {} : { councilArea: config.councilArea }),
      },
      recordCertificate: async (deviceId, certificateId) => {
        await identityWriter().recordProvisioned(deviceId, certificateId);
        await identities.refresh();
      },
      log,
    });
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
        counters.accept(lane);
        usage.rulesTriggered += 1;
        usage.sqsSent += 1;
      },
      ruleEnabled: (lane) => laneControls.ruleEnabled(lane),
      identities,
      provisioning,
      onNotCollected: (lane) => counters.dropNotCollected(lane),
      onRefusal: (refusal) => {
        counters.refuse(refusal.reason);
        log(
          `broker refused (${refusal.reason})${refusal.clientId ? ` ${refusal.clientId}` : ''}: ${refusal.detail}`,
        );
      },
    });
    stops.push(() => broker.close());

    const costGuard = new LocalCostGuard({
      ports: {
        usage: new LocalUsageSource(() => {
          usage.settleIdlePolls(laneControls.runningConsumers);
          const capacity = dynamo.consumed();
          return usage.totals({
            dynamoReadUnits: capacity.readUnits,
            dynamoWriteUnits: capacity.writeUnits,
            connectionSeconds: broker.connectionSeconds(),
          });
        }),
        lanes: laneControls,
        records: meterRecords,
        notifier,
      },
      settings: costSettings,
      intervalMs: (guardOptions.meterSeconds ?? DEFAULT_METER_SECONDS) * 1000,
      log,
    });
    costGuard.start();
    stops.push(() => costGuard.stop());

    const apiLogger = functionLogger('city-api');
    const cityApiHandler = createCityApiHandler({
      ports: () => cityQueryPortsFromEnvironment(env),
      cost: () => ({
        ports: { lanes: laneControls, records: costRecords(), notifier },
        settings: costSettings,
      }),
      services: () => services.queries,
      // As on AWS, DELETE /devices/{id} revokes the device's certificates first: the broker then ends its live
      // sessions at once (it refuses a decommissioned device's new connections anyway), and `npm run device -- show`
      // lists them revoked, as it would on AWS.
      deviceCertificates: () => ({
        revoke: async (deviceId) => {
          await identityWriter().revoke(deviceId);
          await identities.refresh();
        },
      }),
      enabledServices: blueprints,
      logger: apiLogger,
      // cdk.json's councilArea, as the deployed function gets it in COUNCIL_AREA.
      ...(config.councilArea === undefined ? {} : { councilArea: config.councilArea }),
    }) as unknown as ApiHandler;
    const cityApi: ApiHandler = async (event, context) => {
      const started = Date.now();
      try {
        return await cityApiHandler(event, context);
      } finally {
        usage.invocation(Date.now() - started, CITY_API_MEMORY_MB);
      }
    };

    // Open-data routes take an API key, as on AWS (attribution, not security): the one in local.json.
    const routes: ApiRoute[] = routeSpecsFor(blueprints).map((spec) => ({
      method: spec.method,
      resource: spec.path,
      access: spec.access.kind,
    }));
    const api = await startApiServer({
      host: HOST,
      port: options.apiPort ?? 3000,
      routes,
      handler: cityApi,
      token,
      apiKey,
      claims: { sub: 'local-admin', 'cognito:groups': 'admin', 'cognito:username': 'local-admin' },
      region: REGION,
      accountId: ACCOUNT_ID,
      // API Gateway does not bill requests its authorizer turns away.
      onResponse: (status) => {
        if (status !== 401) usage.apiRequests += 1;
      },
    });
    stops.push(() => api.close());

    const bundles = new Map<string, DeviceBundle>();
    const writeSettings = () =>
      writeLocalSettings(settingsPath, {
        apiUrl: api.url,
        mqttUrl: broker.url,
        token,
        apiKey,
        caCert: ca.certPath,
        dynamoDbUrl: dynamo.endpoint,
        provisioningTemplateName: LOCAL_PROVISIONING_TEMPLATE_NAME,
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
      const speed = options.speed ?? 1;
      // Each device declares the rate it really keeps at this speed (see reportingIntervalSeconds).
      const demo = demoCityDevices(options.seed ?? 'reading').map((d) => ({
        ...d,
        device: {
          ...d.device,
          expectedIntervalSeconds: reportingIntervalSeconds(d.device.deviceType, speed),
        },
      }));
      const added = await registry.registerMissing(demo.map((d) => d.device));
      await registry.declareIntervals(
        demo.map(({ device }) => ({
          deviceId: device.deviceId,
          expectedIntervalSeconds: device.expectedIntervalSeconds as number,
          ...(device.settings ? { settings: device.settings } : {}),
        })),
      );
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
      apiKey,
      settingsPath,
      caCertPath: ca.certPath,
      caPem: ca.certPem,
      dynamoEndpoint: dynamo.endpoint,
      counters,
      queues,
      ingestMeter,
      simulator,
      costGuard: { guard: costGuard, settings: costSettings, lanes: laneControls, notices: notifier.notices },
      services,
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
