import { describe, expect, it } from 'vitest';
import { parseCostArguments, renderCostReport, UsageError } from '../../bin/cost.js';
import { pricesFor } from '../../lambdas/contracts/prices.js';
import {
  type CostProfile,
  DEFAULT_FLEET_MIX,
  DEMO_TOWN_DEVICES,
  dailyFixedAccrualUsd,
  estimateNaive,
  estimatePlatform,
  fleetMixOf,
  type ServiceLoad,
  serviceVolumes,
  slowUsageRates,
  WORKFLOW_RUNS_PER_MONTH,
} from '../../lambdas/domain/cost-model.js';
import { serviceLoads } from '../../lib/cost/platform-estimate.js';
import { demoCityDevices } from '../../local/demo-city.js';
import { BLUEPRINT_NAMES } from '../../services/catalogue.js';

const base: CostProfile = {
  devices: 1000,
  messageIntervalSeconds: 300,
  apiRequestsPerDay: 10_000,
  retentionDays: 400,
  telemetryStore: 'dynamodb',
};
const prices = pricesFor('us-east-1');

/** A made-up service with round numbers, so every line can be checked by hand. */
const GAUGES: ServiceLoad = {
  name: 'gauges',
  essential: true,
  detects: true,
  scheduled: true,
  cost: {
    watches: ['water-level'],
    stateWritesPerReading: 0.1,
    historyReadUnitsPerReading: 2,
    eventsPerDevicePerDay: 4,
    writeUnitsPerEvent: 3,
    readUnitsPerEvent: 2,
    readUnitsPerDevicePerScheduledRun: 1,
  },
};
/** Half the fleet is gauges. */
const HALF_GAUGES = fleetMixOf({ 'water-level': 1, 'parking-spot': 1 });

const line = (estimate: { lines: readonly { item: string; quantity: number }[] }, item: string) =>
  estimate.lines.find((l) => l.item === item);

describe('the default fleet mix', () => {
  it('is the demo town, device for device', () => {
    const counts: Record<string, number> = {};
    for (const { device } of demoCityDevices('any seed')) {
      counts[device.deviceType] = (counts[device.deviceType] ?? 0) + 1;
    }
    expect(counts).toEqual(DEMO_TOWN_DEVICES);
    expect(DEFAULT_FLEET_MIX['parking-spot']).toBeCloseTo(120 / 183, 12);
    expect(Object.values(DEFAULT_FLEET_MIX).reduce((sum, share) => sum + share, 0)).toBeCloseTo(1, 12);
  });

  it('refuses a mix without any device', () => {
    expect(() => fleetMixOf({ 'parking-spot': 0 })).toThrow(/at least one device type/);
  });
});

describe('service volumes, by hand', () => {
  // 1,000 devices every 300 s: 8,640,000 readings a month, half of them from 500 gauges.
  const v = serviceVolumes({ ...base, services: [GAUGES], fleetMix: HALF_GAUGES });

  it('counts state writes and history on the watched readings only', () => {
    expect(v.detectedReadings).toBe(4_320_000);
    expect(v.stateWrites).toBeCloseTo(432_000, 6);
    expect(v.historyReadUnits).toBeCloseTo(8_640_000, 6);
  });

  it('counts events per watched device and day, and a workflow run per event and per scheduled run', () => {
    expect(v.events).toBeCloseTo(500 * 4 * 30, 6);
    expect(WORKFLOW_RUNS_PER_MONTH).toBe(8_640);
    expect(v.workflowInvocations).toBeCloseTo(60_000 + 8_640, 6);
  });

  it('counts workflow units per event, and the sweep per watched device per run', () => {
    expect(v.workflowWriteUnits).toBeCloseTo(60_000 * 3, 6);
    expect(v.workflowReadUnits).toBeCloseTo(60_000 * 2 + 8_640 * 500, 6);
  });

  it('has no volumes without services', () => {
    expect(serviceVolumes(base).workflowInvocations).toBe(0);
    expect(estimatePlatform(base, prices).lines.some((l) => l.item.startsWith('workflow'))).toBe(false);
  });

  it('follows the fleet mix: a fleet without gauges costs the gauge service nothing per reading', () => {
    const noGauges = serviceVolumes({
      ...base,
      services: [GAUGES],
      fleetMix: fleetMixOf({ 'parking-spot': 1 }),
    });
    expect(noGauges.events).toBe(0);
    expect(noGauges.stateWrites).toBe(0);
    expect(noGauges.detectedReadings).toBe(0);
    // The schedule still runs.
    expect(noGauges.workflowInvocations).toBe(8_640);
  });
});

