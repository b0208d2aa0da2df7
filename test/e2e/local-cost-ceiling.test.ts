import { rm } from 'node:fs/promises';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pricesFor, type RegionPrices } from '../../lambdas/contracts/prices.js';
import { ESSENTIAL_LANE, ORDINARY_LANE } from '../../lambdas/contracts/topics.js';
import type { CostReport } from '../../lambdas/domain/cost-control.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { DeviceBundle } from '../../local/city-simulator.js';
import { type LocalPlatform, startLocalPlatform } from '../../local/start-local-platform.js';
import {
  apiGet,
  apiGetAll,
  connectDevice,
  eventually,
  publishAcked,
  tempDataDir,
  testDevice,
} from './local-platform-support.js';

/**
 * A runaway priced to cross a ceiling of a few cents in a few dozen messages: every accepted message costs a tenth
 * of a cent (rule triggered + rule action at $500 a million each); everything else keeps its real price, a few
 * millionths of a dollar per message. No fixed accrual, so the ladder moves with the messages, not the clock.
 */
const CEILING_USD = 0.05;
const RUNAWAY_PRICE_PER_MILLION = 500;
function runawayPrices(): RegionPrices {
  const prices = pricesFor('eu-west-2');
  return {
    ...prices,
    'iot.rulesTriggeredPerMillion': {
      ...prices['iot.rulesTriggeredPerMillion'],
      usd: RUNAWAY_PRICE_PER_MILLION,
    },
    'iot.actionsPerMillion': { ...prices['iot.actionsPerMillion'], usd: RUNAWAY_PRICE_PER_MILLION },
  };
}

/**
 * Long enough that readings accepted just before the stop are still waiting for their batch when the consumer is
 * paused (the meter runs right after they are acknowledged); short enough to keep the test quick.
 */
const BATCHING_WINDOW_MS = 2500;

const declared = (device: Device): Device => ({ ...device, expectedIntervalSeconds: 10 });

