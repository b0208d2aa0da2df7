import { rm } from 'node:fs/promises';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import type { ReasonCode } from '../../lambdas/contracts/reason-codes.js';
import type { QuarantineEntry } from '../../lambdas/domain/quarantine.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { DeviceBundle } from '../../local/city-simulator.js';
import { type LocalPlatform, startLocalPlatform } from '../../local/start-local-platform.js';
import {
  apiGetAll,
  connectDevice,
  eventually,
  publishAcked,
  tempDataDir,
  testDevice,
} from './local-platform-support.js';

const VALID_PER_DEVICE = 100;

/** Valid readings per type; `i` varies them so the series is not flat. */
const READINGS: Record<DeviceType, (i: number) => Record<string, unknown>> = {
  'waste-container': (i) => ({ fillingLevel: (i % 100) / 100, temperature: 12.5, status: 'ok' }),
  'parking-spot': (i) => ({ status: i % 2 === 0 ? 'free' : 'occupied' }),
  'air-quality': (i) => ({ no2: 20 + (i % 30), pm25: 8.1, pm10: 14.2, o3: 40 }),
  'traffic-flow': (i) => ({
    intensity: 20 + (i % 40),
    averageVehicleSpeed: 38.5,
    occupancy: 0.2,
    periodSeconds: 60,
  }),
  'water-level': (i) => ({ waterLevel: 0.8 + i / 1000 }),
};

