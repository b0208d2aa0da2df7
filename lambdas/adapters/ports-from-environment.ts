import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { TimestreamQueryClient } from '@aws-sdk/client-timestream-query';
import { TimestreamWriteClient } from '@aws-sdk/client-timestream-write';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { blueprintsNamed } from '../../services/catalogue.js';
import { parseBoundingBox } from '../contracts/api-devices.js';
import { ENV, TELEMETRY_STORES, type TelemetryStoreKind } from '../contracts/environment.js';
import { INGEST_SETTINGS } from '../contracts/ingest-settings.js';
import type { TableId } from '../contracts/tables.js';
import { LANES, type Lane } from '../contracts/topics.js';
import {
  type ChangeDetectionPorts,
  type DomainEventPublisher,
  type ServiceSettings,
  serviceDetectors,
} from '../domain/change-detection.js';
import type { CityQueryPorts } from '../domain/city-queries.js';
import type { BoundingBox } from '../domain/device.js';
import type { EnrichTelemetryPorts, ReadingSampling } from '../domain/enrich-telemetry.js';
import type { TelemetryStore } from '../domain/telemetry.js';
import { createDocumentClient } from './dynamodb-client.js';
import { CachedDegradeSettings, DynamoDbCostRecords, LaneSampling } from './dynamodb-cost-records.js';
import { CachedDeviceDirectory, DynamoDbDeviceDirectory } from './dynamodb-device-directory.js';
import { DynamoDbProcessedMessages, DynamoDbQuarantine } from './dynamodb-ingest-records.js';
import { DynamoDbLatestState, WriteOnChangeLatestState } from './dynamodb-latest-state.js';
import { DynamoDbServiceStateStore } from './dynamodb-service-state.js';
import { DynamoDbTelemetryStore } from './dynamodb-telemetry-store.js';
import { EventBridgeEventPublisher } from './eventbridge-event-publisher.js';
import { TimestreamTelemetryStore } from './timestream-telemetry-store.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** A required setting is missing: a deployment fault, reported with the variable's name. */
export class MissingSettingError extends Error {
  constructor(name: string, allowed?: string) {
    super(`environment variable ${name} is not set${allowed ? `; expected ${allowed}` : ''}`);
    this.name = 'MissingSettingError';
  }
}

export function required(env: Environment, name: string): string {
  const value = env[name];
  if (!value) throw new MissingSettingError(name);
  return value;
}

export function positiveNumber(env: Environment, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new MissingSettingError(name, 'a positive number');
  return value;
}

export function tableName(env: Environment, id: TableId): string {
  return required(env, ENV.tables[id]);
}

export function telemetryStoreKind(env: Environment): TelemetryStoreKind {
  const kind = env[ENV.telemetryStore] ?? 'dynamodb';
  if (!(TELEMETRY_STORES as readonly string[]).includes(kind)) {
    throw new MissingSettingError(ENV.telemetryStore, TELEMETRY_STORES.join(' or '));
  }
  return kind as TelemetryStoreKind;
}

export function retentionDays(env: Environment): number {
  return positiveNumber(env, ENV.retentionDays, 400);
}

export function documentClient(env: Environment): DynamoDBDocumentClient {
  return createDocumentClient(env[ENV.dynamoEndpoint] ? { endpoint: env[ENV.dynamoEndpoint] } : {});
}

function telemetryStore(env: Environment, client: DynamoDBDocumentClient): TelemetryStore {
  if (telemetryStoreKind(env) === 'timestream') {
    return new TimestreamTelemetryStore(
      new TimestreamWriteClient({ maxAttempts: 3 }),
      new TimestreamQueryClient({ maxAttempts: 3 }),
      required(env, ENV.timestreamDatabase),
      required(env, ENV.timestreamTable),
    );
  }
  return new DynamoDbTelemetryStore(client, tableName(env, 'telemetry'), retentionDays(env));
}

/**
 * The lane's sampling while the cost guard degrades service, when the function knows its lane (`INGEST_LANE`,
 * set per lane function by the construct) and the guard's table. Without either, readings are never sampled.
 */
export function laneSamplingFromEnvironment(
  env: Environment,
  client: DynamoDBDocumentClient,
  onError: (error: unknown) => void = () => {},
): ReadingSampling | undefined {
  const lane = env[ENV.ingestLane];
  const table = env[ENV.tables['cost-guard']];
  if (!lane || !table) return undefined;
  if (!(LANES as readonly string[]).includes(lane))
    throw new MissingSettingError(ENV.ingestLane, LANES.join(' or '));
  const settings = new CachedDegradeSettings(
    new DynamoDbCostRecords(client, table),
    positiveNumber(env, ENV.degradeCacheSeconds, INGEST_SETTINGS.degradeSettingsCacheSeconds) * 1000,
    Date.now,
    onError,
  );
  return new LaneSampling(settings, lane as Lane);
}

/**
 * The council's area (`COUNCIL_AREA`, `west,south,east,north`); none when unset or empty. A malformed value is a
 * deployment fault (config validated it at synth), reported with the variable's name rather than ignored.
 */
export function councilAreaFromEnvironment(env: Environment): BoundingBox | undefined {
  const raw = env[ENV.councilArea];
  if (raw === undefined || raw.trim() === '') return undefined;
  const area = parseBoundingBox(raw);
  if (typeof area === 'string') {
    throw new MissingSettingError(ENV.councilArea, `west,south,east,north in decimal degrees (${area})`);
  }
  return area;
}

