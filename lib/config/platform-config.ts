import { DEVICE_TYPES, type DeviceType } from '../../lambdas/contracts/device-types.js';
import { TELEMETRY_STORES, type TelemetryStoreKind } from '../../lambdas/contracts/environment.js';
import { DEFAULT_FLEET_MIX, type FleetMix, fleetMixOf } from '../../lambdas/domain/cost-model.js';
import type { BoundingBox } from '../../lambdas/domain/device.js';
import { BLUEPRINT_NAMES, blueprintsNamed } from '../../services/catalogue.js';
import { WORKFLOW_SCHEDULE_SECONDS } from '../../services/shared/blueprint.js';

/**
 * How much traffic the council expects. The cost statement and the capacity caps are derived from it, so it is
 * stated explicitly rather than defaulted.
 */
export interface LoadProfile {
  /** Devices in the field. */
  readonly devices: number;
  /** Seconds between two readings of one device. */
  readonly messageIntervalSeconds: number;
  /** REST API requests per day, all clients together. */
  readonly apiRequestsPerDay: number;
  /**
   * Share of the devices of each type (sums to 1): what the service workflows cost depends on which devices
   * they watch. @default {@link DEFAULT_FLEET_MIX}, the demo town's proportions
   */
  readonly fleetMix: FleetMix;
}

/** A service's settings from config, by name (e.g. the waste depot's `depotLat`); each blueprint's README lists them. */
export type ServiceSettings = Readonly<Record<string, number>>;

/**
 * The validated settings of one deployment. Built only by {@link loadPlatformConfig}; units are in the names.
 */
