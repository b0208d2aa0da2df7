import {
  CertificateStateException,
  IoTClient,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { IotDeviceCertificates } from '../../lambdas/adapters/iot-device-certificates.js';

const iot = mockClient(IoTClient);
const cert = (n: number) => `arn:aws:iot:eu-west-2:111122223333:cert/${String(n).padStart(64, 'a')}`;

beforeEach(() => iot.reset());

describe('IotDeviceCertificates', () => {
  it("sets every certificate attached to the device's thing to INACTIVE, across pages, and nothing else", async () => {
    iot
      .on(ListThingPrincipalsCommand, { thingName: 'bay-7' })
      .resolvesOnce({
        principals: [cert(1), 'arn:aws:cognito-identity:eu-west-2:111122223333:identity/x'],
        nextToken: 'p2',
      })
      .resolvesOnce({ principals: [cert(2)] });
    iot.on(UpdateCertificateCommand).resolves({});
    const count = await new IotDeviceCertificates(new IoTClient({ region: 'eu-west-2' })).deactivate('bay-7');
    expect(count).toBe(2);
    expect(iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input)).toEqual([
      { certificateId: '1'.padStart(64, 'a'), newStatus: 'INACTIVE' },
      { certificateId: '2'.padStart(64, 'a'), newStatus: 'INACTIVE' },
    ]);
    expect(iot.commandCalls(ListThingPrincipalsCommand)[1]?.args[0].input).toEqual({
      thingName: 'bay-7',
      nextToken: 'p2',
    });
  });

  it("revokes every certificate attached to the device's thing, across pages: REVOKED, not INACTIVE", async () => {
    iot
      .on(ListThingPrincipalsCommand, { thingName: 'bay-7' })
      .resolvesOnce({ principals: [cert(1)], nextToken: 'p2' })
      .resolvesOnce({ principals: [cert(2), 'arn:aws:iam::111122223333:role/not-a-certificate'] });
    iot.on(UpdateCertificateCommand).resolves({});
    await new IotDeviceCertificates(new IoTClient({ region: 'eu-west-2' })).revoke('bay-7');
    expect(iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input)).toEqual([
      { certificateId: '1'.padStart(64, 'a'), newStatus: 'REVOKED' },
      { certificateId: '2'.padStart(64, 'a'), newStatus: 'REVOKED' },
    ]);
  });

  it('revokes nothing, without an error, for a device that has no thing (registered in the registry only)', async () => {
    iot
      .on(ListThingPrincipalsCommand)
      .rejects(Object.assign(new Error('thing gauge-9 not found'), { name: 'ResourceNotFoundException' }));
    await expect(
      new IotDeviceCertificates(new IoTClient({ region: 'eu-west-2' })).revoke('gauge-9'),
    ).resolves.toBeUndefined();
    expect(iot.commandCalls(UpdateCertificateCommand)).toHaveLength(0);
  });

  it.each([
    ['listing', 'ThrottlingException'],
    ['revoking', 'AccessDeniedException'],
  ] as const)('passes on any other IoT failure while %s', async (step, name) => {
    const failure = Object.assign(new Error(`${name} from IoT`), { name });
    if (step === 'listing') iot.on(ListThingPrincipalsCommand).rejects(failure);
    else {
      iot.on(ListThingPrincipalsCommand).resolves({ principals: [cert(1)] });
      iot.on(UpdateCertificateCommand).rejects(failure);
    }
    await expect(
      new IotDeviceCertificates(new IoTClient({ region: 'eu-west-2' })).revoke('bay-7'),
    ).rejects.toMatchObject({ name });
  });

  it('goes on past a certificate whose status can no longer change (already revoked), and stops on other errors', async () => {
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [cert(1), cert(2)] });
    iot
      .on(UpdateCertificateCommand, { certificateId: '1'.padStart(64, 'a') })
      .rejects(new CertificateStateException({ message: 'revoked', $metadata: {} }));
    iot.on(UpdateCertificateCommand, { certificateId: '2'.padStart(64, 'a') }).resolves({});
    const certificates = new IotDeviceCertificates(new IoTClient({ region: 'eu-west-2' }));
    expect(await certificates.deactivate('bay-7')).toBe(2);
    expect(iot.commandCalls(UpdateCertificateCommand)).toHaveLength(2);

    iot.on(UpdateCertificateCommand).rejects(new Error('throttled'));
    await expect(certificates.deactivate('bay-7')).rejects.toThrow('throttled');
  });
});
