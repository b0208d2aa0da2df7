/**
 * `npm run device -- <command> [options] [--local [--data-dir .civic]]`: onboard, list, revoke, rotate and
 * quarantine devices (run it with no command for the list).
 *
 * With `--local` it works on the local runtime (`npm start` must be running; see `local-device-platform.ts`);
 * without, on the platform deployed to AWS with the user's credentials and the stack's outputs (see
 * `aws-device-platform.ts`). The commands are the same and print the same lines. Usage errors exit 2; a command
 * the platform cannot carry out (bad value, unknown or duplicate device, a refusal from AWS) exits 1, naming the
 * device and the field.
 */

import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import mqtt from 'mqtt';
import type { Device } from '../lambdas/domain/device.js';
import {
  describeImportTally,
  type ImportRow,
  type ImportStep,
  importStep,
  readDeviceImport,
  sortedByLine,
} from '../lambdas/domain/device-import.js';
import {
  type AddCommand,
  type BundleManifest,
  countCertificates,
  type DeviceFields,
  DeviceInputError,
  DeviceUsageError,
  describeCertificates,
  type ImportCommand,
  type PublishTestCommand,
  parseDeviceCommand,
  type RotateCommand,
  readBundleManifest,
  requireInsideArea,
  SAMPLE_READINGS,
  shortCertificateId,
} from '../lambdas/domain/device-onboarding-commands.js';
import { forEachLimited } from '../lambdas/domain/for-each-limited.js';
import {
  manifestOf,
  readCsvFlag,
  replaceBundle,
  someOf,
  testCommand,
  writeNewBundle,
} from './device-bundles.js';
import type { DeviceCliIo, DevicePlatform } from './device-platform.js';
import { allow, claim, provisionTest } from './device-provisioning.js';
import { openDevicePlatform } from './open-device-platform.js';

export type { DeviceCliIo } from './device-platform.js';

async function registered(platform: DevicePlatform, deviceId: string): Promise<Device> {
  const device = await platform.registry.get(deviceId);
  if (!device)
    throw new DeviceInputError(`device '${deviceId}': --id is not registered (npm run device -- list)`);
  return device;
}

/**
 * Undoes an `issue` after a later step failed and rethrows that step's error; if undoing fails too, the error says
 * both, so what is left to clean up is never hidden behind the first failure.
 */
async function withdrawAfter(
  failure: unknown,
  platform: DevicePlatform,
  deviceId: string,
  certificateId: string,
): Promise<never> {
  try {
    await platform.identities.withdraw(deviceId, certificateId);
  } catch (undoing) {
    throw new DeviceInputError(
      `device '${deviceId}': ${(failure as Error).message}; undoing the new certificate ${certificateId} failed ` +
        `too: ${(undoing as Error).message}`,
    );
  }
  throw failure;
}

/** The device as it will be registered, for its identity (the thing's type, ward and site attributes). */
function deviceToBe(fields: DeviceFields): Device {
  return {
    deviceId: fields.deviceId,
    deviceType: fields.deviceType,
    status: 'active',
    location: { ...fields.location },
    ...(fields.ward === undefined ? {} : { ward: fields.ward }),
    ...(fields.site === undefined ? {} : { site: fields.site }),
    registeredAt: new Date().toISOString(),
  };
}

