import { watch } from 'node:fs';
import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DeviceType } from '../lambdas/contracts/device-types.js';
import { laneFor, telemetryTopic } from '../lambdas/contracts/topics.js';
import type { Device } from '../lambdas/domain/device.js';
import type {
  CertificateStatus,
  DeviceCredentials,
  DeviceIdentities,
  DeviceIdentity,
} from '../lambdas/domain/device-onboarding.js';
import type { LocalCertificateAuthority } from './certificate-authority.js';
import type { DeviceIdentityPolicy, IdentityRefusal } from './device-broker.js';

/**
 * The local runtime's device identities: certificates from the local CA and a register of their status, kept in
 * `<data-dir>/certs/device-identities.json`. The `npm run device` CLI writes the register (it is the CA's owner on
 * this machine); the running broker only reads it, re-reading it when it changes (file watch plus a one-second
 * poll), so a revocation or quarantine reaches live connections within seconds without a channel between the two
 * processes. Devices the runtime provisions itself (the demo city, tests' provisionDevices) have no entry and
 * connect as before; once a device has an entry, only its listed active certificates connect.
 */

/** One certificate in the register. */
export interface RegisteredCertificate {
  readonly certificateId: string;
  readonly status: CertificateStatus;
  readonly issuedAt: string;
  /**
   * Set on rotation: the certificate that replaces this one. This one keeps working until the device connects with
   * the replacement or `retireAt` passes, whichever is first (see {@link certificateRefusal}).
   */
  readonly supersededBy?: string;
  readonly retireAt?: string;
}

export interface RegisteredIdentity {
  readonly certificates: readonly RegisteredCertificate[];
  readonly quarantined: boolean;
}

/** The register file's content. */
export interface IdentityRegister {
  readonly devices: Readonly<Record<string, RegisteredIdentity>>;
}

/** The register's file name under the CA directory. */
export const IDENTITY_REGISTER_FILE = 'device-identities.json';
/**
 * The broker's own file beside it: replacement certificates it has seen connect (so their predecessors are
 * inactive), kept across restarts and read by `describe`. The broker is its only writer, the CLI the register's.
 */
export const CERTIFICATES_IN_USE_FILE = 'certificates-in-use.json';

async function readCertificatesInUse(file: string): Promise<Set<string>> {
  try {
    return new Set(JSON.parse(await readFile(file, 'utf8')) as string[]);
  } catch {
    return new Set();
  }
}

const EMPTY: IdentityRegister = { devices: {} };

/** Reads the register; an absent file is an empty register. */
export async function readIdentityRegister(file: string): Promise<IdentityRegister> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<IdentityRegister>;
    return { devices: parsed.devices ?? {} };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
    throw new Error(`${file} is unreadable: ${(error as Error).message}`);
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  // Temp file and rename: a reader never sees half a file.
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}

/**
 * Why a certificate may not connect (or keep publishing) now, or undefined when it may. `seen` holds the
 * certificates the broker has accepted since it started: a rotated-out certificate stops as soon as its
 * replacement has connected.
 */
export function certificateRefusal(
  register: IdentityRegister,
  deviceId: string,
  certificateId: string,
  now: Date,
  seen: ReadonlySet<string> = new Set(),
): IdentityRefusal | undefined {
  const identity = register.devices[deviceId];
  if (!identity) return undefined;
  const certificate = identity.certificates.find((c) => c.certificateId === certificateId);
  if (!certificate) return 'certificate-inactive';
  if (certificate.status === 'revoked') return 'certificate-revoked';
  if (effectiveStatus(certificate, now, seen) !== 'active') return 'certificate-inactive';
  return undefined;
}

/**
 * The device whose register entry lists this certificate, whatever its status, or undefined. How the broker finds
 * the device of a certificate issued while provisioning, whose CN names no device (see
 * {@link LocalDeviceIdentities.recordProvisioned}); the certificate's status is then checked as any other's.
 */
export function certificateOwner(register: IdentityRegister, certificateId: string): string | undefined {
  for (const [deviceId, identity] of Object.entries(register.devices)) {
    if (identity.certificates.some((c) => c.certificateId === certificateId)) return deviceId;
  }
  return undefined;
}

function effectiveStatus(
  certificate: RegisteredCertificate,
  now: Date,
  seen: ReadonlySet<string> = new Set(),
): CertificateStatus {
  if (certificate.status !== 'active') return certificate.status;
  if (certificate.retireAt !== undefined && now.getTime() >= Date.parse(certificate.retireAt))
    return 'inactive';
  if (certificate.supersededBy !== undefined && seen.has(certificate.supersededBy)) return 'inactive';
  return certificate.status;
}

/** Options for {@link LocalDeviceIdentities}. */
export interface LocalDeviceIdentitiesOptions {
  readonly ca: LocalCertificateAuthority;
  /** The broker's URL, from local.json. */
  readonly endpoint: string;
  readonly essentialDeviceTypes: readonly DeviceType[];
  /** How long a rotated-out certificate keeps working if the device does not connect with the new one. */
  readonly rotationGraceSeconds: number;
  readonly clock?: () => Date;
}