/** The enabled service blueprints' names (`ENABLED_SERVICES`, comma-separated); none when unset or empty. */
export function enabledServices(env: Environment): string[] {
  return (env[ENV.enabledServices] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

const serviceSettingsSchema = z.record(z.string(), z.record(z.string(), z.number().finite()));

/** Settings per service (`SERVICE_SETTINGS`, JSON by service then setting name); none when unset. */
export function serviceSettingsFromEnvironment(env: Environment): ServiceSettings {
  const raw = env[ENV.serviceSettings];
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const settings = serviceSettingsSchema.safeParse(parsed);
  if (!settings.success) {
    throw new MissingSettingError(ENV.serviceSettings, 'JSON {"<service>": {"<setting>": number}}');
  }
  return settings.data;
}

/**
 * What the caller may give change detection instead of the environment's: the local runtime passes its
 * in-process bus, its `--speed` and the services' settings from its config. On AWS all three come from the
 * function's environment.
 */
export interface ChangeDetectionOptions {
  /** Where domain events go. @default EventBridge, the bus named by EVENT_BUS_NAME */
  readonly publisher?: DomainEventPublisher;
  /** Simulated seconds per real second (see ServiceContext). @default 1, as on AWS */
  readonly timeScale?: number;
  /** Settings per service. @default parsed from SERVICE_SETTINGS; none when unset */
  readonly serviceSettings?: ServiceSettings;
  /** Told of state writes and event sends that failed (they are retried either way), for the log. */
  readonly onError?: (error: unknown) => void;
}

/**
 * Change detection for the enabled services (`ENABLED_SERVICES`), or undefined when none is enabled or none of
 * the enabled ones has a detector: then enrichment reads no service state and publishes nothing, so a
 * deployment without services pays nothing for them. Unknown service names fail here, at the first batch, with
 * the known names in the message.
 */
export function changeDetectionFromEnvironment(
  env: Environment,
  client: DynamoDBDocumentClient,
  history: TelemetryStore,
  options: ChangeDetectionOptions = {},
): ChangeDetectionPorts | undefined {
  const names = enabledServices(env);
  if (names.length === 0) return undefined;
  const detectors = serviceDetectors(
    blueprintsNamed(names),
    options.timeScale ?? 1,
    options.serviceSettings ?? serviceSettingsFromEnvironment(env),
  );
  if (detectors.length === 0) return undefined;
  const onError = options.onError ?? (() => {});
  return {
    detectors,
    stateStore: new DynamoDbServiceStateStore(client, tableName(env, 'service-state'), onError),
    publisher:
      options.publisher ??
      new EventBridgeEventPublisher(new EventBridgeClient({}), required(env, ENV.eventBusName), onError),
    history,
  };
}

/** The enrichment step's adapters, built from the function's environment (set by the CDK construct). */
export function enrichTelemetryPortsFromEnvironment(
  env: Environment = process.env,
  onSamplingError?: (error: unknown) => void,
  changeDetection: ChangeDetectionOptions = {},
): EnrichTelemetryPorts {
  const client = documentClient(env);
  const telemetry = telemetryStore(env, client);
  const sampling = laneSamplingFromEnvironment(env, client, onSamplingError);
  const changes = changeDetectionFromEnvironment(env, client, telemetry, changeDetection);
  return {
    ...(sampling ? { sampling } : {}),
    ...(changes ? { changes } : {}),
    devices: new CachedDeviceDirectory(
      new DynamoDbDeviceDirectory(client, tableName(env, 'devices')),
      positiveNumber(env, ENV.registryCacheSeconds, INGEST_SETTINGS.registryCacheSeconds) * 1000,
    ),
    telemetry,
    latestState: new WriteOnChangeLatestState(
      new DynamoDbLatestState(client, tableName(env, 'latest-state')),
      INGEST_SETTINGS.latestStateRefreshSeconds,
    ),
    quarantine: new DynamoDbQuarantine(
      client,
      tableName(env, 'quarantine'),
      positiveNumber(env, ENV.quarantineRetentionDays, INGEST_SETTINGS.quarantineRetentionDays),
    ),
    // Only a store that cannot detect duplicates itself needs idempotency records (one more write per message).
    ...(telemetry.detectsDuplicates
      ? {}
      : {
          processed: new DynamoDbProcessedMessages(
            client,
            tableName(env, 'processed-messages'),
            positiveNumber(env, ENV.dedupeWindowSeconds, INGEST_SETTINGS.dedupeWindowSeconds),
          ),
        }),
  };
}

/** The read API's adapters. The registry is read directly: an API answer must reflect the registry now. */
export function cityQueryPortsFromEnvironment(env: Environment = process.env): CityQueryPorts {
  const client = documentClient(env);
  return {
    devices: new DynamoDbDeviceDirectory(client, tableName(env, 'devices')),
    latestState: new DynamoDbLatestState(client, tableName(env, 'latest-state')),
    telemetry: telemetryStore(env, client),
    quarantine: new DynamoDbQuarantine(
      client,
      tableName(env, 'quarantine'),
      positiveNumber(env, ENV.quarantineRetentionDays, INGEST_SETTINGS.quarantineRetentionDays),
    ),
  };
}
