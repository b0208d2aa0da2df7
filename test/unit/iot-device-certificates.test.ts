import { IoTClient, ListThingPrincipalsCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
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
});
