import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
  ResourceNotFoundException,
  UpdateCertificateCommand,
  type UpdateCertificateRequest,
} from '@aws-sdk/client-iot';
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  SchedulerClient,
  ServiceQuotaExceededException,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  IotDeviceIdentities,
  type IotDeviceIdentitiesOptions,
} from '../../lambdas/adapters/iot-device-identities.js';
import { SchedulerCertificateRetirements } from '../../lambdas/adapters/scheduler-certificate-retirements.js';
import type { Device } from '../../lambdas/domain/device.js';

/**
 * Rotation on AWS: issuing for a thing that already has active certificates retires them, at once or through
 * EventBridge Scheduler after the grace period, without ever putting the new certificate at risk.
 */

const iot = mockClient(IoTClient);
const scheduler = mockClient(SchedulerClient);
const POLICY = 'CivicDevicePolicy-ABC123';
const QUARANTINE = 'CivicQuarantinePolicy-DEF456';
const ROOT_CA = '-----BEGIN CERTIFICATE-----\nTEST-ROOT\n-----END CERTIFICATE-----\n';
const ROLE_ARN = 'arn:aws:iam::111122223333:role/CivicPlatform-CertificateRetirementRole-AB12';
// Made at run time, never committed; it must never reach a schedule or a warning.
const PRIVATE_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
// Certificate ids as IoT makes them: the SHA-256 fingerprint of the certificate, in hex.
const certId = (n: number) => createHash('sha256').update(`certificate ${n}`).digest('hex');
const certArn = (n: number) => `arn:aws:iot:eu-west-2:111122223333:cert/${certId(n)}`;
const NEW = 9;
const NOW = new Date('2025-03-01T10:15:30Z');

const gauge: Device = {
  deviceId: 'gauge-7',
  deviceType: 'water-level',
  status: 'active',
  location: { lat: 51.5, lon: -0.1 },
  registeredAt: '2025-01-01T00:00:00Z',
};

type Status = 'ACTIVE' | 'INACTIVE' | 'REVOKED';

/** IoT with the thing (when `existing` is given) carrying those certificates, each with the device policy. */
function mockIot(existing?: Readonly<Record<number, Status>>) {
  iot.on(DescribeEndpointCommand).resolves({ endpointAddress: 'abc123-ats.iot.eu-west-2.amazonaws.com' });
  if (existing) iot.on(DescribeThingCommand).resolves({ thingName: gauge.deviceId });
  else iot.on(DescribeThingCommand).rejects(new ResourceNotFoundException({ message: 'no', $metadata: {} }));
  iot.on(CreateThingCommand).resolves({ thingName: gauge.deviceId });
  const numbers = Object.keys(existing ?? {}).map(Number);
  iot.on(ListThingPrincipalsCommand).resolves({ principals: numbers.map(certArn) });
  for (const n of numbers) {
    iot
      .on(DescribeCertificateCommand, { certificateId: certId(n) })
      .resolves({ certificateDescription: { status: existing?.[n] } });
    iot
      .on(ListAttachedPoliciesCommand, { target: certArn(n) })
      .resolves({ policies: [{ policyName: POLICY }] });
  }
  iot.on(CreateKeysAndCertificateCommand).resolves({
    certificateArn: certArn(NEW),
    certificateId: certId(NEW),
    certificatePem: '-----BEGIN CERTIFICATE-----\nDEVICE\n-----END CERTIFICATE-----\n',
    keyPair: { PrivateKey: PRIVATE_KEY, PublicKey: 'public' },
  });
  iot.on(AttachPolicyCommand).resolves({});
  iot.on(AttachThingPrincipalCommand).resolves({});
  iot.on(UpdateCertificateCommand).resolves({});
}

function identities(options: Partial<IotDeviceIdentitiesOptions> = {}): IotDeviceIdentities {
  return new IotDeviceIdentities({
    iot: new IoTClient({ region: 'eu-west-2' }),
    devicePolicyName: POLICY,
    quarantinePolicyName: QUARANTINE,
    rootCaPem: ROOT_CA,
    essentialDeviceTypes: ['water-level'],
    now: () => NOW,
    ...options,
  });
}

const withGraceOfAnHour = () =>
  identities({
    rotationGraceSeconds: 3600,
    retirements: new SchedulerCertificateRetirements({
      scheduler: new SchedulerClient({ region: 'eu-west-2' }),
      roleArn: ROLE_ARN,
    }),
  });

