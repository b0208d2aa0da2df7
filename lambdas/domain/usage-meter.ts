import type { PriceItem, RegionPrices } from '../contracts/prices.js';

/**
 * What the platform used in one metering interval, read from the free one-minute service metrics (or, locally,
 * from the runtime's own counters). Counts are totals over the interval.
 */
export interface UsageSample {
  readonly intervalSeconds: number;
  /** IoT rules triggered (TopicMatch); each triggers one action. */
  readonly rulesTriggered: number;
  /** Messages through the broker (not Basic Ingest); zero for the platform's own topics. */
  readonly brokerMessages: number;
  readonly connectedDevices: number;
  readonly sqsRequests: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  readonly dynamoWriteUnits: number;
  readonly dynamoReadUnits: number;
  readonly apiRequests: number;
  readonly logBytes: number;
  /**
   * What the workflow lanes used (their queues and functions), apart from the data path's: it is slow usage,
   * measured hourly on AWS like DynamoDB and logs. Absent: no workflow lane ran.
   */
  readonly workflows?: WorkflowUsage;
  /**
   * Where the slow, capped usage (dynamoWriteUnits, dynamoReadUnits, logBytes, workflows) comes from. Absent:
   * measured for this interval (the local runtime counts everything). 'estimated': priced with the cost model's
   * figures (per message of this interval's fast signals; per hour for the workflow lanes), provisional until the
   * next reconciliation. 'reconciled': measured over the longer window [from, end of the interval), which replaces
   * every estimate booked since `from`.
   */
  readonly slowUsage?:
    | { readonly kind: 'estimated' }
    | { readonly kind: 'reconciled'; readonly from: string };
}

/** The workflow lanes' usage in one interval (see {@link UsageSample.workflows}). */
export interface WorkflowUsage {
  /** Requests to the lanes' queues: sends, receives, deletes and idle polls. */
  readonly sqsRequests: number;
  readonly invocations: number;
  readonly gbSeconds: number;
}

/** The sample's items that price the slow usage (see {@link UsageSample.slowUsage}). */
export const SLOW_USAGE_ITEMS: readonly string[] = [
  'DynamoDB writes',
  'DynamoDB reads',
  'CloudWatch Logs',
  'workflow SQS requests',
  'workflow Lambda invocations',
  'workflow Lambda duration',
];

export interface MeteredLine {
  readonly item: string;
  readonly quantity: number;
  readonly usd: number;
  readonly fallback?: string;
}

export interface MeteredCost {
  readonly usd: number;
  /** The part of `usd` priced from the slow usage (DynamoDB units, log bytes and the workflow lanes). */
  readonly slowUsd: number;
  readonly lines: readonly MeteredLine[];
}

/**
 * Costs that accrue by the clock, not by use (storage, alarms, the cost guard's own meter), as a daily amount
 * from the cost statement.
 */
export interface FixedAccrual {
  readonly dailyUsd: number;
}

/** Prices one interval of usage with the same unit prices the estimate uses. */
export function priceUsage(sample: UsageSample, prices: RegionPrices, fixed: FixedAccrual): MeteredCost {
  const line = (item: string, quantity: number, price: PriceItem, per: number): MeteredLine => {
    const unit = prices[price];
    return {
      item,
      quantity,
      usd: (quantity / per) * unit.usd,
      ...(unit.fallback ? { fallback: unit.fallback } : {}),
    };
  };
  const lines = [
    line(
      'IoT connectivity',
      sample.connectedDevices * (sample.intervalSeconds / 60),
      'iot.connectionMinutesPerMillion',
      1e6,
    ),
    line('IoT rules triggered', sample.rulesTriggered, 'iot.rulesTriggeredPerMillion', 1e6),
    line('IoT rule actions', sample.rulesTriggered, 'iot.actionsPerMillion', 1e6),
    line('IoT messaging', sample.brokerMessages, 'iot.messagesPerMillion', 1e6),
    line('SQS requests', sample.sqsRequests, 'sqs.requestsPerMillion', 1e6),
    line('Lambda invocations', sample.lambdaInvocations, 'lambda.requestsPerMillion', 1e6),
    line('Lambda duration', sample.lambdaGbSeconds, 'lambda.arm64GbSecond', 1),
    line('DynamoDB writes', sample.dynamoWriteUnits, 'dynamodb.writeUnitsPerMillion', 1e6),
    line('DynamoDB reads', sample.dynamoReadUnits, 'dynamodb.readUnitsPerMillion', 1e6),
    line('API requests', sample.apiRequests, 'apigateway.restRequestsPerMillion', 1e6),
    line('CloudWatch Logs', sample.logBytes / 1e9, 'logs.ingestionPerGb', 1),
    line('workflow SQS requests', sample.workflows?.sqsRequests ?? 0, 'sqs.requestsPerMillion', 1e6),
    line('workflow Lambda invocations', sample.workflows?.invocations ?? 0, 'lambda.requestsPerMillion', 1e6),
    line('workflow Lambda duration', sample.workflows?.gbSeconds ?? 0, 'lambda.arm64GbSecond', 1),
    {
      item: 'storage, alarms and the cost guard (fixed accrual)',
      quantity: sample.intervalSeconds / 86_400,
      usd: fixed.dailyUsd * (sample.intervalSeconds / 86_400),
    },
  ].filter((l) => l.quantity > 0);
  return {
    usd: lines.reduce((sum, l) => sum + l.usd, 0),
    slowUsd: lines.filter((l) => SLOW_USAGE_ITEMS.includes(l.item)).reduce((sum, l) => sum + l.usd, 0),
    lines,
  };
}