export interface PlatformConfig {
  /** Lowercase slug naming the deployment (`dev`, `test`, `prod`, ...). `prod` retains stateful resources. */
  readonly stage: string;
  readonly councilName: string;
  /**
   * The council's area, `west,south,east,north` in decimal degrees (WGS 84): a device is registered or moved
   * (the API's `POST /devices` and `PATCH /devices/{id}`, `npm run device -- add` and `import`) only inside it,
   * edges included, so a slip in a coordinate (a dropped minus, lat and lon swapped) is refused with the device
   * and the field named instead of putting a bin where no crew will find it. Text (`-c councilArea=...`) or, in
   * cdk.json, the same text or an array of 4 numbers.
   * @default - none: no area check, any coordinates on Earth are accepted
   */
  readonly councilArea?: BoundingBox;
  /** AWS region code the stacks deploy to. @default eu-west-2 */
  readonly region: string;
  /** Which adapter stores telemetry. @default dynamodb */
  readonly telemetryStore: TelemetryStoreKind;
  /** How long telemetry is kept. @default 400 (13 months: same month last year stays comparable) */
  readonly retentionDays: number;
  /** Device types on the essential lane, which the cost guard never stops. @default water-level, air-quality */
  readonly essentialDeviceTypes: readonly DeviceType[];
  readonly loadProfile: LoadProfile;
  /** Monthly spending ceiling in US dollars. @default - none: no ceiling enforced */
  readonly monthlyCeilingUsd?: number;
  /** Addresses that receive operational alarms. @default - none */
  readonly alertEmails: readonly string[];
  /**
   * Event source mapping maximum concurrency per ingest lane (SQS allows 2..1000). The default is the SQS
   * minimum because a new account's Lambda concurrency quota is 10, shared by every function in the region:
   * two lanes at 2 take at most 4, leaving 6 for the city API and the cost guard. At 5 the two lanes alone would
   * take all 10 during a backlog and the API would be throttled. Raise it once the account's quota is raised.
   * @default 2
   */
  readonly enrichmentMaxConcurrency: number;
  /**
   * Reserved concurrency per enrichment function. New accounts with a concurrency quota of 10 cannot deploy any
   * reserved concurrency, so it is off unless asked for. @default - none
   */
  readonly enrichmentReservedConcurrency?: number;
  /** DynamoDB on-demand maximum write request units per second, per table. @default - from the load profile, see {@link capDefaults} */
  readonly telemetryMaxWriteRequestUnits: number;
  /** DynamoDB on-demand maximum read request units per second, per table. @default - from the load profile, see {@link capDefaults} */
  readonly telemetryMaxReadRequestUnits: number;
  /**
   * Maximum read units per second of the registry tables (devices, latest state). A scheduled sweep (offline
   * devices) reads the whole fleet every few minutes on top of enrichment's reads, and must finish well inside
   * its function's timeout. @default - telemetryMaxReadRequestUnits plus the sweeps, see {@link registryReadCapDefault}
   */
  readonly registryMaxReadRequestUnits: number;
  /** CloudWatch Logs retention for every log group. @default 30 */
  readonly logRetentionDays: number;
  /**
   * Application log level of every function. Warnings and errors are what an operator acts on; a summary line per
   * batch at INFO is about as much log as the enrichment costs in compute. @default WARN
   */
  readonly logLevel: LogLevel;
  /**
   * Whether the cost guard deactivates the certificates of ordinary devices that keep sending past their hourly
   * allowance (30 refusals in a meter interval). Essential devices are only reported. @default true
   */
  readonly disconnectRunawayDevices: boolean;
  /** API Gateway stage steady-state requests per second. @default - from the load profile, see {@link capDefaults} */
  readonly apiThrottleRateLimit: number;
  /** API Gateway stage burst (at most 5,000). @default - twice the default rate limit, at most 5,000 */
  readonly apiThrottleBurstLimit: number;
  /**
   * Reserved concurrency of the city API function. Off by default for the enrichment's reason (a new account's
   * quota of 10 cannot deploy any reserved concurrency); the stage throttle already bounds it. Set it to keep
   * a burst of API calls from taking the concurrency ingestion needs, once the quota is raised. @default - none
   */
  readonly apiReservedConcurrency?: number;
  /**
   * Origins a browser app may call the API from (CORS): `https://` origins, or `*` alone. Staff routes take a
   * bearer token in a header, never a cookie, so `*` exposes nothing a page could not already ask for with its
   * own token. @default - none: no CORS headers, browsers on other origins cannot read the answers
   */
  readonly corsAllowOrigins: readonly string[];
  /**
   * Requests per second one open-data API key may make (usage plan throttle, per key). @default - half the
   * stage's rate limit, so one consumer cannot take the whole stage from the council's staff apps
   */
  readonly openDataRateLimit: number;
  /** Burst of one open-data API key (at most 5,000). @default - twice openDataRateLimit, at most the stage burst */
  readonly openDataBurstLimit: number;
  /**
   * Requests a day one open-data API key may make (usage plan quota, reset at midnight UTC).
   * @default - apiRequestsPerDay with tenfold headroom, at least 1,000, see {@link openDataQuotaDefault}
   */
  readonly openDataQuotaPerDay: number;
  /** Timestream memory store retention. @default 24 */
  readonly timestreamMemoryRetentionHours: number;
  /** Timestream magnetic store retention. @default - retentionDays */
  readonly timestreamMagneticRetentionDays: number;
  /**
   * The service blueprints this deployment runs (`services/<name>/`), in catalogue order. Enabling one is one
   * entry here; an empty list runs no workflows and creates no event bus.
   * @default - every blueprint in `services/catalogue.ts`
   */
  readonly services: readonly string[];
  /**
   * E-mail addresses subscribed to each enabled service's notification topic (alerts, cleared notices); an
   * empty list leaves a service's topic without subscribers.
   * @default - alertEmails, for every service not listed
   */
  readonly serviceSubscribers: Readonly<Record<string, readonly string[]>>;
  /** Settings per enabled service, by name. @default - none: every blueprint uses its own defaults */
  readonly serviceSettings: Readonly<Record<string, ServiceSettings>>;
  /**
   * Maximum read units per second of the `service-state` table. Enrichment reads a watched device's detector
   * state once per reading. @default - from the load profile, see {@link serviceCapDefaults}
   */
  readonly serviceStateMaxReadRequestUnits: number;
  /**
   * Maximum write units per second of the `service-state` table. Every domain event comes with a detector state
   * write, so this also bounds the events on the bus. @default - from the load profile, see {@link serviceCapDefaults}
   */
  readonly serviceStateMaxWriteRequestUnits: number;
  /** Maximum read units per second of the jobs, alerts and service-sites tables. @default - see {@link serviceCapDefaults} */
  readonly workflowMaxReadRequestUnits: number;
  /** Maximum write units per second of the jobs, alerts and service-sites tables. @default - see {@link serviceCapDefaults} */
  readonly workflowMaxWriteRequestUnits: number;
  /**
   * Event source mapping maximum concurrency of each workflow lane's function on its queue (SQS allows 2..1000): what
   * bounds a workflow's cost in the cost statement, however many events the bus carries. The default is the SQS
   * minimum, for the enrichment's reason (a new account's concurrency quota of 10): workflows run a few times a
   * day per device, so their queues are nearly always empty and they rarely run at the cap together; a burst waits
   * in the queue rather than taking the quota. Raise it once the account's quota is raised.
   * @default 2
   */
  readonly workflowMaxConcurrency: number;
  /**
   * Reserved concurrency per service workflow function. Off by default for the same reason as the enrichment's
   * (a new account's quota of 10); the event source mapping's maximum concurrency already caps the workflows.
   * @default - none
   */
  readonly workflowReservedConcurrency?: number;
}

const CAP_HEADROOM = 10;

