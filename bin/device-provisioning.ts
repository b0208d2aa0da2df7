import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { CLAIM_CLIENT_ID_PREFIX } from '../lambdas/contracts/provisioning-template.js';
import { parseTelemetryTopic } from '../lambdas/contracts/topics.js';
import {
  type AllowCommand,
  type ClaimCommand,
  type ClaimManifest,
  DeviceInputError,
  defaultBundleDir,
  type ProvisionTestCommand,
  readClaimManifest,
  shortCertificateId,
} from '../lambdas/domain/device-onboarding-commands.js';
import { readAllowListCsv } from '../lambdas/domain/provisioning-allow-list.js';
import {
  manifestOf,
  readCsvFlag,
  shownPath,
  someOf,
  testCommand,
  writeBundleFolder,
  writeNewBundle,
} from './device-bundles.js';
import type { DeviceCliIo } from './device-platform.js';
import { openDevicePlatform } from './open-device-platform.js';

/**
 * Fleet provisioning by claim from the CLI: the allow-list (`allow`), claim certificates for vendors (`claim`), and
 * what a vendor's firmware does with one (`provision-test`), against the local runtime or AWS.
 */

/**
 * `allow --csv FILE`: every row checked (CSV, `add`'s rules, serials and ids given twice, ids already registered,
 * the council's area) before anything is written; then every serial put on the allow-list, waiting. A serial a
 * device has already provisioned under is left as it is and named. Exit 1 when a row is bad.
 */
export async function allow(command: AllowCommand, io: DeviceCliIo): Promise<number> {
  const { file, text } = await readCsvFlag(io, command.csv);
  const platform = await openDevicePlatform(command.target, io);
  const provisioning = platform.provisioning();
  const devices = await platform.registry.list();
  const reading = readAllowListCsv(text, {
    registered: new Map(devices.map((device) => [device.deviceId, device])),
    ...(platform.councilArea ? { councilArea: platform.councilArea } : {}),
  });
  if (!reading.ok) {
    const problems = reading.problems;
    for (const problem of problems) io.err(problem);
    io.err(
      `device: allow: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}; ` +
        'nothing was put on the allow-list (fix them and run again)',
    );
    return 1;
  }
  const entries = reading.rows.map(({ line: _line, ...entry }) => entry);
  const result = await provisioning.allowList.put(entries, new Date());
  io.out(
    `allow-list: ${result.waiting.length} serial${result.waiting.length === 1 ? '' : 's'} waiting to provision ` +
      `with template ${provisioning.templateName}`,
  );
  if (result.alreadyProvisioned.length > 0) {
    io.out(
      `already provisioned, left as they were (a serial provisions once): ${someOf(result.alreadyProvisioned)}`,
    );
  }
  return 0;
}

/** `claim --name NAME`: a claim certificate for a vendor, in a claim bundle. */
export async function claim(command: ClaimCommand, io: DeviceCliIo): Promise<void> {
  const dir = path.resolve(io.cwd, command.out);
  if (existsSync(dir)) {
    throw new DeviceInputError(
      `claim '${command.name}': --out ${dir} already exists; remove it or choose another`,
    );
  }
  const platform = await openDevicePlatform(command.target, io);
  const provisioning = platform.provisioning();
  const credentials = await provisioning.claims.issue(command.name);
  const manifest: ClaimManifest = {
    name: command.name,
    certificateId: credentials.certificateId,
    endpoint: credentials.endpoint,
    templateName: provisioning.templateName,
    clientIdPrefix: CLAIM_CLIENT_ID_PREFIX,
  };
  try {
    await writeBundleFolder(dir, { ...credentials, manifestName: 'claim.json', manifest });
  } catch (error) {
    throw new DeviceInputError(
      `claim '${command.name}': ${dir} could not be written (${(error as Error).message}); deactivate certificate ` +
        `${credentials.certificateId}, which nobody holds the key of`,
    );
  }
  io.out(
    `made claim certificate ${credentials.certificateId} '${command.name}' in ${dir}: it can ` +
      `only provision serial numbers on the allow-list, once each, connecting as ${CLAIM_CLIENT_ID_PREFIX}<serial>`,
  );
  io.out(
    `test: npm run device -- provision-test --claim ${shownPath(io, dir)} --serial <a serial on the allow-list>`,
  );
}

/** The fleet provisioning MQTT API's answers, as AWS IoT documents them. */
interface CreatedCertificate {
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly privateKey: string;
  readonly certificateOwnershipToken: string;
}
interface RegisteredThing {
  readonly thingName: string;
  readonly deviceConfiguration?: Readonly<Record<string, string>>;
}

const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Publishes a request and waits for its `/accepted` or `/rejected` answer (subscribed to beforehand); a
 * rejection's `errorMessage` becomes the error.
 */
