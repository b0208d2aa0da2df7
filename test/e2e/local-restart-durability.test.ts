import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { DeviceBundle } from '../../local/city-simulator.js';
import type { LocalSettings } from '../../local/local-settings-file.js';
import { startLocalPlatform } from '../../local/start-local-platform.js';
import { apiGetAll, connectDevice, eventually, tempDataDir, testDevice } from './local-platform-support.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface RunningRuntime {
  readonly child: ChildProcess;
  readonly settings: LocalSettings;
  readonly output: () => string;
}

/** Starts `tsx local/main.ts` as its own process (signals go straight to it) and waits until it is ready. */
async function startRuntime(dataDir: string): Promise<RunningRuntime> {
  await rm(path.join(dataDir, 'local.json.ready'), { force: true });
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'local/main.ts',
      '--no-simulator',
      '--data-dir',
      dataDir,
      '--api-port',
      '0',
      '--mqtt-port',
      '0',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await eventually(
    () => output.includes('ready in') || child.exitCode !== null,
    30_000,
    'the runtime to start',
  );
  if (child.exitCode !== null) throw new Error(`runtime exited early:\n${output}`);
  const settings = JSON.parse(await readFile(path.join(dataDir, 'local.json'), 'utf8')) as LocalSettings;
  return { child, settings, output: () => output };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe('local runtime: SIGTERM mid-stream and restart', () => {
  let dataDir: string | undefined;
  const children: ChildProcess[] = [];

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('loses no acknowledged message and stores none twice', async () => {
    dataDir = await tempDataDir('restart');
    // Provision the devices with an in-process start on the same data dir: the registry and certificates persist.
    const setup = await startLocalPlatform({
      dataDir,
      apiPort: 0,
      mqttPort: 0,
      simulator: false,
      log: () => undefined,
    });
    // Eight devices, so that none comes near the store's per-device hourly limit (RATE_LIMITED).
    const bundles = await setup.provisionDevices(
      Array.from({ length: 8 }, (_, i) =>
        i % 2 === 0
          ? testDevice(`restart-aq-${i}`, 'air-quality')
          : testDevice(`restart-traffic-${i}`, 'traffic-flow'),
      ),
    );
    const caPem = setup.caPem;
    await setup.stop();

    const first = await startRuntime(dataDir);
    children.push(first.child);
    const acked = new Set<string>();
    const sent = new Map<string, { bundle: DeviceBundle; payload: string }>();
    const base = Date.now() - 60_000;
    let sequence = 0;
    let stopPublishing = false;

    const publisher = async (bundle: DeviceBundle) => {
      const client: MqttClient = await connectDevice(first.settings.mqttUrl, caPem, bundle, bundle.deviceId);
      client.on('error', () => undefined);
      // A publish whose callback never comes (the connection went away) must not block the loop.
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      const inFlight = new Set<Promise<void>>();
      while (!stopPublishing && client.connected) {
        sequence += 1;
        const messageId = `m-${sequence}`;
        const readings =
          bundle.type === 'air-quality'
            ? { no2: 10 + (sequence % 50) }
            : { intensity: sequence % 90, averageVehicleSpeed: 40, occupancy: 0.1, periodSeconds: 60 };
        const payload = JSON.stringify({
          messageId,
          observedAt: new Date(base + sequence).toISOString(),
          readings,
        });
        sent.set(`${bundle.deviceId}#${messageId}`, { bundle, payload });
        const p = new Promise<void>((resolve) => {
          client.publish(bundle.topic, payload, { qos: 1 }, (error) => {
            if (!error) acked.add(`${bundle.deviceId}#${messageId}`);
            resolve();
          });
        }).finally(() => inFlight.delete(p));
        inFlight.add(p);
        // Keep a window of unacknowledged publishes, like a device with a small outbox.
        if (inFlight.size >= 20) await Promise.race([...inFlight, closed]);
        // Publishes on a closing connection fail at once; yield to I/O so the close can be noticed at all.
        await new Promise((resolve) => setImmediate(resolve));
      }
      client.end(true);
    };
    const publishing = Promise.all(bundles.map(publisher));

    // Let the stream run, then stop the runtime while messages are being published and processed.
    await eventually(() => acked.size >= 500, 20_000, 'a few hundred acknowledged publishes');
    first.child.kill('SIGTERM');
    expect(await exitOf(first.child)).toBe(0);
    stopPublishing = true;
    await publishing;
    expect(first.output()).toContain('SIGTERM: draining');

    const second = await startRuntime(dataDir);
    children.push(second.child);
    try {
      // Devices resend what was never acknowledged (a QoS 1 outbox), with the same message ids.
      const unacked = [...sent.entries()].filter(([key]) => !acked.has(key));
      for (const bundle of bundles) {
        const client = await connectDevice(second.settings.mqttUrl, caPem, bundle, bundle.deviceId);
        await Promise.all(
          unacked
            .filter(([, m]) => m.bundle.deviceId === bundle.deviceId)
            .map(([, m]) => client.publishAsync(bundle.topic, m.payload, { qos: 1 })),
        );
        // And, as IoT Core may, deliver a few acknowledged ones again.
        await Promise.all(
          [...sent.entries()]
            .filter(([key, m]) => acked.has(key) && m.bundle.deviceId === bundle.deviceId)
            .slice(0, 10)
            .map(([, m]) => client.publishAsync(bundle.topic, m.payload, { qos: 1 })),
        );
        client.end(true);
      }

      const from = new Date(base - 1000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const storedKeys = async () => {
        const keys: string[] = [];
        for (const bundle of bundles) {
          const points = await apiGetAll<TelemetryPoint>(
            second.settings.apiUrl,
            second.settings.token,
            `/devices/${bundle.deviceId}/telemetry?from=${from}&to=${to}&limit=1000`,
          );
          keys.push(...points.map((p) => `${p.deviceId}#${p.messageId}`));
        }
        return keys;
      };
      let keys: string[] = [];
      await eventually(
        async () => {
          keys = await storedKeys();
          return keys.length >= sent.size;
        },
        30_000,
        'every sent message to be stored',
      ).catch(async (error: Error) => {
        const q = await fetch(`${second.settings.apiUrl}/quarantine?limit=2`, {
          headers: { authorization: `Bearer ${second.settings.token}` },
        });
        console.error(await q.text());
        const missing = [...sent.keys()].filter((k) => !keys.includes(k));
        throw new Error(
          `${error.message}: stored ${keys.length} of ${sent.size} sent (${acked.size} acknowledged); missing ${missing.length}, e.g. ${missing.slice(0, 5).join(', ')} (acked: ${missing.filter((k) => acked.has(k)).length})\n${second.output().slice(-2000)}`,
        );
      });
      const stored = new Set(keys);
      expect(keys.length).toBe(stored.size);
      for (const key of acked) expect(stored.has(key), key).toBe(true);
      expect(stored.size).toBe(sent.size);
    } finally {
      second.child.kill('SIGTERM');
      expect(await exitOf(second.child)).toBe(0);
    }
  });
});