const updates = (): UpdateCertificateRequest[] =>
  iot.commandCalls(UpdateCertificateCommand).map((call) => call.args[0].input);
const schedules = () => scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input);
const iotCallNames = () =>
  iot.calls().map((call) => (call.args[0] as object).constructor.name.replace(/Command$/, ''));

beforeEach(() => {
  iot.reset();
  scheduler.reset();
});

describe('IotDeviceIdentities rotation', () => {
  it('with no grace period sets the old active certificates INACTIVE once the new one is attached', async () => {
    mockIot({ 1: 'ACTIVE', 2: 'ACTIVE' });
    const credentials = await identities().issue(gauge);

    expect(updates()).toEqual([
      { certificateId: certId(1), newStatus: 'INACTIVE' },
      { certificateId: certId(2), newStatus: 'INACTIVE' },
    ]);
    // Only after the new certificate is fully attached: a failure before that leaves the old ones working.
    expect(iotCallNames().slice(-3)).toEqual([
      'AttachThingPrincipal',
      'UpdateCertificate',
      'UpdateCertificate',
    ]);
    expect(credentials.certificateId).toBe(certId(NEW));
    expect(credentials).not.toHaveProperty('warnings');
    expect(schedules()).toEqual([]);
  });

  it('with a grace period of an hour schedules each old certificate to go INACTIVE an hour from now', async () => {
    mockIot({ 1: 'ACTIVE', 2: 'ACTIVE' });
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:eu-west-2:1:schedule/x' });
    const credentials = await withGraceOfAnHour().issue(gauge);

    const schedule = (n: number) => ({
      Name: `retire-${certId(n).slice(0, 57)}`,
      Description: `Rotation of device gauge-7: its old certificate ${certId(n)} stops working`,
      ScheduleExpression: 'at(2025-03-01T11:15:30)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: 'arn:aws:scheduler:::aws-sdk:iot:updateCertificate',
        RoleArn: ROLE_ARN,
        Input: `{"CertificateId":"${certId(n)}","NewStatus":"INACTIVE"}`,
        RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
      },
    });
    expect(schedules()).toEqual([schedule(1), schedule(2)]);
    // Nothing is retired now, and the new certificate is never touched.
    expect(updates()).toEqual([]);
    expect(credentials).not.toHaveProperty('warnings');
    expect(JSON.stringify(schedules())).not.toContain('PRIVATE KEY');
  });

  it('returns the credentials with a warning naming the certificate still active when scheduling fails', async () => {
    mockIot({ 1: 'ACTIVE', 2: 'ACTIVE' });
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
    scheduler.on(CreateScheduleCommand, { Name: `retire-${certId(1).slice(0, 57)}` }).rejects(
      new ServiceQuotaExceededException({
        Message: 'Too many schedules',
        message: 'Too many schedules',
        $metadata: {},
      }),
    );
    const credentials = await withGraceOfAnHour().issue(gauge);

    expect(credentials.privateKeyPem).toBe(PRIVATE_KEY);
    expect(credentials.warnings).toEqual([
      `device gauge-7: old certificate ${certId(1)} is still active (scheduling its retirement at ` +
        '2025-03-01T11:15:30.000Z failed: ServiceQuotaExceededException: Too many schedules); once the device ' +
        `uses its new certificate, retire the old one with: aws iot update-certificate --certificate-id ${certId(1)} --new-status INACTIVE`,
    ]);
    expect(schedules()).toHaveLength(2);
    // No rollback: the new certificate stays active and attached.
    expect(updates()).toEqual([]);
    expect(iot.commandCalls(DeleteCertificateCommand)).toHaveLength(0);
  });

  it('returns the credentials with a warning when setting an old certificate INACTIVE at once fails', async () => {
    mockIot({ 1: 'ACTIVE' });
    iot.on(UpdateCertificateCommand).rejects(new Error('Rate exceeded'));
    const credentials = await identities().issue(gauge);

    expect(credentials.certificateId).toBe(certId(NEW));
    expect(credentials.warnings).toEqual([
      `device gauge-7: old certificate ${certId(1)} is still active (setting it INACTIVE failed: Error: Rate ` +
        'exceeded); once the device uses its new certificate, retire the old one with: aws iot update-certificate ' +
        `--certificate-id ${certId(1)} --new-status INACTIVE`,
    ]);
    expect(updates()).toEqual([{ certificateId: certId(1), newStatus: 'INACTIVE' }]);
    expect(iot.commandCalls(DeleteCertificateCommand)).toHaveLength(0);
  });

  it('counts a retirement already scheduled (a re-run) as done, with no warning', async () => {
    mockIot({ 1: 'ACTIVE' });
    scheduler.on(CreateScheduleCommand).rejects(
      new ConflictException({
        Message: 'Schedule already exists.',
        message: 'Schedule already exists.',
        $metadata: {},
      }),
    );
    const credentials = await withGraceOfAnHour().issue(gauge);
    expect(credentials).not.toHaveProperty('warnings');
  });

  it('retires nothing on a first issue (no thing yet)', async () => {
    mockIot();
    const credentials = await withGraceOfAnHour().issue(gauge);
    expect(iot.commandCalls(CreateThingCommand)).toHaveLength(1);
    expect(schedules()).toEqual([]);
    expect(updates()).toEqual([]);
    expect(credentials).not.toHaveProperty('warnings');
  });

  it.each([
    ['no grace period', identities],
    ['a grace period', withGraceOfAnHour],
  ])('with %s leaves inactive and revoked certificates alone', async (_, adapter) => {
    mockIot({ 1: 'ACTIVE', 2: 'INACTIVE', 3: 'REVOKED' });
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
    await adapter().issue(gauge);

    const touched = [...updates().map((u) => u.certificateId), ...schedules().map((s) => s.Target?.Input)];
    expect(touched.join(' ')).toContain(certId(1));
    expect(touched.join(' ')).not.toContain(certId(2));
    expect(touched.join(' ')).not.toContain(certId(3));
    expect(touched.join(' ')).not.toContain(certId(NEW));
  });
});

