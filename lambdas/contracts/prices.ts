/**
 * AWS unit prices the platform consumes, per region, each with its source and the date it was read.
 * One table for the cost CLI, the synth-time statement, the usage meter and the local runtime.
 *
 * Prices are list prices in US dollars without free tier. Where a region's price was not verified, the entry
 * says so (`fallback`) and carries the us-east-1 price raised by {@link UNVERIFIED_REGION_UPLIFT}, so an
 * estimate errs high; every output that uses such a price shows the fallback.
 */
export const PRICE_ITEMS = [
  'iot.connectionMinutesPerMillion',
  'iot.messagesPerMillion',
  'iot.rulesTriggeredPerMillion',
  'iot.actionsPerMillion',
  'sqs.requestsPerMillion',
  'lambda.requestsPerMillion',
  'lambda.arm64GbSecond',
  'lambda.x86GbSecond',
  'dynamodb.writeUnitsPerMillion',
  'dynamodb.readUnitsPerMillion',
  'dynamodb.storageGbMonth',
  'timestream.writesPerGb',
  'timestream.memoryGbHour',
  'timestream.magneticGbMonth',
  'timestream.queryTcuHour',
  'apigateway.restRequestsPerMillion',
  'logs.ingestionPerGb',
  'logs.storageGbMonth',
  'cloudwatch.alarmMonth',
  'cloudwatch.metricsRequestedPerThousand',
  'scheduler.invocationsPerMillion',
  'eventbridge.customEventsPerMillion',
  'sns.publishesPerMillion',
  's3.storageGbMonth',
] as const;
export type PriceItem = (typeof PRICE_ITEMS)[number];

export interface UnitPrice {
  readonly usd: number;
  /** Where the figure comes from. */
  readonly source: string;
  /** When it was read (ISO date). */
  readonly checked: string;
  /** Set when this region's price was not verified and a rule filled it in. */
  readonly fallback?: string;
}

export type RegionPrices = Readonly<Record<PriceItem, UnitPrice>>;

/** Unverified regional prices are taken as us-east-1 plus this share: London has run 0-20% above. */
export const UNVERIFIED_REGION_UPLIFT = 0.2;

const PL = 'AWS Price List offer file';
const AWS_DOCS = 'AWS documentation';
const THIRD_PARTY = 'third-party transcription of the AWS price page';

const US_EAST_1: RegionPrices = {
  'iot.connectionMinutesPerMillion': { usd: 0.08, source: THIRD_PARTY, checked: '2026-11-01' },
  'iot.messagesPerMillion': { usd: 1.0, source: THIRD_PARTY, checked: '2026-11-01' },
  'iot.rulesTriggeredPerMillion': { usd: 0.15, source: THIRD_PARTY, checked: '2026-11-01' },
  'iot.actionsPerMillion': { usd: 0.15, source: THIRD_PARTY, checked: '2026-11-01' },
  'sqs.requestsPerMillion': { usd: 0.4, source: `${PL} AWSQueueService 2026-09-04`, checked: '2026-11-01' },
  'lambda.requestsPerMillion': { usd: 0.2, source: `${PL} AWSLambda 2026-08-31`, checked: '2026-11-01' },
  'lambda.arm64GbSecond': { usd: 0.0000133334, source: `${PL} AWSLambda 2026-08-31`, checked: '2026-11-01' },
  'lambda.x86GbSecond': { usd: 0.0000166667, source: `${PL} AWSLambda 2026-08-31`, checked: '2026-11-01' },
  'dynamodb.writeUnitsPerMillion': { usd: 0.625, source: THIRD_PARTY, checked: '2026-10-04' },
  'dynamodb.readUnitsPerMillion': { usd: 0.125, source: THIRD_PARTY, checked: '2026-10-04' },
  'dynamodb.storageGbMonth': { usd: 0.25, source: THIRD_PARTY, checked: '2026-10-04' },
  'timestream.writesPerGb': { usd: 0.5, source: `${PL} AmazonTimestream 2026-08-31`, checked: '2026-11-01' },
  'timestream.memoryGbHour': {
    usd: 0.036,
    source: `${PL} AmazonTimestream 2026-08-31`,
    checked: '2026-11-01',
  },
  'timestream.magneticGbMonth': {
    usd: 0.03,
    source: `${PL} AmazonTimestream 2026-08-31`,
    checked: '2026-11-01',
  },
  // Billed per TCU-hour, per second with a 30-second minimum, and a query needs at least 4 TCUs.
  'timestream.queryTcuHour': {
    usd: 0.518,
    source: `${PL} AmazonTimestream 2026-08-31`,
    checked: '2026-11-01',
  },
  'apigateway.restRequestsPerMillion': { usd: 3.5, source: THIRD_PARTY, checked: '2026-11-01' },
  'logs.ingestionPerGb': { usd: 0.5, source: THIRD_PARTY, checked: '2026-11-01' },
  'logs.storageGbMonth': { usd: 0.03, source: THIRD_PARTY, checked: '2026-11-01' },
  'cloudwatch.alarmMonth': { usd: 0.1, source: `${AWS_DOCS} CloudWatch pricing`, checked: '2026-11-01' },
  'cloudwatch.metricsRequestedPerThousand': { usd: 0.01, source: THIRD_PARTY, checked: '2026-11-01' },
  'scheduler.invocationsPerMillion': { usd: 1.0, source: THIRD_PARTY, checked: '2026-11-01' },
  // Events put on a custom bus, per 64 KB chunk; delivery to a Lambda target in the same account is not charged.
  'eventbridge.customEventsPerMillion': { usd: 1.0, source: THIRD_PARTY, checked: '2026-11-01' },
  'sns.publishesPerMillion': { usd: 0.5, source: THIRD_PARTY, checked: '2026-11-01' },
  's3.storageGbMonth': { usd: 0.023, source: PL, checked: '2026-11-01' },
};