describe('local platform: every message ends stored or quarantined', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let bundles: DeviceBundle[];
  const clients: MqttClient[] = [];
  const startedAt = new Date(Date.now() - 60_000).toISOString();

  beforeAll(async () => {
    dataDir = await tempDataDir('accounting');
    platform = await startLocalPlatform({
      dataDir,
      apiPort: 0,
      mqttPort: 0,
      simulator: false,
      ingest: { batchingWindowMs: 20, visibilityTimeoutMs: 500 },
      log: () => undefined,
    });
    bundles = await platform.provisionDevices([
      testDevice('acct-bin-1', 'waste-container'),
      testDevice('acct-bay-1', 'parking-spot'),
      testDevice('acct-aq-1', 'air-quality'),
      testDevice('acct-traffic-1', 'traffic-flow'),
      testDevice('acct-level-1', 'water-level'),
    ]);
    for (const bundle of bundles)
      clients.push(await connectDevice(platform.mqttUrl, platform.caPem, bundle, bundle.deviceId));
  });

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('stores 500 valid messages and quarantines 25 malformed ones with the right reasons, 0 unaccounted', async () => {
    const base = Date.now() - 5_000;
    const sends: Promise<boolean>[] = [];
    bundles.forEach((bundle, d) => {
      const client = clients[d] as MqttClient;
      for (let i = 0; i < VALID_PER_DEVICE; i++) {
        const envelope = {
          messageId: `valid-${i}`,
          observedAt: new Date(base + i * 10).toISOString(),
          readings: READINGS[bundle.type](i),
          battery: 0.9,
        };
        sends.push(publishAcked(client, bundle.topic, JSON.stringify(envelope), 10_000));
      }
    });

    // Five kinds of bad input (six cases), published by devices that are allowed to publish on their topic.
    const water = bundles.find((b) => b.type === 'water-level') as DeviceBundle;
    const aq = bundles.find((b) => b.type === 'air-quality') as DeviceBundle;
    const clientOf = (bundle: DeviceBundle) => clients[bundles.indexOf(bundle)] as MqttClient;
    const now = () => new Date().toISOString();
    const malformed: { bundle: DeviceBundle; payload: string; reason: ReasonCode }[] = [];
    for (let i = 0; i < 5; i++)
      malformed.push({ bundle: water, payload: `{"messageId":"bad-json-${i}",`, reason: 'MALFORMED_JSON' });
    for (let i = 0; i < 4; i++) {
      malformed.push({
        bundle: water,
        payload: JSON.stringify({ messageId: `no-time-${i}`, readings: { waterLevel: 1 } }),
        reason: 'SCHEMA_VIOLATION',
      });
      malformed.push({
        bundle: water,
        payload: JSON.stringify({
          messageId: `extra-${i}`,
          observedAt: now(),
          readings: { waterLevel: 1 },
          colour: 'red',
        }),
        reason: 'SCHEMA_VIOLATION',
      });
      malformed.push({
        bundle: aq,
        payload: JSON.stringify({
          messageId: `wrong-type-${i}`,
          observedAt: now(),
          readings: { no2: 'very high' },
        }),
        reason: 'SCHEMA_VIOLATION',
      });
      malformed.push({
        bundle: aq,
        payload: JSON.stringify({
          messageId: `future-${i}`,
          observedAt: new Date(Date.now() + 3_600_000).toISOString(),
          readings: { no2: 21 },
        }),
        reason: 'TIMESTAMP_IN_FUTURE',
      });
      malformed.push({
        bundle: aq,
        payload: JSON.stringify({
          messageId: `huge-${i}`,
          observedAt: now(),
          readings: { no2: 21 },
          padding: 'x'.repeat(10_000),
        }),
        reason: 'PAYLOAD_TOO_LARGE',
      });
    }
    expect(malformed).toHaveLength(25);
    for (const m of malformed)
      sends.push(publishAcked(clientOf(m.bundle), m.bundle.topic, m.payload, 10_000));

    const acked = await Promise.all(sends);
    expect(acked.filter(Boolean)).toHaveLength(525);

    const to = new Date(Date.now() + 60_000).toISOString();
    const storedFor = async (bundle: DeviceBundle) =>
      apiGetAll<TelemetryPoint>(
        platform.apiUrl,
        platform.token,
        `/devices/${bundle.deviceId}/telemetry?from=${encodeURIComponent(startedAt)}&to=${encodeURIComponent(to)}&limit=1000`,
      );
    const quarantined = () =>
      apiGetAll<QuarantineEntry>(
        platform.apiUrl,
        platform.token,
        `/quarantine?from=${encodeURIComponent(startedAt)}&to=${encodeURIComponent(to)}&limit=1000`,
      );

    await eventually(
      async () => {
        const queued = Object.values(platform.queues).reduce((n, q) => n + q.queue.size, 0);
        return queued === 0 && platform.counters.stored >= 500 && platform.counters.quarantined >= 25;
      },
      30_000,
      'the queues to drain',
    );

    for (const bundle of bundles) {
      const points = await storedFor(bundle);
      expect(points, bundle.deviceId).toHaveLength(VALID_PER_DEVICE);
      expect(new Set(points.map((p) => p.messageId)).size).toBe(VALID_PER_DEVICE);
      expect(points.every((p) => p.messageId.startsWith('valid-'))).toBe(true);
    }

    const entries = await quarantined();
    expect(entries).toHaveLength(25);
    for (const m of malformed) {
      const entry = entries.find((e) => e.payload === m.payload.slice(0, 4096));
      expect(entry?.reason, m.payload.slice(0, 40)).toBe(m.reason);
    }
    expect(new Set(entries.map((e) => e.payload)).size).toBe(25);

    // Nothing else anywhere: no dead letters, nothing left queued, nothing refused.
    for (const { queue, deadLetter } of Object.values(platform.queues)) {
      expect(queue.size).toBe(0);
      expect(deadLetter.size).toBe(0);
    }
    expect(platform.counters.messagesIn).toBe(525);
    expect(platform.counters.refused).toBe(0);

    // Latest state and the device record come through the same API.
    const latest = await fetch(`${platform.apiUrl}/devices/acct-level-1/latest`, {
      headers: { authorization: `Bearer ${platform.token}` },
    });
    expect(latest.status).toBe(200);
  });

  it('answers 401 problem+json without the token, except on /health, and 404 problem+json on unknown routes', async () => {
    const health = await fetch(`${platform.apiUrl}/health`);
    expect(health.status).toBe(200);
    const unauthorised = await fetch(`${platform.apiUrl}/devices/acct-bin-1`);
    expect(unauthorised.status).toBe(401);
    expect(unauthorised.headers.get('content-type')).toBe('application/problem+json');
    expect(await unauthorised.json()).toMatchObject({
      status: 401,
      title: expect.any(String),
      type: expect.any(String),
    });
    const wrongToken = await fetch(`${platform.apiUrl}/quarantine`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrongToken.status).toBe(401);
    const unknown = await fetch(`${platform.apiUrl}/no/such/route`, {
      headers: { authorization: `Bearer ${platform.token}` },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toBe('application/problem+json');
    const device = await fetch(`${platform.apiUrl}/devices/acct-bin-1`, {
      headers: { authorization: `Bearer ${platform.token}` },
    });
    expect(device.status).toBe(200);
    expect(await device.json()).toMatchObject({ deviceId: 'acct-bin-1', deviceType: 'waste-container' });
  });
});