/** The SQS event source mapping minimum; see {@link PlatformConfig.enrichmentMaxConcurrency} for why. */
const DEFAULT_ENRICHMENT_MAX_CONCURRENCY = 2;

/** The SQS event source mapping minimum; see {@link PlatformConfig.workflowMaxConcurrency} for why. */
const DEFAULT_WORKFLOW_MAX_CONCURRENCY = 2;

/** The largest API Gateway stage burst this app accepts. */
const MAX_API_THROTTLE_BURST = 5_000;

/**
 * The default daily quota of one open-data API key: the whole city's expected requests a day with
 * {@link CAP_HEADROOM} (a popular app is welcome; a runaway loop is stopped within the day), and at least 1,000 so
 * a load profile without API traffic still lets a consumer try the data.
 */
export function openDataQuotaDefault(apiRequestsPerDay: number | undefined): number {
  return Math.max(1_000, (apiRequestsPerDay ?? CONFIG_DEFAULTS.apiRequestsPerDay) * CAP_HEADROOM);
}

/** An origin as browsers send it: https, a host, an optional port; no path, query or trailing slash. */
const HTTPS_ORIGIN_PATTERN =
  /^https:\/\/[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/;

/**
 * Default hard caps from the load profile: DynamoDB writes (a reading costs about two writes: its bucket append
 * and latest state), reads (a chart costs a few read units) and API requests, each with {@link CAP_HEADROOM}.
 */
export function capDefaults(
  devices: number | undefined,
  messageIntervalSeconds: number | undefined,
  apiRequestsPerDay: number | undefined,
): { writeUnits: number; readUnits: number; apiRate: number } {
  const readingsPerSecond = devices && messageIntervalSeconds ? devices / messageIntervalSeconds : 10;
  const apiPerSecond = (apiRequestsPerDay ?? CONFIG_DEFAULTS.apiRequestsPerDay) / 86_400;
  return {
    writeUnits: Math.min(40_000, Math.max(25, Math.ceil(readingsPerSecond * 2 * CAP_HEADROOM))),
    readUnits: Math.min(
      40_000,
      Math.max(25, Math.ceil((apiPerSecond * 5 + readingsPerSecond * 0.1) * CAP_HEADROOM)),
    ),
    apiRate: Math.min(10_000, Math.max(10, Math.ceil(apiPerSecond * 2 * CAP_HEADROOM))),
  };
}

/**
 * Default caps of the service tables, from the load profile with {@link CAP_HEADROOM}:
 * - `service-state`: one read per reading (the detector state lookup), and half a write per reading: states
 *   change on a few per cent of readings, but a burst (a storm, a fleet back online) must not throttle enrichment;
 * - jobs, alerts and service-sites: workflow writes follow events (taken as a fifth of the readings, well above
 *   the blueprints' figures), reads follow those events and the API's job and alert listings.
 */
export function serviceCapDefaults(
  devices: number | undefined,
  messageIntervalSeconds: number | undefined,
  apiRequestsPerDay: number | undefined,
): {
  stateReadUnits: number;
  stateWriteUnits: number;
  workflowReadUnits: number;
  workflowWriteUnits: number;
} {
  const readingsPerSecond = devices && messageIntervalSeconds ? devices / messageIntervalSeconds : 10;
  const apiPerSecond = (apiRequestsPerDay ?? CONFIG_DEFAULTS.apiRequestsPerDay) / 86_400;
  const cap = (perSecond: number) => Math.min(40_000, Math.max(25, Math.ceil(perSecond * CAP_HEADROOM)));
  return {
    stateReadUnits: cap(readingsPerSecond),
    stateWriteUnits: cap(readingsPerSecond * 0.5),
    workflowReadUnits: cap(readingsPerSecond * 0.2 + apiPerSecond * 5),
    workflowWriteUnits: cap(readingsPerSecond * 0.2),
  };
}

/** How long a fleet sweep may take at the registry's read cap: a third of its function's 30-second timeout. */
export const SWEEP_SECONDS_AT_CAP = 10;

/**
 * The registry tables' default read cap: the tables' own ({@link capDefaults}) plus what the enabled scheduled
 * sweeps read in one run (`readUnitsPerDevicePerScheduledRun` x devices) spread over {@link SWEEP_SECONDS_AT_CAP}.
 * The sweep is a burst every {@link WORKFLOW_SCHEDULE_SECONDS}: at the tables' own cap a 1,000-device sweep would
 * outlast its function's timeout and starve enrichment's latest-state reads while it ran.
 */
export function registryReadCapDefault(
  tableReadUnits: number,
  devices: number | undefined,
  sweepReadUnitsPerDevice: number,
): number {
  const sweep = Math.ceil(((devices ?? 0) * sweepReadUnitsPerDevice) / SWEEP_SECONDS_AT_CAP);
  return Math.min(40_000, tableReadUnits + sweep);
}

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A configuration value that is missing or not allowed. The message names every bad key at once. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Regions that have Timestream for LiveAnalytics (AWS endpoints list as read for this project). */
export const TIMESTREAM_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-2',
  'eu-west-1',
  'eu-central-1',
  'ap-northeast-1',
  'ap-southeast-2',
  'ap-south-1',
] as const;

