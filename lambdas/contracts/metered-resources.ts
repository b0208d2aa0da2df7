import type { Lane } from './topics.js';

/**
 * What the usage meter reads: the platform's own resources, by the names CloudWatch uses as metric dimensions.
 * The CostGuard construct builds it from the deployed resources and passes it to the meter as JSON, so the
 * meter reads exactly what the stacks contain and nothing else in the account.
 */
export interface MeteredResources {
  /** IoT topic rule names (both lanes): each TopicMatch is one rule triggered and one action. */
  readonly rules: readonly string[];
  /** SQS queue names (the lane queues). */
  readonly queues: readonly string[];
  /** Lambda functions and their memory, for GB-seconds. */
  readonly functions: readonly { readonly name: string; readonly memoryMb: number }[];
  /** DynamoDB tables and their global secondary indexes (index writes are billed too). */
  readonly tables: readonly { readonly name: string; readonly indexes?: readonly string[] }[];
  /** REST APIs by name and stage. */
  readonly apis: readonly { readonly name: string; readonly stage: string }[];
  /** CloudWatch Logs groups. */
  readonly logGroups: readonly string[];
  /**
   * Devices the council runs. IoT connectivity is priced on this configured count: IoT Core has no per-account
   * connected-devices metric, and assuming every device connected all the time errs high, never low.
   */
  readonly devices: number;
}

/** What one metric contributes to a usage sample. */
export type UsageMeasure =
  | 'rulesTriggered'
  | 'sqsSent'
  | 'sqsReceived'
  | 'sqsDeleted'
  | 'sqsEmptyReceives'
  | 'lambdaInvocations'
  | 'lambdaDurationMs'
  | 'dynamoWriteUnits'
  | 'dynamoReadUnits'
  | 'apiRequests'
  | 'logBytes';

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

/** The metrics the meter reads for `resources`, in a stable order with stable ids. */
export function usageMetrics(resources: MeteredResources): UsageMetric[] {
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

  for (const rule of resources.rules) add('AWS/IoT', 'TopicMatch', 'rulesTriggered', { RuleName: rule });
  for (const queue of resources.queues) {
    add('AWS/SQS', 'NumberOfMessagesSent', 'sqsSent', { QueueName: queue });
    add('AWS/SQS', 'NumberOfMessagesReceived', 'sqsReceived', { QueueName: queue });
    add('AWS/SQS', 'NumberOfMessagesDeleted', 'sqsDeleted', { QueueName: queue });
    add('AWS/SQS', 'NumberOfEmptyReceives', 'sqsEmptyReceives', { QueueName: queue });
  }
  for (const fn of resources.functions) {
    add('AWS/Lambda', 'Invocations', 'lambdaInvocations', { FunctionName: fn.name });
    add('AWS/Lambda', 'Duration', 'lambdaDurationMs', { FunctionName: fn.name }, fn.memoryMb);
  }
  for (const table of resources.tables) {
    const scopes = [
      { TableName: table.name },
      ...(table.indexes ?? []).map((index) => ({ TableName: table.name, GlobalSecondaryIndexName: index })),
    ];
    for (const scope of scopes) {
      add('AWS/DynamoDB', 'ConsumedWriteCapacityUnits', 'dynamoWriteUnits', scope);
      add('AWS/DynamoDB', 'ConsumedReadCapacityUnits', 'dynamoReadUnits', scope);
    }
  }
  for (const api of resources.apis) {
    add('AWS/ApiGateway', 'Count', 'apiRequests', { ApiName: api.name, Stage: api.stage });
  }
  for (const group of resources.logGroups) {
    add('AWS/Logs', 'IncomingBytes', 'logBytes', { LogGroupName: group });
  }
  if (metrics.length > GET_METRIC_DATA_QUERY_LIMIT) {
    throw new Error(
      `the usage meter would read ${metrics.length} metrics; GetMetricData takes at most ${GET_METRIC_DATA_QUERY_LIMIT} in one request`,
    );
  }
  return metrics.map((metric, index) => ({ id: `m${index}`, ...metric }));
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
