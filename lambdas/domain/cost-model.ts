import { type ServiceCostProfile, WORKFLOW_SCHEDULE_SECONDS } from '../../services/shared/blueprint.js';
import { API_SETTINGS } from '../contracts/api.js';
import { DEVICE_TYPES, type DeviceType } from '../contracts/device-types.js';
import { WORKFLOW_QUEUE, workflowLaneOf, workflowLanesOf } from '../contracts/domain-event-bus.js';
import { INGEST_SETTINGS } from '../contracts/ingest-settings.js';
import {
  GUARD_FUNCTION_MEMORY_MB,
  METER_INTERVAL_SECONDS,
  meterMetricCounts,
  nominalMeteredResources,
  RECONCILIATION_SECONDS,
  type SlowUsageRates,
  WORKFLOW_FUNCTION_MEMORY_MB,
} from '../contracts/metered-resources.js';
import type { PriceItem, RegionPrices } from '../contracts/prices.js';
import { LANES } from '../contracts/topics.js';

/** Share of the devices of each type; the shares sum to 1. */
export type FleetMix = Readonly<Record<DeviceType, number>>;

/**
 * The demo town's devices (local/demo-city.ts): 40 waste containers, 120 parking bays in three car parks,
 * 8 air-quality monitors, 10 traffic counters and 5 water-level gauges: a town centre where parking sensors
 * outnumber everything else. A council with another mix states it (config `fleetMix`).
 */
export const DEMO_TOWN_DEVICES: Readonly<Record<DeviceType, number>> = {
  'waste-container': 40,
  'parking-spot': 120,
  'air-quality': 8,
  'traffic-flow': 10,
  'water-level': 5,
};

/** Weights (device counts, say) as shares that sum to 1; a type without a weight gets 0. */
export function fleetMixOf(weights: Readonly<Partial<Record<DeviceType, number>>>): FleetMix {
  const total = DEVICE_TYPES.reduce((sum, type) => sum + (weights[type] ?? 0), 0);
  if (!(total > 0)) throw new Error('a fleet mix needs at least one device type with a weight above 0');
  return Object.freeze(
    Object.fromEntries(DEVICE_TYPES.map((type) => [type, (weights[type] ?? 0) / total])),
  ) as FleetMix;
}

/**
 * The fleet mix an estimate assumes when none is given (config `fleetMix`, `npm run cost`): the demo town's
 * proportions, {@link DEMO_TOWN_DEVICES}.
 */
export const DEFAULT_FLEET_MIX: FleetMix = fleetMixOf(DEMO_TOWN_DEVICES);

/** What an estimate needs to know of one enabled service blueprint. */
export interface ServiceLoad {
  readonly name: string;
  /** An essential service: its workflow runs in the essential workflow lane ({@link workflowLaneOf}). */
  readonly essential: boolean;
  /** It has a change detector, so enrichment reads (and on change writes) its state for each watched reading. */
  readonly detects: boolean;
  /** Its workflow runs every {@link WORKFLOW_SCHEDULE_SECONDS} as well as on events. */
  readonly scheduled: boolean;
  readonly cost: ServiceCostProfile;
}

/** What the council expects to run: the inputs of a monthly estimate. */
export interface CostProfile {
  readonly devices: number;
  readonly messageIntervalSeconds: number;
  readonly apiRequestsPerDay: number;
  readonly retentionDays: number;
  readonly telemetryStore: 'dynamodb' | 'timestream';
  /** The enabled service blueprints. @default - none: ingestion, storage and the API only */
  readonly services?: readonly ServiceLoad[];
  /** Which devices the fleet is made of; the services' costs depend on it. @default {@link DEFAULT_FLEET_MIX} */
  readonly fleetMix?: FleetMix;
}

export interface CostLine {
  readonly service: string;
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly unitPriceUsd: number;
  readonly monthlyUsd: number;
  /** Present when the unit price is a regional fallback, saying which. */
  readonly fallback?: string;
  /** Accrues with time (storage, alarms) rather than with use; the meter adds these as a daily amount. */
  readonly overTime?: boolean;
  /** The cost guard's own cost (its meter, schedule and records), shown apart in the CLI and the statement. */
  readonly costGuard?: boolean;
}

export interface CostEstimate {
  readonly design: 'platform' | 'naive';
  readonly totalUsd: number;
  readonly perDeviceUsd: number;
  readonly perMillionMessagesUsd: number;
  readonly messagesPerMonth: number;
  readonly lines: readonly CostLine[];
}

/**
 * The assumptions behind every estimate. They are stated, not hidden: the CLI prints them and the JSON carries
 * them, so a council can challenge any one.
 */
