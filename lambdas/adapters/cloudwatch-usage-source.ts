import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { INGEST_SETTINGS } from '../contracts/ingest-settings.js';
import {
  isFastMeasure,
  type MeteredResources,
  type UsageMeasure,
  type UsageMetric,
  usageMetrics,
} from '../contracts/metered-resources.js';
import type { UsageReadOptions, UsageSource } from '../domain/cost-control.js';
import { COST_ASSUMPTIONS } from '../domain/cost-model.js';
import type { UsageSample } from '../domain/usage-meter.js';

/** GetMetricData returns at most this many data points per request (all queries together). */
const MAX_DATAPOINTS_PER_REQUEST = 100_800;
/** One-minute data is kept for 15 days, five-minute data for 63 days, hourly after that. */
const ONE_MINUTE_DATA_DAYS = 15;
const FIVE_MINUTE_DATA_DAYS = 63;

/**
 * How much later than "now" the meter reads: service metrics for the last minute or two are still arriving, and a
 * window read too early would miss them for good (the next run starts where this one ended).
 */
export const DEFAULT_SETTLE_SECONDS = 180;

/**
 * SQS bills requests; its metrics count messages. Each message sent is one request (the IoT rule sends one per
 * request); the Lambda poller receives and deletes in batches of up to 10, so 2/10 of a request more per message.
 */
const SQS_REQUESTS_PER_MESSAGE_SENT = 1 + 2 / INGEST_SETTINGS.sqsMessagesPerBatchRequest;

/**
 * A workflow lane's events are sparse (a handful per device a day) and its mapping waits at most a
 * second (`WORKFLOW_QUEUE.maxBatchingWindowSeconds`) to fill a batch, so each event is taken as received and deleted on
 * its own: a send, a receive and a delete per event. Errs high when a burst fills batches.
 */
const WORKFLOW_SQS_REQUESTS_PER_MESSAGE_SENT = 3;

/** Empty long polls per second of one queue's idle Lambda pollers, as the cost model assumes. */
const IDLE_POLLS_PER_QUEUE_SECOND =
  COST_ASSUMPTIONS.idleSqsPollsPerLanePerMonth / COST_ASSUMPTIONS.secondsPerMonth;

export interface CloudWatchUsageSourceOptions {
  /** Seconds the read window lags the requested one. @default DEFAULT_SETTLE_SECONDS */
  readonly settleSeconds?: number;
}

const floorToMinute = (ms: number) => Math.floor(ms / 60_000) * 60_000;

/**
 * Usage from the free one-minute service metrics of the platform's own resources, in ONE GetMetricData request a
 * run (billed per metric requested).
 *
 * Every run (every 5 minutes) reads only the signals that move spend fast and that no hard cap bounds: IoT
 * TopicMatch per lane rule, SQS NumberOfMessagesSent per lane queue, the city API's Count, and Invocations and
 * Duration of the data-path functions (lane enrichment, city API). The run whose interval crosses a UTC hour
 * boundary (see `isReconciliationRun`) asks the same request for the slow, capped resources as well (DynamoDB
 * consumed units per table and index, IncomingBytes per log group, and the workflow lanes: NumberOfMessagesSent
 * per lane queue, Invocations and Duration per lane function) over the whole window since the last
 * reconciliation. Between reconciliations that slow usage is estimated with the cost model's figures
 * (`MeteredResources.usageRates`: per lane message for DynamoDB and logs, per hour for the workflow lanes); the
 * meter then replaces the estimates with the measured figure.
 *
 * The window is shifted back by the settle delay and cut at whole minutes; since each run starts where the last
 * one ended (and each reconciliation where the last one ended), consecutive windows tile time exactly, and every
 * minute is read once, after its data has arrived. On a reconciliation run the request starts at the earlier,
 * reconciliation start; the fast metrics count only the data points of the run's own window (timestamps at or
 * after its start: exact with one-minute periods, to within one period for a catch-up of days).
 *
 * Approximations, all documented in the README:
 * - SQS requests = messages sent x (1 + 2/10) (one send each; the Lambda poller receives and deletes 10 at a
 *   time) + the idle-poll allowance of the cost model for the interval (Lambda's long polls of an empty queue).
 *   Partly filled batches make the true figure a little higher; the allowance, charged even when busy, errs high.
 *   A workflow lane's queue: 3 requests per message sent (its events come one to a batch) + the same allowance
 *   over the reconciled window.
 * - Lambda GB-seconds from the summed Duration and each function's configured memory (billed duration rounds up
 *   to the millisecond, so this is exact to within a millisecond per invocation).
 * - IoT connectivity from the configured device count, all connected all the time (errs high).
 * - The cost guard's own functions are not read: their cost is in the fixed daily accrual.
 */