/**
 * {@link DeviceIdentities} on the local runtime. Issuing for a device that already has active certificates is a
 * rotation: those are superseded by the new one (see {@link RegisteredCertificate.supersededBy}).
 */
export class LocalDeviceIdentities implements DeviceIdentities {
  private readonly file: string;
  private readonly clock: () => Date;

  constructor(private readonly options: LocalDeviceIdentitiesOptions) {
    this.file = path.join(options.ca.directory, IDENTITY_REGISTER_FILE);
    this.clock = options.clock ?? (() => new Date());
  }

  async issue(device: Device): Promise<DeviceCredentials> {
    const issued = await this.options.ca.issueDeviceCertificate(device.deviceId);
    const now = this.clock();
    const retireAt = new Date(now.getTime() + this.options.rotationGraceSeconds * 1000).toISOString();
    await this.change(device.deviceId, (identity) => ({
      quarantined: identity.quarantined,
      certificates: [
        ...identity.certificates.map((c) =>
          effectiveStatus(c, now) === 'active' && c.supersededBy === undefined
            ? { ...c, supersededBy: issued.certificateId, retireAt }
            : c,
        ),
        { certificateId: issued.certificateId, status: 'active', issuedAt: now.toISOString() },
      ],
    }));
    return {
      deviceId: device.deviceId,
      certificateId: issued.certificateId,
      certificatePem: issued.certPem,
      privateKeyPem: issued.keyPem,
      rootCaPem: this.options.ca.certPem,
      endpoint: this.options.endpoint,
      topic: telemetryTopic(
        laneFor(device.deviceType, this.options.essentialDeviceTypes),
        device.deviceType,
        device.deviceId,
      ),
    };
  }

  /**
   * Records a certificate issued while the device provisioned itself by claim (fleet provisioning) as the device's
   * active certificate, as the template's `AWS::IoT::Certificate` resource activates it on AWS. Once written, the
   * broker accepts that certificate for that device id, and only the certificates listed for it.
   */
  async recordProvisioned(deviceId: string, certificateId: string): Promise<void> {
    const issuedAt = this.clock().toISOString();
    await this.change(deviceId, (identity) => ({
      ...identity,
      certificates: [
        ...identity.certificates.filter((c) => c.certificateId !== certificateId),
        { certificateId, status: 'active', issuedAt },
      ],
    }));
  }

  async deactivate(deviceId: string, certificateId: string): Promise<void> {
    await this.change(deviceId, (identity) => ({
      ...identity,
      certificates: identity.certificates.map((c) =>
        c.certificateId === certificateId && c.status === 'active' ? { ...c, status: 'inactive' } : c,
      ),
    }));
  }

  async withdraw(deviceId: string, certificateId: string): Promise<void> {
    // The local CA keeps no list of what it signed, so the certificate is revoked (refused by the broker) rather
    // than deleted; one it was replacing loses its retirement and works on as before.
    await this.change(deviceId, (identity) => ({
      ...identity,
      certificates: identity.certificates.map((c) => {
        if (c.certificateId === certificateId) return { ...c, status: 'revoked' };
        if (c.supersededBy !== certificateId) return c;
        const { supersededBy: _replacement, retireAt: _deadline, ...kept } = c;
        return kept;
      }),
    }));
  }

  async revoke(deviceId: string): Promise<void> {
    // An entry even for a device with no certificate listed: its runtime-issued certificate stops too.
    await this.change(deviceId, (identity) => ({
      ...identity,
      certificates: identity.certificates.map((c) => ({ ...c, status: 'revoked' })),
    }));
  }

  async quarantine(deviceId: string): Promise<void> {
    await this.change(deviceId, (identity) => ({ ...identity, quarantined: true }));
  }

  async release(deviceId: string): Promise<void> {
    await this.change(deviceId, (identity) => ({ ...identity, quarantined: false }));
  }

  async describe(deviceId: string): Promise<DeviceIdentity> {
    const identity = (await readIdentityRegister(this.file)).devices[deviceId];
    const inUse = await readCertificatesInUse(path.join(this.options.ca.directory, CERTIFICATES_IN_USE_FILE));
    const now = this.clock();
    return {
      deviceId,
      thing: identity !== undefined,
      certificates: (identity?.certificates ?? []).map((c) => ({
        certificateId: c.certificateId,
        status: effectiveStatus(c, now, inUse),
      })),
      quarantined: identity?.quarantined ?? false,
    };
  }

  private async change(
    deviceId: string,
    update: (identity: RegisteredIdentity) => RegisteredIdentity,
  ): Promise<void> {
    // Within one process changes may come concurrently (import issues many certificates at once): they are
    // queued and each write applies every change queued meanwhile, so none is lost to a read-modify-write race and
    // a thousand changes are not a thousand rewrites of the whole register. Between processes (two CLI commands
    // at once) a lock file serialises the read-modify-write; the broker only reads.
    return new Promise((resolve, reject) => {
      this.pending.push({ deviceId, update, resolve, reject });
      if (!this.writing) void this.writePending();
    });
  }

