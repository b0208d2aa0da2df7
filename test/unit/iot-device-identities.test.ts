import { generateKeyPairSync } from 'node:crypto';
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
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
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DeviceIdentityIssueError,
  IotDeviceIdentities,
} from '../../lambdas/adapters/iot-device-identities.js';
import type { Device } from '../../lambdas/domain/device.js';

const iot = mockClient(IoTClient);
const POLICY = 'CivicDevicePolicy-ABC123';
const QUARANTINE = 'CivicQuarantinePolicy-DEF456';
const ROOT_CA = '-----BEGIN CERTIFICATE-----\nTEST-ROOT\n-----END CERTIFICATE-----\n';
// Made at run time, never committed: the adapter must hand it over once and never put it in an error or a log.
const PRIVATE_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const certId = (n: number) => String(n).padStart(64, 'c');
const certArn = (n: number) => `arn:aws:iot:eu-west-2:111122223333:cert/${certId(n)}`;

const gauge: Device = {
  deviceId: 'gauge-7',
  deviceType: 'water-level',
  status: 'active',
  location: { lat: 51.5, lon: -0.1 },
  ward: "St Ann's",
  site: 'Bridge-3',
  registeredAt: '2025-01-01T00:00:00Z',
};

const notFound = () => new ResourceNotFoundException({ message: 'no such thing', $metadata: {} });

function identities(): IotDeviceIdentities {
  return new IotDeviceIdentities({
    iot: new IoTClient({ region: 'eu-west-2' }),
    devicePolicyName: POLICY,
    quarantinePolicyName: QUARANTINE,
    rootCaPem: ROOT_CA,
    essentialDeviceTypes: ['water-level', 'air-quality'],
  });
}

/** The IoT calls made, by command name, in order. */
function callNames(): string[] {
  return iot.calls().map((call) => (call.args[0] as object).constructor.name.replace(/Command$/, ''));
}

function mockIssueHappyPath(thingExists: boolean) {
  iot.on(DescribeEndpointCommand).resolves({ endpointAddress: 'abc123-ats.iot.eu-west-2.amazonaws.com' });
  if (thingExists) iot.on(DescribeThingCommand).resolves({ thingName: gauge.deviceId });
  else iot.on(DescribeThingCommand).rejects(notFound());
  // An existing thing's certificates are looked at for a quarantine (none here).
  iot.on(ListThingPrincipalsCommand).resolves({ principals: [] });
  iot.on(CreateThingCommand).resolves({ thingName: gauge.deviceId });
  iot.on(CreateKeysAndCertificateCommand).resolves({
    certificateArn: certArn(1),
    certificateId: certId(1),
    certificatePem: '-----BEGIN CERTIFICATE-----\nDEVICE\n-----END CERTIFICATE-----\n',
    keyPair: { PrivateKey: PRIVATE_KEY, PublicKey: 'public' },
  });
  iot.on(AttachPolicyCommand).resolves({});
  iot.on(AttachThingPrincipalCommand).resolves({});
  iot.on(UpdateCertificateCommand).resolves({});
  iot.on(DetachPolicyCommand).resolves({});
  iot.on(DeleteCertificateCommand).resolves({});
  iot.on(DeleteThingCommand).resolves({});
}

async function issueFailure(): Promise<DeviceIdentityIssueError> {
  const error = await identities()
    .issue(gauge)
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(DeviceIdentityIssueError);
  return error as DeviceIdentityIssueError;
}

beforeEach(() => iot.reset());