export class CloudWatchUsageSource implements UsageSource {
  private readonly fast: UsageMetric[];
  private readonly all: UsageMetric[];
  private readonly settleMs: number;

  constructor(
    private readonly client: CloudWatchClient,
    private readonly resources: MeteredResources,
    options: CloudWatchUsageSourceOptions = {},
  ) {
    this.fast = usageMetrics(resources, 'fast');
    this.all = usageMetrics(resources, 'all');
    this.settleMs = (options.settleSeconds ?? DEFAULT_SETTLE_SECONDS) * 1000;
  }

  /** The metric queries of a reconciliation run, every metric (for tests and for the construct's synth-time count). */
  get queries(): readonly UsageMetric[] {
    return this.all;
  }

  /** The metric queries of every other run: the fast signals only. */
  get fastQueries(): readonly UsageMetric[] {
    return this.fast;
  }

  async read(start: Date, end: Date, options: UsageReadOptions = {}): Promise<UsageSample> {
    const from = floorToMinute(start.getTime() - this.settleMs);
    const to = floorToMinute(end.getTime() - this.settleMs);
    const reconcileFrom = options.reconcileFrom
      ? Math.min(from, floorToMinute(options.reconcileFrom.getTime() - this.settleMs))
      : undefined;
    const metrics = reconcileFrom === undefined ? this.fast : this.all;
    const requestFrom = reconcileFrom ?? from;
    const totals = new Map<UsageMeasure, number>();
    let gbSeconds = 0;
    let workflowGbSeconds = 0;
    if (to > requestFrom && metrics.length > 0) {
      const period = periodFor(requestFrom, to, end.getTime(), metrics.length);
      // Fast metrics count from this run's own window start, slow ones from the reconciliation's.
      const sums = await this.sums(metrics, requestFrom, to, period, (metric) =>
        isFastMeasure(metric.measure) ? from : requestFrom,
      );
      for (const metric of metrics) {
        const sum = sums.get(metric.id) ?? 0;
        totals.set(metric.measure, (totals.get(metric.measure) ?? 0) + sum);
        const metricGbSeconds = (sum / 1000) * ((metric.memoryMb ?? 0) / 1024);
        if (metric.measure === 'lambdaDurationMs') gbSeconds += metricGbSeconds;
        if (metric.measure === 'workflowDurationMs') workflowGbSeconds += metricGbSeconds;
      }
    }
    const total = (measure: UsageMeasure) => totals.get(measure) ?? 0;
    const intervalSeconds = Math.max(0, (end.getTime() - start.getTime()) / 1000);
    const messages = total('sqsSent');
    const idlePolls = IDLE_POLLS_PER_QUEUE_SECOND * this.resources.queues.length * intervalSeconds;
    const rates = this.resources.usageRates;
    const lanes = this.resources.workflowQueues.length;
    let slow: Pick<
      UsageSample,
      'dynamoWriteUnits' | 'dynamoReadUnits' | 'logBytes' | 'workflows' | 'slowUsage'
    >;
    if (reconcileFrom === undefined) {
      const hours = intervalSeconds / 3600;
      slow = {
        dynamoWriteUnits: messages * rates.dynamoWriteUnitsPerMessage,
        dynamoReadUnits: messages * rates.dynamoReadUnitsPerMessage,
        logBytes:
          total('lambdaInvocations') * rates.logBytesPerInvocation +
          total('apiRequests') * rates.logBytesPerApiRequest,
        // The workflow lanes are not read on this run: the cost model's hourly figures stand in until the
        // reconciliation measures them.
        ...(lanes > 0
          ? {
              workflows: {
                sqsRequests: rates.workflowSqsRequestsPerHour * hours,
                invocations: rates.workflowInvocationsPerHour * hours,
                gbSeconds: rates.workflowGbSecondsPerHour * hours,
              },
            }
          : {}),
        slowUsage: { kind: 'estimated' },
      };
    } else {
      const from = Math.min(start.getTime(), options.reconcileFrom?.getTime() ?? 0);
      const windowSeconds = Math.max(0, (end.getTime() - from) / 1000);
      slow = {
        dynamoWriteUnits: total('dynamoWriteUnits'),
        dynamoReadUnits: total('dynamoReadUnits'),
        // The lanes' own function logs are among the log groups measured here.
        logBytes: total('logBytes'),
        ...(lanes > 0
          ? {
              workflows: {
                sqsRequests:
                  total('workflowSqsSent') * WORKFLOW_SQS_REQUESTS_PER_MESSAGE_SENT +
                  IDLE_POLLS_PER_QUEUE_SECOND * lanes * windowSeconds,
                invocations: total('workflowInvocations'),
                gbSeconds: workflowGbSeconds,
              },
            }
          : {}),
        slowUsage: { kind: 'reconciled', from: new Date(from).toISOString() },
      };
    }
    return {
      intervalSeconds,
      rulesTriggered: total('rulesTriggered'),
      // Devices publish only to Basic Ingest topics, which have no broker messaging charge.
      brokerMessages: 0,
      connectedDevices: this.resources.devices,
      sqsRequests: messages * SQS_REQUESTS_PER_MESSAGE_SENT + idlePolls,
      lambdaInvocations: total('lambdaInvocations'),
      lambdaGbSeconds: gbSeconds,
      apiRequests: total('apiRequests'),
      ...slow,
    };
  }

