import path from 'node:path';
import type {
  ClaimedCertificateState,
  ClaimedCertificates,
} from '../lambdas/domain/provisioning-allow-list.js';
import {
  certificateOwner,
  IDENTITY_REGISTER_FILE,
  type IdentityRegister,
  readIdentityRegister,
} from './local-device-identities.js';

/**
 * What the identity register says of a certificate a serial was claimed with. Fleet provisioning records a
 * certificate there (active) only once the device is admitted, so one the register does not list never became
 * anyone's: its RegisterThing failed after the admission. A listed certificate that is no longer active was retired
 * by an administrator (rotation, revoke). Pure.
 */
export function claimedCertificateStateIn(
  register: IdentityRegister,
  certificateId: string,
): ClaimedCertificateState {
  const owner = certificateOwner(register, certificateId);
  if (owner === undefined) return 'never-activated';
  const listed = register.devices[owner]?.certificates.find((c) => c.certificateId === certificateId);
  return listed?.status === 'active' ? 'active' : 'retired';
}

/**
 * {@link ClaimedCertificates} on the local runtime: the identity register under the CA directory, read afresh on
 * each question (the broker's watched copy may be a second behind a write).
 */
export class LocalClaimedCertificates implements ClaimedCertificates {
  private readonly file: string;

  /** @param certsDirectory the local CA's directory (`<data-dir>/certs`), where the register is kept */
  constructor(certsDirectory: string) {
    this.file = path.join(certsDirectory, IDENTITY_REGISTER_FILE);
  }

  async stateOf(_deviceId: string, certificateId: string): Promise<ClaimedCertificateState> {
    return claimedCertificateStateIn(await readIdentityRegister(this.file), certificateId);
  }
}