describe('IotDeviceIdentities.issue', () => {
  it('creates the thing, a certificate with the device policy, attaches it exclusively, and returns the bundle', async () => {
    mockIssueHappyPath(false);
    const credentials = await identities().issue(gauge);

    expect(callNames()).toEqual([
      'DescribeEndpoint',
      'DescribeThing',
      'CreateThing',
      'CreateKeysAndCertificate',
      'AttachPolicy',
      'AttachThingPrincipal',
    ]);
    expect(iot.commandCalls(DescribeEndpointCommand)[0]?.args[0].input).toEqual({
      endpointType: 'iot:Data-ATS',
    });
    expect(iot.commandCalls(CreateThingCommand)[0]?.args[0].input).toEqual({
      thingName: 'gauge-7',
      // The apostrophe and space are not allowed in an IoT attribute value.
      attributePayload: { attributes: { type: 'water-level', ward: 'St_Ann_s', site: 'Bridge-3' } },
    });
    expect(iot.commandCalls(CreateKeysAndCertificateCommand)[0]?.args[0].input).toEqual({
      setAsActive: true,
    });
    expect(iot.commandCalls(AttachPolicyCommand)[0]?.args[0].input).toEqual({
      policyName: POLICY,
      target: certArn(1),
    });
    expect(iot.commandCalls(AttachThingPrincipalCommand)[0]?.args[0].input).toEqual({
      thingName: 'gauge-7',
      principal: certArn(1),
      thingPrincipalType: 'EXCLUSIVE_THING',
    });
    expect(credentials).toEqual({
      deviceId: 'gauge-7',
      certificateId: certId(1),
      certificatePem: '-----BEGIN CERTIFICATE-----\nDEVICE\n-----END CERTIFICATE-----\n',
      privateKeyPem: PRIVATE_KEY,
      rootCaPem: ROOT_CA,
      endpoint: 'mqtts://abc123-ats.iot.eu-west-2.amazonaws.com:8883',
      topic: '$aws/rules/civic_essential/civic/water-level/gauge-7/telemetry',
    });
  });

  it('reuses an existing thing without creating it, and looks the endpoint up once per adapter', async () => {
    mockIssueHappyPath(true);
    const adapter = identities();
    await adapter.issue(gauge);
    const second = await adapter.issue({ ...gauge, deviceType: 'parking-spot' });

    expect(iot.commandCalls(CreateThingCommand)).toHaveLength(0);
    expect(iot.commandCalls(DescribeEndpointCommand)).toHaveLength(1);
    expect(iot.commandCalls(CreateKeysAndCertificateCommand)).toHaveLength(2);
    expect(second.endpoint).toBe('mqtts://abc123-ats.iot.eu-west-2.amazonaws.com:8883');
    expect(second.topic).toBe('$aws/rules/civic_ingest/civic/parking-spot/gauge-7/telemetry');
  });

  it('rolls back a failed AttachPolicy: certificate inactive then deleted, and the thing it created deleted', async () => {
    mockIssueHappyPath(false);
    iot.on(AttachPolicyCommand).rejects(new Error('policy limit reached'));
    const error = await issueFailure();

    expect(error.deviceId).toBe('gauge-7');
    expect(error.step).toBe('AttachPolicy');
    expect(error.message).toContain('gauge-7');
    expect(error.message).toContain('AttachPolicy');
    expect(error.message).toContain('rolled back');
    expect(error.message).not.toContain('SECRET');
    expect(callNames().slice(5)).toEqual(['UpdateCertificate', 'DeleteCertificate', 'DeleteThing']);
    expect(iot.commandCalls(UpdateCertificateCommand)[0]?.args[0].input).toEqual({
      certificateId: certId(1),
      newStatus: 'INACTIVE',
    });
    expect(iot.commandCalls(DeleteCertificateCommand)[0]?.args[0].input).toEqual({
      certificateId: certId(1),
    });
    expect(iot.commandCalls(DeleteThingCommand)[0]?.args[0].input).toEqual({ thingName: 'gauge-7' });
    expect(iot.commandCalls(DetachPolicyCommand)).toHaveLength(0);
  });

  it('rolls back a failed AttachThingPrincipal: policy detached, certificate deleted, existing thing kept', async () => {
    mockIssueHappyPath(true);
    iot.on(AttachThingPrincipalCommand).rejects(new Error('throttled'));
    const error = await issueFailure();

    expect(error.step).toBe('AttachThingPrincipal');
    expect(error.message).toContain('gauge-7');
    expect(error.message).toContain('AttachThingPrincipal');
    expect(callNames().slice(0, 3)).toEqual(['DescribeEndpoint', 'DescribeThing', 'ListThingPrincipals']);
    expect(callNames().slice(6)).toEqual(['UpdateCertificate', 'DetachPolicy', 'DeleteCertificate']);
    expect(iot.commandCalls(DetachPolicyCommand)[0]?.args[0].input).toEqual({
      policyName: POLICY,
      target: certArn(1),
    });
    expect(iot.commandCalls(DeleteThingCommand)).toHaveLength(0);
    expect(iot.commandCalls(DetachThingPrincipalCommand)).toHaveLength(0);
  });

  it('rolls back a failed AttachThingPrincipal on a thing it created by deleting that thing too', async () => {
    mockIssueHappyPath(false);
    iot.on(AttachThingPrincipalCommand).rejects(new Error('throttled'));
    const error = await issueFailure();

    expect(error.step).toBe('AttachThingPrincipal');
    expect(callNames().slice(6)).toEqual([
      'UpdateCertificate',
      'DetachPolicy',
      'DeleteCertificate',
      'DeleteThing',
    ]);
  });

  it('names what is left when a rollback step fails, and creates nothing when the endpoint lookup fails', async () => {
    mockIssueHappyPath(true);
    iot.on(AttachPolicyCommand).rejects(new Error('denied'));
    iot.on(DeleteCertificateCommand).rejects(new Error('conflict'));
    const error = await issueFailure();
    expect(error.rollbackFailures).toEqual([`DeleteCertificate ${certId(1)}`]);
    expect(error.message).toContain(`rollback incomplete, clean up by hand: DeleteCertificate ${certId(1)}`);

    iot.reset();
    iot.on(DescribeEndpointCommand).rejects(new Error('no endpoint'));
    const endpointError = await issueFailure();
    expect(endpointError.step).toBe('DescribeEndpoint');
    expect(callNames()).toEqual(['DescribeEndpoint']);
  });
});

