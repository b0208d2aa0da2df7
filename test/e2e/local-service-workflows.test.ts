import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { DeviceBundle } from '../../local/city-simulator.js';
import { type LocalPlatform, startLocalPlatform } from '../../local/start-local-platform.js';
import type { DomainEvent } from '../../services/shared/domain-events.js';
import type { Job } from '../../services/shared/jobs.js';
import type { AlertRecord } from '../../services/shared/workflow-ports.js';
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
 * Each service end to end on the local platform, driven by real devices over MQTT with mutual TLS: readings go
 * through the broker, the durable queue, enrichment and its change detectors, the local event bus and the
 * workflows, and the outcome is read back through the REST API. The rules' clock runs 3,600 times faster
 * (`speed`), so an hourly mean spans one second and a 15-minute alert cool-down a quarter of a second.
 */
const SPEED = 3600;

describe('local platform: service workflows end to end', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  const bundles = new Map<string, DeviceBundle>();
  const clients = new Map<string, MqttClient>();
  const published: DomainEvent[] = [];
  let republish: (events: readonly DomainEvent[]) => Promise<readonly number[]>;
  let sequence = 0;
  const stored = new Set<string>();

  const fresh = (device: Device, settings?: Record<string, number>): Device => ({
    ...device,
    // Registered just now: not yet overdue, so the offline sweep leaves it alone until it has had a chance.
    registeredAt: new Date().toISOString(),
    ...(settings ? { settings } : {}),
  });

  /**
   * Publishes one reading and waits until it is stored, as a device reporting every few minutes would: the
   * readings of one device reach the detectors in order (out-of-order readings are judged late, by design).
   */
  async function send(deviceId: string, readings: Readings): Promise<void> {
    const bundle = bundles.get(deviceId) as DeviceBundle;
    sequence += 1;
    const messageId = `e2e-${sequence}`;
    const envelope = { messageId, observedAt: new Date().toISOString(), readings };
    const client = clients.get(deviceId) as MqttClient;
    if (!(await publishAcked(client, bundle.topic, JSON.stringify(envelope)))) {
      throw new Error(`broker did not acknowledge ${deviceId}'s reading`);
    }
    await eventually(() => stored.has(messageId), 10_000, `${deviceId}'s reading ${messageId} stored`);
  }

  const jobs = (query: string) =>
    apiGetAll<Job>(platform.apiUrl, platform.token, `/jobs${query ? `?${query}` : ''}`);
  const alerts = (query = '') =>
    apiGetAll<AlertRecord>(platform.apiUrl, platform.token, `/alerts${query ? `?${query}` : ''}`);
  const openData = async <T>(path: string) =>
    (await apiGet<{ items: T[] }>(platform.apiUrl, platform, path)).body.items;
  const noticesFor = (service: string) => platform.services.notices.filter((n) => n.service === service);

  beforeAll(async () => {
    dataDir = await tempDataDir('services');
    platform = await startLocalPlatform({
      dataDir,
      apiPort: 0,
      mqttPort: 0,
      simulator: false,
      speed: SPEED,
      serviceScheduleMs: 100,
      ingest: { batchingWindowMs: 10, visibilityTimeoutMs: 500 },
      log: () => undefined,
    });
    platform.ingestMeter.on('stored', (points) => {
      for (const point of points) stored.add(point.messageId);
    });
    const bus = platform.services.bus;
    const original = bus.publish.bind(bus);
    republish = original;
    bus.publish = async (events) => {
      published.push(...events);
      return original(events);
    };
    const devices = [
      fresh(testDevice('e2e-bin-1', 'waste-container')),
      fresh(
        { ...testDevice('e2e-gauge-1', 'water-level'), site: 'Test brook' },
        { warningLevel: 1, severeLevel: 2 },
      ),
      fresh({ ...testDevice('e2e-aq-1', 'air-quality'), site: 'Test street' }),
      fresh({ ...testDevice('e2e-counter-1', 'traffic-flow'), site: 'Test road' }, { freeFlowSpeedKmh: 48 }),
      ...[1, 2, 3].map((i) =>
        fresh({ ...testDevice(`e2e-bay-${i}`, 'parking-spot'), site: 'Test car park' }),
      ),
      // Registered long ago and never heard from: overdue from the first sweep.
      testDevice('e2e-silent-1', 'air-quality'),
    ];
    for (const bundle of await platform.provisionDevices(devices)) {
      bundles.set(bundle.deviceId, bundle);
      clients.set(
        bundle.deviceId,
        await connectDevice(platform.mqttUrl, platform.caPem, bundle, bundle.deviceId),
      );
    }
  });

  afterAll(async () => {
    for (const client of clients.values()) client.end(true);
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('waste: a bin filled past 0.8 opens exactly one collection job, and emptying it closes the job', async () => {
    for (const fillingLevel of [0.5, 0.85, 0.9, 0.95])
      await send('e2e-bin-1', { fillingLevel, status: 'ok' });
    await eventually(async () => (await jobs('service=waste&status=open')).length > 0, 10_000, 'a waste job');
    // Further full readings have been through the pipeline: still one job.
    await send('e2e-bin-1', { fillingLevel: 0.97, status: 'ok' });
    const open = await jobs('service=waste&status=open&ward=Abbey');
    expect(open.map((j) => [j.deviceId, j.kind, j.reason])).toEqual([['e2e-bin-1', 'collection', 'full']]);

    await send('e2e-bin-1', { fillingLevel: 0.05, status: 'ok' });
    await eventually(
      async () => (await jobs('service=waste&status=done')).some((j) => j.id === open[0]?.id),
      10_000,
      'the job closed as emptied',
    );
    const [done] = await jobs('service=waste&status=done');
    expect(done).toMatchObject({ id: open[0]?.id, closedAs: 'emptied' });
    expect(await jobs('service=waste&status=open')).toEqual([]);
  });

  it('flood: a level crossing warning raises one alert, however the water flaps around the threshold', async () => {
    for (const waterLevel of [0.6, 0.8, 1.05, 0.98, 1.04, 0.97, 1.1]) {
      await send('e2e-gauge-1', { waterLevel });
    }
    // The fast rises also raise (and clear) rate-of-rise alerts under their own key; this test is about the level.
    const levelAlerts = async () =>
      (await alerts('service=flood')).filter((a) => a.key === 'flood:e2e-gauge-1:level');
    await eventually(async () => (await levelAlerts()).length > 0, 10_000, 'a flood level alert');
    const raised = await levelAlerts();
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ status: 'open', severity: 'warning', site: 'Test brook' });
    expect(noticesFor('flood').filter((n) => n.subject.startsWith('ALERT: River level'))).toHaveLength(1);
    const [gauge] = await openData<{ deviceId: string; level: string }>('/flood/gauges');
    expect(gauge).toMatchObject({ deviceId: 'e2e-gauge-1', level: 'warning' });
  });

  it('air quality: into High raises an alert, back to Moderate clears it after the cool-down', async () => {
    await send('e2e-aq-1', { no2: 420 });
    await eventually(async () => (await alerts('service=air-quality')).length > 0, 10_000, 'an AQ alert');
    const [high] = await openData<{ site: string; index: number; band: string }>('/air-quality/sites');
    expect(high).toMatchObject({ site: 'Test street', index: 7, band: 'High' });

    // The hourly mean spans one second here: let the High hour pass, then report a Moderate one.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await send('e2e-aq-1', { no2: 250 });
    await eventually(
      async () => (await alerts('service=air-quality&status=cleared')).length === 1,
      10_000,
      'the AQ alert cleared',
    );
    const [moderate] = await openData<{ index: number; band: string }>('/air-quality/sites');
    expect(moderate).toMatchObject({ index: 4, band: 'Moderate' });
    expect(noticesFor('air-quality').map((n) => n.subject.split(':')[0])).toEqual(['ALERT', 'Cleared']);
  });

  it('traffic: three slow, busy periods start a congestion incident; three free-flowing ones clear it', async () => {
    const period = (averageVehicleSpeed: number, occupancy: number) => ({
      intensity: 20,
      averageVehicleSpeed,
      occupancy,
      periodSeconds: 60,
    });
    for (let i = 0; i < 3; i++) await send('e2e-counter-1', period(12, 0.6));
    await eventually(async () => (await alerts('service=traffic')).length > 0, 10_000, 'a congestion alert');
    for (let i = 0; i < 3; i++) await send('e2e-counter-1', period(45, 0.1));
    await eventually(
      async () => (await alerts('service=traffic&status=cleared')).length === 1,
      10_000,
      'the congestion cleared',
    );
    const [counter] = await openData<{ deviceId: string; congested: boolean }>('/traffic/counters');
    expect(counter).toMatchObject({ deviceId: 'e2e-counter-1', congested: false });
  });

  it('parking: spot changes keep exact counts and the DATEX II status per car park', async () => {
    await Promise.all([
      send('e2e-bay-1', { status: 'occupied' }),
      send('e2e-bay-2', { status: 'occupied' }),
      send('e2e-bay-3', { status: 'free' }),
    ]);
    await send('e2e-bay-3', { status: 'occupied' });
    await eventually(
      async () => (await openData<{ occupied: number }>('/parking/sites'))[0]?.occupied === 3,
      10_000,
      'three occupied bays',
    );
    const [site] = await openData('/parking/sites');
    expect(site).toMatchObject({
      site: 'Test car park',
      free: 0,
      occupied: 3,
      total: 3,
      occupancy: 1,
      status: 'full',
    });
  });

  it('offline devices: a silent device gets a maintenance job, which closes when it is heard again', async () => {
    await eventually(
      async () => (await jobs('service=offline&status=open')).some((j) => j.deviceId === 'e2e-silent-1'),
      10_000,
      'a maintenance job',
    );
    await send('e2e-silent-1', { no2: 20 });
    await eventually(
      async () =>
        (await jobs('service=offline&status=done')).some(
          (j) => j.deviceId === 'e2e-silent-1' && j.closedAs === 'back-online',
        ),
      10_000,
      'the maintenance job closed',
    );
    // Every other device was heard in time: no job for them.
    expect((await jobs('service=offline')).map((j) => j.deviceId)).toEqual(['e2e-silent-1']);
  });

  it('replaying every domain event three times changes no job, alert or notification', async () => {
    expect(published.length).toBeGreaterThan(10);
    // Let cool-downs run out and the schedule settle before taking the picture.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = {
      jobs: await jobs(''),
      alerts: await alerts(),
      notices: platform.services.notices.length,
    };
    const delivered = platform.services.bus.counts.delivered;
    const events = [...published];
    for (let round = 0; round < 3; round++) expect(await republish(events)).toEqual([]);
    await eventually(
      () => platform.services.bus.counts.delivered >= delivered + 3 * events.length,
      20_000,
      'every replayed event delivered',
    );
    expect(await jobs('')).toEqual(before.jobs);
    expect(await alerts()).toEqual(before.alerts);
    expect(platform.services.notices.length).toBe(before.notices);
  });

  it('runs one durable queue and consumer per workflow lane, as deployed: every event delivered, none dead-lettered', async () => {
    const backlog = platform.services.bus.backlog();
    expect(Object.keys(backlog)).toEqual(['essential', 'ordinary']);
    for (const lane of Object.values(backlog)) expect(lane.deadLettered).toBe(0);
    const journals = (await readdir(path.join(dataDir, 'queues'))).filter((f) => f.startsWith('bus-'));
    expect(journals.sort()).toEqual([
      'bus-workflow-essential-dlq.journal',
      'bus-workflow-essential.journal',
      'bus-workflow-ordinary-dlq.journal',
      'bus-workflow-ordinary.journal',
    ]);
  });
});