describe('service lines in the estimates', () => {
  const profile = { ...base, services: [GAUGES], fleetMix: HALF_GAUGES };
  const platform = estimatePlatform(profile, prices);
  const naive = estimateNaive(profile, prices);

  it('prices events on the custom bus at the EventBridge price per million', () => {
    const events = platform.lines.find((l) => l.item === 'domain events (custom bus)');
    expect(events?.quantity).toBeCloseTo(60_000, 6);
    expect(events?.monthlyUsd).toBeCloseTo(0.06, 9);
    expect(prices['eventbridge.customEventsPerMillion'].source).toMatch(/transcription/);
  });

  it('writes detector state on change in the platform, on every watched reading in the naive design', () => {
    expect(line(platform, 'service detector state writes (on change)')?.quantity).toBeCloseTo(432_000, 6);
    expect(line(naive, 'service detector state writes (every reading)')?.quantity).toBeCloseTo(4_320_000, 6);
  });

  it('runs the same events, workflows and sweeps in both designs', () => {
    for (const item of [
      'domain events (custom bus)',
      'workflow invocations',
      'workflow writes (jobs, alerts, sites)',
    ]) {
      expect(line(naive, item)?.quantity, item).toBeCloseTo(line(platform, item)?.quantity ?? -1, 6);
    }
  });

  it('reads history from hourly buckets in the platform, items per reading (406 / 110 bytes) in the naive design', () => {
    const bucketed = line(platform, 'service history reads (hourly buckets)')?.quantity ?? 0;
    expect(bucketed).toBeCloseTo(8_640_000, 6);
    expect(line(naive, 'service history reads (item per reading)')?.quantity).toBeCloseTo(
      (bucketed * 406) / 110,
      3,
    );
  });

  it('adds a dead-letter and a backlog alarm per workflow lane to the platform, not per service', () => {
    expect(line(platform, 'workflow lane alarms (dead letters, backlog)')?.quantity).toBe(2);
    const everything = estimatePlatform({ ...base, services: serviceLoads(BLUEPRINT_NAMES) }, prices);
    expect(BLUEPRINT_NAMES).toHaveLength(6);
    expect(line(everything, 'workflow lane alarms (dead letters, backlog)')?.quantity).toBe(4);
  });

  it("prices each workflow lane queue's requests: a send per event, a receive and a delete per batch, idle polls", () => {
    // 60,000 events a month are 0.023 a second: each batching window of 1 s holds one, so a batch each.
    const v = serviceVolumes(profile);
    expect(v.eventBatches).toBeCloseTo(60_000, 6);
    expect(v.workflowQueueRequests).toBeCloseTo(60_000 * 3 + 5 * 3 * 43_200, 6);
    const sqs = line(platform, 'workflow lane queues: send, receive, delete, idle polls');
    expect(sqs).toMatchObject({ quantity: v.workflowQueueRequests, unitPriceUsd: 0.4 });
    // Not clock-driven: the meter reads what is sent to the workflow lanes' queues (hourly).
    expect(platform.lines.find((l) => l.item.startsWith('workflow lane queues'))?.overTime).toBeUndefined();
    expect(line(naive, 'workflow lane queues: send, receive, delete, idle polls')).toBeUndefined();
  });

  it('batches busy queues: 36 events a second fill a 1-second window up to the batch of 10', () => {
    const busy: ServiceLoad = { ...GAUGES, cost: { ...GAUGES.cost, eventsPerDevicePerDay: 6_220.8 } };
    const v = serviceVolumes({ ...profile, services: [busy] });
    // 500 gauges x 6,220.8 events a day = 36 a second: 93,312,000 a month in batches of 10.
    expect(v.events).toBeCloseTo(93_312_000, 3);
    expect(v.eventBatches).toBeCloseTo(9_331_200, 3);
    expect(v.workflowInvocations).toBeCloseTo(9_331_200 + 8_640, 3);
    expect(serviceVolumes({ ...profile, services: [busy] }, 'naive').workflowInvocations).toBeCloseTo(
      93_312_000 + 8_640,
      3,
    );
  });

  it('accrues the clock-driven and unmetered lines by the day (events, schedules, notices, alarms)', () => {
    const without = dailyFixedAccrualUsd(estimatePlatform({ ...base, fleetMix: HALF_GAUGES }, prices));
    const overTime = platform.lines
      .filter((l) => l.overTime && /events|schedules|notifications|workflow lane alarms/.test(l.item))
      .reduce((sum, l) => sum + l.monthlyUsd, 0);
    expect(overTime).toBeGreaterThan(0);
    // The meter's GetMetricData grows too (a workflow lane's queue, function and log group more, hourly).
    expect(dailyFixedAccrualUsd(platform)).toBeGreaterThan(without + overTime / 30);
  });

  it('prices the workflow DynamoDB units into the per-message rates the meter estimates with', () => {
    const without = slowUsageRates(estimatePlatform({ ...base, fleetMix: HALF_GAUGES }, prices));
    const rates = slowUsageRates(platform);
    // 432,000 state writes and 180,000 workflow writes over 8,640,000 messages.
    expect(rates.dynamoWriteUnitsPerMessage - without.dynamoWriteUnitsPerMessage).toBeCloseTo(0.07083, 4);
  });

  it('bills Timestream history as TCU-hours: 4 TCUs held all month when history queries come seconds apart', () => {
    const timestream = estimatePlatform({ ...profile, telemetryStore: 'timestream' }, prices);
    const queries = line(timestream, 'service history queries (at least 4 TCUs, 30 s each)');
    expect(queries?.quantity).toBe(720 * 4);
    expect(line(timestream, 'service history reads (hourly buckets)')).toBeUndefined();
  });

  it('charges history only for services that ask for it: none on either store when no service does', () => {
    const noHistory: ServiceLoad = { ...GAUGES, cost: { ...GAUGES.cost, historyReadUnitsPerReading: 0 } };
    for (const telemetryStore of ['dynamodb', 'timestream'] as const) {
      for (const estimate of [estimatePlatform, estimateNaive]) {
        const result = estimate({ ...profile, telemetryStore, services: [noHistory] }, prices);
        expect(result.lines.filter((l) => /history/.test(l.item)).map((l) => l.item)).toEqual([]);
      }
    }
  });

  it('the built-in blueprints read no history, so the Timestream store adds no query line for them', () => {
    const loads = serviceLoads(BLUEPRINT_NAMES);
    expect(loads.filter((l) => l.cost.historyReadUnitsPerReading > 0).map((l) => l.name)).toEqual([]);
    const timestream = estimatePlatform({ ...base, telemetryStore: 'timestream', services: loads }, prices);
    expect(timestream.lines.filter((l) => l.unit === 'TCU-hours' || /history/.test(l.item))).toEqual([]);
    expect(serviceVolumes({ ...base, services: loads }).historyReads).toBe(0);
  });
});