function request<T>(client: MqttClient, topic: string, payload: unknown, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no answer to ${what} within 10 s`)), ANSWER_TIMEOUT_MS);
    const onMessage = (answered: string, body: Buffer) => {
      if (answered !== `${topic}/accepted` && answered !== `${topic}/rejected`) return;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        finish(new Error(`${what}: the answer is not JSON`));
        return;
      }
      if (answered.endsWith('/rejected')) {
        finish(
          new Error(
            `${what} refused: ${String(parsed.errorMessage ?? parsed.errorCode ?? 'no reason given')}`,
          ),
        );
      } else finish(undefined, parsed as T);
    };
    const finish = (error: Error | undefined, value?: T) => {
      clearTimeout(timer);
      client.off('message', onMessage);
      if (error) reject(error);
      else resolve(value as T);
    };
    client.on('message', onMessage);
    client.publish(topic, JSON.stringify(payload), { qos: 1 }, (error) => {
      if (error) finish(new Error(`${what}: publish refused: ${error.message}`));
    });
  });
}

async function readClaimBundle(dir: string) {
  try {
    const manifest = readClaimManifest(JSON.parse(await readFile(path.join(dir, 'claim.json'), 'utf8')));
    if (typeof manifest === 'string') throw new Error(manifest);
    return {
      manifest,
      cert: await readFile(path.join(dir, 'cert.pem'), 'utf8'),
      key: await readFile(path.join(dir, 'key.pem'), 'utf8'),
      ca: await readFile(path.join(dir, 'ca.pem'), 'utf8'),
    };
  } catch (error) {
    throw new DeviceInputError(`--claim ${dir}: ${(error as Error).message}`);
  }
}

/**
 * `provision-test --claim DIR --serial SERIAL`: connects with the claim certificate as `claim.<serial>`, asks for a
 * new certificate (CreateKeysAndCertificate over MQTT) and registers it under the serial (RegisterThing with the
 * template); the platform's hook admits the serial or refuses it. The device's own bundle is written from the
 * answers: the new certificate and key, the claim bundle's CA and endpoint, the topic the template returned.
 */
export async function provisionTest(command: ProvisionTestCommand, io: DeviceCliIo): Promise<void> {
  const claimDir = path.resolve(io.cwd, command.claim);
  const bundle = await readClaimBundle(claimDir);
  const { manifest } = bundle;
  const serial = command.serialNumber;
  const createTopic = '$aws/certificates/create/json';
  const provisionTopic = `$aws/provisioning-templates/${manifest.templateName}/provision/json`;
  const client = mqtt.connect(manifest.endpoint, {
    clientId: `${manifest.clientIdPrefix}${serial}`,
    cert: bundle.cert,
    key: bundle.key,
    ca: bundle.ca,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (error) =>
        reject(new Error(`connecting with the claim certificate: ${error.message}`)),
      );
      client.once('close', () => reject(new Error('the broker closed the connection')));
    });
    await client.subscribeAsync(
      [createTopic, provisionTopic].flatMap((topic) => [`${topic}/accepted`, `${topic}/rejected`]),
      { qos: 1 },
    );
    const created = await request<CreatedCertificate>(client, createTopic, {}, 'CreateKeysAndCertificate');
    const registered = await request<RegisteredThing>(
      client,
      provisionTopic,
      { certificateOwnershipToken: created.certificateOwnershipToken, parameters: { SerialNumber: serial } },
      `RegisterThing for serial '${serial}'`,
    );
    const topic = registered.deviceConfiguration?.TelemetryTopic ?? '';
    const parsed = parseTelemetryTopic(topic);
    if (!parsed || parsed.deviceId !== registered.thingName) {
      throw new Error(
        `RegisterThing answered thing '${registered.thingName}' with topic '${topic}': not a device topic`,
      );
    }
    const dir = path.resolve(io.cwd, command.out ?? defaultBundleDir(registered.thingName));
    await writeNewBundle(
      dir,
      { certificatePem: created.certificatePem, privateKeyPem: created.privateKey, rootCaPem: bundle.ca },
      manifestOf(
        { deviceId: registered.thingName, endpoint: manifest.endpoint, topic },
        { deviceType: parsed.deviceType },
      ),
      // The serial is used now: this key cannot be had again, so it is never thrown away.
      { keepOnFailure: true },
    );
    io.out(
      `provisioned ${registered.thingName} (${parsed.deviceType}) from serial ${serial}: certificate ` +
        `${shortCertificateId(created.certificateId)}, bundle ${dir}, topic ${topic}`,
    );
    io.out(testCommand(io, dir));
  } catch (error) {
    if (error instanceof DeviceInputError) throw error;
    throw new DeviceInputError(`serial '${serial}': ${(error as Error).message}`);
  } finally {
    client.end(true);
  }
}
