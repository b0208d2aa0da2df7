import { describe, expect, it } from 'vitest';
import { pricesFor } from '../../lambdas/contracts/prices.js';
import {
  type CostControlPorts,
  type CostControlSettings,
  type CostRecords,
  FULL_SERVICE,
  meterAndGuard,
  type UsageSource,
} from '../../lambdas/domain/cost-control.js';
import {
  priceUsage,
  recordInterval,
  type SpendingLedger,
  type UsageSample,
} from '../../lambdas/domain/usage-meter.js';

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

  it("prices the workflow lanes' usage apart, as slow usage, at the SQS and Lambda prices", () => {
    const workflows = { sqsRequests: 1_000, invocations: 50, gbSeconds: 10 };
    const cost = priceUsage({ ...FIVE_MINUTES, workflows }, pricesFor('us-east-1'), { dailyUsd: 0 });
    const without = priceUsage(FIVE_MINUTES, pricesFor('us-east-1'), { dailyUsd: 0 });
    const lanes = cost.lines.filter((l) => l.item.startsWith('workflow '));
    expect(lanes.map((l) => [l.item, l.quantity])).toEqual([
      ['workflow SQS requests', 1_000],
      ['workflow Lambda invocations', 50],
      ['workflow Lambda duration', 10],
    ]);
    //   1,000 x $0.40/M + 50 x $0.20/M + 10 GB-s x $0.0000133334
    const lanesUsd = 0.0004 + 0.00001 + 0.000133334;
    expect(cost.usd - without.usd).toBeCloseTo(lanesUsd, 9);
    expect(cost.slowUsd - without.slowUsd).toBeCloseTo(lanesUsd, 9);
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

describe('meterAndGuard between and at reconciliations (us-east-1, hand-computed)', () => {
  const prices = pricesFor('us-east-1');
  const FAST_RUN: UsageSample = {
    intervalSeconds: 300,
    rulesTriggered: 350,
    brokerMessages: 0,
    connectedDevices: 1_000,
    sqsRequests: 570,
    lambdaInvocations: 15,
    lambdaGbSeconds: 1.3,
    apiRequests: 12,
    dynamoWriteUnits: 525,
    dynamoReadUnits: 437.5,
    logBytes: 7_950,
    slowUsage: { kind: 'estimated' },
  };
  //   connectivity 5,000 min x $0.08/M = 0.0004; rules + actions 350 x $0.30/M = 0.000105; SQS 570 x $0.40/M =
  //   0.000228; Lambda 15 x $0.20/M + 1.3 GB-s x $0.0000133334 = 0.000003 + 0.00001733342; API 12 x $3.50/M =
  //   0.000042; fixed $1.44/day x 300 s = 0.005
  const FAST_USD = 0.0004 + 0.000105 + 0.000228 + 0.000003 + 0.00001733342 + 0.000042 + 0.005;
  //   DynamoDB 525 WRU x $0.625/M + 437.5 RRU x $0.125/M + logs 7,950 B x $0.50/GB
  const ESTIMATED_SLOW_USD = 0.000328125 + 0.0000546875 + 0.000003975;
  //   Measured over the hour: 60,000 WRU x $0.625/M + 40,000 RRU x $0.125/M + 1 MB x $0.50/GB
  const MEASURED: Pick<UsageSample, 'dynamoWriteUnits' | 'dynamoReadUnits' | 'logBytes'> = {
    dynamoWriteUnits: 60_000,
    dynamoReadUnits: 40_000,
    logBytes: 1_000_000,
  };
  const MEASURED_USD = 0.0375 + 0.005 + 0.0005;

  class Records implements CostRecords {
    readonly ledgers = new Map<string, SpendingLedger>();
    latest: SpendingLedger | undefined;
    async loadLedger() {
      return this.latest;
    }
    async saveLedger(ledger: SpendingLedger) {
      this.ledgers.set(ledger.month, ledger);
      if (!this.latest || ledger.month >= this.latest.month) this.latest = ledger;
    }
    async loadGuardState() {
      return undefined;
    }
    async saveGuardState() {}
    async loadDegradeSettings() {
      return FULL_SERVICE;
    }
    async saveDegradeSettings() {}
    async appendAudit() {}
    async recentAudit() {
      return [];
    }
  }

  function meter(fast: UsageSample = FAST_RUN, measured: Partial<UsageSample> = MEASURED) {
    const records = new Records();
    const reads: { start: string; end: string; reconcileFrom?: string }[] = [];
    const usage: UsageSource = {
      read: async (start, end, options) => {
        reads.push({
          start: start.toISOString(),
          end: end.toISOString(),
          ...(options?.reconcileFrom ? { reconcileFrom: options.reconcileFrom.toISOString() } : {}),
        });
        return options?.reconcileFrom
          ? {
              ...fast,
              ...measured,
              slowUsage: { kind: 'reconciled', from: options.reconcileFrom.toISOString() },
            }
          : fast;
      },
    };
    const ports: CostControlPorts = {
      usage,
      records,
      lanes: {
        disableRule: async () => {},
        enableRule: async () => {},
        pauseConsumer: async () => {},
        resumeConsumer: async () => {},
      },
      notifier: { notify: async () => {} },
    };
    const settings: CostControlSettings = {
      ceilingUsd: Number.POSITIVE_INFINITY,
      prices,
      fixed: { dailyUsd: 1.44 },
      councilName: 'Test',
    };
    const run = (iso: string) => meterAndGuard(ports, settings, new Date(iso), 300);
    return { records, reads, run };
  }

  it('prices a fast run with the estimated slow usage and holds that estimate as provisional', async () => {
    const { reads, run } = meter();
    const { ledger } = await run('2026-11-27T12:10:00Z');
    expect(reads).toEqual([{ start: '2026-11-27T12:05:00.000Z', end: '2026-11-27T12:10:00.000Z' }]);
    expect(ledger.monthToDateUsd).toBeCloseTo(FAST_USD + ESTIMATED_SLOW_USD, 12);
    expect(ledger.provisionalUsd).toBeCloseTo(ESTIMATED_SLOW_USD, 12);
    expect(ledger.reconciledUntil).toBe('2026-11-27T12:05:00.000Z');
  });

  it('replaces the hour of estimates with the measured figure on the run that crosses the hour, consistently', async () => {
    const { reads, run } = meter();
    // 12:05 .. 13:00 in eleven 5-minute runs; the one ending at 13:00 crosses the hour boundary.
    let ledger: SpendingLedger | undefined;
    for (let minute = 10; minute <= 60; minute += 5) {
      const at = new Date(Date.parse('2026-11-27T12:00:00Z') + minute * 60_000);
      ledger = (await run(at.toISOString())).ledger;
      if (minute === 55) {
        expect(ledger.provisionalUsd).toBeCloseTo(10 * ESTIMATED_SLOW_USD, 12);
        expect(ledger.monthToDateUsd).toBeCloseTo(10 * (FAST_USD + ESTIMATED_SLOW_USD), 12);
      }
    }
    expect(reads.filter((r) => r.reconcileFrom)).toEqual([
      {
        start: '2026-11-27T12:55:00.000Z',
        end: '2026-11-27T13:00:00.000Z',
        reconcileFrom: '2026-11-27T12:05:00.000Z',
      },
    ]);
    // Eleven runs of fast usage and fixed accrual, plus the measured slow usage of 12:05 .. 13:00; no estimate left.
    expect(ledger?.monthToDateUsd).toBeCloseTo(11 * FAST_USD + MEASURED_USD, 12);
    expect(ledger?.provisionalUsd).toBe(0);
    expect(ledger?.reconciledUntil).toBe('2026-11-27T13:00:00.000Z');
    // The burn rate takes the measured hour at its rate (5 of its 55 minutes), not the correction.
    expect(ledger?.burnRateUsdPerHour).toBeCloseTo((FAST_USD + (MEASURED_USD * 5) / 55) * 12, 12);
    // The next run estimates again, from the new reconciliation.
    const next = (await run('2026-11-27T13:05:00Z')).ledger;
    expect(next.monthToDateUsd).toBeCloseTo(12 * FAST_USD + MEASURED_USD + ESTIMATED_SLOW_USD, 12);
    expect(next.reconciledUntil).toBe('2026-11-27T13:00:00.000Z');
  });

  it("books a month's last reconciliation in that month, and starts the new month with its own usage", async () => {
    const { records, run } = meter();
    await run('2026-11-30T23:55:00Z');
    const { ledger } = await run('2026-12-01T00:00:00Z');
    expect(records.ledgers.get('2026-11')?.monthToDateUsd).toBeCloseTo(FAST_USD + MEASURED_USD, 12);
    expect(records.ledgers.get('2026-11')?.provisionalUsd).toBe(0);
    expect(ledger).toMatchObject({ month: '2026-12', provisionalUsd: 0 });
    expect(ledger.monthToDateUsd).toBeCloseTo(FAST_USD, 12);
  });

  it("prices the workflow lanes as slow usage: each run's hourly estimate held, the reconciliation's measure booked once", async () => {
    //   Estimated each 5 minutes (36 invocations, 6 GB-s and 1,800 requests an hour): 3 x $0.20/M + 0.5 GB-s x
    //   $0.0000133334 + 150 x $0.40/M
    const WORKFLOW_ESTIMATE_USD = 0.0000006 + 0.0000066667 + 0.00006;
    //   Measured over the hour: 34 invocations x $0.20/M + 2 GB-s x $0.0000133334 + 1,830 requests x $0.40/M
    const WORKFLOW_MEASURED_USD = 0.0000068 + 0.0000266668 + 0.000732;
    const { reads, run } = meter(
      { ...FAST_RUN, workflows: { sqsRequests: 150, invocations: 3, gbSeconds: 0.5 } },
      { ...MEASURED, workflows: { sqsRequests: 1_830, invocations: 34, gbSeconds: 2 } },
    );
    let ledger: SpendingLedger | undefined;
    for (let minute = 10; minute <= 60; minute += 5) {
      const at = new Date(Date.parse('2026-11-27T12:00:00Z') + minute * 60_000);
      ledger = (await run(at.toISOString())).ledger;
      if (minute === 55) {
        // Ten estimates booked and held as provisional, the lanes' with the DynamoDB and log estimates.
        expect(ledger.provisionalUsd).toBeCloseTo(10 * (ESTIMATED_SLOW_USD + WORKFLOW_ESTIMATE_USD), 12);
        expect(ledger.monthToDateUsd).toBeCloseTo(
          10 * (FAST_USD + ESTIMATED_SLOW_USD + WORKFLOW_ESTIMATE_USD),
          12,
        );
      }
    }
    expect(reads.filter((r) => r.reconcileFrom)).toHaveLength(1);
    // Every estimate replaced by the measured hour, the lanes' included: nothing counted twice, nothing dropped.
    expect(ledger?.monthToDateUsd).toBeCloseTo(11 * FAST_USD + MEASURED_USD + WORKFLOW_MEASURED_USD, 12);
    expect(ledger?.provisionalUsd).toBe(0);
  });
});
