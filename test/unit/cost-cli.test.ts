import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseCostArguments, parseInterval, renderCostReport, UsageError } from '../../bin/cost.js';
import { pricesFor, UNVERIFIED_REGION_UPLIFT } from '../../lambdas/contracts/prices.js';
import {
  costGuardUsd,
  estimateNaive,
  estimatePlatform,
  messagesPerMonth,
} from '../../lambdas/domain/cost-model.js';
import { serviceLoads } from '../../lib/cost/platform-estimate.js';

const run = promisify(execFile);
const profile = {
  devices: 1000,
  messageIntervalSeconds: 300,
  apiRequestsPerDay: 0,
  retentionDays: 400,
  telemetryStore: 'dynamodb' as const,
};

describe('price tables', () => {
  it('marks every unverified regional price as a fallback and raises it', () => {
    const london = pricesFor('eu-west-2');
    const virginia = pricesFor('us-east-1');
    expect(london['dynamodb.writeUnitsPerMillion'].fallback).toMatch(/eu-west-2 price not verified/);
    expect(london['dynamodb.writeUnitsPerMillion'].usd).toBeCloseTo(
      virginia['dynamodb.writeUnitsPerMillion'].usd * (1 + UNVERIFIED_REGION_UPLIFT),
    );
    expect(london['logs.ingestionPerGb']).toMatchObject({ usd: 0.5985 });
    expect(london['logs.ingestionPerGb'].fallback).toBeUndefined();
    expect(
      Object.values(virginia).every((price) => price.fallback === undefined && price.source && price.checked),
    ).toBe(true);
  });

  it('serves an unknown region wholly from the fallback rule', () => {
    expect(Object.values(pricesFor('ap-southeast-9')).every((price) => price.fallback)).toBe(true);
  });
});

describe('cost model', () => {
  it('counts a month of 5-minute readings from 1,000 devices', () => {
    expect(messagesPerMonth(profile)).toBe(8_640_000);
  });

  it('prices IoT connectivity by hand: 1,000 devices x 43,200 minutes x $0.08 per million', () => {
    const line = estimatePlatform(profile, pricesFor('us-east-1')).lines.find(
      (l) => l.item === 'connectivity',
    );
    expect(line?.monthlyUsd).toBeCloseTo((1000 * 43_200 * 0.08) / 1e6, 6);
  });

  it('charges the naive design broker messaging and a function invocation per message; the platform neither', () => {
    const prices = pricesFor('us-east-1');
    const naive = estimateNaive(profile, prices);
    const platform = estimatePlatform(profile, prices);
    expect(naive.lines.find((l) => l.item === 'messaging (broker topics)')?.monthlyUsd).toBeCloseTo(8.64, 6);
    expect(platform.lines.some((l) => l.item.startsWith('messaging'))).toBe(false);
    expect(naive.lines.find((l) => l.item.startsWith('invocations'))?.quantity).toBe(8_640_000);
    expect(platform.lines.find((l) => l.item === 'enrichment invocations')?.quantity).toBeLessThan(
      8_640_000 / 5,
    );
  });

  // The cost guard's own meter is priced in (a fixed cost, so the small city carries it most), and both designs run
  // every service blueprint on the demo town's fleet mix, as cdk.json deploys them. The platform's two workflow
  // lanes add fixed costs too (Lambda's idle polls of two queues and their four alarms; the meter reads them
  // hourly), which the 1,000-device city feels most.
  it.each([
    [1000, 0.6],
    [10_000, 0.6],
  ])(
    'at %i devices every 5 minutes in London, the platform with every service costs at most %s of the naive design',
    (devices, share) => {
      const prices = pricesFor('eu-west-2');
      const london = { ...profile, devices, apiRequestsPerDay: 10_000, services: serviceLoads() };
      expect(
        estimatePlatform(london, prices).totalUsd / estimateNaive(london, prices).totalUsd,
      ).toBeLessThanOrEqual(share);
    },
  );

  it("shows the cost guard's own lines: GetMetricData from the metric counts, schedule, functions", () => {
    const prices = pricesFor('eu-west-2');
    const platform = estimatePlatform({ ...profile, devices: 1000 }, prices);
    const guard = platform.lines.filter((l) => l.costGuard);
    // Without services: 2 rules, 2 queues, 1 API, 3 functions x 2 a run; 11 tables and 6 indexes x 2, 4 logs hourly.
    expect(guard.map((l) => l.item)).toEqual(
      expect.arrayContaining([
        'cost guard: GetMetricData (11 metrics a run, 38 more hourly)',
        'cost guard: meter schedule',
        'cost guard: meter and budget-alert invocations',
      ]),
    );
    // 11 x 8,640 + 38 x 720 = 122,400 metrics at $0.01 a thousand, +20% unverified in London.
    expect(guard.find((l) => l.unit === 'metrics')?.monthlyUsd).toBeCloseTo(122.4 * 0.01 * 1.2, 9);
    expect(costGuardUsd(platform)).toBeGreaterThan(1.45);
    expect(costGuardUsd(platform)).toBeLessThan(1.55);
    expect(renderCostReport(parseCostArguments(['--devices', '1000']))).toMatch(
      /of which the cost guard itself/,
    );
  });

  it('totals are the sum of the lines', () => {
    const estimate = estimatePlatform(profile, pricesFor('eu-west-1'));
    expect(estimate.totalUsd).toBeCloseTo(
      estimate.lines.reduce((sum, l) => sum + l.monthlyUsd, 0),
      9,
    );
    expect(estimate.perDeviceUsd).toBeCloseTo(estimate.totalUsd / 1000, 9);
  });
});