export const COST_ASSUMPTIONS = {
  secondsPerMonth: 30 * 86_400,
  /** Every device stays connected all month. */
  connectedShare: 1,
  /** Device payloads fit one 5 KB IoT metering unit. */
  iotUnitsPerMessage: 1,
  /**
   * Stored bytes per reading. The platform groups readings into hourly bucket items (measured with
   * `npm run bench`: 1.12 write units and 106 bytes per reading for 5-minute devices); the naive design
   * stores one item per reading: 406 bytes each, DynamoDB's 100-byte per-item overhead included (same run).
   */
  bucketedBytesPerReading: 110,
  bucketedWriteUnitsPerReading: 1.12,
  itemPerReadingBytes: 406,
  /** Timestream bytes per multi-measure record (dimensions and measures). */
  timestreamRecordBytes: 170,
  /** Share of readings that differ from the device's previous one (status readings rarely change). */
  readingsChangeShare: 1 / 3,
  /** Lambda's SQS pollers when idle: 5 per lane, one 20-second long poll each. */
  idleSqsPollsPerLanePerMonth: 5 * 3 * 43_200,
  /** Enrichment time: fixed part plus a part per message (parallel DynamoDB writes), measured order of magnitude. */
  enrichmentBaseMs: 60,
  enrichmentPerMessageMs: 1,
  /** The naive design's function: 256 MB x86, 60 ms per message, one invocation per message. */
  naiveMemoryMb: 256,
  naivePerMessageMs: 60,
  /**
   * Log bytes per invocation. The platform's functions log at WARN by default (config logLevel) with Lambda's own
   * START/END/REPORT lines filtered out, so little more than the odd warning is ingested; the naive design logs
   * its platform lines and one line per message.
   */
  platformLogBytesPerInvocation: 50,
  naiveLogBytesPerInvocation: 700,
  apiFunctionMs: 50,
  apiFunctionMemoryMb: API_SETTINGS.functionMemoryMb,
  apiLogBytesPerRequest: 600,
  /** Alarms the platform deploys: dead-letter queue, function errors and queue age per lane; the meter's two. */
  platformAlarms: 3 * LANES.length + 2,
  /**
   * The cost guard's own functions (256 MB arm64). A meter run is one GetMetricData call and a handful of
   * DynamoDB reads and writes: a second, cold starts included, errs high. Budget notices: a handful a month.
   */
  meterRunMs: 1000,
  budgetAlertInvocationsPerMonth: 10,
  budgetAlertRunMs: 1500,
  /** The meter logs one summary line a run at INFO (the platform's START/END/REPORT lines are filtered out). */
  guardLogBytesPerRun: 500,
  /** A meter run reads the ledger, guard state and degrade settings (strongly consistent) and writes two. */
  guardRecordReadUnitsPerRun: 3,
  guardRecordWriteUnitsPerRun: 2,
  /**
   * Service detectors: enrichment reads a watched device's detector states in one strongly consistent Query (the
   * table is keyed by device, then service; the small states fit one 4 KB read unit) per reading. The naive
   * design reads the same and writes the state back on every reading, as it does latest state; the platform
   * writes only on change (each blueprint's `stateWritesPerReading`).
   */
  detectorStateReadUnitsPerReading: 1,
  naiveDetectorStateWritesPerReading: 1,
  /** A workflow handles one event with a few conditional DynamoDB calls and at most one notification. */
  workflowEventMs: 100,
  /**
   * One blueprint's scheduled work in a run: a fixed part, plus paging through the watched devices (sweeps) at this
   * much per device. A workflow lane's run does this for each blueprint it hosts.
   */
  workflowScheduledRunBaseMs: 200,
  workflowScheduledRunPerDeviceMs: 0.05,
  /** Notifications (SNS publishes) per domain event, at most: alerts and cleared notices are rarer than events. */
  notificationsPerEvent: 1,
  /**
   * Timestream for LiveAnalytics bills queries in TCU-hours, per second with a 30-second minimum, and a query
   * holds at least 4 TCUs; detector history read from Timestream is billed this way.
   */
  timestreamMinimumTcus: 4,
  timestreamMinimumQuerySeconds: 30,
} as const;

interface LineSpec {
  readonly service: string;
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly price: PriceItem;
  /** Quantity units per price unit, e.g. 1e6 for a per-million price. */
  readonly per: number;
  readonly overTime?: boolean;
  readonly costGuard?: boolean;
}

function priceLines(specs: readonly LineSpec[], prices: RegionPrices): CostLine[] {
  return specs
    .filter((spec) => spec.quantity > 0)
    .map((spec) => {
      const price = prices[spec.price];
      return {
        service: spec.service,
        item: spec.item,
        quantity: spec.quantity,
        unit: spec.unit,
        unitPriceUsd: price.usd,
        monthlyUsd: (spec.quantity / spec.per) * price.usd,
        ...(price.fallback ? { fallback: price.fallback } : {}),
        ...(spec.overTime ? { overTime: true } : {}),
        ...(spec.costGuard ? { costGuard: true } : {}),
      };
    });
}

export function messagesPerMonth(profile: CostProfile): number {
  return (profile.devices * COST_ASSUMPTIONS.secondsPerMonth) / profile.messageIntervalSeconds;
}

/** Messages a batch holds on average: the batching window fills it, up to the batch size. */
export function averageBatchSize(profile: CostProfile): number {
  const perSecondPerLane = profile.devices / profile.messageIntervalSeconds / LANES.length;
  return Math.min(
    INGEST_SETTINGS.batchSize,
    Math.max(1, perSecondPerLane * INGEST_SETTINGS.maxBatchingWindowSeconds),
  );
}

