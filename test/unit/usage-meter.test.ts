import { describe, expect, it } from 'vitest';
import { pricesFor } from '../../lambdas/contracts/prices.js';
import { priceUsage, recordInterval, type UsageSample } from '../../lambdas/domain/usage-meter.js';

const FIVE_MINUTES: UsageSample = {
  intervalSeconds: 300,
  rulesTriggered: 3_000,
  brokerMessages: 0,
  connectedDevices: 1_000,
  sqsRequests: 3_700,
  lambdaInvocations: 360,
  lambdaGbSeconds: 25,
  dynamoWriteUnits: 5_400,
  dynamoReadUnits: 1_000,
  apiRequests: 70,
  logBytes: 500_000,
};

describe('priceUsage', () => {
  it('prices five minutes of a 1,000-device city as computed by hand (us-east-1)', () => {
    // By hand, us-east-1 list prices:
    //   connectivity 1,000 x 5 min = 5,000 min x $0.08/M      = 0.000400
    //   rules 3,000 x $0.15/M + actions 3,000 x $0.15/M        = 0.000900
    //   SQS 3,700 x $0.40/M                                    = 0.001480
    //   Lambda 360 x $0.20/M + 25 GB-s x $0.0000133334         = 0.000072 + 0.000333335
    //   DynamoDB 5,400 WRU x $0.625/M + 1,000 RRU x $0.125/M   = 0.003375 + 0.000125
    //   API 70 x $3.50/M                                       = 0.000245
    //   Logs 0.0005 GB x $0.50                                 = 0.000250
    //   fixed accrual $1.44/day x 300/86,400                   = 0.005
    const expected =
      0.0004 + 0.0009 + 0.00148 + 0.000072 + 0.000333335 + 0.003375 + 0.000125 + 0.000245 + 0.00025 + 0.005;
    const cost = priceUsage(FIVE_MINUTES, pricesFor('us-east-1'), { dailyUsd: 1.44 });
    expect(cost.usd).toBeCloseTo(expected, 9);
    expect(cost.lines.find((l) => l.item === 'IoT messaging')).toBeUndefined();
  });

  it('carries the fallback note of unverified regional prices', () => {
    const cost = priceUsage(FIVE_MINUTES, pricesFor('eu-west-2'), { dailyUsd: 0 });
    expect(cost.lines.find((l) => l.item === 'DynamoDB writes')?.fallback).toMatch(/not verified/);
  });
});

describe('recordInterval', () => {
  it('adds up month to date and forecasts from the latest burn rate', () => {
    const first = recordInterval(undefined, 1, new Date('2026-11-30T12:00:00Z'), 300);
    const second = recordInterval(first, 2, new Date('2026-11-30T12:05:00Z'), 300);
    expect(second.monthToDateUsd).toBe(3);
    expect(second.burnRateUsdPerHour).toBe(24);
    // 11 h 55 min left in November at 24 USD an hour.
    expect(second.forecastUsd).toBeCloseTo(3 + 24 * (11 + 55 / 60), 9);
  });

  it('starts again at the first interval of a new month', () => {
    const november = recordInterval(undefined, 40, new Date('2026-11-30T23:55:00Z'), 300);
    const december = recordInterval(november, 0.5, new Date('2026-12-01T00:00:00Z'), 300);
    expect(december).toMatchObject({ month: '2026-12', monthToDateUsd: 0.5 });
  });
});
