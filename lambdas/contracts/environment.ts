import type { TableId } from './tables.js';

/** Environment variable names the Lambdas read; the constructs set them, the handlers read them. One list. */
export const ENV = {
  tables: {
    devices: 'DEVICES_TABLE',
    'latest-state': 'LATEST_STATE_TABLE',
    quarantine: 'QUARANTINE_TABLE',
    'processed-messages': 'PROCESSED_MESSAGES_TABLE',
    telemetry: 'TELEMETRY_TABLE',
    'cost-guard': 'COST_GUARD_TABLE',
    'service-state': 'SERVICE_STATE_TABLE',
    jobs: 'JOBS_TABLE',
    alerts: 'ALERTS_TABLE',
    'service-sites': 'SERVICE_SITES_TABLE',
    'provisioning-allow-list': 'PROVISIONING_ALLOW_LIST_TABLE',
  } satisfies Record<TableId, string>,
  telemetryStore: 'TELEMETRY_STORE',
  timestreamDatabase: 'TIMESTREAM_DATABASE',
  timestreamTable: 'TIMESTREAM_TABLE',
  retentionDays: 'RETENTION_DAYS',
  registryCacheSeconds: 'REGISTRY_CACHE_SECONDS',
  dedupeWindowSeconds: 'DEDUPE_WINDOW_SECONDS',
  quarantineRetentionDays: 'QUARANTINE_RETENTION_DAYS',
  dynamoEndpoint: 'DYNAMODB_ENDPOINT',
  /** The ingest lane an enrichment function consumes (`civic_ingest` | `civic_essential`); set per function. */
  ingestLane: 'INGEST_LANE',
  /** How long the enrichment functions cache the cost guard's degrade settings. */
  degradeCacheSeconds: 'DEGRADE_CACHE_SECONDS',
  /** Monthly ceiling in USD; unset = no ceiling (the meter still prices usage and keeps the ledger). */
  monthlyCeilingUsd: 'MONTHLY_CEILING_USD',
  councilName: 'COUNCIL_NAME',
  /** Storage, alarms and other clock-driven costs per day, from the cost statement. */
  costFixedDailyUsd: 'COST_FIXED_DAILY_USD',
  essentialDeviceTypes: 'ESSENTIAL_DEVICE_TYPES',
  disconnectRunawayDevices: 'DISCONNECT_RUNAWAY_DEVICES',
  /** Seconds the meter covers on its first run (later runs continue from the ledger). */
  meterIntervalSeconds: 'METER_INTERVAL_SECONDS',
  /** JSON `LaneControlTargets` (metered-resources.ts): the rule name and mapping UUID of each lane the guard may switch. */
  laneControls: 'LANE_CONTROLS',
  /** JSON `MeteredResources` (metered-resources.ts): what the usage meter reads from CloudWatch. */
  meteredResources: 'METERED_RESOURCES',
  /** Topic for the guard's notices (tier changes, forecasts, budget notices). */
  guardTopicArn: 'GUARD_TOPIC_ARN',
  /** The event bus domain events go to (enrichment publishes; each service's rule routes). */
  eventBusName: 'EVENT_BUS_NAME',
  /** Comma-separated names of the enabled service blueprints (enrichment runs their detectors). */
  enabledServices: 'ENABLED_SERVICES',
  /**
   * JSON `{ "<service>": { "<setting>": number } }`: each service's settings from config (`serviceSettings`), as
   * the rules see them in `ServiceContext.settings`. Unset: every service runs on its defaults.
   */
  serviceSettings: 'SERVICE_SETTINGS',
  /** Comma-separated names of the service blueprints a workflow lane's function hosts. */
  serviceNames: 'SERVICE_NAMES',
  /** JSON `{ "<service>": "<topic ARN>" }`: the SNS topic of each service the workflow function hosts. */
  serviceTopicArns: 'SERVICE_TOPIC_ARNS',
  /** Comma-separated origins browser apps may call the city API from (CORS), or `*`; unset: no CORS headers. */
  corsAllowOrigins: 'CORS_ALLOW_ORIGINS',
  /**
   * The council's area, `west,south,east,north` in decimal degrees (config `councilArea`): the city API registers
   * and moves devices only inside it. Unset: any location is accepted.
   */
  councilArea: 'COUNCIL_AREA',
} as const;

export const TELEMETRY_STORES = ['dynamodb', 'timestream'] as const;
export type TelemetryStoreKind = (typeof TELEMETRY_STORES)[number];