/** Share of messages that rewrite latest state under write-on-change with its refresh period. */
export function latestStateWriteShare(profile: CostProfile): number {
  const change = COST_ASSUMPTIONS.readingsChangeShare;
  const refreshShare = Math.min(
    1,
    profile.messageIntervalSeconds / INGEST_SETTINGS.latestStateRefreshSeconds,
  );
  return change + (1 - change) * refreshShare;
}

function storageGb(profile: CostProfile, messages: number, bytesPerItem: number): number {
  // Steady state: retention-days worth of messages held at any time.
  return (messages * (profile.retentionDays / 30) * bytesPerItem) / 1e9;
}

function sharedLines(profile: CostProfile, messages: number, naive: boolean): LineSpec[] {
  const seriesBytes = naive ? COST_ASSUMPTIONS.itemPerReadingBytes : COST_ASSUMPTIONS.bucketedBytesPerReading;
  const a = COST_ASSUMPTIONS;
  const connectionMinutes = profile.devices * (a.secondsPerMonth / 60) * a.connectedShare;
  const apiRequests = profile.apiRequestsPerDay * 30;
  const specs: LineSpec[] = [
    {
      service: 'IoT Core',
      item: 'connectivity',
      quantity: connectionMinutes,
      unit: 'connection-minutes',
      price: 'iot.connectionMinutesPerMillion',
      per: 1e6,
    },
    {
      service: 'IoT Core',
      item: 'rules triggered',
      quantity: messages,
      unit: 'rules',
      price: 'iot.rulesTriggeredPerMillion',
      per: 1e6,
    },
    {
      service: 'IoT Core',
      item: naive ? 'Lambda actions' : 'SQS actions',
      quantity: messages,
      unit: 'actions',
      price: 'iot.actionsPerMillion',
      per: 1e6,
    },
    {
      service: 'API Gateway',
      item: 'REST requests',
      quantity: apiRequests,
      unit: 'requests',
      price: 'apigateway.restRequestsPerMillion',
      per: 1e6,
    },
    {
      service: 'Lambda',
      item: 'API requests',
      quantity: apiRequests,
      unit: 'invocations',
      price: 'lambda.requestsPerMillion',
      per: 1e6,
    },
    {
      service: 'Lambda',
      item: 'API duration',
      quantity: apiRequests * (a.apiFunctionMs / 1000) * (a.apiFunctionMemoryMb / 1024),
      unit: 'GB-seconds',
      price: 'lambda.arm64GbSecond',
      per: 1,
    },
    {
      service: 'CloudWatch',
      item: 'API logs',
      quantity: (apiRequests * a.apiLogBytesPerRequest) / 1e9,
      unit: 'GB',
      price: 'logs.ingestionPerGb',
      per: 1,
    },
  ];
  if (profile.telemetryStore === 'dynamodb') {
    specs.push({
      service: 'DynamoDB',
      item: 'time-series storage',
      overTime: true,
      quantity: storageGb(profile, messages, seriesBytes),
      unit: 'GB-month',
      price: 'dynamodb.storageGbMonth',
      per: 1,
    });
  } else {
    const recordGb = (messages * a.timestreamRecordBytes) / 1e9;
    specs.push(
      {
        service: 'Timestream',
        item: 'memory store (24 h)',
        overTime: true,
        quantity: (recordGb / 30) * 24,
        unit: 'GB-hours',
        price: 'timestream.memoryGbHour',
        per: 1,
      },
      {
        service: 'Timestream',
        item: 'magnetic store',
        overTime: true,
        quantity: storageGb(profile, messages, a.timestreamRecordBytes),
        unit: 'GB-month',
        price: 'timestream.magneticGbMonth',
        per: 1,
      },
    );
  }
  return specs;
}

/**
 * The platform as built: Basic Ingest (no messaging charge), a rule per lane feeding SQS, batched enrichment
 * on arm64, the registry cached in memory, one conditional write per point, latest state written on change.
 */