describe('two workflow lanes, not one per service', () => {
  const loads = serviceLoads(BLUEPRINT_NAMES);
  const profile = { ...base, services: loads };

  it('deploys a lane only where an enabled service runs: essential for air quality and flood, ordinary for the rest', () => {
    expect(loads.filter((l) => l.essential).map((l) => l.name)).toEqual(['air-quality', 'flood']);
    expect(serviceVolumes(profile).workflowLanes).toBe(2);
    expect(serviceVolumes({ ...base, services: serviceLoads(['flood']) }).workflowLanes).toBe(1);
    expect(serviceVolumes({ ...base, services: serviceLoads(['waste', 'parking']) }).workflowLanes).toBe(1);
    expect(serviceVolumes(base).workflowLanes).toBe(0);
  });

  it('polls two queues, not six: idle polls for each lane', () => {
    const v = serviceVolumes(profile);
    expect(v.workflowQueueRequests - v.events - 2 * v.eventBatches).toBeCloseTo(2 * 5 * 3 * 43_200, 6);
  });

  it('runs one schedule per lane with scheduled work, each run doing every hosted blueprint: the naive design one per service', () => {
    const scheduled = loads.filter((l) => l.scheduled).map((l) => l.name);
    expect(scheduled).toHaveLength(5);
    const platform = serviceVolumes(profile);
    const naive = serviceVolumes(profile, 'naive');
    expect(platform.scheduledRuns).toBe(2 * WORKFLOW_RUNS_PER_MONTH);
    expect(naive.scheduledRuns).toBe(5 * WORKFLOW_RUNS_PER_MONTH);
    // The scheduled work is the same: every blueprint's sweep reads as much, and runs as long, in both designs.
    expect(platform.workflowReadUnits).toBeCloseTo(naive.workflowReadUnits, 6);
    expect(platform.workflowGbSeconds).toBeCloseTo(naive.workflowGbSeconds, 6);
  });

  it("batches a lane's events together: busy services fill each other's batches", () => {
    // Two services of one lane, each 5 events a second: together 10 in the 1-second window, a full batch.
    const busy = (name: string): ServiceLoad => ({
      ...GAUGES,
      name,
      cost: { ...GAUGES.cost, eventsPerDevicePerDay: 864 },
    });
    const v = serviceVolumes({ ...base, fleetMix: HALF_GAUGES, services: [busy('a'), busy('b')] });
    // 500 gauges x 864 a day = 5 a second per service: 2 x 12,960,000 events a month in batches of 10.
    expect(v.events).toBeCloseTo(2 * 12_960_000, 3);
    expect(v.eventBatches).toBeCloseTo(2_592_000, 3);
  });

  it("gives the meter hourly figures for the workflow lanes, from the estimate's own workflow lines", () => {
    const estimate = estimatePlatform(profile, prices);
    const rates = slowUsageRates(estimate);
    expect(rates.workflowInvocationsPerHour).toBeCloseTo(
      (line(estimate, 'workflow invocations')?.quantity ?? 0) / 720,
      9,
    );
    expect(rates.workflowGbSecondsPerHour).toBeCloseTo(
      (line(estimate, 'workflow duration (arm64)')?.quantity ?? 0) / 720,
      9,
    );
    expect(rates.workflowSqsRequestsPerHour).toBeCloseTo(
      (line(estimate, 'workflow lane queues: send, receive, delete, idle polls')?.quantity ?? 0) / 720,
      9,
    );
    expect(rates.workflowInvocationsPerHour).toBeGreaterThan(24);
    expect(slowUsageRates(estimatePlatform(base, prices))).toMatchObject({
      workflowInvocationsPerHour: 0,
      workflowGbSecondsPerHour: 0,
      workflowSqsRequestsPerHour: 0,
    });
  });
});

