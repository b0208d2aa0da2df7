import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Device } from '../lambdas/domain/device.js';
import type { DeviceCredentials } from '../lambdas/domain/device-onboarding.js';
import { type BundleManifest, DeviceInputError } from '../lambdas/domain/device-onboarding-commands.js';
import type { DeviceCliIo } from './device-platform.js';

/**
 * The folders `npm run device` writes: a device's bundle (what it needs to connect) and a claim bundle (what a
 * vendor flashes). Private keys are written 0600 and nowhere else; a folder appears whole or not at all.
 */

export async function writeKey(file: string, pem: string): Promise<void> {
  await writeFile(file, pem, { mode: 0o600 });
  await chmod(file, 0o600);
}

/** Writes a file by temp file and rename, so a bundle never holds half a certificate. */
export async function replaceFile(file: string, content: string, secret = false): Promise<void> {
  const temp = `${file}.tmp`;
  if (secret) await writeKey(temp, content);
  else await writeFile(temp, content);
  await rename(temp, file);
}

export function manifestOf(
  credentials: Pick<DeviceCredentials, 'deviceId' | 'endpoint' | 'topic'>,
  device: Pick<Device, 'deviceType'>,
): BundleManifest {
  return {
    deviceId: credentials.deviceId,
    type: device.deviceType,
    endpoint: credentials.endpoint,
    topic: credentials.topic,
  };
}

/** A certificate, its key and the CA to trust, plus one JSON file describing what they are for. */
export interface BundleFiles {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly rootCaPem: string;
  /** `device.json` or `claim.json`. */
  readonly manifestName: string;
  readonly manifest: unknown;
}

/** cert.pem, key.pem (0600), ca.pem and the manifest; the folder is made whole in a temp folder, then renamed. */
export async function writeBundleFolder(dir: string, files: BundleFiles): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  const temp = `${dir}.${randomUUID()}.tmp`;
  await mkdir(temp, { recursive: true, mode: 0o700 });
  try {
    await writeFile(path.join(temp, 'cert.pem'), files.certificatePem);
    await writeKey(path.join(temp, 'key.pem'), files.privateKeyPem);
    await writeFile(path.join(temp, 'ca.pem'), files.rootCaPem);
    await writeFile(path.join(temp, files.manifestName), `${JSON.stringify(files.manifest, null, 2)}\n`);
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/** A device bundle: cert.pem, key.pem (0600), ca.pem and device.json. */
export function writeNewBundle(
  dir: string,
  credentials: Pick<DeviceCredentials, 'certificatePem' | 'privateKeyPem' | 'rootCaPem'>,
  manifest: BundleManifest,
): Promise<void> {
  return writeBundleFolder(dir, { ...credentials, manifestName: 'device.json', manifest });
}

/** A path as the user would type it: relative to where they are when that is shorter. */
export function shownPath(io: DeviceCliIo, dir: string): string {
  const shown = path.relative(io.cwd, dir) || '.';
  return shown.startsWith('..') ? dir : shown;
}

/** The one-line command that tries a bundle. */
export function testCommand(io: DeviceCliIo, dir: string): string {
  return `test: npm run device -- publish-test --bundle ${shownPath(io, dir)}`;
}

/** The first few items of a long list, for one readable line. */
export function someOf(items: readonly string[], shown = 5): string {
  const rest = items.length - shown;
  return rest > 0 ? `${items.slice(0, shown).join(', ')} and ${rest} more` : items.join(', ');
}

/** The file a `--csv` flag names, read whole; an unreadable one is the user's to fix (exit 1). */
export async function readCsvFlag(io: DeviceCliIo, csv: string): Promise<{ file: string; text: string }> {
  const file = path.resolve(io.cwd, csv);
  try {
    return { file, text: await readFile(file, 'utf8') };
  } catch (error) {
    throw new DeviceInputError(`--csv ${file}: ${(error as Error).message}`);
  }
}