/** The retention periods CloudWatch Logs accepts (excluding "never expire", which has no cost bound). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const STAGE_PATTERN = /^[a-z][a-z0-9-]{0,15}$/;
export const REGION_PATTERN = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

/** Defaults the config and the cost CLI share. */
export const CONFIG_DEFAULTS = {
  region: 'eu-west-2',
  retentionDays: 400,
  apiRequestsPerDay: 10_000,
} as const;
/** Deliberately simple: catches typos and list mistakes; SNS confirms the address itself. */
const EMAIL_PATTERN = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;
const NUMBER_PATTERN = /^-?\d+(\.\d+)?$/;

/**
 * Reads and validates the platform settings from CDK context (`cdk.json` and `-c key=value`, where every value
 * arrives as a string). Pure: no environment, no AWS calls. Throws one {@link ConfigError} listing every problem.
 */
export function loadPlatformConfig(context: Readonly<Record<string, unknown>>): PlatformConfig {
  const problems: string[] = [];
  const reader = new ContextReader(context, problems);

  const stage = reader.text(
    'stage',
    'dev',
    (v) => STAGE_PATTERN.test(v),
    'a lowercase slug (a-z, 0-9, -), 1 to 16 characters, starting with a letter',
  );
  const councilName = reader.text('councilName', undefined, (v) => v.trim().length > 0, 'a non-empty name');
  const councilArea = reader.optionalBoundingBox('councilArea');
  const region = reader.text(
    'region',
    CONFIG_DEFAULTS.region,
    (v) => REGION_PATTERN.test(v),
    'an AWS region code such as eu-west-2',
  );
  const telemetryStore = reader.choice('telemetryStore', 'dynamodb', TELEMETRY_STORES);
  const retentionDays = reader.integer('retentionDays', CONFIG_DEFAULTS.retentionDays, 1, 3650);
  const essentialDeviceTypes = reader.list(
    'essentialDeviceTypes',
    ['water-level', 'air-quality'],
    (v) => (DEVICE_TYPES as readonly string[]).includes(v),
    `a comma-separated list of ${DEVICE_TYPES.join(', ')}`,
  ) as DeviceType[];
  const devices = reader.integer('devices', undefined, 1, 10_000_000);
  const messageIntervalSeconds = reader.integer('messageIntervalSeconds', undefined, 10, 86_400);
  const apiRequestsPerDay = reader.integer('apiRequestsPerDay', undefined, 0, 1_000_000_000);
  const monthlyCeilingUsd = reader.optionalNumber('monthlyCeilingUsd', 0);
  const alertEmails = reader.list(
    'alertEmails',
    [],
    (v) => EMAIL_PATTERN.test(v),
    'a comma-separated list of e-mail addresses',
  );
  const enrichmentMaxConcurrency = reader.integer(
    'enrichmentMaxConcurrency',
    DEFAULT_ENRICHMENT_MAX_CONCURRENCY,
    2,
    1000,
  );
  const enrichmentReservedConcurrency = reader.optionalInteger('enrichmentReservedConcurrency', 1, 1000);
  // Hard caps default to the load profile with tenfold headroom, so the worst case stays in proportion to the
  // city: a backlog after an outage drains a little slower, and a runaway cannot buy unlimited capacity.
  const defaults = capDefaults(devices, messageIntervalSeconds, apiRequestsPerDay);
  const telemetryMaxWriteRequestUnits = reader.integer(
    'telemetryMaxWriteRequestUnits',
    defaults.writeUnits,
    1,
    40_000,
  );
  const telemetryMaxReadRequestUnits = reader.integer(
    'telemetryMaxReadRequestUnits',
    defaults.readUnits,
    1,
    40_000,
  );
  const logRetentionDays = reader.oneOfNumbers('logRetentionDays', 30, LOG_RETENTION_DAYS);
  const logLevel = reader.choice('logLevel', 'WARN', LOG_LEVELS);
  const disconnectRunawayDevices = reader.boolean('disconnectRunawayDevices', true);
  const apiThrottleRateLimit = reader.integer('apiThrottleRateLimit', defaults.apiRate, 1, 10_000);
  const apiThrottleBurstLimit = reader.integer(
    'apiThrottleBurstLimit',
    // Twice the rate, but never above the burst's own maximum: a high API rate must not make the default invalid.
    Math.min(MAX_API_THROTTLE_BURST, defaults.apiRate * 2),
    1,
    MAX_API_THROTTLE_BURST,
  );
  const apiReservedConcurrency = reader.optionalInteger('apiReservedConcurrency', 1, 1000);
  const corsAllowOrigins = reader.list(
    'corsAllowOrigins',
    [],
    (v) => v === '*' || HTTPS_ORIGIN_PATTERN.test(v),
    'a comma-separated list of https origins such as https://app.example.gov.uk (no path), or * alone',
  );
  if (corsAllowOrigins.includes('*') && corsAllowOrigins.length > 1) {
    problems.push(
      `Invalid config 'corsAllowOrigins': got '${corsAllowOrigins.join(',')}'; allowed: * alone (any origin), ` +
        'or a list of https origins without *',
    );
  }
  const stageRate = apiThrottleRateLimit ?? defaults.apiRate;
  const openDataRateLimit = reader.integer(
    'openDataRateLimit',
    Math.max(1, Math.ceil(stageRate / 2)),
    1,
    10_000,
  );
  const openDataBurstLimit = reader.integer(
    'openDataBurstLimit',
    // Twice the key's rate, but within the stage's burst, so lowering the stage's never makes this default invalid.
    Math.min(apiThrottleBurstLimit ?? MAX_API_THROTTLE_BURST, (openDataRateLimit ?? 1) * 2),
    1,
    MAX_API_THROTTLE_BURST,
  );
  const openDataQuotaPerDay = reader.integer(
    'openDataQuotaPerDay',
    openDataQuotaDefault(apiRequestsPerDay),
    1,
    1_000_000_000,
  );
  // A key's limits above the stage's would never apply (the stage throttles first): a config mistake.
  if (
    openDataRateLimit !== undefined &&
    apiThrottleRateLimit !== undefined &&
    openDataRateLimit > apiThrottleRateLimit
  ) {
    problems.push(
      `Invalid config 'openDataRateLimit': got ${openDataRateLimit}, above apiThrottleRateLimit ${apiThrottleRateLimit}; ` +
        'allowed: at most the stage rate limit, which applies to every request first',
    );
  }
  if (
    openDataBurstLimit !== undefined &&
    apiThrottleBurstLimit !== undefined &&
    openDataBurstLimit > apiThrottleBurstLimit
  ) {
    problems.push(
      `Invalid config 'openDataBurstLimit': got ${openDataBurstLimit}, above apiThrottleBurstLimit ${apiThrottleBurstLimit}; ` +
        'allowed: at most the stage burst limit, which applies to every request first',
    );
  }
  const timestreamMemoryRetentionHours = reader.integer('timestreamMemoryRetentionHours', 24, 1, 8766);
  const timestreamMagneticRetentionDays = reader.integer(
    'timestreamMagneticRetentionDays',
    retentionDays ?? CONFIG_DEFAULTS.retentionDays,
    1,
    73_000,
  );

  const fleetMix = reader.fleetMix('fleetMix');
  const services = reader.services('services');
  const enabled = services ?? BLUEPRINT_NAMES;
  const serviceSubscribers = reader.serviceMap(
    'serviceSubscribers',
    'an e-mail list (JSON array or comma-separated)',
    (value) => {
      const items = toList(value);
      return items?.every((item) => EMAIL_PATTERN.test(item)) ? items : undefined;
    },
  );
  const serviceSettings = reader.serviceMap(
    'serviceSettings',
    'an object of setting names (letters and digits, starting with a letter) to numbers',
    (value) => toSettings(value),
  );
  const sweepReadUnitsPerDevice = blueprintsNamed(enabled)
    .filter((blueprint) => blueprint.workflow.onSchedule !== undefined)
    .reduce((sum, blueprint) => sum + blueprint.cost.readUnitsPerDevicePerScheduledRun, 0);
  const registryMaxReadRequestUnits = reader.integer(
    'registryMaxReadRequestUnits',
    registryReadCapDefault(
      telemetryMaxReadRequestUnits ?? defaults.readUnits,
      devices,
      sweepReadUnitsPerDevice,
    ),
    1,
    40_000,
  );
  const serviceCaps = serviceCapDefaults(devices, messageIntervalSeconds, apiRequestsPerDay);
  const serviceStateMaxReadRequestUnits = reader.integer(
    'serviceStateMaxReadRequestUnits',
    serviceCaps.stateReadUnits,
    1,
    40_000,
  );
  const serviceStateMaxWriteRequestUnits = reader.integer(
    'serviceStateMaxWriteRequestUnits',
    serviceCaps.stateWriteUnits,
    1,
    40_000,
  );
  const workflowMaxReadRequestUnits = reader.integer(
    'workflowMaxReadRequestUnits',
    serviceCaps.workflowReadUnits,
    1,
    40_000,
  );
  const workflowMaxWriteRequestUnits = reader.integer(
    'workflowMaxWriteRequestUnits',
    serviceCaps.workflowWriteUnits,
    1,
    40_000,
  );
  const workflowMaxConcurrency = reader.integer(
    'workflowMaxConcurrency',
    DEFAULT_WORKFLOW_MAX_CONCURRENCY,
    2,
    1000,
  );
  const workflowReservedConcurrency = reader.optionalInteger('workflowReservedConcurrency', 1, 1000);

  if (
    telemetryStore === 'timestream' &&
    region !== undefined &&
    !(TIMESTREAM_REGIONS as readonly string[]).includes(region)
  ) {
    problems.push(
      `Invalid config 'telemetryStore': got 'timestream' with region '${region}', which has no Timestream for LiveAnalytics; ` +
        `allowed regions: ${TIMESTREAM_REGIONS.join(', ')}. Note: LiveAnalytics has been closed to new AWS customers since ` +
        `20 June 2025, so choose it only if this account already uses it; otherwise use telemetryStore=dynamodb.`,
    );
  }

  if (problems.length > 0) throw new ConfigError(problems);

  // Every value below was checked above; a missing one would have added a problem.
  return Object.freeze({
    stage: stage as string,
    councilName: (councilName as string).trim(),
    ...(councilArea === undefined ? {} : { councilArea: Object.freeze({ ...councilArea }) }),
    region: region as string,
    telemetryStore: telemetryStore as TelemetryStoreKind,
    retentionDays: retentionDays as number,
    essentialDeviceTypes: Object.freeze([...new Set(essentialDeviceTypes)]),
    loadProfile: Object.freeze({
      devices: devices as number,
      messageIntervalSeconds: messageIntervalSeconds as number,
      apiRequestsPerDay: apiRequestsPerDay as number,
      fleetMix: fleetMix as FleetMix,
    }),
    ...(monthlyCeilingUsd === undefined ? {} : { monthlyCeilingUsd }),
    alertEmails: Object.freeze([...alertEmails]),
    enrichmentMaxConcurrency: enrichmentMaxConcurrency as number,
    ...(enrichmentReservedConcurrency === undefined ? {} : { enrichmentReservedConcurrency }),
    telemetryMaxWriteRequestUnits: telemetryMaxWriteRequestUnits as number,
    telemetryMaxReadRequestUnits: telemetryMaxReadRequestUnits as number,
    registryMaxReadRequestUnits: registryMaxReadRequestUnits as number,
    logRetentionDays: logRetentionDays as number,
    logLevel: logLevel as LogLevel,
    disconnectRunawayDevices: disconnectRunawayDevices as boolean,
    apiThrottleRateLimit: apiThrottleRateLimit as number,
    apiThrottleBurstLimit: apiThrottleBurstLimit as number,
    ...(apiReservedConcurrency === undefined ? {} : { apiReservedConcurrency }),
    corsAllowOrigins: Object.freeze([...new Set(corsAllowOrigins)]),
    openDataRateLimit: openDataRateLimit as number,
    openDataBurstLimit: openDataBurstLimit as number,
    openDataQuotaPerDay: openDataQuotaPerDay as number,
    timestreamMemoryRetentionHours: timestreamMemoryRetentionHours as number,
    timestreamMagneticRetentionDays: timestreamMagneticRetentionDays as number,
    services: Object.freeze([...enabled]),
    // Every enabled service has a topic; those not listed send to the platform's alert addresses.
    serviceSubscribers: Object.freeze(
      Object.fromEntries(
        enabled.map((name) => [name, Object.freeze([...(serviceSubscribers[name] ?? alertEmails)])]),
      ),
    ),
    serviceSettings: Object.freeze(
      Object.fromEntries(
        enabled.flatMap((name) => {
          const settings = serviceSettings[name];
          return settings ? [[name, Object.freeze({ ...settings })]] : [];
        }),
      ),
    ),
    serviceStateMaxReadRequestUnits: serviceStateMaxReadRequestUnits as number,
    serviceStateMaxWriteRequestUnits: serviceStateMaxWriteRequestUnits as number,
    workflowMaxReadRequestUnits: workflowMaxReadRequestUnits as number,
    workflowMaxWriteRequestUnits: workflowMaxWriteRequestUnits as number,
    workflowMaxConcurrency: workflowMaxConcurrency as number,
    ...(workflowReservedConcurrency === undefined ? {} : { workflowReservedConcurrency }),
  });
}