  /**
   * Sum of the data points per query id at or after each metric's own start. One request; NextToken is followed
   * only if CloudWatch pages anyway.
   */
  private async sums(
    metrics: readonly UsageMetric[],
    from: number,
    to: number,
    period: number,
    countFrom: (metric: UsageMetric) => number,
  ): Promise<Map<string, number>> {
    const queries: MetricDataQuery[] = metrics.map((metric) => ({
      Id: metric.id,
      MetricStat: {
        Metric: {
          Namespace: metric.namespace,
          MetricName: metric.metricName,
          Dimensions: metric.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
        },
        Period: period,
        Stat: 'Sum',
      },
      ReturnData: true,
    }));
    const since = new Map(metrics.map((metric) => [metric.id, countFrom(metric)]));
    const sums = new Map<string, number>();
    let nextToken: string | undefined;
    do {
      const response = await this.client.send(
        new GetMetricDataCommand({
          MetricDataQueries: queries,
          StartTime: new Date(from),
          EndTime: new Date(to),
          ScanBy: 'TimestampAscending',
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
      );
      for (const result of response.MetricDataResults ?? []) {
        if (!result.Id) continue;
        const cutoff = since.get(result.Id) ?? from;
        const values = result.Values ?? [];
        const sum = values.reduce((total, value, index) => {
          const at = result.Timestamps?.[index];
          return at === undefined || at.getTime() >= cutoff ? total + value : total;
        }, 0);
        sums.set(result.Id, (sums.get(result.Id) ?? 0) + sum);
      }
      nextToken = response.NextToken;
    } while (nextToken);
    return sums;
  }
}

/**
 * The period for a window: one minute normally; longer when a catch-up window (after the meter was down) would
 * exceed the data points one request returns, or reaches back past CloudWatch's one-minute retention.
 */
export function periodFor(from: number, to: number, now: number, metricCount: number): number {
  const minutes = Math.ceil((to - from) / 60_000);
  const pointsPerMetric = Math.floor(MAX_DATAPOINTS_PER_REQUEST / Math.max(1, metricCount));
  let period = 60 * Math.max(1, Math.ceil(minutes / pointsPerMetric));
  const ageDays = (now - from) / 86_400_000;
  const granularity = ageDays > FIVE_MINUTE_DATA_DAYS ? 3600 : ageDays > ONE_MINUTE_DATA_DAYS ? 300 : 60;
  period = Math.ceil(period / granularity) * granularity;
  return period;
}