describe('local platform: a cost ceiling of a few cents is crossed', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let bay: DeviceBundle;
  let gauge: DeviceBundle;
  let bayClient: MqttClient;
  let gaugeClient: MqttClient;
  let sequence = 0;
  const startedAt = new Date(Date.now() - 60_000).toISOString();

  beforeAll(async () => {
    dataDir = await tempDataDir('cost');
    platform = await startLocalPlatform({
      dataDir,
      apiPort: 0,
      mqttPort: 0,
      simulator: false,
      ingest: { batchingWindowMs: BATCHING_WINDOW_MS, visibilityTimeoutMs: 5000 },
      costGuard: {
        ceilingUsd: CEILING_USD,
        meterSeconds: 1,
        prices: runawayPrices(),
        fixedDailyUsd: 0,
        degradeCacheSeconds: 0.1,
      },
      log: () => undefined,
    });
    [bay, gauge] = (await platform.provisionDevices([
      declared(testDevice('cost-bay-1', 'parking-spot')),
      declared(testDevice('cost-gauge-1', 'water-level')),
    ])) as [DeviceBundle, DeviceBundle];
    bayClient = await connectDevice(platform.mqttUrl, platform.caPem, bay, bay.deviceId);
    gaugeClient = await connectDevice(platform.mqttUrl, platform.caPem, gauge, gauge.deviceId);
  });

  afterAll(async () => {
    bayClient?.end(true);
    gaugeClient?.end(true);
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Publishes `count` valid readings from the parking bay (ordinary) or gauge (essential); all must be acked. */
  async function publish(which: 'bay' | 'gauge', count: number): Promise<void> {
    const [client, bundle] = which === 'bay' ? [bayClient, bay] : [gaugeClient, gauge];
    for (let i = 0; i < count; i++) {
      sequence += 1;
      const envelope = {
        messageId: `cost-${sequence}`,
        observedAt: new Date().toISOString(),
        readings:
          which === 'bay'
            ? { status: sequence % 2 ? 'free' : 'occupied' }
            : { waterLevel: 1 + sequence / 1000 },
      };
      expect(await publishAcked(client, bundle.topic, JSON.stringify(envelope), 5000)).toBe(true);
    }
  }

  const storedOf = async (bundle: DeviceBundle) =>
    (
      await apiGetAll<TelemetryPoint>(
        platform.apiUrl,
        platform.token,
        `/devices/${bundle.deviceId}/telemetry?from=${encodeURIComponent(startedAt)}&to=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&limit=1000`,
      )
    ).length;
  const ordinary = () => platform.queues[ORDINARY_LANE];
  const processed = (lane: typeof ORDINARY_LANE | typeof ESSENTIAL_LANE) => {
    const c = platform.counters;
    return (
      (c.messagesInByLane[lane] ?? 0) -
      platform.queues[lane].queue.size -
      platform.queues[lane].deadLetter.size
    );
  };
  const meter = () => platform.costGuard.guard.meterNow();

  it('walks warn -> degrade -> stop, keeps essential readings flowing, loses nothing, and restores', async () => {
    // ok -> warn: 30 messages, 60% of the ceiling.
    await publish('bay', 15);
    await publish('gauge', 15);
    expect((await meter()).tier).toBe('warn');
    await eventually(() => platform.counters.stored === 30, 15_000, 'the first 30 readings to be stored');

    // warn -> degrade: 46 messages, 92%. The ordinary lane is sampled from now on.
    await publish('bay', 8);
    await publish('gauge', 8);
    expect((await meter()).tier).toBe('degrade');
    await eventually(() => processed(ORDINARY_LANE) === 23, 15_000, 'the ordinary lane to drain');

    // degrade -> stop: 52 messages, 104%. Three ordinary readings are accepted and waiting for their batch when
    // the guard disables the rule and pauses the consumer: they must stay queued, not be lost.
    await publish('bay', 3);
    await publish('gauge', 3);
    // (The 1-second timer may have taken the step already; either way the guard is at stop now.)
    expect((await meter()).tier).toBe('stop');
    expect(ordinary().queue.size).toBe(3);
    expect(platform.costGuard.lanes.ruleEnabled(ORDINARY_LANE)).toBe(false);
    expect(platform.costGuard.lanes.ruleEnabled(ESSENTIAL_LANE)).toBe(true);

    // GET /cost (the real city-api handler) shows the walk: warn, degrade, stop, with the actions of each step.
    const report = await apiGet<CostReport>(platform.apiUrl, platform.token, '/cost');
    expect(report.status).toBe(200);
    expect(report.body.tier).toBe('stop');
    expect(report.body.ceilingUsd).toBe(CEILING_USD);
    expect(report.body.monthToDateUsd).toBeGreaterThanOrEqual(CEILING_USD);
    expect(report.body.degrade).toEqual({ sampleRates: { [ORDINARY_LANE]: 0.25 }, openDataNarrowed: true });
    const walk = [...report.body.recentActions].reverse();
    // A run at tier ok may announce that the forecast passes the ceiling; the ladder itself goes up in order.
    const tiers = walk
      .map((e) => e.reading.tier)
      .filter((t) => t !== 'ok')
      .filter((t, i, all) => i === 0 || all[i - 1] !== t);
    expect(tiers).toEqual(['warn', 'degrade', 'stop']);
    const kinds = walk.map((e) => `${e.reading.tier}:${e.action.kind}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'warn:notify',
        'degrade:notify',
        'degrade:sample-lane',
        'degrade:narrow-open-data',
        'stop:notify',
        'stop:disable-rule',
        'stop:pause-consumer',
      ]),
    );
    expect(walk.every((e) => e.outcome === 'done')).toBe(true);
    expect(platform.costGuard.notices.map((n) => n.subject)).toEqual(
      expect.arrayContaining([expect.stringContaining('spending stop')]),
    );

    // Stopped: ordinary readings are acknowledged (as IoT Core does) but not collected; essential ones are stored.
    const ordinaryStoredAtStop = await storedOf(bay);
    await publish('bay', 5);
    await publish('gauge', 5);
    expect(platform.counters.notCollectedByLane[ORDINARY_LANE]).toBe(5);
    expect(platform.counters.messagesInByLane[ORDINARY_LANE]).toBe(26);
    await eventually(
      async () => (await storedOf(gauge)) === 31,
      15_000,
      'every essential reading to be stored',
    );
    expect((await meter()).tier).toBe('stop');
    expect(await storedOf(bay)).toBe(ordinaryStoredAtStop);
    expect(ordinary().queue.size).toBe(3);

    // Restore (admin): full service now; the three queued readings are stored, new ones are collected again.
    const restore = await fetch(`${platform.apiUrl}/cost/restore`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.token}` },
    });
    expect(restore.status).toBe(200);
    const restored = (await restore.json()) as { tier: string; complete: boolean };
    expect(restored).toMatchObject({ tier: 'ok', complete: true });
    expect(platform.costGuard.lanes.ruleEnabled(ORDINARY_LANE)).toBe(true);
    await eventually(
      () => ordinary().queue.size === 0,
      15_000,
      'the queued ordinary readings to be processed',
    );
    expect(await storedOf(bay)).toBe(ordinaryStoredAtStop + 3);
    await publish('bay', 2);
    await eventually(
      async () => (await storedOf(bay)) === ordinaryStoredAtStop + 5,
      15_000,
      'new ordinary readings to be stored after restore',
    );
    const after = await apiGet<CostReport>(platform.apiUrl, platform.token, '/cost');
    // Within the restore's grace band the guard holds at most at warn, so the lane stays on.
    expect(['ok', 'warn']).toContain(after.body.tier);
    expect(after.body.recentActions.some((e) => e.action.kind === 'manual-restore')).toBe(true);

    // Every accepted message is accounted for, per lane and in total.
    const c = platform.counters;
    const ordinaryStored = await storedOf(bay);
    const essentialStored = await storedOf(gauge);
    expect(c.messagesInByLane[ORDINARY_LANE]).toBe(28);
    expect(
      ordinaryStored +
        (c.sampledOutByLane[ORDINARY_LANE] ?? 0) +
        ordinary().queue.size +
        ordinary().deadLetter.size,
    ).toBe(28);
    expect(c.notCollectedByLane[ORDINARY_LANE]).toBe(5);
    expect(c.messagesInByLane[ESSENTIAL_LANE]).toBe(31);
    expect(essentialStored).toBe(31);
    expect(c.sampledOutByLane[ESSENTIAL_LANE] ?? 0).toBe(0);
    const queued = Object.values(platform.queues).reduce((n, q) => n + q.queue.size + q.deadLetter.size, 0);
    expect(c.stored + c.quarantined + c.sampledOut + c.duplicates + queued).toBe(c.messagesIn);
    expect(c.stored).toBe(ordinaryStored + essentialStored);
  });
});