describe('the cost CLI and the services', () => {
  it('runs every blueprint by default and says so', () => {
    const args = parseCostArguments(['--devices', '1000']);
    expect(args.services?.map((s) => s.name)).toEqual(BLUEPRINT_NAMES);
    expect(renderCostReport(args)).toMatch(
      /^Services: waste, parking, air-quality, traffic, flood, offline; fleet mix: /m,
    );
  });

  it('takes --services none and a list', () => {
    expect(parseCostArguments(['--devices', '10', '--services', 'none']).services).toEqual([]);
    expect(
      parseCostArguments(['--devices', '10', '--services', 'flood,waste']).services?.map((s) => s.name),
    ).toEqual(['waste', 'flood']);
  });

  it('refuses an unknown service, naming it and the known ones', () => {
    expect(() => parseCostArguments(['--devices', '10', '--services', 'flood,lamps'])).toThrow(UsageError);
    expect(() => parseCostArguments(['--devices', '10', '--services', 'flood,lamps'])).toThrow(
      `--services: unknown service 'lamps'; known: ${BLUEPRINT_NAMES.join(', ')}`,
    );
  });

  it('lists the workflows in the estimate it prints', () => {
    const report = renderCostReport(parseCostArguments(['--devices', '1000', '--region', 'eu-west-2']));
    expect(report).toMatch(/EventBridge\s+domain events \(custom bus\)/);
    expect(report).toMatch(/Lambda\s+workflow invocations/);
  });
});

describe('the services as enabled from the catalogue', () => {
  it('carries each blueprint: detector, schedule and cost profile', () => {
    const loads = serviceLoads(['parking', 'offline']);
    expect(loads.map((l) => [l.name, l.detects, l.scheduled])).toEqual([
      ['parking', true, false],
      ['offline', false, true],
    ]);
  });
});
