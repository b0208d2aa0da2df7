import { DescribeCertificateCommand, type IoTClient } from '@aws-sdk/client-iot';
import type { ClaimedCertificateState, ClaimedCertificates } from '../domain/provisioning-allow-list.js';

/**
 * The state a certificate's AWS IoT status means for the serial it claimed. A certificate made by the fleet
 * provisioning MQTT API is PENDING_ACTIVATION until RegisterThing runs the template, which makes it ACTIVE; so
 * PENDING_ACTIVATION is a RegisterThing that never completed. INACTIVE and REVOKED are set only by an
 * administrator (rotation, revoke) on a certificate that was active, and a transfer moves an active one away:
 * all retired.
 */
export function claimedCertificateState(status: string): ClaimedCertificateState {
  if (status === 'ACTIVE') return 'active';
  if (status === 'PENDING_ACTIVATION') return 'never-activated';
  return 'retired';
}

/**
 * {@link ClaimedCertificates} in AWS IoT: DescribeCertificate (one read-only call, on the hook's path only for a
 * serial already provisioned). A certificate IoT does not know (ResourceNotFoundException) never became anyone's.
 */
export class IotClaimedCertificates implements ClaimedCertificates {
  constructor(private readonly iot: IoTClient) {}

  async stateOf(_deviceId: string, certificateId: string): Promise<ClaimedCertificateState> {
    let status: string | undefined;
    try {
      const { certificateDescription } = await this.iot.send(
        new DescribeCertificateCommand({ certificateId }),
      );
      status = certificateDescription?.status;
    } catch (error) {
      if ((error as { name?: unknown } | undefined)?.name === 'ResourceNotFoundException') {
        return 'never-activated';
      }
      throw error;
    }
    if (status === undefined) {
      throw new Error(`DescribeCertificate returned no status for certificate ${certificateId}`);
    }
    return claimedCertificateState(status);
  }
}