describe('IotDeviceIdentities rotation options', () => {
  it('refuses a grace period with nothing to retire the old certificates after it', () => {
    expect(() => identities({ rotationGraceSeconds: 3600 })).toThrow(
      'rotationGraceSeconds is 3600 but no retirements were given: nothing would retire the old certificates',
    );
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s as the grace period', (seconds) => {
    expect(() => identities({ rotationGraceSeconds: seconds })).toThrow(
      `rotationGraceSeconds must be a number of seconds, 0 or more; got ${seconds}`,
    );
  });
});

describe('IotDeviceIdentities.withdraw of a rotation', () => {
  beforeEach(() => {
    iot.reset();
    scheduler.reset();
  });

  /** After the new certificate is issued, withdraw finds it attached with the device policy. */
  function mockWithdraw() {
    iot
      .on(DescribeCertificateCommand, { certificateId: certId(NEW) })
      .resolves({ certificateDescription: { certificateArn: certArn(NEW), status: 'ACTIVE' } });
    iot
      .on(ListAttachedPoliciesCommand, { target: certArn(NEW) })
      .resolves({ policies: [{ policyName: POLICY }] });
    iot.on(DetachThingPrincipalCommand).resolves({});
    iot.on(DetachPolicyCommand).resolves({});
    iot.on(DeleteCertificateCommand).resolves({});
  }

  it('puts a certificate retired at once back to work when the new one is withdrawn', async () => {
    mockIot({ 1: 'ACTIVE' });
    mockWithdraw();
    const adapter = identities();
    const credentials = await adapter.issue(gauge);
    await adapter.withdraw(gauge.deviceId, credentials.certificateId);
    const updates = iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input);
    expect(updates).toEqual([
      { certificateId: certId(1), newStatus: 'INACTIVE' },
      { certificateId: certId(NEW), newStatus: 'INACTIVE' },
      { certificateId: certId(1), newStatus: 'ACTIVE' },
    ]);
  });

  it('calls off a scheduled retirement when the new certificate is withdrawn', async () => {
    mockIot({ 1: 'ACTIVE' });
    mockWithdraw();
    scheduler.on(CreateScheduleCommand).resolves({});
    scheduler.on(DeleteScheduleCommand).resolves({});
    const adapter = withGraceOfAnHour();
    const credentials = await adapter.issue(gauge);
    await adapter.withdraw(gauge.deviceId, credentials.certificateId);
    const created = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input.Name;
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input.Name)).toEqual([created]);
    expect(iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input.certificateId)).toEqual([
      certId(NEW),
    ]);
  });
});
