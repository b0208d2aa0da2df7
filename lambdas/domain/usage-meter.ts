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
}

export interface MeteredLine {
  readonly item: string;
  readonly quantity: number;
  readonly usd: number;
  readonly fallback?: string;
}

export interface MeteredCost {
  readonly usd: number;
  readonly lines: readonly MeteredLine[];
}

/** Costs that accrue by the clock, not by use (storage, alarms), as a daily amount from the cost statement. */
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
    {
      item: 'storage and alarms (fixed accrual)',
      quantity: sample.intervalSeconds / 86_400,
      usd: fixed.dailyUsd * (sample.intervalSeconds / 86_400),
    },
  ].filter((l) => l.quantity > 0);
  return { usd: lines.reduce((sum, l) => sum + l.usd, 0), lines };
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
): SpendingLedger {
  const month = monthOf(intervalEnd);
  const carried = ledger && ledger.month === month ? ledger.monthToDateUsd : 0;
  const monthToDateUsd = carried + costUsd;
  const burnRateUsdPerHour = intervalSeconds > 0 ? (costUsd / intervalSeconds) * 3600 : 0;
  const hoursLeft = (endOfMonth(intervalEnd).getTime() - intervalEnd.getTime()) / 3_600_000;
  return {
    month,
    monthToDateUsd,
    burnRateUsdPerHour,
    forecastUsd: monthToDateUsd + burnRateUsdPerHour * hoursLeft,
    meteredUntil: intervalEnd.toISOString(),
  };
}