describe('IotDeviceIdentities certificate lifecycle', () => {
  it("revokes every certificate principal of the device's thing, across pages", async () => {
    iot
      .on(ListThingPrincipalsCommand, { thingName: 'gauge-7' })
      .resolvesOnce({
        principals: [certArn(1), 'arn:aws:cognito-identity:eu-west-2:111122223333:identity/x'],
        nextToken: 'p2',
      })
      .resolvesOnce({ principals: [certArn(2)] });
    iot.on(DescribeCertificateCommand).resolves({ certificateDescription: { status: 'ACTIVE' } });
    iot.on(UpdateCertificateCommand).resolves({});
    await identities().revoke('gauge-7');

    expect(iot.commandCalls(ListThingPrincipalsCommand)[1]?.args[0].input).toEqual({
      thingName: 'gauge-7',
      nextToken: 'p2',
    });
    expect(iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input)).toEqual([
      { certificateId: certId(1), newStatus: 'REVOKED' },
      { certificateId: certId(2), newStatus: 'REVOKED' },
    ]);
  });

  it('leaves an already revoked certificate alone (its status can never change again)', async () => {
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [certArn(1), certArn(2)] });
    iot.on(DescribeCertificateCommand, { certificateId: certId(1) }).resolves({
      certificateDescription: { status: 'REVOKED' },
    });
    iot.on(DescribeCertificateCommand, { certificateId: certId(2) }).resolves({
      certificateDescription: { status: 'INACTIVE' },
    });
    iot.on(UpdateCertificateCommand).resolves({});
    await identities().revoke('gauge-7');
    expect(iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input)).toEqual([
      { certificateId: certId(2), newStatus: 'REVOKED' },
    ]);
  });

  it("deactivates one of the device's certificates and refuses another device's", async () => {
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [certArn(1)] });
    iot.on(UpdateCertificateCommand).resolves({});
    await identities().deactivate('gauge-7', certId(1));
    await expect(identities().deactivate('gauge-7', certId(9))).rejects.toThrow(
      `Certificate ${certId(9)} is not attached to device gauge-7`,
    );
    expect(iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input)).toEqual([
      { certificateId: certId(1), newStatus: 'INACTIVE' },
    ]);
  });
});