/** Turns raw context values (strings from `-c`, JSON values from cdk.json) into typed ones, recording problems. */
class ContextReader {
  constructor(
    private readonly context: Readonly<Record<string, unknown>>,
    private readonly problems: string[],
  ) {}

  text(
    key: string,
    fallback: string | undefined,
    valid: (v: string) => boolean,
    allowed: string,
  ): string | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return this.missing(key, fallback, allowed);
    if (typeof raw !== 'string' || !valid(raw)) return this.invalid(key, raw, allowed);
    return raw;
  }

  /** true/false, as a JSON boolean from cdk.json or the text `true`/`false` from `-c`. */
  boolean(key: string, fallback: boolean): boolean | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    if (raw === true || raw === 'true') return true;
    if (raw === false || raw === 'false') return false;
    return this.invalid(key, raw, 'true or false');
  }

  choice<T extends string>(key: string, fallback: T, allowed: readonly T[]): T | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    if (typeof raw !== 'string' || !(allowed as readonly string[]).includes(raw)) {
      return this.invalid(key, raw, allowed.join(', '));
    }
    return raw as T;
  }

  integer(key: string, fallback: number | undefined, min: number, max: number): number | undefined {
    const allowed = `an integer from ${min} to ${max}`;
    const raw = this.raw(key);
    if (raw === undefined) return this.missing(key, fallback, allowed);
    const value = toNumber(raw);
    if (value === undefined || !Number.isInteger(value) || value < min || value > max) {
      return this.invalid(key, raw, allowed);
    }
    return value;
  }

  optionalInteger(key: string, min: number, max: number): number | undefined {
    return this.raw(key) === undefined ? undefined : this.integer(key, undefined, min, max);
  }

  /** A number strictly greater than `exclusiveMin`, or undefined when the key is absent. */
  optionalNumber(key: string, exclusiveMin: number): number | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return undefined;
    const value = toNumber(raw);
    if (value === undefined || value <= exclusiveMin) {
      return this.invalid(key, raw, `a number greater than ${exclusiveMin}`);
    }
    return value;
  }

  /**
   * A bounding box `west,south,east,north` in decimal degrees, as text (`-c`, cdk.json) or a JSON array of 4
   * numbers (cdk.json, or its text from `-c`); undefined when absent. Names what is wrong with a bad one.
   */
  optionalBoundingBox(key: string): BoundingBox | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return undefined;
    const value = parseJson(raw);
    const parts: unknown[] =
      typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : [value];
    const numbers = parts.map(toNumber);
    const problem =
      numbers.length !== 4
        ? `${numbers.length} value${numbers.length === 1 ? '' : 's'}, not 4`
        : numbers.some((n) => n === undefined)
          ? 'not all numbers'
          : boundingBoxProblem(...(numbers as [number, number, number, number]));
    if (problem === undefined) {
      const [minLon, minLat, maxLon, maxLat] = numbers as [number, number, number, number];
      return { minLon, minLat, maxLon, maxLat };
    }
    this.problems.push(
      `Invalid config '${key}': got ${describe(raw)} (${problem}); allowed: 4 numbers west,south,east,north in ` +
        'decimal degrees (text, or a JSON array in cdk.json), longitudes within -180..180, latitudes within ' +
        '-90..90, west < east and south < north, e.g. -1.07,51.39,-0.91,51.51',
    );
    return undefined;
  }

  oneOfNumbers(key: string, fallback: number, allowed: readonly number[]): number | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    const value = toNumber(raw);
    if (value === undefined || !allowed.includes(value)) return this.invalid(key, raw, allowed.join(', '));
    return value;
  }

  list(
    key: string,
    fallback: readonly string[],
    valid: (v: string) => boolean,
    allowed: string,
  ): readonly string[] {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    const items = toList(raw);
    if (items === undefined || items.some((item) => !valid(item))) {
      this.invalid(key, raw, allowed);
      return fallback;
    }
    return items;
  }

  /**
   * The enabled service blueprints: a JSON array (cdk.json, or `-c 'services=["waste"]'`) or a comma-separated
   * list (`-c services=waste,flood`). `[]` enables none. Duplicates are dropped; the order is the catalogue's.
   */
  services(key: string): readonly string[] | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return undefined;
    const allowed = `a JSON array or comma-separated list of service blueprints: ${BLUEPRINT_NAMES.join(', ')}`;
    const items = toList(parseJson(raw));
    if (items === undefined) return this.invalid(key, raw, allowed);
    const unknown = items.filter((name) => !BLUEPRINT_NAMES.includes(name));
    if (unknown.length > 0) {
      this.problems.push(
        `Invalid config '${key}': got ${describe(raw)}, with unknown service ${unknown.map((n) => `'${n}'`).join(', ')}; ` +
          `allowed: ${allowed}`,
      );
      return undefined;
    }
    return BLUEPRINT_NAMES.filter((name) => items.includes(name));
  }

  /**
   * A JSON object from service name to a value `parse` accepts (cdk.json object, or the same as JSON text from
   * `-c`). Every service named must be in the catalogue; one that is not enabled is allowed and ignored, so a
   * shared cdk.json can hold every service's entry while `-c services=` picks a few.
   */
  serviceMap<T>(
    key: string,
    allowedValue: string,
    parse: (value: unknown) => T | undefined,
  ): Record<string, T> {
    const raw = this.raw(key);
    if (raw === undefined) return {};
    const allowed = `a JSON object of service name (${BLUEPRINT_NAMES.join(', ')}) to ${allowedValue}`;
    const value = parseJson(raw);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.invalid(key, raw, allowed);
      return {};
    }
    const result: Record<string, T> = {};
    const bad: string[] = [];
    for (const [service, entry] of Object.entries(value)) {
      const parsed = BLUEPRINT_NAMES.includes(service) ? parse(entry) : undefined;
      if (parsed === undefined) bad.push(`'${service}': ${JSON.stringify(entry)}`);
      else result[service] = parsed;
    }
    if (bad.length > 0) {
      this.problems.push(`Invalid config '${key}': got ${bad.join(', ')}; allowed: ${allowed}`);
      return {};
    }
    return result;
  }

  /** Device-type weights (JSON object), scaled to shares that sum to 1. */
  fleetMix(key: string): FleetMix | undefined {
    const raw = this.raw(key);
    if (raw === undefined) return DEFAULT_FLEET_MIX;
    const allowed =
      `a JSON object of device type (${DEVICE_TYPES.join(', ')}) to a weight of 0 or more, ` +
      'at least one above 0 (e.g. device counts)';
    const value = parseJson(raw);
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return this.invalid(key, raw, allowed);
    const entries = Object.entries(value);
    const valid = entries.every(
      ([type, weight]) =>
        (DEVICE_TYPES as readonly string[]).includes(type) &&
        typeof weight === 'number' &&
        Number.isFinite(weight) &&
        weight >= 0,
    );
    if (!valid || !entries.some(([, weight]) => (weight as number) > 0))
      return this.invalid(key, raw, allowed);
    return fleetMixOf(value as Partial<Record<DeviceType, number>>);
  }

  /** Empty strings count as absent: `-c key=` is how a user clears a cdk.json value. */
  private raw(key: string): unknown {
    const value = this.context[key];
    return value === null || value === '' ? undefined : value;
  }

  private missing<T>(key: string, fallback: T | undefined, allowed: string): T | undefined {
    if (fallback === undefined) this.problems.push(`Missing config '${key}'; allowed: ${allowed}`);
    return fallback;
  }

  private invalid(key: string, raw: unknown, allowed: string): undefined {
    this.problems.push(`Invalid config '${key}': got ${describe(raw)}; allowed: ${allowed}`);
    return undefined;
  }
}

