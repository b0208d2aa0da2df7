import type { TableId } from './tables.js';

/** Environment variable names the Lambdas read; the constructs set them, the handlers read them. One list. */
export const ENV = {
  tables: {
    devices: 'DEVICES_TABLE',
    'latest-state': 'LATEST_STATE_TABLE',
    quarantine: 'QUARANTINE_TABLE',
    'processed-messages': 'PROCESSED_MESSAGES_TABLE',
    telemetry: 'TELEMETRY_TABLE',
  } satisfies Record<TableId, string>,
  telemetryStore: 'TELEMETRY_STORE',
  timestreamDatabase: 'TIMESTREAM_DATABASE',
  timestreamTable: 'TIMESTREAM_TABLE',
  retentionDays: 'RETENTION_DAYS',
  registryCacheSeconds: 'REGISTRY_CACHE_SECONDS',
  dedupeWindowSeconds: 'DEDUPE_WINDOW_SECONDS',
  quarantineRetentionDays: 'QUARANTINE_RETENTION_DAYS',
  dynamoEndpoint: 'DYNAMODB_ENDPOINT',
} as const;

export const TELEMETRY_STORES = ['dynamodb', 'timestream'] as const;
export type TelemetryStoreKind = (typeof TELEMETRY_STORES)[number];