export function estimatePlatform(profile: CostProfile, prices: RegionPrices): CostEstimate {
  const a = COST_ASSUMPTIONS;
  const messages = messagesPerMonth(profile);
  const batch = averageBatchSize(profile);
  const invocations = messages / batch;
  const receives = messages / INGEST_SETTINGS.sqsMessagesPerBatchRequest;
  const registryReads = Math.min(
    messages,
    profile.devices * (a.secondsPerMonth / INGEST_SETTINGS.registryCacheSeconds),
  );
  const specs: LineSpec[] = [
    ...sharedLines(profile, messages, false),
    {
      service: 'SQS',
      item: 'send, receive, delete, idle polls',
      quantity: messages + receives * 2 + a.idleSqsPollsPerLanePerMonth * LANES.length,
      unit: 'requests',
      price: 'sqs.requestsPerMillion',
      per: 1e6,
    },
    {
      service: 'Lambda',
      item: 'enrichment invocations',
      quantity: invocations,
      unit: 'invocations',
      price: 'lambda.requestsPerMillion',
      per: 1e6,
    },
    {
      service: 'Lambda',
      item: 'enrichment duration (arm64)',
      quantity:
        invocations *
        ((a.enrichmentBaseMs + a.enrichmentPerMessageMs * batch) / 1000) *
        (INGEST_SETTINGS.enrichmentMemoryMb / 1024),
      unit: 'GB-seconds',
      price: 'lambda.arm64GbSecond',
      per: 1,
    },
    {
      service: 'DynamoDB',
      item: 'registry reads (cached)',
      quantity: registryReads / 2,
      unit: 'read units',
      price: 'dynamodb.readUnitsPerMillion',
      per: 1e6,
    },
    {
      // Write-on-change reads the stored state first: one strongly consistent read unit per device per batch.
      service: 'DynamoDB',
      item: 'latest-state reads (change check)',
      quantity: messages,
      unit: 'read units',
      price: 'dynamodb.readUnitsPerMillion',
      per: 1e6,
    },
    {
      service: 'DynamoDB',
      item: 'latest-state writes (on change)',
      quantity: messages * latestStateWriteShare(profile),
      unit: 'write units',
      price: 'dynamodb.writeUnitsPerMillion',
      per: 1e6,
    },
    {
      service: 'CloudWatch',
      item: 'enrichment logs',
      quantity: (invocations * a.platformLogBytesPerInvocation) / 1e9,
      unit: 'GB',
      price: 'logs.ingestionPerGb',
      per: 1,
    },
    {
      service: 'CloudWatch',
      item: 'alarms',
      overTime: true,
      quantity: a.platformAlarms,
      unit: 'alarms',
      price: 'cloudwatch.alarmMonth',
      per: 1,
    },
  ];
  if (profile.telemetryStore === 'dynamodb') {
    specs.push({
      service: 'DynamoDB',
      item: 'time-series writes (hourly buckets)',
      quantity: messages * a.bucketedWriteUnitsPerReading,
      unit: 'write units',
      price: 'dynamodb.writeUnitsPerMillion',
      per: 1e6,
    });
  } else {
    // Timestream meters each WriteRecords call's bytes in 1 KiB units; 100 records share them.
    const perCallKiB = Math.ceil((Math.min(batch, 100) * a.timestreamRecordBytes) / 1024);
    specs.push(
      {
        service: 'Timestream',
        item: 'writes (100 per call)',
        quantity: ((messages / Math.min(batch, 100)) * perCallKiB) / 1024 / 1024,
        unit: 'GB',
        price: 'timestream.writesPerGb',
        per: 1,
      },
      {
        service: 'DynamoDB',
        item: 'idempotency records',
        quantity: messages * 1.5,
        unit: 'request units',
        price: 'dynamodb.writeUnitsPerMillion',
        per: 1e6,
      },
    );
  }
  specs.push(...serviceLines(profile, 'platform'));
  specs.push(...costGuardLines(profile));
  return summarise('platform', profile, messages, priceLines(specs, prices));
}

/** Meter runs a month (one every {@link METER_INTERVAL_SECONDS}) and hourly reconciliations. */
export const METER_RUNS_PER_MONTH = COST_ASSUMPTIONS.secondsPerMonth / METER_INTERVAL_SECONDS;
export const RECONCILIATIONS_PER_MONTH = COST_ASSUMPTIONS.secondsPerMonth / RECONCILIATION_SECONDS;

/** Alarms each deployed workflow lane has: its dead-letter queue's depth and its queue's oldest event. */
export const WORKFLOW_ALARMS_PER_LANE = 2;

/** Scheduled runs a month of one workflow lane (or, in the naive design, one service) with scheduled work. */
export const WORKFLOW_RUNS_PER_MONTH = COST_ASSUMPTIONS.secondsPerMonth / WORKFLOW_SCHEDULE_SECONDS;

/**
 * Events a workflow invocation takes from its queue on average: what arrives in the mapping's batching window, at
 * least one and at most the batch size (the lanes' {@link averageBatchSize}, for one workflow lane's events).
 */
export function averageWorkflowBatch(eventsPerMonth: number): number {
  const perSecond = eventsPerMonth / COST_ASSUMPTIONS.secondsPerMonth;
  return Math.min(WORKFLOW_QUEUE.batchSize, Math.max(1, perSecond * WORKFLOW_QUEUE.maxBatchingWindowSeconds));
}

/** What the enabled services do in a month, summed: the quantities the service lines price. */
export interface ServiceVolumes {
  /** Readings of a type some detector watches. */
  readonly detectedReadings: number;
  readonly stateWrites: number;
  readonly historyReadUnits: number;
  /** Reads of detector history (one per reading of a type whose detector asks for history). */
  readonly historyReads: number;
  readonly events: number;
  /**
   * Scheduled invocations: in the platform one per period per workflow lane hosting a scheduled blueprint (the
   * lane's run does every hosted blueprint's `onSchedule`); in the naive design one per period per scheduled
   * service, each service being its own function.
   */
  readonly scheduledRuns: number;
  /**
   * Workflow invocations for events: one per batch taken from a workflow lane's queue in the platform (batches
   * fill in the mapping's batching window, so sparse events go one to a batch); one per event in the naive
   * design, whose bus invokes the workflow directly.
   */
  readonly eventBatches: number;
  /** Event batches plus scheduled runs. */
  readonly workflowInvocations: number;
  /**
   * SQS requests of the workflow lanes' queues (platform only): a send per event, a receive and a delete per
   * batch, and each queue's idle long polls.
   */
  readonly workflowQueueRequests: number;
  readonly workflowGbSeconds: number;
  readonly workflowWriteUnits: number;
  readonly workflowReadUnits: number;
  readonly notifications: number;
  /** Enabled services. */
  readonly workflows: number;
  /** Workflow lanes deployed (platform): one per lane at least one enabled service runs in. */
  readonly workflowLanes: number;
}