/** Month-to-date spend as the meter keeps it. */
export interface SpendingLedger {
  /** `YYYY-MM`, UTC. */
  readonly month: string;
  readonly monthToDateUsd: number;
  /** Spend per hour over the last metered interval. */
  readonly burnRateUsdPerHour: number;
  /** Month-to-date plus the burn rate carried to the end of the month. */
  readonly forecastUsd: number;
  /** End of the last metered interval, ISO. */
  readonly meteredUntil: string;
  /**
   * End of the last reconciliation of the slow usage, ISO. @default meteredUntil (ledgers written before the
   * meter estimated slow usage measured it every run)
   */
  readonly reconciledUntil?: string;
  /** Estimated slow usage booked in `monthToDateUsd` since `reconciledUntil`, replaced at the next reconciliation. @default 0 */
  readonly provisionalUsd?: number;
}

/** How one interval is booked beyond its cost (see {@link recordInterval}). */
export interface IntervalBooking {
  /**
   * The interval's cost at its own rate, for the burn rate. Differs from the booked cost on a reconciliation run,
   * which also adds the difference for the hour before it. @default the booked cost
   */
  readonly rateUsd?: number;
  /** Estimates held in month to date after this interval. @default 0 */
  readonly provisionalUsd?: number;
  /** End of the last reconciliation after this interval. @default the interval's end */
  readonly reconciledUntil?: Date;
}

export function monthOf(at: Date): string {
  return at.toISOString().slice(0, 7);
}

function endOfMonth(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
}

/**
 * Adds one priced interval to the ledger. A new month starts a new ledger (the old one stays in the history).
 * The forecast carries the latest burn rate to the month's end: a runaway shows in the forecast within one run.
 */
export function recordInterval(
  ledger: SpendingLedger | undefined,
  costUsd: number,
  intervalEnd: Date,
  intervalSeconds: number,
  booking: IntervalBooking = {},
): SpendingLedger {
  const month = monthOf(intervalEnd);
  const carried = ledger && ledger.month === month ? ledger.monthToDateUsd : 0;
  const monthToDateUsd = carried + costUsd;
  const rateUsd = booking.rateUsd ?? costUsd;
  const burnRateUsdPerHour = intervalSeconds > 0 ? (rateUsd / intervalSeconds) * 3600 : 0;
  const hoursLeft = (endOfMonth(intervalEnd).getTime() - intervalEnd.getTime()) / 3_600_000;
  return {
    month,
    monthToDateUsd,
    burnRateUsdPerHour,
    forecastUsd: monthToDateUsd + burnRateUsdPerHour * hoursLeft,
    meteredUntil: intervalEnd.toISOString(),
    reconciledUntil: (booking.reconciledUntil ?? intervalEnd).toISOString(),
    provisionalUsd: booking.provisionalUsd ?? 0,
  };
}

/**
 * Replaces the estimates a closed month's ledger holds with the measured figure: a reconciliation on the first
 * run of a month measures the last hour of the month before, whose estimates that month's ledger holds. The month
 * is over, so its forecast is what it spent. `meteredUntil` moves to the reconciling run's end, so an overlapping
 * run (which read the old value) cannot apply the same correction twice.
 */
export function correctClosedMonth(
  ledger: SpendingLedger,
  correctionUsd: number,
  reconciledUntil: Date,
): SpendingLedger {
  const monthToDateUsd = ledger.monthToDateUsd + correctionUsd;
  return {
    ...ledger,
    monthToDateUsd,
    forecastUsd: monthToDateUsd,
    meteredUntil: reconciledUntil.toISOString(),
    reconciledUntil: reconciledUntil.toISOString(),
    provisionalUsd: 0,
  };
}