/** Prices verified for a region; anything absent falls back to us-east-1 plus the uplift. */
const VERIFIED: Record<string, Partial<Record<PriceItem, Omit<UnitPrice, 'fallback'>>>> = {
  'us-east-1': US_EAST_1,
  'eu-west-1': {
    'iot.connectionMinutesPerMillion': {
      usd: 0.08,
      source: `${AWS_DOCS} IoT Core pricing example (Ireland)`,
      checked: '2026-11-01',
    },
    'sqs.requestsPerMillion': US_EAST_1['sqs.requestsPerMillion'],
    'lambda.requestsPerMillion': US_EAST_1['lambda.requestsPerMillion'],
    'lambda.arm64GbSecond': US_EAST_1['lambda.arm64GbSecond'],
    'lambda.x86GbSecond': US_EAST_1['lambda.x86GbSecond'],
  },
  'eu-west-2': {
    'sqs.requestsPerMillion': {
      usd: 0.4,
      source: `${PL} AWSQueueService eu-west-2 2026-09-04`,
      checked: '2026-11-01',
    },
    'lambda.requestsPerMillion': {
      usd: 0.2,
      source: `${PL} AWSLambda eu-west-2 2026-10-01`,
      checked: '2026-11-01',
    },
    'lambda.arm64GbSecond': {
      usd: 0.0000133334,
      source: `${PL} AWSLambda eu-west-2 2026-10-01`,
      checked: '2026-11-01',
    },
    'lambda.x86GbSecond': {
      usd: 0.0000166667,
      source: `${PL} AWSLambda eu-west-2 2026-10-01`,
      checked: '2026-11-01',
    },
    'apigateway.restRequestsPerMillion': {
      usd: 3.5,
      source: `${PL} AmazonApiGateway eu-west-2 2026-08-31`,
      checked: '2026-11-01',
    },
    'logs.ingestionPerGb': {
      usd: 0.5985,
      source: `${PL} AmazonCloudWatch eu-west-2 2026-09-22`,
      checked: '2026-11-01',
    },
    'logs.storageGbMonth': {
      usd: 0.0315,
      source: `${PL} AmazonCloudWatch eu-west-2 2026-09-22`,
      checked: '2026-11-01',
    },
    'cloudwatch.alarmMonth': {
      usd: 0.1,
      source: `${PL} AmazonCloudWatch eu-west-2 2026-09-22`,
      checked: '2026-11-01',
    },
    'scheduler.invocationsPerMillion': {
      usd: 1.15,
      source: `${PL} AmazonEventBridge eu-west-2 2026-09-24`,
      checked: '2026-11-01',
    },
    's3.storageGbMonth': { usd: 0.024, source: `${PL} AmazonS3 eu-west-2`, checked: '2026-11-01' },
  },
};

/** The full price table for a region: verified prices where known, marked fallbacks elsewhere. */
export function pricesFor(region: string): RegionPrices {
  const verified = VERIFIED[region] ?? {};
  const entries = PRICE_ITEMS.map((item): [PriceItem, UnitPrice] => {
    const known = verified[item];
    if (known) return [item, known];
    const base = US_EAST_1[item];
    return [
      item,
      {
        usd: base.usd * (1 + UNVERIFIED_REGION_UPLIFT),
        source: base.source,
        checked: base.checked,
        fallback: `${region} price not verified: us-east-1 price +${UNVERIFIED_REGION_UPLIFT * 100}%`,
      },
    ];
  });
  return Object.fromEntries(entries) as RegionPrices;
}