/**
 * The month's service volumes for a profile: each service's cost profile applied to the devices it watches
 * (the fleet mix), events as each blueprint states them per device and day (every event type has exactly one
 * service's rule). The platform runs the services in two workflow lanes (essential, ordinary): a workflow
 * invocation per batch of a lane's events and one per scheduled run of the lane. The naive design runs a function
 * per service: an invocation per event and per scheduled run of each service.
 */
export function serviceVolumes(
  profile: CostProfile,
  design: 'platform' | 'naive' = 'platform',
): ServiceVolumes {
  const a = COST_ASSUMPTIONS;
  const services = profile.services ?? [];
  const mix = profile.fleetMix ?? DEFAULT_FLEET_MIX;
  const messages = messagesPerMonth(profile);
  const share = (watches: ServiceCostProfile['watches']) =>
    watches === 'all' ? 1 : [...new Set(watches)].reduce((sum, type) => sum + mix[type], 0);
  const detectedTypes = new Set(
    services
      .filter((s) => s.detects)
      .flatMap((s) => (s.cost.watches === 'all' ? DEVICE_TYPES : s.cost.watches)),
  );
  let stateWrites = 0;
  let historyReadUnits = 0;
  let historyReads = 0;
  let events = 0;
  let scheduledMs = 0;
  let workflowWriteUnits = 0;
  let workflowReadUnits = 0;
  // Per workflow lane in the platform, per service in the naive design: its events and whether it is scheduled.
  const consumers = new Map<string, { events: number; scheduled: boolean }>();
  for (const service of services) {
    const { cost } = service;
    const watchedDevices = profile.devices * share(cost.watches);
    const watchedReadings = messages * share(cost.watches);
    const serviceEvents = watchedDevices * cost.eventsPerDevicePerDay * (a.secondsPerMonth / 86_400);
    if (service.detects) {
      stateWrites +=
        watchedReadings *
        (design === 'naive' ? a.naiveDetectorStateWritesPerReading : cost.stateWritesPerReading);
      if (cost.historyReadUnitsPerReading > 0) {
        historyReads += watchedReadings;
        // The naive design stores an item per reading: the same history is that many times the bytes to read.
        historyReadUnits +=
          watchedReadings *
          cost.historyReadUnitsPerReading *
          (design === 'naive' ? a.itemPerReadingBytes / a.bucketedBytesPerReading : 1);
      }
    }
    events += serviceEvents;
    const key = design === 'naive' ? service.name : workflowLaneOf(service);
    const consumer = consumers.get(key) ?? { events: 0, scheduled: false };
    consumers.set(key, {
      events: consumer.events + serviceEvents,
      scheduled: consumer.scheduled || service.scheduled,
    });
    // Every scheduled blueprint does its own work each period, whichever function runs it. A lane's blueprints
    // run side by side in one invocation, so summing their times errs high.
    const runs = service.scheduled ? WORKFLOW_RUNS_PER_MONTH : 0;
    scheduledMs += runs * (a.workflowScheduledRunBaseMs + a.workflowScheduledRunPerDeviceMs * watchedDevices);
    workflowWriteUnits += serviceEvents * cost.writeUnitsPerEvent;
    workflowReadUnits +=
      serviceEvents * cost.readUnitsPerEvent + runs * watchedDevices * cost.readUnitsPerDevicePerScheduledRun;
  }
  let eventBatches = 0;
  let scheduledRuns = 0;
  for (const consumer of consumers.values()) {
    eventBatches += consumer.events / (design === 'naive' ? 1 : averageWorkflowBatch(consumer.events));
    if (consumer.scheduled) scheduledRuns += WORKFLOW_RUNS_PER_MONTH;
  }
  const lanes = design === 'naive' ? 0 : workflowLanesOf(services).length;
  const detectedShare = DEVICE_TYPES.filter((type) => detectedTypes.has(type)).reduce(
    (sum, type) => sum + mix[type],
    0,
  );
  return {
    detectedReadings: messages * detectedShare,
    stateWrites,
    historyReadUnits,
    historyReads,
    events,
    scheduledRuns,
    eventBatches,
    workflowInvocations: eventBatches + scheduledRuns,
    workflowQueueRequests:
      design === 'naive'
        ? 0
        : // Lambda's pollers long-poll each lane's queue while it is empty, as they do the ingest lanes'.
          events + 2 * eventBatches + a.idleSqsPollsPerLanePerMonth * lanes,
    workflowGbSeconds:
      ((events * a.workflowEventMs + scheduledMs) / 1000) * (WORKFLOW_FUNCTION_MEMORY_MB / 1024),
    workflowWriteUnits,
    workflowReadUnits,
    notifications: events * a.notificationsPerEvent,
    workflows: services.length,
    workflowLanes: lanes,
  };
}

