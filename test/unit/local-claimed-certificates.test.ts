import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalClaimedCertificates } from '../../local/local-claimed-certificates.js';
import { IDENTITY_REGISTER_FILE, type IdentityRegister } from '../../local/local-device-identities.js';

const id = (n: number) => n.toString(16).padStart(64, '0');

describe('LocalClaimedCertificates', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 'claimed-'));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it('reads an absent register as no certificate ever recorded', async () => {
    expect(await new LocalClaimedCertificates(directory).stateOf('fp-bin-1', id(1))).toBe('never-activated');
  });

  it.each([
    // Fleet provisioning records a certificate only once the device is admitted: unlisted, it never worked.
    [id(9), 'never-activated'],
    [id(1), 'active'],
    [id(2), 'retired'],
    [id(3), 'retired'],
    // Listed under another device: never this serial's to take again.
    [id(4), 'active'],
  ] as const)('reads certificate %s as %s', async (certificateId, state) => {
    const register: IdentityRegister = {
      devices: {
        'fp-bin-1': {
          quarantined: false,
          certificates: [
            { certificateId: id(1), status: 'active', issuedAt: '2026-11-27T12:00:00.000Z' },
            { certificateId: id(2), status: 'inactive', issuedAt: '2026-11-27T12:00:00.000Z' },
            { certificateId: id(3), status: 'revoked', issuedAt: '2026-11-27T12:00:00.000Z' },
          ],
        },
        'fp-bin-2': {
          quarantined: false,
          certificates: [{ certificateId: id(4), status: 'active', issuedAt: '2026-11-27T12:00:00.000Z' }],
        },
      },
    };
    await writeFile(path.join(directory, IDENTITY_REGISTER_FILE), JSON.stringify(register));
    expect(await new LocalClaimedCertificates(directory).stateOf('fp-bin-1', certificateId)).toBe(state);
  });
});
