import { API_SETTINGS } from '../contracts/api.js';
import { INGEST_SETTINGS } from '../contracts/ingest-settings.js';
import {
  GUARD_FUNCTION_MEMORY_MB,
  METER_INTERVAL_SECONDS,
  meterMetricCounts,
  nominalMeteredResources,
  RECONCILIATION_SECONDS,
  type SlowUsageRates,
} from '../contracts/metered-resources.js';
import type { PriceItem, RegionPrices } from '../contracts/prices.js';
import { LANES } from '../contracts/topics.js';

/** What the council expects to run: the inputs of a monthly estimate. */
export interface CostProfile {
  readonly devices: number;
  readonly messageIntervalSeconds: number;
  readonly apiRequestsPerDay: number;
  readonly retentionDays: number;
  readonly telemetryStore: 'dynamodb' | 'timestream';
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
  specs.push(...costGuardLines(profile));
  return summarise('platform', profile, messages, priceLines(specs, prices));
}

/** Meter runs a month (one every {@link METER_INTERVAL_SECONDS}) and hourly reconciliations. */
export const METER_RUNS_PER_MONTH = COST_ASSUMPTIONS.secondsPerMonth / METER_INTERVAL_SECONDS;
export const RECONCILIATIONS_PER_MONTH = COST_ASSUMPTIONS.secondsPerMonth / RECONCILIATION_SECONDS;

/** GetMetricData metrics the meter requests a month: fast metrics every run, slow ones once an hour. */
export function meterMetricsPerMonth(profile: Pick<CostProfile, 'telemetryStore'>): number {
  const counts = meterMetricCounts(nominalMeteredResources(profile.telemetryStore));
  return counts.perRun * METER_RUNS_PER_MONTH + counts.perReconciliation * RECONCILIATIONS_PER_MONTH;
}

/**
 * The cost guard's own lines. Everything but its records accrues by the clock (a run every 5 minutes whatever
 * the traffic), so those lines are `overTime`: the meter adds them in the fixed daily accrual and does not read
 * the guard's own functions. Its records live in the `cost-guard` table, which the meter measures hourly.
 */
function costGuardLines(profile: CostProfile): LineSpec[] {
  const a = COST_ASSUMPTIONS;
  const counts = meterMetricCounts(nominalMeteredResources(profile.telemetryStore));
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
 * The per-message figures the meter prices the slow usage with between reconciliations, from the estimate's
 * own lines (so they are the cost model's figures, not a second copy): DynamoDB units of the data path per lane
 * message (the guard's records excluded: they are not driven by messages), and log bytes per data-path
 * invocation and per API request.
 */
export function slowUsageRates(estimate: CostEstimate): SlowUsageRates {
  const messages = estimate.messagesPerMonth;
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
  };
}

/** The design councils are often sold: the rule invokes a function per message, which reads and writes per message. */
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