/** The workflow lines the meter reads hourly, by item: {@link slowUsageRates} finds them by these names. */
const WORKFLOW_INVOCATIONS_ITEM = 'workflow invocations';
const WORKFLOW_DURATION_ITEM = 'workflow duration (arm64)';
const WORKFLOW_QUEUE_ITEM = 'workflow lane queues: send, receive, delete, idle polls';

/**
 * The service lines of an estimate. Both designs run the same services with the same events and the same
 * scheduled work, so the comparison stays like for like; they differ where the platform's design differs:
 * detector state written only on change (the naive design writes it with every reading, as it does latest state),
 * history read from hourly buckets rather than an item per reading, the platform's two workflow lanes (one queue
 * and one function each, a schedule per lane) where the naive design has a function and a schedule per service,
 * and the naive design's functions run as its message function does (x86, a log line per invocation).
 * Clock-driven lines (schedules, alarms) and the lines the meter cannot read (events on the bus, notifications:
 * cents a month, and bounded by the capped detector state writes) are `overTime`, so the meter accrues them by
 * the day.
 */
function serviceLines(profile: CostProfile, design: 'platform' | 'naive'): LineSpec[] {
  const a = COST_ASSUMPTIONS;
  const v = serviceVolumes(profile, design);
  if (v.workflows === 0) return [];
  const specs: LineSpec[] = [
    {
      service: 'DynamoDB',
      item: 'service detector state reads',
      quantity: v.detectedReadings * a.detectorStateReadUnitsPerReading,
      unit: 'read units',
      price: 'dynamodb.readUnitsPerMillion',
      per: 1e6,
    },
    {
      service: 'DynamoDB',
      item:
        design === 'naive'
          ? 'service detector state writes (every reading)'
          : 'service detector state writes (on change)',
      quantity: v.stateWrites,
      unit: 'write units',
      price: 'dynamodb.writeUnitsPerMillion',
      per: 1e6,
    },
    {
      service: 'EventBridge',
      item: 'domain events (custom bus)',
      overTime: true,
      quantity: v.events,
      unit: 'events',
      price: 'eventbridge.customEventsPerMillion',
      per: 1e6,
    },
    {
      service: 'EventBridge',
      item: 'workflow schedules',
      overTime: true,
      quantity: v.scheduledRuns,
      unit: 'invocations',
      price: 'scheduler.invocationsPerMillion',
      per: 1e6,
    },
    {
      service: 'Lambda',
      item: WORKFLOW_INVOCATIONS_ITEM,
      quantity: v.workflowInvocations,
      unit: 'invocations',
      price: 'lambda.requestsPerMillion',
      per: 1e6,
    },
    {
      service: 'Lambda',
      item: design === 'naive' ? 'workflow duration (x86)' : WORKFLOW_DURATION_ITEM,
      quantity: v.workflowGbSeconds,
      unit: 'GB-seconds',
      price: design === 'naive' ? 'lambda.x86GbSecond' : 'lambda.arm64GbSecond',
      per: 1,
    },
    {
      service: 'DynamoDB',
      item: 'workflow writes (jobs, alerts, sites)',
      quantity: v.workflowWriteUnits,
      unit: 'write units',
      price: 'dynamodb.writeUnitsPerMillion',
      per: 1e6,
    },
    {
      service: 'DynamoDB',
      item: 'workflow reads (events, sweeps)',
      quantity: v.workflowReadUnits,
      unit: 'read units',
      price: 'dynamodb.readUnitsPerMillion',
      per: 1e6,
    },
    {
      service: 'SNS',
      item: 'service notifications (at most one per event)',
      overTime: true,
      quantity: v.notifications,
      unit: 'publishes',
      price: 'sns.publishesPerMillion',
      per: 1e6,
    },
    {
      service: 'CloudWatch',
      item: 'workflow logs',
      quantity:
        (v.workflowInvocations *
          (design === 'naive' ? a.naiveLogBytesPerInvocation : a.platformLogBytesPerInvocation)) /
        1e9,
      unit: 'GB',
      price: 'logs.ingestionPerGb',
      per: 1,
    },
  ];
  if (design === 'platform') {
    specs.push(
      {
        // Metered: the meter reads what is sent to each workflow lane's queue, hourly.
        service: 'SQS',
        item: WORKFLOW_QUEUE_ITEM,
        quantity: v.workflowQueueRequests,
        unit: 'requests',
        price: 'sqs.requestsPerMillion',
        per: 1e6,
      },
      {
        service: 'CloudWatch',
        item: 'workflow lane alarms (dead letters, backlog)',
        overTime: true,
        quantity: WORKFLOW_ALARMS_PER_LANE * v.workflowLanes,
        unit: 'alarms',
        price: 'cloudwatch.alarmMonth',
        per: 1,
      },
    );
  }
  // History is billed only for blueprints whose detectors ask for it (`historyReadUnitsPerReading` > 0): none of
  // the built-in ones do, so no history line appears for them. The platform still serves history to a detector
  // that asks (change-detection.ts), and then it is priced.
  if (v.historyReads > 0) specs.push(historyLine(profile, design, v));
  return specs;
}

