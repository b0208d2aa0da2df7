import { TimestreamQueryClient } from '@aws-sdk/client-timestream-query';
import { TimestreamWriteClient } from '@aws-sdk/client-timestream-write';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ENV, TELEMETRY_STORES, type TelemetryStoreKind } from '../contracts/environment.js';
import { INGEST_SETTINGS } from '../contracts/ingest-settings.js';
import type { TableId } from '../contracts/tables.js';
import { LANES, type Lane } from '../contracts/topics.js';
import type { CityQueryPorts } from '../domain/city-queries.js';
import type { EnrichTelemetryPorts, ReadingSampling } from '../domain/enrich-telemetry.js';
import type { TelemetryStore } from '../domain/telemetry.js';
import { createDocumentClient } from './dynamodb-client.js';
import { CachedDegradeSettings, DynamoDbCostRecords, LaneSampling } from './dynamodb-cost-records.js';
import { CachedDeviceDirectory, DynamoDbDeviceDirectory } from './dynamodb-device-directory.js';
import { DynamoDbProcessedMessages, DynamoDbQuarantine } from './dynamodb-ingest-records.js';
import { DynamoDbLatestState, WriteOnChangeLatestState } from './dynamodb-latest-state.js';
import { DynamoDbTelemetryStore } from './dynamodb-telemetry-store.js';
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

/** The enrichment step's adapters, built from the function's environment (set by the CDK construct). */
export function enrichTelemetryPortsFromEnvironment(
  env: Environment = process.env,
  onSamplingError?: (error: unknown) => void,
): EnrichTelemetryPorts {
  const client = documentClient(env);
  const telemetry = telemetryStore(env, client);
  const sampling = laneSamplingFromEnvironment(env, client, onSamplingError);
  return {
    ...(sampling ? { sampling } : {}),
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