  private readonly pending: PendingChange[] = [];
  private writing = false;

  private async writePending(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      try {
        await withFileLock(`${this.file}.lock`, async () => {
          const devices = { ...(await readIdentityRegister(this.file)).devices };
          for (const change of batch) {
            devices[change.deviceId] = change.update(
              devices[change.deviceId] ?? { certificates: [], quarantined: false },
            );
          }
          await writeJson(this.file, { devices });
        });
        for (const change of batch) change.resolve();
      } catch (error) {
        for (const change of batch) change.reject(error as Error);
      }
    }
    this.writing = false;
  }
}

/** A lock older than this was left by a process that died holding it (a register write takes milliseconds). */
const STALE_LOCK_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

/**
 * Runs `work` holding an exclusive lock file (created with O_EXCL, so exactly one process wins it). Waits up to
 * {@link LOCK_WAIT_MS} for another holder; a lock older than {@link STALE_LOCK_MS} is taken over.
 */
export async function withFileLock<T>(lockFile: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await writeFile(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lockFile).then(
        (stats) => Date.now() - stats.mtimeMs,
        () => 0,
      );
      if (age > STALE_LOCK_MS) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${lockFile} is held by another device command (process ${await readFile(lockFile, 'utf8').catch(() => '?')}); ` +
            'wait for it to finish, or remove the file if no such command is running',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockFile, { force: true });
  }
}

interface PendingChange {
  readonly deviceId: string;
  readonly update: (identity: RegisteredIdentity) => RegisteredIdentity;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** The broker's side of the register: read, kept current, and closed with the broker. */
export interface WatchedIdentityRegister extends DeviceIdentityPolicy {
  /**
   * Reads the register now (after a read already under way), so a change this process just wrote applies before
   * the next connection rather than at the next watch event or poll.
   */
  refresh(): Promise<void>;
  close(): void;
}

/**
 * Watches the register under `certsDirectory` for the broker: re-read on a file-system event and on a poll every
 * `pollMs` (watch events are not guaranteed on every file system), listeners told after each change. Also keeps
 * which certificates have connected, so a rotated-out certificate stops once its replacement is in use.
 */
export async function watchIdentityRegister(
  certsDirectory: string,
  options: {
    readonly pollMs?: number;
    readonly clock?: () => Date;
    readonly log?: (line: string) => void;
  } = {},
): Promise<WatchedIdentityRegister> {
  const file = path.join(certsDirectory, IDENTITY_REGISTER_FILE);
  const clock = options.clock ?? (() => new Date());
  const listeners: (() => void)[] = [];
  const inUseFile = path.join(certsDirectory, CERTIFICATES_IN_USE_FILE);
  const seen = await readCertificatesInUse(inUseFile);
  let register = await readIdentityRegister(file);
  let version = await fileVersion(file);
  let reading: Promise<void> | undefined;

  const notify = () => {
    for (const listener of listeners) listener();
  };
  const read = async () => {
    try {
      const current = await fileVersion(file);
      if (current === version) return;
      register = await readIdentityRegister(file);
      version = current;
      notify();
    } catch (error) {
      // A bad file keeps the last good register rather than opening the broker to everyone.
      options.log?.(`device identities: ${(error as Error).message}`);
    }
  };
  const startRead = () => {
    const started = read().finally(() => {
      reading = undefined;
    });
    reading = started;
    return started;
  };
  // One read at a time; a change seen during a read is caught by the next event or poll.
  const refresh = async () => {
    if (!reading) await startRead();
  };
  // Waits for a read under way (it may have started before the change was written) and then reads again.
  const refreshNow = async () => {
    while (reading) await reading;
    await startRead();
  };
  const watcher = watch(certsDirectory, (_event, name) => {
    if (name === IDENTITY_REGISTER_FILE) void refresh();
  });
  watcher.on('error', () => undefined);
  const poll = setInterval(() => void refresh(), options.pollMs ?? 1000);
  poll.unref();

  return {
    connectionRefusal: (deviceId, certificateId) =>
      certificateRefusal(register, deviceId, certificateId, clock(), seen),
    deviceOfCertificate: (certificateId) => certificateOwner(register, certificateId),
    quarantined: (deviceId) => register.devices[deviceId]?.quarantined ?? false,
    connected: (deviceId, certificateId) => {
      const superseded = register.devices[deviceId]?.certificates.some(
        (c) => c.supersededBy === certificateId && c.status === 'active',
      );
      if (!superseded || seen.has(certificateId)) return;
      seen.add(certificateId);
      writeJson(inUseFile, [...seen]).catch((error: Error) =>
        options.log?.(`device identities: ${inUseFile}: ${error.message}`),
      );
      // Sessions still on the certificate this one replaces are ended now.
      notify();
    },
    onChange: (listener) => {
      listeners.push(listener);
    },
    refresh: refreshNow,
    close: () => {
      clearInterval(poll);
      watcher.close();
    },
  };
}

async function fileVersion(file: string): Promise<string> {
  try {
    const stats = await stat(file);
    return `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
  } catch {
    return 'absent';
  }
}