describe('IotDeviceIdentities quarantine and describe', () => {
  /** Certificate 1 active, 2 inactive, 3 revoked; `policies[n]` lists the policies certificate n carries. */
  function mockCertificates(policies: Readonly<Record<1 | 2 | 3, readonly string[]>>) {
    iot.on(DescribeThingCommand).resolves({ thingName: 'gauge-7' });
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [certArn(1), certArn(2), certArn(3)] });
    iot.on(DescribeCertificateCommand, { certificateId: certId(1) }).resolves({
      certificateDescription: { status: 'ACTIVE' },
    });
    iot.on(DescribeCertificateCommand, { certificateId: certId(2) }).resolves({
      certificateDescription: { status: 'INACTIVE' },
    });
    iot.on(DescribeCertificateCommand, { certificateId: certId(3) }).resolves({
      certificateDescription: { status: 'REVOKED' },
    });
    for (const n of [1, 2, 3] as const) {
      iot.on(ListAttachedPoliciesCommand, { target: certArn(n) }).resolves({
        policies: [...policies[n], 'SomethingElse'].map((policyName) => ({ policyName })),
      });
    }
    iot.on(DetachPolicyCommand).resolves({});
    iot.on(AttachPolicyCommand).resolves({});
  }
  const inputs = (command: typeof AttachPolicyCommand | typeof DetachPolicyCommand) =>
    iot.commandCalls(command).map((c) => c.args[0].input);
  const everyCertificateHas = (policy: string) => ({ 1: [policy], 2: [policy], 3: [policy] });

  it('quarantine swaps the device policy for the connect-only policy on every certificate not revoked', async () => {
    mockCertificates(everyCertificateHas(POLICY));
    await identities().quarantine('gauge-7');
    expect(inputs(AttachPolicyCommand)).toEqual([
      { policyName: QUARANTINE, target: certArn(1) },
      { policyName: QUARANTINE, target: certArn(2) },
    ]);
    expect(inputs(DetachPolicyCommand)).toEqual([
      { policyName: POLICY, target: certArn(1) },
      { policyName: POLICY, target: certArn(2) },
    ]);
    // Attach before detach: a failure halfway leaves the device policy on, never neither policy.
    expect(callNames().filter((name) => /Policy$/.test(name) && name !== 'ListAttachedPolicies')).toEqual([
      'AttachPolicy',
      'DetachPolicy',
      'AttachPolicy',
      'DetachPolicy',
    ]);
  });

  it('quarantine twice changes nothing the second time', async () => {
    mockCertificates(everyCertificateHas(QUARANTINE));
    await identities().quarantine('gauge-7');
    expect(inputs(AttachPolicyCommand)).toEqual([]);
    expect(inputs(DetachPolicyCommand)).toEqual([]);
  });

  it('release puts the device policy back on active certificates only and takes the quarantine policy off', async () => {
    mockCertificates(everyCertificateHas(QUARANTINE));
    await identities().release('gauge-7');
    expect(inputs(AttachPolicyCommand)).toEqual([{ policyName: POLICY, target: certArn(1) }]);
    expect(inputs(DetachPolicyCommand)).toEqual([
      { policyName: QUARANTINE, target: certArn(1) },
      { policyName: QUARANTINE, target: certArn(2) },
    ]);

    iot.reset();
    mockCertificates({ 1: [POLICY], 2: [], 3: [] });
    await identities().release('gauge-7');
    expect(inputs(AttachPolicyCommand)).toEqual([]);
    expect(inputs(DetachPolicyCommand)).toEqual([]);
  });

  it('describes a device with no thing', async () => {
    iot.on(DescribeThingCommand).rejects(notFound());
    expect(await identities().describe('gauge-7')).toEqual({
      deviceId: 'gauge-7',
      thing: false,
      certificates: [],
      quarantined: false,
    });
  });

  it('describes certificate statuses and reads quarantine from the quarantine policy', async () => {
    mockCertificates({ 1: [QUARANTINE], 2: [], 3: [] });
    expect(await identities().describe('gauge-7')).toEqual({
      deviceId: 'gauge-7',
      thing: true,
      certificates: [
        { certificateId: certId(1), status: 'active' },
        { certificateId: certId(2), status: 'inactive' },
        { certificateId: certId(3), status: 'revoked' },
      ],
      quarantined: true,
    });

    iot.reset();
    mockCertificates({ 1: [POLICY], 2: [], 3: [QUARANTINE] });
    expect((await identities().describe('gauge-7')).quarantined).toBe(false);
  });

  it('records a quarantine on the thing before swapping policies, and lifts it last on release', async () => {
    mockCertificates(everyCertificateHas(POLICY));
    iot.on(UpdateThingCommand).resolves({});
    await identities().quarantine('gauge-7');
    const names = callNames().filter(
      (name) => name !== 'ListAttachedPolicies' && name !== 'DescribeCertificate',
    );
    expect(names.slice(0, 3)).toEqual(['DescribeThing', 'UpdateThing', 'ListThingPrincipals']);
    expect(iot.commandCalls(UpdateThingCommand)[0]?.args[0].input).toEqual({
      thingName: 'gauge-7',
      attributePayload: { attributes: { quarantined: 'true' }, merge: true },
    });

    iot.reset();
    mockCertificates(everyCertificateHas(QUARANTINE));
    iot.on(UpdateThingCommand).resolves({});
    await identities().release('gauge-7');
    expect(callNames().at(-1)).toBe('UpdateThing');
    expect(iot.commandCalls(UpdateThingCommand)[0]?.args[0].input).toEqual({
      thingName: 'gauge-7',
      attributePayload: { attributes: { quarantined: '' }, merge: true },
    });
  });

  it('refuses to quarantine a device with no thing, naming it', async () => {
    iot.on(DescribeThingCommand).rejects(notFound());
    await expect(identities().quarantine('gauge-7')).rejects.toThrow(
      'Device gauge-7 has no IoT thing: there is nothing to quarantine',
    );
    expect(iot.commandCalls(UpdateThingCommand)).toHaveLength(0);
  });

  it('keeps a quarantine recorded on the thing through a revoke and a rotate', async () => {
    mockIssueHappyPath(true);
    iot.on(DescribeThingCommand).resolves({ thingName: 'gauge-7', attributes: { quarantined: 'true' } });
    // Every earlier certificate revoked: only the thing remembers the quarantine.
    iot.on(ListThingPrincipalsCommand).resolves({ principals: [certArn(3)] });
    iot.on(DescribeCertificateCommand).resolves({ certificateDescription: { status: 'REVOKED' } });
    await identities().issue(gauge);
    expect(inputs(AttachPolicyCommand)).toEqual([{ policyName: QUARANTINE, target: certArn(1) }]);
    expect((await identities().describe('gauge-7')).quarantined).toBe(true);
  });

  it('treats a device registered without a thing as having no certificates', async () => {
    iot.on(ListThingPrincipalsCommand).rejects(notFound());
    await identities().revoke('gauge-7');
    expect(iot.commandCalls(UpdateCertificateCommand)).toHaveLength(0);
  });

  it('issues a quarantined device its new certificate with the quarantine policy: rotation does not release it', async () => {
    mockIssueHappyPath(true);
    mockCertificates({ 1: [QUARANTINE], 2: [], 3: [] });
    iot.on(CreateKeysAndCertificateCommand).resolves({
      certificateArn: certArn(4),
      certificateId: certId(4),
      certificatePem: '-----BEGIN CERTIFICATE-----\nDEVICE\n-----END CERTIFICATE-----\n',
      keyPair: { PrivateKey: PRIVATE_KEY, PublicKey: 'public' },
    });
    iot.on(AttachThingPrincipalCommand).resolves({});
    iot.on(DescribeEndpointCommand).resolves({ endpointAddress: 'abc123-ats.iot.eu-west-2.amazonaws.com' });
    await identities().issue(gauge);
    expect(inputs(AttachPolicyCommand)).toEqual([{ policyName: QUARANTINE, target: certArn(4) }]);
  });
});
