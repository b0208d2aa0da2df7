/**
 * Worker thread of bench/local-throughput.ts: 200 simulated devices, each its own mqtt.js client with its own
 * certificate, publishing QoS 1 as fast as the pipeline lets them. It runs on its own thread so that the load it
 * generates (TLS, MQTT encoding) does not share the platform's event loop.
 *
 * Backpressure: the main thread reports how many messages have been stored; the worker keeps at most
 * `maxOutstanding` messages published but not yet stored, so the measured rate is what the whole pipeline
 * sustains, not how fast the queue can grow.
 */
import { parentPort, workerData } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';

interface LoadDevice {
  readonly deviceId: string;
  readonly type: string;
  readonly topic: string;
  readonly certPem: string;
  readonly keyPem: string;
}

interface LoadSettings {
  readonly mqttUrl: string;
  readonly caPem: string;
  readonly devices: readonly LoadDevice[];
  readonly maxOutstanding: number;
  readonly perClientWindow: number;
  /** The store keeps at most 300 readings per device-hour; observation times step back an hour every this many. */
  readonly readingsPerHour: number;
}

const settings = workerData as LoadSettings;
const port = parentPort;
if (!port) throw new Error('run as a worker thread');

let stored = 0;
let published = 0;
let acknowledged = 0;
let running = false;
const wakers: (() => void)[] = [];

port.on('message', (message: { stored?: number; start?: boolean; stop?: boolean }) => {
  if (message.stored !== undefined) stored = message.stored;
  if (message.start) running = true;
  if (message.stop) running = false;
  for (const wake of wakers.splice(0)) wake();
});

const waitForCredit = () => new Promise<void>((resolve) => wakers.push(resolve));

function connect(device: LoadDevice): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(settings.mqttUrl, {
      clientId: device.deviceId,
      ca: settings.caPem,
      cert: device.certPem,
      key: device.keyPem,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 20_000,
    });
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

async function drive(device: LoadDevice, client: MqttClient): Promise<void> {
  let sequence = 0;
  const inFlight = new Set<Promise<void>>();
  while (true) {
    if (!running && published > 0) break;
    if (!running || published - stored >= settings.maxOutstanding) {
      await waitForCredit();
      continue;
    }
    sequence += 1;
    const now = Date.now();
    const hoursBack = Math.floor(sequence / settings.readingsPerHour);
    const envelope = {
      // The publish time rides in the message id, so the main thread can time publish -> stored.
      messageId: `b${now}-${sequence}`,
      observedAt: new Date(now - hoursBack * 3_600_000).toISOString(),
      readings:
        device.type === 'air-quality'
          ? { no2: 20 + (sequence % 40), pm25: 7.5 }
          : { fillingLevel: (sequence % 100) / 100, temperature: 11.5 },
      battery: 0.9,
    };
    published += 1;
    const p = new Promise<void>((resolve) => {
      client.publish(device.topic, JSON.stringify(envelope), { qos: 1 }, (error) => {
        if (!error) acknowledged += 1;
        resolve();
      });
    }).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= settings.perClientWindow) await Promise.race(inFlight);
    // Let I/O in between publishes: a loop that only awaits settled promises starves the sockets.
    if (sequence % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(inFlight);
}

const clients = await Promise.all(settings.devices.map(connect));
port.postMessage({ connected: clients.length });
await new Promise<void>((resolve) => {
  const check = () => (running ? resolve() : wakers.push(check));
  check();
});
await Promise.all(settings.devices.map((device, i) => drive(device, clients[i] as MqttClient)));
for (const client of clients) client.end(true);
port.postMessage({ done: true, published, acknowledged });
