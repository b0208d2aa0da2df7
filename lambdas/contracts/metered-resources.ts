import type { WorkflowLane } from './domain-event-bus.js';
import { TABLES, type TableDefinition } from './tables.js';
import { LANES, type Lane } from './topics.js';

/** How often the usage meter runs: its fast signals are read every run. */
export const METER_INTERVAL_SECONDS = 300;
/**
 * How often the slow, capped usage (DynamoDB units, log bytes, the workflow lanes) is measured: the run whose
 * metered interval crosses a UTC hour boundary reconciles it (see {@link isReconciliationRun}).
 */
export const RECONCILIATION_SECONDS = 3600;
/** Memory of the cost guard's own two functions (usage meter, budget alert). */
export const GUARD_FUNCTION_MEMORY_MB = 256;
/**
 * Memory of each workflow lane's function: a workflow makes a few conditional DynamoDB calls per event and pages
 * through the fleet on its schedule, so it needs little; the cost model prices its duration with this.
 */
export const WORKFLOW_FUNCTION_MEMORY_MB = 256;

/**
 * Whether the run metering [start, end) also reconciles the slow usage: exactly when the interval crosses a UTC
 * hour boundary (an hour H with start < H <= end). Metered intervals tile time, so every hour boundary falls in
 * exactly one run's interval: one reconciliation an hour, whatever the schedule's offset or jitter, and a
 * catch-up run after an outage (which spans hours) always reconciles. Deterministic from the ledger alone, unlike
 * "every 12th run", which would drift after a missed or doubled run. Month boundaries are hour boundaries, so
 * the first run of a month always reconciles.
 */
export function isReconciliationRun(start: Date, end: Date): boolean {
  const hour = (at: Date) => Math.floor(at.getTime() / (RECONCILIATION_SECONDS * 1000));
  return hour(end) > hour(start);
}

/**
 * What the usage meter reads: the platform's own resources, by the names CloudWatch uses as metric dimensions.
 * The CostGuard construct builds it from the deployed resources and passes it to the meter as JSON, so the
 * meter reads exactly what the stacks contain and nothing else in the account.
 */
export interface MeteredResources {
  /** IoT topic rule names (both lanes): each TopicMatch is one rule triggered and one action. */
  readonly rules: readonly string[];
  /**
   * SQS queue names of the ingest lanes, read every run. Each message sent is priced with its receive and delete
   * (batched) and each queue with its idle polls.
   */
  readonly queues: readonly string[];
  /**
   * The data-path Lambda functions read every run (lane enrichment, city API) and their memory, for GB-seconds.
   * The cost guard's own functions are not metered: their cost is a known fixed amount, in the fixed daily
   * accrual.
   */
  readonly functions: readonly MeteredFunction[];
  /**
   * The workflow lanes' queues (one per deployed lane). Read hourly, on reconciliation runs, like DynamoDB and
   * logs: a lane's spend is capped (its mapping's maximum concurrency x its timeout, a few dollars a month at
   * worst) and moves slowly, so reading it every 5 minutes would cost more than it could ever tell.
   */
  readonly workflowQueues: readonly string[];
  /** The workflow lanes' functions and their memory, read hourly as their queues are. */
  readonly workflowFunctions: readonly MeteredFunction[];
  /** DynamoDB tables and their global secondary indexes (index writes are billed too). */
  readonly tables: readonly { readonly name: string; readonly indexes?: readonly string[] }[];
  /** REST APIs by name and stage. */
  readonly apis: readonly { readonly name: string; readonly stage: string }[];
  /** CloudWatch Logs groups (the data-path functions' and the API access log). */
  readonly logGroups: readonly string[];
  /**
   * Devices the council runs. IoT connectivity is priced on this configured count: IoT Core has no per-account
   * connected-devices metric, and assuming every device connected all the time errs high, never low.
   */
  readonly devices: number;
  /** How the meter estimates the slow usage between reconciliations, from the cost model. */
  readonly usageRates: SlowUsageRates;
}

/** A function the meter reads Invocations and Duration of. */
export interface MeteredFunction {
  readonly name: string;
  readonly memoryMb: number;
}

/**
 * The cost model's figures for the slow, capped usage, used to price it between hourly reconciliations (the
 * reconciliation then replaces the estimate with the measured figure): per lane message for what messages drive,
 * per hour for the workflow lanes, whose work is mostly clock-driven (their schedules, idle polls).
 */