describe('cost CLI arguments', () => {
  it.each([
    ['30s', 30],
    ['5m', 300],
    ['1h', 3600],
    ['600', 600],
  ])('reads the interval %s as %i seconds', (text, seconds) => {
    expect(parseInterval(text)).toBe(seconds);
  });

  it.each([
    [['--interval', '5m'], /--devices is required/],
    [['--devices', '-4'], /--devices '-4' must be a whole number/],
    [['--devices', '10', '--interval', 'often'], /--interval 'often' is not a duration/],
    [['--devices', '10', '--interval', '2s'], /between 10s and 24h/],
    [
      ['--devices', '10', '--telemetry-store', 'influx'],
      /--telemetry-store 'influx' is not one of: dynamodb, timestream/,
    ],
    [['--devices', '10', '--region', 'london'], /--region 'london' is not an AWS region code/],
    [['--devices', '10', '--colour', 'red'], /unknown argument '--colour'/],
    [['--devices'], /--devices needs a value/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCostArguments(argv)).toThrow(UsageError);
    expect(() => parseCostArguments(argv)).toThrow(message);
  });

  it('prints the JSON shape the docs promise', () => {
    const report = JSON.parse(
      renderCostReport({ ...parseCostArguments(['--devices', '1000', '--region', 'eu-west-2']), json: true }),
    );
    expect(Object.keys(report)).toEqual(['platform', 'naive', 'assumptions']);
    expect(report.platform.totalUsd).toBeGreaterThan(0);
    expect(report.platform.lines[0]).toMatchObject({
      service: 'IoT Core',
      item: 'connectivity',
      fallback: expect.stringMatching(/not verified/),
    });
    expect(report.assumptions).toMatchObject({
      devices: 1000,
      messageIntervalSeconds: 300,
      region: 'eu-west-2',
    });
  });

  it('exits with code 2 and a message on bad arguments', async () => {
    const failure = await run('npx', ['tsx', 'bin/cost.ts', '--devices', 'many']).catch((error) => error);
    expect(failure.code).toBe(2);
    expect(failure.stderr).toMatch(/cost: --devices 'many' must be a whole number/);
  });
});
