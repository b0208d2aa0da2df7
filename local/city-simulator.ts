import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceType } from '../lambdas/contracts/device-types.js';
import type { Envelope } from '../lambdas/contracts/envelope.js';
import { MAX_READINGS_PER_HOUR } from '../lambdas/domain/rate-policy.js';
import { DEVICE_PROFILES, type DemoDevice } from './demo-city.js';
import { createDeviceModel, type DeviceModel } from './device-models.js';
import { SeededRandom } from './seeded-random.js';

/** A device's credentials and topic, as in local.json. */
export interface DeviceBundle {
  readonly deviceId: string;
  readonly type: DeviceType;
  readonly topic: string;
  /** Absolute paths to the device's certificate and private key. */
  readonly cert: string;
  readonly key: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Options for {@link CitySimulator}. */
export interface CitySimulatorOptions {
  readonly mqttUrl: string;
  readonly caPem: string;
  readonly devices: readonly { readonly demo: DemoDevice; readonly bundle: DeviceBundle }[];
  readonly seed: string;
  /** Simulated seconds per real second. */
  readonly speed: number;
  readonly log?: (line: string) => void;
}

/**
 * No simulated device reports more often than the telemetry store takes readings from one device (300 an hour, one
 * every 12 s: past that it refuses them as RATE_LIMITED whatever the device declared), with a quarter's headroom
 * for the +-10% jitter: 15 s, whatever the speed-up. A sped-up demo should show the town, not the rate policing;
 * and a runaway demo is not a load test.
 */
export const MIN_REPORTING_SECONDS = (3600 / MAX_READINGS_PER_HOUR) * 1.25;

/**
 * How often a simulated device of this type really reports at this speed-up, in real seconds: its profile's
 * interval divided by the speed, but not below {@link MIN_REPORTING_SECONDS}. This is what the device declares as
 * its `expectedIntervalSeconds`, so per-device rate policing judges it by the rate it actually keeps.
 */
export function reportingIntervalSeconds(type: DeviceType, speed: number): number {
  return Math.max(MIN_REPORTING_SECONDS, DEVICE_PROFILES[type].intervalSeconds / speed);
}

/**
 * The demo town's devices, each its own MQTT client with its own certificate, publishing QoS 1 to its Basic
 * Ingest topic on its profile's interval.
 *
 * Time: `--speed N` makes simulated time run N times faster for the physics (bins fill, the working day passes,
 * rain falls and drains) and shortens the reporting intervals by the same factor (down to one report every 15 s;
 * see {@link reportingIntervalSeconds}), which the devices declare in the registry at every start. `observedAt` is always the real
 * wall-clock time of the reading. Simulated timestamps would lie in the future at any speed above 1 and be
 * refused as TIMESTAMP_IN_FUTURE; clamping them would pile many readings onto the same instant. Real timestamps
 * keep every stored series ordered and valid across restarts, at the price that a sped-up day's shape appears
 * compressed on the real time axis (at --speed 60 a day takes 24 minutes).
 */
export class CitySimulator {
  private readonly clients: MqttClient[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly realStart = Date.now();
  private counter = 0;
  /** Publishes sent and acknowledged by the broker, and failures. */
  readonly counts = { published: 0, acknowledged: 0, failed: 0 };

  constructor(private readonly options: CitySimulatorOptions) {}

  /** The simulated clock: starts at the real time and runs `speed` times faster. */
  simNow(): number {
    return this.realStart + (Date.now() - this.realStart) * this.options.speed;
  }

  /** Connects every device (in parallel) and starts their reporting loops. */
  async start(): Promise<void> {
    const { devices, seed, speed } = this.options;
    await Promise.all(
      devices.map(async ({ demo, bundle }) => {
        const client = await this.connect(bundle);
        if (this.stopped) return;
        const model = createDeviceModel(demo, seed, this.realStart);
        const random = SeededRandom.derive(seed, `schedule/${bundle.deviceId}`);
        const interval = reportingIntervalSeconds(bundle.type, speed) * 1000;
        // Spread first reports over one interval so 180 devices do not all report in the same tick.
        this.schedule(client, bundle, model, random, random.between(0, interval), interval);
      }),
    );
  }

  private connect(bundle: DeviceBundle): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      const client = mqtt.connect(this.options.mqttUrl, {
        clientId: bundle.deviceId,
        ca: this.options.caPem,
        cert: bundle.certPem,
        key: bundle.keyPem,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 2000,
        connectTimeout: 10_000,
        keepalive: 60,
      });
      this.clients.push(client);
      client.once('connect', () => resolve(client));
      client.once('error', (error) => {
        if (!client.connected) reject(new Error(`${bundle.deviceId} could not connect: ${error.message}`));
      });
    });
  }

  private schedule(
    client: MqttClient,
    bundle: DeviceBundle,
    model: DeviceModel,
    random: SeededRandom,
    delayMs: number,
    intervalMs: number,
  ): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.publish(client, bundle, model);
      // +-10% jitter, as real devices drift.
      this.schedule(client, bundle, model, random, intervalMs * random.between(0.9, 1.1), intervalMs);
    }, delayMs);
    this.timers.add(timer);
  }

  private publish(client: MqttClient, bundle: DeviceBundle, model: DeviceModel): void {
    const { readings, battery } = model.read(this.simNow());
    this.counter += 1;
    const envelope: Envelope = {
      // Unique per message and per run: the platform deduplicates on deviceId + messageId.
      messageId: `${this.realStart.toString(36)}-${this.counter.toString(36)}`,
      observedAt: new Date().toISOString(),
      readings,
      battery,
    };
    this.counts.published += 1;
    client.publish(bundle.topic, JSON.stringify(envelope), { qos: 1 }, (error) => {
      if (error) {
        this.counts.failed += 1;
        if (!this.stopped)
          this.options.log?.(`simulator: ${bundle.deviceId} publish failed: ${error.message}`);
      } else this.counts.acknowledged += 1;
    });
  }

  /** Stops reporting and disconnects every device, letting acknowledgements in flight arrive first. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(
      this.clients.map(
        (client) =>
          new Promise<void>((resolve) => {
            const force = setTimeout(() => client.end(true, () => resolve()), 2000);
            client.end(false, () => {
              clearTimeout(force);
              resolve();
            });
          }),
      ),
    );
  }
}
