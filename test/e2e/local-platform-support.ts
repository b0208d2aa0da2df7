import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll } from 'vitest';
import { runDeviceCli } from '../../bin/device.js';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { DeviceBundle } from '../../local/city-simulator.js';
import { type LocalPlatform, startLocalPlatform } from '../../local/start-local-platform.js';

/** A fresh data directory under the OS temp dir. */
export function tempDataDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `civic-${prefix}-`));
}

/** A registry entry for a test device in Reading. */
export function testDevice(
  deviceId: string,
  deviceType: DeviceType,
  status: Device['status'] = 'active',
): Device {
  return {
    deviceId,
    deviceType,
    status,
    location: { lat: 51.4551, lon: -0.9734 },
    ward: 'Abbey',
    // Tests send bursts of a hundred or more readings per device: declare a rate whose allowance covers them
    // (rate policing is tested on its own, with devices that declare slow rates).
    expectedIntervalSeconds: 12,
    registeredAt: '2025-04-01T08:00:00.000Z',
  };
}

/** Connects like a device: mutual TLS with the bundle's certificate; resolves on CONNACK, rejects on refusal. */
export function connectDevice(
  mqttUrl: string,
  caPem: string,
  bundle: Pick<DeviceBundle, 'certPem' | 'keyPem'> | undefined,
  clientId: string,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(mqttUrl, {
      clientId,
      ca: caPem,
      ...(bundle ? { cert: bundle.certPem, key: bundle.keyPem } : {}),
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...extra,
    });
    const fail = (error: Error) => {
      client.end(true);
      reject(error);
    };
    client.once('connect', () => resolve(client));
    client.once('error', fail);
    client.once('close', () => fail(new Error('connection closed before CONNACK')));
  });
}

/** Resolves true when the broker acknowledged the QoS 1 publish, false when it did not within `timeoutMs`. */
export function publishAcked(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  timeoutMs = 3000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    client.publish(topic, payload, { qos: 1 }, (error) => {
      clearTimeout(timer);
      resolve(!error);
    });
  });
}

/** What a client of the local API presents: the bearer token (staff routes) and the API key (open data). */
export interface ApiCredentials {
  readonly token: string;
  readonly apiKey: string;
}

/** The request headers for these credentials: a bare string is a token alone. */
function credentialHeaders(credentials: string | ApiCredentials): Record<string, string> {
  if (typeof credentials === 'string') return { authorization: `Bearer ${credentials}` };
  return { authorization: `Bearer ${credentials.token}`, 'x-api-key': credentials.apiKey };
}

/**
 * GET a JSON resource of the local API with the local token, and the API key when given the platform (or its
 * local.json settings): `apiGet(platform.apiUrl, platform, '/parking/sites')`.
 */
export async function apiGet<T>(
  apiUrl: string,
  credentials: string | ApiCredentials,
  pathAndQuery: string,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${apiUrl}${pathAndQuery}`, { headers: credentialHeaders(credentials) });
  return { status: response.status, body: (await response.json()) as T };
}

/** Follows cursors until the last page. */
export async function apiGetAll<T>(
  apiUrl: string,
  credentials: string | ApiCredentials,
  pathAndQuery: string,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const separator = pathAndQuery.includes('?') ? '&' : '?';
    const page = await apiGet<{ items: T[]; nextCursor?: string }>(
      apiUrl,
      credentials,
      `${pathAndQuery}${cursor ? `${separator}cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    if (page.status !== 200)
      throw new Error(`GET ${pathAndQuery} answered ${page.status}: ${JSON.stringify(page.body)}`);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

/** Polls `check` until it returns true or the time is up. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A local platform with no simulator in a fresh data directory, a separate working directory for the CLI (bundles
 * land there), and `npm run device` run in-process with what it prints captured. Call inside a `describe`: it
 * registers the start and stop hooks.
 */
export function deviceCliFixture(name: string) {
  const fixture = {
    platform: undefined as unknown as LocalPlatform,
    dataDir: '',
    workDir: '',
    out: [] as string[],
    err: [] as string[],
    progress: [] as string[],
    /** Runs one command; `--local --data-dir` is added for every command that works on a platform. */
    cli(...argv: string[]): Promise<number> {
      fixture.out.length = 0;
      fixture.err.length = 0;
      fixture.progress.length = 0;
      const platformFree = argv[0] === 'publish-test' || argv[0] === 'provision-test';
      return runDeviceCli([...argv, ...(platformFree ? [] : ['--local', '--data-dir', fixture.dataDir])], {
        out: (line) => fixture.out.push(line),
        err: (line) => fixture.err.push(line),
        progress: (line) => fixture.progress.push(line),
        cwd: fixture.workDir,
      });
    },
  };
  beforeAll(async () => {
    fixture.dataDir = await tempDataDir(name);
    fixture.workDir = await tempDataDir(`${name}-work`);
    fixture.platform = await startLocalPlatform({
      dataDir: fixture.dataDir,
      apiPort: 0,
      mqttPort: 0,
      simulator: false,
      log: () => undefined,
    });
  });
  afterAll(async () => {
    await fixture.platform?.stop();
    for (const dir of [fixture.dataDir, fixture.workDir])
      if (dir) await rm(dir, { recursive: true, force: true });
  });
  return fixture;
}
