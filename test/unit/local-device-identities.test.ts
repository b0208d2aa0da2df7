import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Device } from '../../lambdas/domain/device.js';
import { LocalCertificateAuthority } from '../../local/certificate-authority.js';
import {
  certificateOwner,
  IDENTITY_REGISTER_FILE,
  LocalDeviceIdentities,
  readIdentityRegister,
  watchIdentityRegister,
  withFileLock,
} from '../../local/local-device-identities.js';

const device = (deviceId: string): Device => ({
  deviceId,
  deviceType: 'waste-container',
  status: 'active',
  location: { lat: 51.45, lon: -0.97 },
  registeredAt: '2026-11-27T00:00:00Z',
});

describe('LocalDeviceIdentities register', () => {
  let dir: string;
  let ca: LocalCertificateAuthority;
  const identities = (graceSeconds = 3600) =>
    new LocalDeviceIdentities({
      ca,
      endpoint: 'mqtts://127.0.0.1:8883',
      essentialDeviceTypes: [],
      rotationGraceSeconds: graceSeconds,
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'civic-identities-'));
    ca = await LocalCertificateAuthority.loadOrCreate(dir);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps every change when two CLI processes write the register at once (the lock file serialises them)', async () => {
    // Two instances stand for two processes: each has its own queue, so only the lock keeps them apart.
    const [first, second] = [identities(), identities()];
    await Promise.all(
      Array.from({ length: 12 }, (_, n) => (n % 2 === 0 ? first : second).issue(device(`lock-${n}`))),
    );
    const register = await readIdentityRegister(path.join(dir, IDENTITY_REGISTER_FILE));
    expect(Object.keys(register.devices).filter((id) => id.startsWith('lock-'))).toHaveLength(12);
  });

  it('withdraws a rotation: the new certificate is refused and the old one works on without a retirement', async () => {
    const local = identities();
    const original = await local.issue(device('rot-1'));
    const replacement = await local.issue(device('rot-1'));
    await local.withdraw('rot-1', replacement.certificateId);
    const register = await readIdentityRegister(path.join(dir, IDENTITY_REGISTER_FILE));
    expect(register.devices['rot-1']?.certificates).toEqual([
      { certificateId: original.certificateId, status: 'active', issuedAt: expect.any(String) },
      { certificateId: replacement.certificateId, status: 'revoked', issuedAt: expect.any(String) },
    ]);
  });
});

describe('withFileLock', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'civic-lock-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs one holder at a time', async () => {
    const lock = path.join(dir, 'one.lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        withFileLock(lock, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });

  it('takes over a lock left by a process that died holding it', async () => {
    const lock = path.join(dir, 'stale.lock');
    await writeFile(lock, '99999');
    const longAgo = new Date(Date.now() - 60_000);
    await utimes(lock, longAgo, longAgo);
    await expect(withFileLock(lock, async () => 'done')).resolves.toBe('done');
  });
});

describe('certificates provisioned by claim', () => {
  let dir: string;
  let ca: LocalCertificateAuthority;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'civic-provisioned-'));
    ca = await LocalCertificateAuthority.loadOrCreate(dir);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['the device listing it, whatever its status', 'c-2', 'dev-a'],
    ['nobody for a certificate no device lists', 'c-9', undefined],
  ])('certificateOwner finds %s', (_what, certificateId, owner) => {
    const register = {
      devices: {
        'dev-a': {
          quarantined: false,
          certificates: [
            { certificateId: 'c-1', status: 'active' as const, issuedAt: 'x' },
            { certificateId: 'c-2', status: 'revoked' as const, issuedAt: 'x' },
          ],
        },
        'dev-b': { quarantined: false, certificates: [] },
      },
    };
    expect(certificateOwner(register, certificateId)).toBe(owner);
  });

  it("records the certificate as the device's active one, which the broker's register knows once refreshed", async () => {
    const watched = await watchIdentityRegister(dir, { pollMs: 60_000 });
    try {
      const provisional = await ca.issueProvisionalCertificate();
      expect(watched.deviceOfCertificate(provisional.certificateId)).toBeUndefined();
      const writer = new LocalDeviceIdentities({
        ca,
        endpoint: 'mqtts://127.0.0.1:8883',
        essentialDeviceTypes: [],
        rotationGraceSeconds: 0,
        clock: () => new Date('2026-11-27T12:00:00Z'),
      });
      await writer.recordProvisioned('claimed-1', provisional.certificateId);
      // Recording twice (a retried write) lists the certificate once.
      await writer.recordProvisioned('claimed-1', provisional.certificateId);
      await watched.refresh();
      expect(watched.deviceOfCertificate(provisional.certificateId)).toBe('claimed-1');
      expect(watched.connectionRefusal('claimed-1', provisional.certificateId)).toBeUndefined();
      // Only its listed certificates connect now: a certificate with the device id as CN is refused.
      const other = await ca.issueDeviceCertificate('claimed-1');
      expect(watched.connectionRefusal('claimed-1', other.certificateId)).toBe('certificate-inactive');
      const register = await readIdentityRegister(path.join(dir, IDENTITY_REGISTER_FILE));
      expect(register.devices['claimed-1']).toEqual({
        quarantined: false,
        certificates: [
          {
            certificateId: provisional.certificateId,
            status: 'active',
            issuedAt: '2026-11-27T12:00:00.000Z',
          },
        ],
      });
    } finally {
      watched.close();
    }
  });
});
