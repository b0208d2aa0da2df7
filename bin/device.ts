/**
 * `npm run device -- <command> --local [--data-dir .civic] [options]`: onboard, list, revoke, rotate and quarantine
 * devices (run it with no command for the list).
 *
 * Against the local runtime, the platform (`npm start`) must be running: registry changes go through its REST API
 * (POST /devices, GET /devices, GET /devices/{id}) with the token in `<data-dir>/local.json`, as a council's admin
 * tool would on AWS, so the running process stays the only owner of its store. Certificates come from the local CA
 * in `<data-dir>/certs/` (this CLI is the CA's owner on this machine) and their status lives in the identity
 * register there, which the running broker re-reads within a second of a change. Usage errors exit 2; a command
 * the platform cannot carry out (bad value, unknown or duplicate device) exits 1, naming the device and the field.
 */

import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import type { Device } from '../lambdas/domain/device.js';
import {
  describeImportTally,
  type ImportRow,
  type ImportStep,
  importStep,
  readDeviceImport,
} from '../lambdas/domain/device-import.js';
import type { DeviceCredentials, DeviceIdentities } from '../lambdas/domain/device-onboarding.js';
import {
  type AddCommand,
  type BundleManifest,
  countCertificates,
  type DeviceFields,
  DeviceInputError,
  DeviceUsageError,
  describeCertificates,
  type ImportCommand,
  type PlatformTarget,
  type PublishTestCommand,
  parseDeviceCommand,
  type RotateCommand,
  readBundleManifest,
  SAMPLE_READINGS,
  shortCertificateId,
} from '../lambdas/domain/device-onboarding-commands.js';
import { forEachLimited } from '../lambdas/domain/for-each-limited.js';
import { LocalCertificateAuthority } from '../local/certificate-authority.js';
import { LocalDeviceIdentities } from '../local/local-device-identities.js';
import type { LocalSettings } from '../local/local-settings-file.js';
import { loadLocalConfig } from '../local/start-local-platform.js';

/** Where the CLI writes and which directory relative paths start from (tests pass a temp dir). */
export interface DeviceCliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly cwd: string;
  /**
   * A one-line progress indicator that redraws in place; given only when stderr is a terminal, so logs and pipes
   * get the summary alone. Called with '' to clear it.
   */
  readonly progress?: (line: string) => void;
}

/** The device registry through the platform's REST API. */
interface RegistryApi {
  get(deviceId: string): Promise<Device | undefined>;
  register(device: DeviceFields): Promise<Device>;
  list(): Promise<Device[]>;
}

interface Platform {
  readonly registry: RegistryApi;
  readonly identities: DeviceIdentities;
}

/** The problem+json `detail`, or the status line when the body has none. */
async function problemOf(response: Response): Promise<string> {
  const body = (await response.json().catch(() => undefined)) as
    | { detail?: string; title?: string }
    | undefined;
  return body?.detail ?? body?.title ?? `HTTP ${response.status}`;
}