function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'string' && NUMBER_PATTERN.test(raw.trim())) return Number(raw.trim());
  return undefined;
}

/** What is wrong with a bounding box's edges (degrees), or undefined when they make one. */
function boundingBoxProblem(west: number, south: number, east: number, north: number): string | undefined {
  const edges = { west, south, east, north };
  const outside = Object.entries(edges).filter(([edge, value]) =>
    edge === 'west' || edge === 'east' ? Math.abs(value) > 180 : Math.abs(value) > 90,
  );
  if (outside.length > 0) {
    return outside
      .map(
        ([edge, value]) =>
          `${edge} ${value} is not within ${edge === 'west' || edge === 'east' ? '-180..180' : '-90..90'}`,
      )
      .join(', ');
  }
  if (west >= east) return `west ${west} is not less than east ${east}`;
  if (south >= north) return `south ${south} is not less than north ${north}`;
  return undefined;
}

function toList(raw: unknown): string[] | undefined {
  const items = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : undefined;
  if (items === undefined || items.some((item) => typeof item !== 'string')) return undefined;
  return (items as string[]).map((item) => item.trim()).filter((item) => item.length > 0);
}

/** JSON text as its value (`-c` delivers JSON as a string); anything that is not JSON stays as it is. */
function parseJson(raw: unknown): unknown {
  if (typeof raw !== 'string' || !/^\s*[[{]/.test(raw)) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

const SETTING_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9]{0,63}$/;

/** A service's settings: an object of setting names to finite numbers. */
function toSettings(value: unknown): ServiceSettings | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value);
  const valid = entries.every(
    ([name, setting]) =>
      SETTING_NAME_PATTERN.test(name) && typeof setting === 'number' && Number.isFinite(setting),
  );
  return valid ? Object.fromEntries(entries) : undefined;
}

function describe(raw: unknown): string {
  return typeof raw === 'string' ? `'${raw}'` : JSON.stringify(raw);
}