/**
 * Detector history for the blueprints that ask for it: DynamoDB read units (from hourly buckets, or an item per
 * reading in the naive design), or on Timestream its query minimum. Each history read is a Timestream query holding
 * 4 TCUs for at least 30 s: queries a few seconds apart keep them busy all month, so a detector that needs history
 * makes Timestream the dearest line by far (one watching 4% of 1,000 devices at 5 minutes holds ~$1,500 a month of
 * TCUs): the built-in blueprints keep what they need in their state instead.
 */
function historyLine(profile: CostProfile, design: 'platform' | 'naive', v: ServiceVolumes): LineSpec {
  const a = COST_ASSUMPTIONS;
  if (profile.telemetryStore === 'dynamodb') {
    return {
      service: 'DynamoDB',
      item:
        design === 'naive'
          ? 'service history reads (item per reading)'
          : 'service history reads (hourly buckets)',
      quantity: v.historyReadUnits,
      unit: 'read units',
      price: 'dynamodb.readUnitsPerMillion',
      per: 1e6,
    };
  }
  const busySeconds = Math.min(a.secondsPerMonth, v.historyReads * a.timestreamMinimumQuerySeconds);
  return {
    service: 'Timestream',
    item: 'service history queries (at least 4 TCUs, 30 s each)',
    quantity: (busySeconds / 3600) * a.timestreamMinimumTcus,
    unit: 'TCU-hours',
    price: 'timestream.queryTcuHour',
    per: 1,
  };
}

/** GetMetricData metrics the meter requests a month: fast metrics every run, slow ones once an hour. */
export function meterMetricsPerMonth(profile: Pick<CostProfile, 'telemetryStore' | 'services'>): number {
  const counts = meterMetricCounts(
    nominalMeteredResources(profile.telemetryStore, workflowLanesOf(profile.services ?? [])),
  );
  return counts.perRun * METER_RUNS_PER_MONTH + counts.perReconciliation * RECONCILIATIONS_PER_MONTH;
}

/**
 * The cost guard's own lines. Everything but its records accrues by the clock (a run every 5 minutes whatever
 * the traffic), so those lines are `overTime`: the meter adds them in the fixed daily accrual and does not read
 * the guard's own functions. Its records live in the `cost-guard` table, which the meter measures hourly.
 */
function costGuardLines(profile: CostProfile): LineSpec[] {
  const a = COST_ASSUMPTIONS;
  const counts = meterMetricCounts(
    nominalMeteredResources(profile.telemetryStore, workflowLanesOf(profile.services ?? [])),
  );
  const gbSeconds =
    ((METER_RUNS_PER_MONTH * a.meterRunMs + a.budgetAlertInvocationsPerMonth * a.budgetAlertRunMs) / 1000) *
    (GUARD_FUNCTION_MEMORY_MB / 1024);
  const guard = { costGuard: true } as const;
  return [
    {
      ...guard,
      overTime: true,
      service: 'CloudWatch',
      item: `cost guard: GetMetricData (${counts.perRun} metrics a run, ${counts.perReconciliation} more hourly)`,
      quantity: meterMetricsPerMonth(profile),
      unit: 'metrics',
      price: 'cloudwatch.metricsRequestedPerThousand',
      per: 1e3,
    },
    {
      ...guard,
      overTime: true,
      service: 'EventBridge',
      item: 'cost guard: meter schedule',
      quantity: METER_RUNS_PER_MONTH,
      unit: 'invocations',
      price: 'scheduler.invocationsPerMillion',
      per: 1e6,
    },
    {
      ...guard,
      overTime: true,
      service: 'Lambda',
      item: 'cost guard: meter and budget-alert invocations',
      quantity: METER_RUNS_PER_MONTH + a.budgetAlertInvocationsPerMonth,
      unit: 'invocations',
      price: 'lambda.requestsPerMillion',
      per: 1e6,
    },
    {
      ...guard,
      overTime: true,
      service: 'Lambda',
      item: 'cost guard: meter and budget-alert duration (arm64)',
      quantity: gbSeconds,
      unit: 'GB-seconds',
      price: 'lambda.arm64GbSecond',
      per: 1,
    },
    {
      ...guard,
      overTime: true,
      service: 'CloudWatch',
      item: 'cost guard: logs',
      quantity: (METER_RUNS_PER_MONTH * a.guardLogBytesPerRun) / 1e9,
      unit: 'GB',
      price: 'logs.ingestionPerGb',
      per: 1,
    },
    {
      ...guard,
      service: 'DynamoDB',
      item: 'cost guard: records (reads)',
      quantity: METER_RUNS_PER_MONTH * a.guardRecordReadUnitsPerRun,
      unit: 'read units',
      price: 'dynamodb.readUnitsPerMillion',
      per: 1e6,
    },
    {
      ...guard,
      service: 'DynamoDB',
      item: 'cost guard: records (writes)',
      quantity: METER_RUNS_PER_MONTH * a.guardRecordWriteUnitsPerRun,
      unit: 'write units',
      price: 'dynamodb.writeUnitsPerMillion',
      per: 1e6,
    },
  ];
}

/** What the cost guard itself costs a month (its lines of the estimate). */
export function costGuardUsd(estimate: Pick<CostEstimate, 'lines'>): number {
  return estimate.lines.filter((line) => line.costGuard).reduce((sum, line) => sum + line.monthlyUsd, 0);
}