export interface SlowUsageRates {
  /** DynamoDB write units per lane message: bucketed time-series writes, the latest-state share, idempotency. */
  readonly dynamoWriteUnitsPerMessage: number;
  /** DynamoDB read units per lane message: the latest-state change check and the cached registry reads. */
  readonly dynamoReadUnitsPerMessage: number;
  /** Log bytes ingested per data-path function invocation. */
  readonly logBytesPerInvocation: number;
  /** Log bytes ingested per API request (the API function's log and the access log). */
  readonly logBytesPerApiRequest: number;
  /** Workflow lane invocations per hour (event batches and scheduled runs, every lane). */
  readonly workflowInvocationsPerHour: number;
  /** Workflow lane GB-seconds per hour. */
  readonly workflowGbSecondsPerHour: number;
  /** Workflow lane queue requests per hour (sends, receives, deletes and idle polls). */
  readonly workflowSqsRequestsPerHour: number;
}

/** What one metric contributes to a usage sample. */
export type UsageMeasure =
  | 'rulesTriggered'
  | 'sqsSent'
  | 'lambdaInvocations'
  | 'lambdaDurationMs'
  | 'dynamoWriteUnits'
  | 'dynamoReadUnits'
  | 'apiRequests'
  | 'logBytes'
  | 'workflowSqsSent'
  | 'workflowInvocations'
  | 'workflowDurationMs';

/**
 * Measures read every run: they move spend fast and no hard cap bounds them for the month. The rest (DynamoDB
 * units, log bytes, the workflow lanes' messages, invocations and duration) are capped and slow-moving (table
 * maximum throughput, function concurrency, a lane mapping's maximum concurrency), and are measured hourly.
 */
export const FAST_MEASURES: readonly UsageMeasure[] = [
  'rulesTriggered',
  'sqsSent',
  'apiRequests',
  'lambdaInvocations',
  'lambdaDurationMs',
];

export function isFastMeasure(measure: UsageMeasure): boolean {
  return FAST_MEASURES.includes(measure);
}

/** Which metrics a run asks for: the fast ones every run, all of them on a reconciliation run. */
export type MetricScope = 'fast' | 'all';

/** One metric the meter asks GetMetricData for (always the Sum statistic). */
export interface UsageMetric {
  /** GetMetricData query id: starts with a lowercase letter, unique in the request. */
  readonly id: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: readonly { readonly name: string; readonly value: string }[];
  readonly measure: UsageMeasure;
  /** For Lambda duration: the function's memory, to turn milliseconds into GB-seconds. */
  readonly memoryMb?: number;
}

/** GetMetricData accepts at most this many queries in one request. */
export const GET_METRIC_DATA_QUERY_LIMIT = 500;

/**
 * The metrics the meter reads for `resources`, in a stable order with stable ids: the fast metrics first (ids
 * `m0`..), then the slow ones, so a fast metric has the same id in every run. `scope` 'fast' is what every run asks
 * for; 'all' is what a reconciliation run asks for (still one request).
 */
export function usageMetrics(resources: MeteredResources, scope: MetricScope = 'all'): UsageMetric[] {
  const metrics: Omit<UsageMetric, 'id'>[] = [];
  const add = (
    namespace: string,
    metricName: string,
    measure: UsageMeasure,
    dimensions: Record<string, string>,
    memoryMb?: number,
  ) =>
    metrics.push({
      namespace,
      metricName,
      measure,
      dimensions: Object.entries(dimensions).map(([name, value]) => ({ name, value })),
      ...(memoryMb === undefined ? {} : { memoryMb }),
    });

  // Fast: every run.
  for (const rule of resources.rules) add('AWS/IoT', 'TopicMatch', 'rulesTriggered', { RuleName: rule });
  for (const queue of resources.queues)
    add('AWS/SQS', 'NumberOfMessagesSent', 'sqsSent', { QueueName: queue });
  for (const api of resources.apis) {
    add('AWS/ApiGateway', 'Count', 'apiRequests', { ApiName: api.name, Stage: api.stage });
  }
  for (const fn of resources.functions) {
    add('AWS/Lambda', 'Invocations', 'lambdaInvocations', { FunctionName: fn.name });
    add('AWS/Lambda', 'Duration', 'lambdaDurationMs', { FunctionName: fn.name }, fn.memoryMb);
  }
  // Slow: hourly, on reconciliation runs.
  for (const queue of resources.workflowQueues) {
    add('AWS/SQS', 'NumberOfMessagesSent', 'workflowSqsSent', { QueueName: queue });
  }
  for (const fn of resources.workflowFunctions) {
    add('AWS/Lambda', 'Invocations', 'workflowInvocations', { FunctionName: fn.name });
    add('AWS/Lambda', 'Duration', 'workflowDurationMs', { FunctionName: fn.name }, fn.memoryMb);
  }
  for (const table of resources.tables) {
    const scopes = [
      { TableName: table.name },
      ...(table.indexes ?? []).map((index) => ({ TableName: table.name, GlobalSecondaryIndexName: index })),
    ];
    for (const dimensions of scopes) {
      add('AWS/DynamoDB', 'ConsumedWriteCapacityUnits', 'dynamoWriteUnits', dimensions);
      add('AWS/DynamoDB', 'ConsumedReadCapacityUnits', 'dynamoReadUnits', dimensions);
    }
  }
  for (const group of resources.logGroups) {
    add('AWS/Logs', 'IncomingBytes', 'logBytes', { LogGroupName: group });
  }
  if (metrics.length > GET_METRIC_DATA_QUERY_LIMIT) {
    throw new Error(
      `the usage meter would read ${metrics.length} metrics; GetMetricData takes at most ${GET_METRIC_DATA_QUERY_LIMIT} in one request`,
    );
  }
  return metrics
    .map((metric, index) => ({ id: `m${index}`, ...metric }))
    .filter((metric) => scope === 'all' || isFastMeasure(metric.measure));
}

