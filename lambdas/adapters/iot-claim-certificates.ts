import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  DeleteCertificateCommand,
  DescribeEndpointCommand,
  DetachPolicyCommand,
  type IoTClient,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import type { ClaimCertificates, ClaimCredentials } from '../domain/device-onboarding.js';

/** What {@link IotClaimCertificates} needs from the deployed stack. */
export interface IotClaimCertificatesOptions {
  readonly iot: IoTClient;
  /** The claim policy (the stack's `ClaimPolicyName` output): provisioning through the template, nothing else. */
  readonly claimPolicyName: string;
  /** Amazon Root CA 1 in PEM (see `amazonRootCa1Pem`). */
  readonly rootCaPem: string;
}

/**
 * Claim certificates in AWS IoT: a certificate made by IoT with a fresh key pair, active, carrying only the claim
 * policy and attached to no thing. If attaching the policy fails the certificate is made inactive and deleted, so
 * no certificate without a purpose is left behind.
 */
export class IotClaimCertificates implements ClaimCertificates {
  constructor(private readonly options: IotClaimCertificatesOptions) {}

  async issue(name: string): Promise<ClaimCredentials> {
    const { iot, claimPolicyName } = this.options;
    const { endpointAddress } = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
    if (!endpointAddress) throw new Error('DescribeEndpoint returned no endpoint address');
    const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    const { certificateArn, certificateId, certificatePem } = created;
    const privateKeyPem = created.keyPair?.PrivateKey;
    if (!certificateArn || !certificateId || !certificatePem || !privateKeyPem) {
      throw new Error('CreateKeysAndCertificate returned an incomplete certificate');
    }
    try {
      await iot.send(new AttachPolicyCommand({ policyName: claimPolicyName, target: certificateArn }));
    } catch (error) {
      await iot
        .send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }))
        .catch(() => undefined);
      await iot
        .send(new DetachPolicyCommand({ policyName: claimPolicyName, target: certificateArn }))
        .catch(() => undefined);
      await iot.send(new DeleteCertificateCommand({ certificateId })).catch(() => undefined);
      throw new Error(
        `Making claim certificate '${name}' failed at AttachPolicy; the certificate was deactivated and deleted`,
        { cause: error },
      );
    }
    return {
      name,
      certificateId,
      certificatePem,
      privateKeyPem,
      rootCaPem: this.options.rootCaPem,
      endpoint: `mqtts://${endpointAddress}:8883`,
    };
  }
}