function registryApi(settings: Pick<LocalSettings, 'apiUrl' | 'token'>): RegistryApi {
  const call = async (method: string, pathAndQuery: string, body?: unknown): Promise<Response> => {
    try {
      return await fetch(`${settings.apiUrl}${pathAndQuery}`, {
        method,
        headers: {
          authorization: `Bearer ${settings.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new DeviceInputError(
        `the platform at ${settings.apiUrl} is not answering (${(error as Error).message}): is npm start running?`,
      );
    }
  };
  return {
    get: async (deviceId) => {
      const response = await call('GET', `/devices/${encodeURIComponent(deviceId)}`);
      if (response.status === 404) return undefined;
      if (!response.ok) throw new DeviceInputError(`device '${deviceId}': ${await problemOf(response)}`);
      return (await response.json()) as Device;
    },
    register: async (add) => {
      const response = await call('POST', '/devices', {
        deviceId: add.deviceId,
        deviceType: add.deviceType,
        location: add.location,
        ...(add.ward === undefined ? {} : { ward: add.ward }),
        ...(add.site === undefined ? {} : { site: add.site }),
        ...(add.expectedIntervalSeconds === undefined
          ? {}
          : { expectedIntervalSeconds: add.expectedIntervalSeconds }),
      });
      if (response.status === 409) {
        throw new DeviceInputError(`device '${add.deviceId}': --id is already registered`);
      }
      if (!response.ok) throw new DeviceInputError(`device '${add.deviceId}': ${await problemOf(response)}`);
      return (await response.json()) as Device;
    },
    list: async () => {
      const devices: Device[] = [];
      let cursor: string | undefined;
      do {
        const response = await call(
          'GET',
          `/devices?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        if (!response.ok) throw new DeviceInputError(`listing devices: ${await problemOf(response)}`);
        const page = (await response.json()) as { items: Device[]; nextCursor?: string };
        devices.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return devices;
    },
  };
}

async function localPlatform(target: PlatformTarget, io: DeviceCliIo, graceSeconds = 0): Promise<Platform> {
  const dataDir = path.resolve(io.cwd, target.dataDir);
  const settingsPath = path.join(dataDir, 'local.json');
  const caDir = path.join(dataDir, 'certs');
  if (!existsSync(settingsPath) || !existsSync(path.join(caDir, 'ca.key.pem'))) {
    throw new DeviceInputError(
      `no local platform in ${dataDir} (local.json and certs/ are missing): start it with npm start -- --data-dir ${target.dataDir}`,
    );
  }
  const settings = JSON.parse(await readFile(settingsPath, 'utf8')) as LocalSettings;
  const config = await loadLocalConfig();
  const identities = new LocalDeviceIdentities({
    ca: await LocalCertificateAuthority.loadOrCreate(caDir),
    endpoint: settings.mqttUrl,
    essentialDeviceTypes: config.essentialDeviceTypes,
    rotationGraceSeconds: graceSeconds,
  });
  return { registry: registryApi(settings), identities };
}

async function registered(platform: Platform, deviceId: string): Promise<Device> {
  const device = await platform.registry.get(deviceId);
  if (!device)
    throw new DeviceInputError(`device '${deviceId}': --id is not registered (npm run device -- list)`);
  return device;
}

async function writeKey(file: string, pem: string): Promise<void> {
  await writeFile(file, pem, { mode: 0o600 });
  await chmod(file, 0o600);
}

/** Writes a file by temp file and rename, so a bundle never holds half a certificate. */
async function replaceFile(file: string, content: string, secret = false): Promise<void> {
  const temp = `${file}.tmp`;
  if (secret) await writeKey(temp, content);
  else await writeFile(temp, content);
  await rename(temp, file);
}

function manifestOf(credentials: DeviceCredentials, device: Pick<Device, 'deviceType'>): BundleManifest {
  return {
    deviceId: credentials.deviceId,
    type: device.deviceType,
    endpoint: credentials.endpoint,
    topic: credentials.topic,
  };
}

/** cert.pem, key.pem (0600), ca.pem and device.json; the folder is made whole in a temp folder, then renamed. */
async function writeNewBundle(
  dir: string,
  credentials: DeviceCredentials,
  manifest: BundleManifest,
): Promise<void> {
  const temp = `${dir}.${randomUUID()}.tmp`;
  await mkdir(temp, { recursive: true, mode: 0o700 });
  try {
    await writeFile(path.join(temp, 'cert.pem'), credentials.certificatePem);
    await writeKey(path.join(temp, 'key.pem'), credentials.privateKeyPem);
    await writeFile(path.join(temp, 'ca.pem'), credentials.rootCaPem);
    await writeFile(path.join(temp, 'device.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

function testCommand(io: DeviceCliIo, dir: string): string {
  const shown = path.relative(io.cwd, dir) || '.';
  return `test: npm run device -- publish-test --bundle ${shown.startsWith('..') ? dir : shown}`;
}

async function add(command: AddCommand, io: DeviceCliIo): Promise<void> {
  const platform = await localPlatform(command.target, io);
  const { deviceId } = command;
  const existing = await platform.registry.get(deviceId);
  if (existing) {
    throw new DeviceInputError(
      `device '${deviceId}': --id is already registered (status ${existing.status})`,
    );
  }
  const dir = path.resolve(io.cwd, command.out);
  if (existsSync(dir)) {
    throw new DeviceInputError(
      `device '${deviceId}': --out ${dir} already exists; remove it or choose another`,
    );
  }
  const device: Device = {
    deviceId,
    deviceType: command.deviceType,
    status: 'active',
    location: command.location,
    registeredAt: new Date().toISOString(),
  };
  // Certificate and bundle first, registration last: if registering fails, the certificate is revoked and the
  // bundle removed, and the registry never holds a device without credentials.
  const credentials = await platform.identities.issue(device);
  try {
    await mkdir(path.dirname(dir), { recursive: true });
    await writeNewBundle(dir, credentials, manifestOf(credentials, device));
    await platform.registry.register(command);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    await platform.identities.revoke(deviceId);
    throw error;
  }
  io.out(
    `added ${deviceId} (${command.deviceType}) at ${command.location.lat},${command.location.lon}: ` +
      `certificate ${shortCertificateId(credentials.certificateId)}, bundle ${dir}, topic ${credentials.topic}`,
  );
  io.out(testCommand(io, dir));
}

/** How many rows an import works on at once: certificates, bundle writes and POST /devices in flight. */
const IMPORT_CONCURRENCY = 8;

/** The device id in `<dir>/device.json`, or undefined when there is no readable bundle there. */
async function bundleOwner(dir: string): Promise<string | undefined> {
  try {
    const manifest = readBundleManifest(JSON.parse(await readFile(path.join(dir, 'device.json'), 'utf8')));
    return typeof manifest === 'string' ? undefined : manifest.deviceId;
  } catch {
    return undefined;
  }
}

/** The first few items of a long list, for one readable line. */
function someOf(items: readonly string[], shown = 5): string {
  const rest = items.length - shown;
  return rest > 0 ? `${items.slice(0, shown).join(', ')} and ${rest} more` : items.join(', ');
}

/**
 * `import`: every row checked (CSV, `add`'s rules, duplicates, the registry) before anything is made; then each
 * row is created, completed or skipped (see {@link importStep}) with {@link IMPORT_CONCURRENCY} rows in flight.
 * A row that fails while being made is rolled back as `add` does and counted; re-running completes it.
 */
async function importDevices(command: ImportCommand, io: DeviceCliIo): Promise<number> {
  const file = path.resolve(io.cwd, command.csv);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new DeviceInputError(`--csv ${file}: ${(error as Error).message}`);
  }
  const platform = await localPlatform(command.target, io);
  const devices = await platform.registry.list();
  const reading = readDeviceImport(text, new Map(devices.map((device) => [device.deviceId, device])));
  const outDir = path.resolve(io.cwd, command.out);
  const bundleDir = (row: ImportRow) => path.join(outDir, row.deviceId);

  const problems = reading.ok ? [] : [...reading.problems];
  const steps = new Map<ImportRow, ImportStep>();
  const leftovers = new Set<ImportRow>();
  if (reading.ok) {
    const known = new Set(devices.map((device) => device.deviceId));
    await forEachLimited(reading.rows, IMPORT_CONCURRENCY, async (row) => {
      const owner = await bundleOwner(bundleDir(row));
      const registered = known.has(row.deviceId);
      if (!registered && existsSync(bundleDir(row))) {
        // A bundle of this device left by a run that stopped before registering it is replaced; anything else
        // in its place is not ours to remove.
        if (owner === row.deviceId) leftovers.add(row);
        else {
          problems.push(
            `line ${row.line}: device '${row.deviceId}': ${bundleDir(row)} already exists and is not its bundle; ` +
              'remove it or choose another --out',
          );
        }
      }
      const identity = registered ? await platform.identities.describe(row.deviceId) : undefined;
      steps.set(
        row,
        importStep({
          registered,
          activeCertificate: identity !== undefined && countCertificates(identity, 'active') > 0,
          bundle: owner === row.deviceId,
        }),
      );
    });
  }
  if (!reading.ok || problems.length > 0) {
    problems.sort((a, b) => lineOf(a) - lineOf(b));
    for (const problem of problems) io.err(problem);
    io.err(
      `device: import: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}; ` +
        'nothing was created (fix them and run again)',
    );
    return 1;
  }

  const rows = reading.rows;
  const tally = { created: 0, completed: 0, skipped: 0, failed: 0 };
  const skipped: string[] = [];
  let done = 0;
  io.progress?.(`imported 0/${rows.length}`);
  await forEachLimited(rows, IMPORT_CONCURRENCY, async (row) => {
    const step = steps.get(row) ?? 'create';
    const dir = bundleDir(row);
    try {
      if (step === 'skip') {
        skipped.push(row.deviceId);
        tally.skipped++;
        return;
      }
      const device: Device = {
        deviceId: row.deviceId,
        deviceType: row.deviceType,
        status: 'active',
        location: row.location,
        registeredAt: new Date().toISOString(),
      };
      // As add: certificate and bundle first, registration last, undone together if registering fails.
      const credentials = await platform.identities.issue(device);
      try {
        if (step === 'complete' || leftovers.has(row)) await rm(dir, { recursive: true, force: true });
        await mkdir(outDir, { recursive: true });
        await writeNewBundle(dir, credentials, manifestOf(credentials, device));
        if (step === 'create') await platform.registry.register(row);
      } catch (error) {
        if (step === 'create') {
          await rm(dir, { recursive: true, force: true });
          await platform.identities.revoke(row.deviceId);
        }
        throw error;
      }
      if (step === 'create') tally.created++;
      else {
        tally.completed++;
        io.out(
          `completed ${row.deviceId} (line ${row.line}): it was registered; new certificate and bundle ${dir}`,
        );
      }
    } catch (error) {
      tally.failed++;
      io.err(`line ${row.line}: device '${row.deviceId}': not imported: ${(error as Error).message}`);
    } finally {
      done++;
      io.progress?.(`imported ${done}/${rows.length}`);
    }
  });
  io.progress?.('');
  if (skipped.length > 0) {
    io.out(
      `skipped ${skipped.length} already onboarded (registered, active certificate, bundle): ${someOf(skipped)}`,
    );
  }
  io.out(`${describeImportTally(tally)}; bundles in ${outDir}`);
  return tally.failed > 0 ? 1 : 0;
}

/** The line number a problem starts with (`line 7: ...`), for reporting in file order. */
function lineOf(problem: string): number {
  return Number(/^line (\d+):/.exec(problem)?.[1] ?? 0);
}

async function rotate(command: RotateCommand, io: DeviceCliIo): Promise<void> {
  const platform = await localPlatform(command.target, io, command.graceSeconds);
  const device = await registered(platform, command.deviceId);
  if (device.status === 'decommissioned') {
    throw new DeviceInputError(`device '${device.deviceId}': --id is decommissioned; nothing to rotate`);
  }
  const credentials = await platform.identities.issue(device);
  const dir = path.resolve(io.cwd, command.out);
  const manifest = manifestOf(credentials, device);
  if (existsSync(dir)) {
    await replaceFile(path.join(dir, 'key.pem'), credentials.privateKeyPem, true);
    await replaceFile(path.join(dir, 'cert.pem'), credentials.certificatePem);
    await replaceFile(path.join(dir, 'ca.pem'), credentials.rootCaPem);
    await replaceFile(path.join(dir, 'device.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  } else {
    await mkdir(path.dirname(dir), { recursive: true });
    await writeNewBundle(dir, credentials, manifest);
  }
  io.out(
    `rotated ${device.deviceId}: new certificate ${shortCertificateId(credentials.certificateId)} in ${dir}; ` +
      `the old one stops once the device connects with the new one, or in ${command.graceSeconds} s`,
  );
  io.out(testCommand(io, dir));
}

async function publishTest(command: PublishTestCommand, io: DeviceCliIo): Promise<void> {
  const dir = path.resolve(io.cwd, command.bundle);
  let manifest: BundleManifest | string;
  let files: { cert: string; key: string; ca: string };
  try {
    manifest = readBundleManifest(JSON.parse(await readFile(path.join(dir, 'device.json'), 'utf8')));
    files = {
      cert: await readFile(path.join(dir, 'cert.pem'), 'utf8'),
      key: await readFile(path.join(dir, 'key.pem'), 'utf8'),
      ca: await readFile(path.join(dir, 'ca.pem'), 'utf8'),
    };
  } catch (error) {
    throw new DeviceInputError(`--bundle ${dir}: ${(error as Error).message}`);
  }
  if (typeof manifest === 'string') throw new DeviceInputError(`--bundle ${dir}: ${manifest}`);
  const messageId = `publish-test-${Date.now()}`;
  const payload = JSON.stringify({
    messageId,
    observedAt: new Date().toISOString(),
    readings: SAMPLE_READINGS[manifest.type],
  });
  const { deviceId, topic, endpoint } = manifest;
  const client = mqtt.connect(endpoint, {
    clientId: deviceId,
    cert: files.cert,
    key: files.key,
    ca: files.ca,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  try {
    const outcome = await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve('no acknowledgement within 5 s'), 5000);
      const done = (result: string | undefined) => {
        clearTimeout(timer);
        resolve(result);
      };
      client.once('error', (error) => done(`refused: ${error.message}`));
      client.once('close', () => done('the broker closed the connection'));
      client.once('connect', () =>
        client.publish(topic, payload, { qos: 1 }, (error) =>
          done(error ? `refused: ${error.message}` : undefined),
        ),
      );
    });
    if (outcome !== undefined)
      throw new DeviceInputError(`device '${deviceId}': publish to ${topic}: ${outcome}`);
    io.out(`acknowledged: ${deviceId} published ${messageId} to ${topic}`);
  } finally {
    client.end(true);
  }
}

/**
 * Runs one `npm run device` command; resolves to the exit status (0, 1 for a refused command, 2 for a usage
 * error). Messages go to `io`, never to the console, so tests run it in-process.
 */
export async function runDeviceCli(argv: readonly string[], io: DeviceCliIo): Promise<number> {
  try {
    const command = parseDeviceCommand(argv);
    switch (command.command) {
      case 'publish-test':
        await publishTest(command, io);
        break;
      case 'add':
        await add(command, io);
        break;
      case 'import':
        return await importDevices(command, io);
      case 'rotate':
        await rotate(command, io);
        break;
      case 'list': {
        const platform = await localPlatform(command.target, io);
        const devices = await platform.registry.list();
        for (const device of devices) {
          const identity = await platform.identities.describe(device.deviceId);
          io.out(
            [
              device.deviceId.padEnd(24),
              device.deviceType.padEnd(16),
              device.status.padEnd(15),
              `certificates ${identity.thing ? countCertificates(identity, 'active') : 'runtime'} active`,
              identity.quarantined ? 'QUARANTINED' : '',
            ]
              .join(' ')
              .trimEnd(),
          );
        }
        io.out(`${devices.length} device(s)`);
        break;
      }
      case 'show': {
        const platform = await localPlatform(command.target, io);
        const device = await registered(platform, command.deviceId);
        const identity = await platform.identities.describe(device.deviceId);
        io.out(`device ${device.deviceId}`);
        io.out(`  type          ${device.deviceType}`);
        io.out(`  status        ${device.status}`);
        io.out(`  location      ${device.location.lat},${device.location.lon}`);
        if (device.ward) io.out(`  ward          ${device.ward}`);
        if (device.site) io.out(`  site          ${device.site}`);
        io.out(
          `  certificates  ${identity.thing ? describeCertificates(identity) : 'issued by the runtime (not managed here)'}`,
        );
        io.out(`  quarantined   ${identity.quarantined ? 'yes' : 'no'}`);
        break;
      }
      case 'revoke': {
        const platform = await localPlatform(command.target, io);
        await registered(platform, command.deviceId);
        await platform.identities.revoke(command.deviceId);
        io.out(
          `revoked every certificate of ${command.deviceId}: its connections are refused within 5 s ` +
            '(rotate issues a new one)',
        );
        break;
      }
      case 'quarantine':
      case 'release': {
        const platform = await localPlatform(command.target, io);
        await registered(platform, command.deviceId);
        if (command.command === 'quarantine') {
          await platform.identities.quarantine(command.deviceId);
          io.out(`quarantined ${command.deviceId}: it may connect, its publishes are refused until released`);
        } else {
          await platform.identities.release(command.deviceId);
          io.out(`released ${command.deviceId}: its publishes are accepted again`);
        }
        break;
      }
    }
    return 0;
  } catch (error) {
    if (error instanceof DeviceUsageError || error instanceof DeviceInputError) {
      io.err(`device: ${error.message}`);
      return error.exitCode;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = await runDeviceCli(process.argv.slice(2), {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    cwd: process.cwd(),
    ...(process.stderr.isTTY ? { progress: (line: string) => process.stderr.write(`\r\x1b[K${line}`) } : {}),
  });
}