async function add(command: AddCommand, io: DeviceCliIo): Promise<void> {
  const platform = await openDevicePlatform(command.target, io);
  const { deviceId } = command;
  // Checked again by the registry; here, before anything is made.
  requireInsideArea(deviceId, command.location, platform.councilArea);
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
  const device = deviceToBe(command);
  // Certificate and bundle first, registration last: if registering fails, the certificate is withdrawn (and the
  // thing with it) and the bundle removed, so the registry never holds a device without credentials.
  const credentials = await platform.identities.issue(device);
  try {
    await mkdir(path.dirname(dir), { recursive: true });
    await writeNewBundle(dir, credentials, manifestOf(credentials, device));
    await platform.registry.register(command);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    await withdrawAfter(error, platform, deviceId, credentials.certificateId);
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

/**
 * `import`: every row checked (CSV, `add`'s rules, duplicates, the registry) before anything is made; then each
 * row is created, completed or skipped (see {@link importStep}) with {@link IMPORT_CONCURRENCY} rows in flight.
 * A row that fails while being made is rolled back as `add` does and counted; re-running completes it.
 */
async function importDevices(command: ImportCommand, io: DeviceCliIo): Promise<number> {
  const { file, text } = await readCsvFlag(io, command.csv);
  const platform = await openDevicePlatform(command.target, io);
  const devices = await platform.registry.list();
  const reading = readDeviceImport(
    text,
    new Map(devices.map((device) => [device.deviceId, device])),
    platform.councilArea,
  );
  const outDir = path.resolve(io.cwd, command.out);
  const bundleDir = (row: ImportRow) => path.join(outDir, row.deviceId);

  const problems = reading.ok ? [] : [...reading.problems];
  const steps = new Map<ImportRow, ImportStep>();
  const leftovers = new Set<ImportRow>();
  /** Skipped devices without an active certificate or without their bundle here: `rotate` is how they get one. */
  const needsRotation: string[] = [];
  if (reading.ok) {
    const known = new Set(devices.map((device) => device.deviceId));
    await forEachLimited(reading.rows, IMPORT_CONCURRENCY, async (row) => {
      const owner = await bundleOwner(bundleDir(row));
      const registered = known.has(row.deviceId);
      const identity = registered ? await platform.identities.describe(row.deviceId) : undefined;
      const step = importStep({ registered, certificates: identity?.certificates.length ?? 0 });
      steps.set(row, step);
      if (step !== 'skip' && existsSync(bundleDir(row))) {
        // A bundle of this device left by a run that stopped before finishing it is replaced; anything else in
        // its place is not ours to remove.
        if (owner === row.deviceId) leftovers.add(row);
        else {
          problems.push(
            `line ${row.line}: device '${row.deviceId}': ${bundleDir(row)} already exists and is not its bundle; ` +
              'remove it or choose another --out',
          );
        }
      }
      if (
        step === 'skip' &&
        identity &&
        (countCertificates(identity, 'active') === 0 || owner !== row.deviceId)
      ) {
        needsRotation.push(row.deviceId);
      }
    });
  }
  if (!reading.ok || problems.length > 0) {
    for (const problem of sortedByLine(problems)) io.err(problem);
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
      const device = deviceToBe(row);
      // As add: certificate and bundle first, registration last, undone together if registering fails.
      const credentials = await platform.identities.issue(device);
      try {
        if (leftovers.has(row)) await rm(dir, { recursive: true, force: true });
        await mkdir(outDir, { recursive: true });
        await writeNewBundle(dir, credentials, manifestOf(credentials, device));
        if (step === 'create') await platform.registry.register(row);
      } catch (error) {
        await rm(dir, { recursive: true, force: true });
        await withdrawAfter(error, platform, row.deviceId, credentials.certificateId);
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
      `skipped ${skipped.length} already onboarded (registered, with a certificate): ${someOf(skipped)}`,
    );
  }
  if (needsRotation.length > 0) {
    io.out(
      `of those, without an active certificate or without their bundle in ${outDir} (a re-run never replaces ` +
        `a certificate; npm run device -- rotate --id ID does): ${someOf(needsRotation)}`,
    );
  }
  io.out(`${describeImportTally(tally)}; bundles in ${outDir}`);
  return tally.failed > 0 ? 1 : 0;
}

async function rotate(command: RotateCommand, io: DeviceCliIo): Promise<void> {
  const platform = await openDevicePlatform(command.target, io, {
    rotationGraceSeconds: command.graceSeconds,
  });
  const device = await registered(platform, command.deviceId);
  if (device.status === 'decommissioned') {
    throw new DeviceInputError(`device '${device.deviceId}': --id is decommissioned; nothing to rotate`);
  }
  const dir = path.resolve(io.cwd, command.out);
  const credentials = await platform.identities.issue(device);
  try {
    // The whole new bundle is written beside the old one, then swapped in: never a new key with an old certificate.
    await replaceBundle(dir, credentials, manifestOf(credentials, device));
  } catch (error) {
    // A certificate nobody holds the key of is withdrawn, and what the rotation retired goes back to work.
    await withdrawAfter(error, platform, device.deviceId, credentials.certificateId);
  }
  const retirement = platform.retiresOnConnect
    ? `the old one stops once the device connects with the new one, or in ${command.graceSeconds} s`
    : command.graceSeconds === 0
      ? 'the old one is inactive now'
      : `the old one stops in ${command.graceSeconds} s (at ${new Date(Date.now() + command.graceSeconds * 1000).toISOString()})`;
  io.out(
    `rotated ${device.deviceId}: new certificate ${shortCertificateId(credentials.certificateId)} in ${dir}; ${retirement}`,
  );
  for (const warning of credentials.warnings ?? []) io.err(`device: warning: ${warning}`);
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

/** An error an AWS service returned (the SDK marks them with the response's metadata). */
function isAwsServiceError(error: unknown): error is Error {
  return error instanceof Error && typeof (error as { $metadata?: unknown }).$metadata === 'object';
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
      case 'allow':
        return await allow(command, io);
      case 'claim':
        await claim(command, io);
        break;
      case 'provision-test':
        await provisionTest(command, io);
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
        const platform = await openDevicePlatform(command.target, io);
        const devices = await platform.registry.list();
        for (const device of devices) {
          const identity = await platform.identities.describe(device.deviceId);
          io.out(
            [
              device.deviceId.padEnd(24),
              device.deviceType.padEnd(16),
              device.status.padEnd(15),
              identity.thing
                ? `certificates ${countCertificates(identity, 'active')} active`
                : platform.noIdentity.split(' (')[0],
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
        const platform = await openDevicePlatform(command.target, io);
        const device = await registered(platform, command.deviceId);
        const identity = await platform.identities.describe(device.deviceId);
        io.out(`device ${device.deviceId}`);
        io.out(`  type          ${device.deviceType}`);
        io.out(`  status        ${device.status}`);
        io.out(`  location      ${device.location.lat},${device.location.lon}`);
        if (device.ward) io.out(`  ward          ${device.ward}`);
        if (device.site) io.out(`  site          ${device.site}`);
        io.out(`  certificates  ${identity.thing ? describeCertificates(identity) : platform.noIdentity}`);
        io.out(`  quarantined   ${identity.quarantined ? 'yes' : 'no'}`);
        const latest = await platform.registry.latest(device.deviceId);
        io.out(
          latest
            ? `  last reading  ${latest.observedAt} ${JSON.stringify(latest.readings)} (message ${latest.messageId})`
            : '  last reading  none yet',
        );
        break;
      }
      case 'revoke': {
        const platform = await openDevicePlatform(command.target, io);
        await registered(platform, command.deviceId);
        await platform.identities.revoke(command.deviceId);
        io.out(
          `revoked every certificate of ${command.deviceId}: its connections are refused ` +
            `${platform.revocationTakesEffect} (rotate issues a new one)`,
        );
        break;
      }
      case 'decommission': {
        const platform = await openDevicePlatform(command.target, io);
        await registered(platform, command.deviceId);
        const device = await platform.registry.decommission(command.deviceId);
        io.out(
          `decommissioned ${command.deviceId} at ${device.decommissionedAt}: its entry and data are kept, every ` +
            'certificate is revoked, and any later message is quarantined as DEVICE_DECOMMISSIONED',
        );
        break;
      }
      case 'quarantine':
      case 'release': {
        const platform = await openDevicePlatform(command.target, io);
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
    if (isAwsServiceError(error)) {
      // Access denied, throttling, a missing resource: AWS's own words name what and why.
      io.err(`device: AWS refused the request: ${error.name}: ${error.message}`);
      return 1;
    }
    if (error instanceof Error) {
      // The identities' own failures (a half-done issue and what its rollback left, no thing to quarantine) say
      // what happened and what to clean up; the cause adds the service's words. CIVIC_DEBUG=1 adds the stack.
      const cause = error.cause instanceof Error ? ` (${error.cause.name}: ${error.cause.message})` : '';
      io.err(`device: ${error.message}${cause}`);
      if (process.env.CIVIC_DEBUG) io.err(error.stack ?? '');
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  // The SDK versions pinned here support Node 20 (the project's engines); its notice about versions published after
  // January 2027 would print six lines before every command's answer. An explicit setting wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.exitCode = await runDeviceCli(process.argv.slice(2), {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    cwd: process.cwd(),
    ...(process.stderr.isTTY ? { progress: (line: string) => process.stderr.write(`\r\x1b[K${line}`) } : {}),
  });
}