/** Metrics requested by a run: every run asks for `perRun`; a reconciliation run asks for `perRun + perReconciliation`. */
export interface MeterMetricCounts {
  readonly perRun: number;
  readonly perReconciliation: number;
}

export function meterMetricCounts(resources: MeteredResources): MeterMetricCounts {
  const fast = usageMetrics(resources, 'fast').length;
  return { perRun: fast, perReconciliation: usageMetrics(resources, 'all').length - fast };
}

/**
 * The resources the platform deploys, by shape (names are placeholders): a rule and a queue per lane, an
 * enrichment function per lane plus the city API function, one queue and one function per deployed workflow lane,
 * every table of {@link TABLES} the store uses with its indexes (the service tables exist whether or not a service
 * is enabled), one API, and the functions' log groups plus the API access log. The cost model counts the meter's
 * metrics from this, and the infra test checks the CostGuard construct meters the same counts, so neither drifts.
 */
export function nominalMeteredResources(
  telemetryStore: 'dynamodb' | 'timestream',
  workflowLanes: readonly WorkflowLane[] = [],
  devices = 0,
  usageRates: SlowUsageRates = {
    dynamoWriteUnitsPerMessage: 0,
    dynamoReadUnitsPerMessage: 0,
    logBytesPerInvocation: 0,
    logBytesPerApiRequest: 0,
    workflowInvocationsPerHour: 0,
    workflowGbSecondsPerHour: 0,
    workflowSqsRequestsPerHour: 0,
  },
): MeteredResources {
  const functions = [...LANES.map((lane) => `enrich-${lane}`), 'city-api'];
  const workflowFunctions = workflowLanes.map((lane) => `workflow-${lane}`);
  const tables: readonly TableDefinition[] = Object.values(TABLES).filter(
    (table) => telemetryStore === 'dynamodb' || table.id !== 'telemetry',
  );
  return {
    rules: [...LANES],
    queues: LANES.map((lane) => `${lane}-queue`),
    functions: functions.map((name) => ({ name, memoryMb: 128 })),
    workflowQueues: workflowLanes.map((lane) => `workflow-${lane}-queue`),
    workflowFunctions: workflowFunctions.map((name) => ({ name, memoryMb: WORKFLOW_FUNCTION_MEMORY_MB })),
    tables: tables.map((table) => ({
      name: table.id,
      indexes: (table.globalSecondaryIndexes ?? []).map((index) => index.indexName),
    })),
    apis: [{ name: 'city-api', stage: 'v1' }],
    logGroups: [...functions, ...workflowFunctions]
      .map((name) => `/aws/lambda/${name}`)
      .concat('city-api-access'),
    devices,
    usageRates,
  };
}

/** The switches of one lane: its topic rule and its consumer's event source mapping. */
export interface LaneControlTarget {
  readonly ruleName: string;
  /** The event source mapping's UUID (what UpdateEventSourceMapping takes). */
  readonly mappingUuid: string;
}

/**
 * The lanes the guard may switch, and their switches. Only the ordinary lane is ever listed: the essential lane
 * has no entry, so no code path can reach its rule or mapping (and the IAM policy does not allow it either).
 */
export type LaneControlTargets = Readonly<Partial<Record<Lane, LaneControlTarget>>>;
