import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import {
  type MeteredResources,
  type UsageMeasure,
  type UsageMetric,
  usageMetrics,
} from '../contracts/metered-resources.js';
import type { UsageSource } from '../domain/cost-control.js';
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

/** SQS bills requests; its metrics count messages. The Lambda poller receives and deletes in batches of up to 10. */
const SQS_MESSAGES_PER_BATCH_REQUEST = 10;

export interface CloudWatchUsageSourceOptions {
  /** Seconds the read window lags the requested one. @default DEFAULT_SETTLE_SECONDS */
  readonly settleSeconds?: number;
}

const floorToMinute = (ms: number) => Math.floor(ms / 60_000) * 60_000;

/**
 * Usage from the free one-minute service metrics of the platform's own resources, in ONE GetMetricData request
 * (billed per metric requested, about 40 here: $0.0004 a run, $3.50 a month at a run every 5 minutes).
 *
 * The window is shifted back by the settle delay and cut at whole minutes; since each run starts where the last
 * one ended, consecutive windows tile time exactly, and every minute is read once, after its data has arrived.
 *
 * Approximations, all documented in the README:
 * - SQS requests = messages sent (the IoT rule sends one per request) + received / 10 + deleted / 10 (the Lambda
 *   poller receives and deletes in batches of up to 10) + empty receives (one request each). Partly filled
 *   batches make the true figure a little higher; long polls that return nothing are counted exactly.
 * - Lambda GB-seconds from the summed Duration and each function's configured memory (billed duration rounds up
 *   to the millisecond, so this is exact to within a millisecond per invocation).
 * - IoT connectivity from the configured device count, all connected all the time (errs high).
 */
export class CloudWatchUsageSource implements UsageSource {
  private readonly metrics: UsageMetric[];
  private readonly settleMs: number;

  constructor(
    private readonly client: CloudWatchClient,
    private readonly resources: MeteredResources,
    options: CloudWatchUsageSourceOptions = {},
  ) {
    this.metrics = usageMetrics(resources);
    this.settleMs = (options.settleSeconds ?? DEFAULT_SETTLE_SECONDS) * 1000;
  }

  /** The metric queries one run sends (for tests and for the construct's synth-time count). */
  get queries(): readonly UsageMetric[] {
    return this.metrics;
  }

  async read(start: Date, end: Date): Promise<UsageSample> {
    const from = floorToMinute(start.getTime() - this.settleMs);
    const to = floorToMinute(end.getTime() - this.settleMs);
    const totals = new Map<UsageMeasure, number>();
    let gbSeconds = 0;
    if (to > from && this.metrics.length > 0) {
      const period = periodFor(from, to, end.getTime(), this.metrics.length);
      const sums = await this.sums(from, to, period);
      for (const metric of this.metrics) {
        const sum = sums.get(metric.id) ?? 0;
        totals.set(metric.measure, (totals.get(metric.measure) ?? 0) + sum);
        if (metric.measure === 'lambdaDurationMs')
          gbSeconds += (sum / 1000) * ((metric.memoryMb ?? 0) / 1024);
      }
    }
    const total = (measure: UsageMeasure) => totals.get(measure) ?? 0;
    return {
      intervalSeconds: Math.max(0, (end.getTime() - start.getTime()) / 1000),
      rulesTriggered: total('rulesTriggered'),
      // Devices publish only to Basic Ingest topics, which have no broker messaging charge.
      brokerMessages: 0,
      connectedDevices: this.resources.devices,
      sqsRequests:
        total('sqsSent') +
        total('sqsReceived') / SQS_MESSAGES_PER_BATCH_REQUEST +
        total('sqsDeleted') / SQS_MESSAGES_PER_BATCH_REQUEST +
        total('sqsEmptyReceives'),
      lambdaInvocations: total('lambdaInvocations'),
      lambdaGbSeconds: gbSeconds,
      dynamoWriteUnits: total('dynamoWriteUnits'),
      dynamoReadUnits: total('dynamoReadUnits'),
      apiRequests: total('apiRequests'),
      logBytes: total('logBytes'),
    };
  }

  /** Sum of every data point per query id. One request; NextToken is followed only if CloudWatch pages anyway. */
  private async sums(from: number, to: number, period: number): Promise<Map<string, number>> {
    const queries: MetricDataQuery[] = this.metrics.map((metric) => ({
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
        const sum = (result.Values ?? []).reduce((total, value) => total + value, 0);
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
