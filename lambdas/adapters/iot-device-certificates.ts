import { type CertificateStatus, type IoTClient, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import type { CertificateRevocation } from '../domain/device-registry.js';
import type { DeviceCertificates } from '../domain/runaway-devices.js';
import { thingCertificates } from './iot-thing-certificates.js';

/**
 * A device's certificates in AWS IoT: the principals attached to its thing (the thing name is the device id).
 * Needs only `iot:ListThingPrincipals` on things and `iot:UpdateCertificate` on certificates. Either change makes
 * IoT Core disconnect the device within minutes. Deactivating (the cost guard's runaway devices) can be undone by
 * an operator, never automatically; revoking (decommissioning) cannot be undone by anyone.
 */
export class IotDeviceCertificates implements DeviceCertificates, CertificateRevocation {
  constructor(private readonly iot: IoTClient) {}

  async deactivate(deviceId: string): Promise<number> {
    return this.setEvery(await this.certificateIdsOf(deviceId), 'INACTIVE');
  }

  /**
   * Sets every certificate attached to the device's thing to REVOKED. A device without a thing (registered in the
   * registry only) has none, which is not an error; a certificate already revoked is passed over.
   */
  async revoke(deviceId: string): Promise<void> {
    await this.setEvery(await this.certificateIdsOf(deviceId), 'REVOKED');
  }

  private async certificateIdsOf(deviceId: string): Promise<string[]> {
    return (await thingCertificates(this.iot, deviceId)).map((certificate) => certificate.certificateId);
  }

  private async setEvery(certificateIds: readonly string[], newStatus: CertificateStatus): Promise<number> {
    for (const certificateId of certificateIds) {
      try {
        await this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus }));
      } catch (error) {
        // A revoked certificate's status can never change again: it is already out of use, which is the point.
        if ((error as { name?: unknown } | undefined)?.name !== 'CertificateStateException') throw error;
      }
    }
    return certificateIds.length;
  }
}
