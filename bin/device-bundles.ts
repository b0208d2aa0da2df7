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
export async function writeBundleFolder(
  dir: string,
  files: BundleFiles,
  options: { readonly keepOnFailure?: boolean } = {},
): Promise<void> {
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
    if (!options.keepOnFailure) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
    // The only copy of a key nobody can issue again (a provisioned device's): kept where it was written.
    throw new Error(`${(error as Error).message}; the bundle is kept in ${temp}`, { cause: error });
  }
}

/** A device bundle: cert.pem, key.pem (0600), ca.pem and device.json. */
export function writeNewBundle(
  dir: string,
  credentials: Pick<DeviceCredentials, 'certificatePem' | 'privateKeyPem' | 'rootCaPem'>,
  manifest: BundleManifest,
  options: { readonly keepOnFailure?: boolean } = {},
): Promise<void> {
  return writeBundleFolder(dir, { ...credentials, manifestName: 'device.json', manifest }, options);
}

/**
 * Replaces a device bundle whole: the new one is written in a temp folder, the old folder moved aside, the new one
 * moved in, the old one removed. A failure before the swap leaves the old bundle as it was.
 */
export async function replaceBundle(
  dir: string,
  credentials: Pick<DeviceCredentials, 'certificatePem' | 'privateKeyPem' | 'rootCaPem'>,
  manifest: BundleManifest,
): Promise<void> {
  const fresh = `${dir}.${randomUUID()}.new`;
  await writeNewBundle(fresh, credentials, manifest);
  const old = `${dir}.${randomUUID()}.old`;
  let movedAside = false;
  try {
    await rename(dir, old).then(
      () => {
        movedAside = true;
      },
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      },
    );
    await rename(fresh, dir);
  } catch (error) {
    await rm(fresh, { recursive: true, force: true });
    if (movedAside) await rename(old, dir);
    throw error;
  }
  if (movedAside) await rm(old, { recursive: true, force: true });
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