/**
 * The figures the meter prices the slow usage with between reconciliations, from the estimate's own lines (so
 * they are the cost model's figures, not a second copy): DynamoDB units of the data path per lane message (the
 * guard's records excluded: they are not driven by messages), log bytes per data-path invocation and per API
 * request, and the workflow lanes' invocations, GB-seconds and queue requests per hour (mostly clock-driven:
 * their schedules and idle polls).
 */
export function slowUsageRates(estimate: CostEstimate): SlowUsageRates {
  const messages = estimate.messagesPerMonth;
  const hoursPerMonth = COST_ASSUMPTIONS.secondsPerMonth / 3600;
  const perHour = (item: string) =>
    (estimate.lines.find((line) => line.item === item)?.quantity ?? 0) / hoursPerMonth;
  const units = (...names: string[]) =>
    estimate.lines
      .filter((line) => line.service === 'DynamoDB' && !line.costGuard && names.includes(line.unit))
      .reduce((sum, line) => sum + line.quantity, 0);
  const perMessage = (quantity: number) => (messages > 0 ? quantity / messages : 0);
  return {
    // Timestream's idempotency records are billed in write request units.
    dynamoWriteUnitsPerMessage: perMessage(units('write units', 'request units')),
    dynamoReadUnitsPerMessage: perMessage(units('read units')),
    logBytesPerInvocation: COST_ASSUMPTIONS.platformLogBytesPerInvocation,
    logBytesPerApiRequest: COST_ASSUMPTIONS.apiLogBytesPerRequest,
    workflowInvocationsPerHour: perHour(WORKFLOW_INVOCATIONS_ITEM),
    workflowGbSecondsPerHour: perHour(WORKFLOW_DURATION_ITEM),
    workflowSqsRequestsPerHour: perHour(WORKFLOW_QUEUE_ITEM),
  };
}

/**
 * The design councils are often sold: the rule invokes a function per message, which reads and writes per message.
 * It runs the same services as the platform (see the service lines), checking each reading against state it
 * reads and writes back every time.
 */
export function estimateNaive(profile: CostProfile, prices: RegionPrices): CostEstimate {
  const a = COST_ASSUMPTIONS;
  const messages = messagesPerMonth(profile);
  const specs: LineSpec[] = [
    ...sharedLines(profile, messages, true),
    {
      service: 'IoT Core',
      item: 'messaging (broker topics)',
      quantity: messages * a.iotUnitsPerMessage,
      unit: 'messages',
      price: 'iot.messagesPerMillion',
      per: 1e6,
    },
    {
      service: 'Lambda',
      item: 'invocations (one per message)',
      quantity: messages,
      unit: 'invocations',
      price: 'lambda.requestsPerMillion',
      per: 1e6,
    },
    {
      service: 'Lambda',
      item: 'duration (x86)',
      quantity: messages * (a.naivePerMessageMs / 1000) * (a.naiveMemoryMb / 1024),
      unit: 'GB-seconds',
      price: 'lambda.x86GbSecond',
      per: 1,
    },
    {
      service: 'DynamoDB',
      item: 'registry read per message',
      quantity: messages / 2,
      unit: 'read units',
      price: 'dynamodb.readUnitsPerMillion',
      per: 1e6,
    },
    {
      service: 'DynamoDB',
      item: 'latest-state write per message',
      quantity: messages,
      unit: 'write units',
      price: 'dynamodb.writeUnitsPerMillion',
      per: 1e6,
    },
    {
      service: 'CloudWatch',
      item: 'logs',
      quantity: (messages * a.naiveLogBytesPerInvocation) / 1e9,
      unit: 'GB',
      price: 'logs.ingestionPerGb',
      per: 1,
    },
  ];
  if (profile.telemetryStore === 'dynamodb') {
    specs.push({
      service: 'DynamoDB',
      item: 'time-series writes',
      quantity: messages,
      unit: 'write units',
      price: 'dynamodb.writeUnitsPerMillion',
      per: 1e6,
    });
  } else {
    // One record per call is billed as a whole 1 KiB unit.
    specs.push({
      service: 'Timestream',
      item: 'writes (1 per call)',
      quantity: messages / 1024 / 1024,
      unit: 'GB',
      price: 'timestream.writesPerGb',
      per: 1,
    });
  }
  specs.push(...serviceLines(profile, 'naive'));
  return summarise('naive', profile, messages, priceLines(specs, prices));
}

function summarise(
  design: 'platform' | 'naive',
  profile: CostProfile,
  messages: number,
  lines: CostLine[],
): CostEstimate {
  const totalUsd = lines.reduce((sum, line) => sum + line.monthlyUsd, 0);
  return {
    design,
    totalUsd,
    perDeviceUsd: totalUsd / profile.devices,
    perMillionMessagesUsd: messages > 0 ? totalUsd / (messages / 1e6) : 0,
    messagesPerMonth: messages,
    lines,
  };
}

/**
 * What accrues every day whatever the traffic (storage at steady state, alarms, and the cost guard's own meter:
 * its GetMetricData, schedule, functions and logs): the meter's fixed accrual.
 */
export function dailyFixedAccrualUsd(estimate: CostEstimate): number {
  return estimate.lines.filter((line) => line.overTime).reduce((sum, line) => sum + line.monthlyUsd, 0) / 30;
}
