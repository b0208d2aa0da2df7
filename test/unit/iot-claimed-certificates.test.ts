import {
  DescribeCertificateCommand,
  IoTClient,
  ResourceNotFoundException,
  ThrottlingException,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { IotClaimedCertificates } from '../../lambdas/adapters/iot-claimed-certificates.js';

const iot = mockClient(IoTClient);
const CERTIFICATE = 'a'.repeat(64);

describe('IotClaimedCertificates', () => {
  beforeEach(() => {
    iot.reset();
  });
  const stateOf = () => new IotClaimedCertificates(new IoTClient({})).stateOf('rdg-bin-1', CERTIFICATE);

  it.each([
    // RegisterThing never ran the template: the certificate waits for it, and may claim nothing.
    ['PENDING_ACTIVATION', 'never-activated'],
    ['ACTIVE', 'active'],
    // Set by an administrator on a certificate that was the device's: the serial must not bring it back.
    ['INACTIVE', 'retired'],
    ['REVOKED', 'retired'],
    ['PENDING_TRANSFER', 'retired'],
    ['REGISTER_INACTIVE', 'retired'],
  ] as const)('reads status %s as %s', async (status, state) => {
    iot.on(DescribeCertificateCommand, { certificateId: CERTIFICATE }).resolves({
      certificateDescription: { certificateId: CERTIFICATE, status },
    });
    expect(await stateOf()).toBe(state);
  });

  it('reads a certificate IoT does not know as never activated', async () => {
    iot
      .on(DescribeCertificateCommand)
      .rejects(new ResourceNotFoundException({ message: 'no', $metadata: {} }));
    expect(await stateOf()).toBe('never-activated');
  });

  it('throws any other failure, and an answer without a status, rather than guessing', async () => {
    iot
      .on(DescribeCertificateCommand)
      .rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    await expect(stateOf()).rejects.toThrow('Rate exceeded');
    iot.on(DescribeCertificateCommand).resolves({});
    await expect(stateOf()).rejects.toThrow(
      `DescribeCertificate returned no status for certificate ${CERTIFICATE}`,
    );
  });
});
