import { type IoTClient, ListThingPrincipalsCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import type { DeviceCertificates } from '../domain/runaway-devices.js';

/**
 * A device's certificates in AWS IoT: the principals attached to its thing (the thing name is the device id).
 * Deactivating them makes IoT Core disconnect the device within minutes; reactivating (or rotating) is an
 * operator's decision, never automatic.
 */
export class IotDeviceCertificates implements DeviceCertificates {
  constructor(private readonly iot: IoTClient) {}

  async deactivate(deviceId: string): Promise<number> {
    const certificateIds: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.iot.send(
        new ListThingPrincipalsCommand({ thingName: deviceId, ...(nextToken ? { nextToken } : {}) }),
      );
      for (const principal of page.principals ?? []) {
        // Certificate principals are ARNs ending in cert/<certificate id>; other principal kinds are left alone.
        const match = /:cert\/([0-9a-f]{64})$/.exec(principal);
        if (match?.[1]) certificateIds.push(match[1]);
      }
      nextToken = page.nextToken;
    } while (nextToken);
    for (const certificateId of certificateIds) {
      await this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
    }
    return certificateIds.length;
  }
}
