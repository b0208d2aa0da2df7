import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbProvisioningAllowList } from '../../lambdas/adapters/dynamodb-provisioning-allow-list.js';
import { InMemoryDeviceRegistry } from '../../lambdas/adapters/in-memory-ports.js';
import {
  fleetProvisioningTopics,
  LOCAL_PROVISIONING_TEMPLATE_NAME,
} from '../../lambdas/contracts/provisioning-template.js';
import {
  type AdmissionPorts,
  type ClaimedCertificates,
  RECLAIM_AFTER_SECONDS,
} from '../../lambdas/domain/provisioning-allow-list.js';
import { certificateRoleOf, LocalCertificateAuthority } from '../../local/certificate-authority.js';
import {
  CertificateOwnershipTokens,
  OWNERSHIP_TOKEN_LIFETIME_MS,
} from '../../local/certificate-ownership-tokens.js';
import type { ClaimRequest } from '../../local/device-broker.js';
import {
  LocalFleetProvisioning,
  type LocalFleetProvisioning as Provisioning,
} from '../../local/local-fleet-provisioning.js';
import { startDynamo } from '../support/dynalite.js';
import { NOW } from '../support/messages.js';

const topics = fleetProvisioningTopics(LOCAL_PROVISIONING_TEMPLATE_NAME);
const CLAIM = 'c'.repeat(64);

describe('fleetProvisioningTopics', () => {
  it('names the JSON topics of CreateKeysAndCertificate and of RegisterThing on the template', () => {
    expect(fleetProvisioningTopics('civic-local-devices')).toEqual({
      createKeysAndCertificate: {
        request: '$aws/certificates/create/json',
        accepted: '$aws/certificates/create/json/accepted',
        rejected: '$aws/certificates/create/json/rejected',
      },
      registerThing: {
        request: '$aws/provisioning-templates/civic-local-devices/provision/json',
        accepted: '$aws/provisioning-templates/civic-local-devices/provision/json/accepted',
        rejected: '$aws/provisioning-templates/civic-local-devices/provision/json/rejected',
      },
    });
  });
});

describe('certificateRoleOf', () => {
  it.each([
    ['rdg-bin-003', { kind: 'device', deviceId: 'rdg-bin-003' }],
    ['claim.acme-bins-2025', { kind: 'claim', name: 'acme-bins-2025' }],
    ['provisional.0a1b2c', { kind: 'provisional' }],
    // Only the prefix counts: a device id cannot contain '.', so these are no device's either.
    ['claimant', { kind: 'device', deviceId: 'claimant' }],
  ])('reads %s', (commonName, role) => {
    expect(certificateRoleOf(commonName)).toEqual(role);
  });
});

describe('LocalCertificateAuthority claim and provisional certificates', () => {
  let dir: string;
  let ca: LocalCertificateAuthority;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'civic-claim-ca-'));
    ca = await LocalCertificateAuthority.loadOrCreate(dir);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const subjectOf = (pem: string) => new X509Certificate(pem).subject;

  it('issues a claim certificate with CN claim.<name>, signed by the CA, its id the SHA-256 of its DER', async () => {
    const claim = await ca.issueClaimCertificate('acme-bins-2025');
    const certificate = new X509Certificate(claim.certPem);
    expect(certificate.subject).toBe('CN=claim.acme-bins-2025');
    expect(certificate.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(claim.certificateId).toBe(createHash('sha256').update(certificate.raw).digest('hex'));
    expect(createPrivateKey(claim.keyPem).asymmetricKeyType).toBeDefined();
  });

  it.each([
    ['an empty name', ''],
    ['a name with a space', 'acme bins'],
    ['a name that would add a DN attribute', 'acme,O=evil'],
    ['a name over 64 characters', 'a'.repeat(65)],
  ])('refuses %s, naming it', async (_what, name) => {
    await expect(ca.issueClaimCertificate(name)).rejects.toThrow(
      `claim certificate name ${JSON.stringify(name)} must be 1 to 64 letters, digits`,
    );
  });

  it('issues provisional certificates whose CN names no device, a new one every time', async () => {
    const [first, second] = await Promise.all([
      ca.issueProvisionalCertificate(),
      ca.issueProvisionalCertificate(),
    ]);
    expect(subjectOf(first.certPem)).toMatch(/^CN=provisional\.[0-9a-f]{32}$/);
    expect(subjectOf(first.certPem)).not.toBe(subjectOf(second.certPem));
    expect(certificateRoleOf(subjectOf(first.certPem).slice(3))).toEqual({ kind: 'provisional' });
  });
});

describe('LocalFleetProvisioning', () => {
  let dynamo: Awaited<ReturnType<typeof startDynamo>>;
  let allowList: DynamoDbProvisioningAllowList;
  let registry: InMemoryDeviceRegistry;
  let now: Date;
  let issued: number;
  const recorded: [string, string][] = [];
  const logs: string[] = [];
  // As the identity register answers: a certificate recorded for a device is active, any other never activated.
  const certificates: ClaimedCertificates = {
    stateOf: async (_deviceId, certificateId) =>
      recorded.some(([, recordedId]) => recordedId === certificateId) ? 'active' : 'never-activated',
  };

  const provisioning = (overrides: { ports?: () => AdmissionPorts; record?: () => Promise<void> } = {}) =>
    new LocalFleetProvisioning({
      templateName: LOCAL_PROVISIONING_TEMPLATE_NAME,
      issueCertificate: async () => {
        issued += 1;
        return { certificateId: `${issued}`.padStart(64, '0'), certPem: 'CERT', keyPem: `KEY-${issued}` };
      },
      ports: overrides.ports ?? (() => ({ allowList, registry, certificates })),
      settings: { essentialDeviceTypes: ['air-quality'] },
      recordCertificate:
        overrides.record ??
        (async (deviceId, certificateId) => {
          recorded.push([deviceId, certificateId]);
        }),
      log: (line) => logs.push(line),
      clock: () => now,
      tokens: new CertificateOwnershipTokens(),
    });
  const request = (topic: string, payload: unknown, claimCertificateId = CLAIM): ClaimRequest => ({
    topic,
    payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    clientId: 'claim.test',
    claimCertificateId,
  });
  const answerOf = async (subject: Provisioning, req: ClaimRequest) => {
    const answer = await subject.answer(req);
    return { topic: answer.topic, body: JSON.parse(answer.payload) as Record<string, unknown> };
  };
  const tokenFrom = async (subject: Provisioning) => {
    const created = await answerOf(subject, request(topics.createKeysAndCertificate.request, {}));
    return created.body.certificateOwnershipToken as string;
  };

  beforeAll(async () => {
    dynamo = await startDynamo('claims');
    allowList = new DynamoDbProvisioningAllowList(dynamo.client, dynamo.names['provisioning-allow-list']);
    await allowList.put(
      ['U-1', 'U-2', 'U-3', 'U-4', 'U-5'].map((serialNumber, n) => ({
        serialNumber,
        deviceId: `unit-aq-${n + 1}`,
        deviceType: 'air-quality' as const,
        location: { lat: 51.45, lon: -0.97 },
      })),
      NOW,
    );
  });
  afterAll(() => dynamo.stop());

  beforeEach(() => {
    registry = new InMemoryDeviceRegistry();
    now = NOW;
    issued = 0;
    recorded.length = 0;
    logs.length = 0;
  });

  it('answers CreateKeysAndCertificate with the certificate, its key and an ownership token', async () => {
    const subject = provisioning();
    for (const payload of ['{}', '']) {
      const answer = await answerOf(subject, request(topics.createKeysAndCertificate.request, payload));
      expect(answer).toEqual({
        topic: topics.createKeysAndCertificate.accepted,
        body: {
          certificateId: expect.stringMatching(/^0+\d$/),
          certificatePem: 'CERT',
          privateKey: expect.stringMatching(/^KEY-\d$/),
          certificateOwnershipToken: expect.any(String),
        },
      });
    }
    expect(logs.join('\n')).not.toMatch(/KEY-/);
  });

  it.each([
    ['not JSON', 'hello'],
    ['an array', '[]'],
  ])('refuses a CreateKeysAndCertificate payload that is %s', async (_what, payload) => {
    expect(await answerOf(provisioning(), request(topics.createKeysAndCertificate.request, payload))).toEqual(
      {
        topic: topics.createKeysAndCertificate.rejected,
        body: {
          statusCode: 400,
          errorCode: 'InvalidPayload',
          errorMessage: 'CreateKeysAndCertificate takes an empty JSON object, {}',
        },
      },
    );
  });

  it('admits an allow-listed serial: registers the device, records its certificate, answers thing and topic', async () => {
    const subject = provisioning();
    const token = await tokenFrom(subject);
    expect(
      await answerOf(
        subject,
        request(topics.registerThing.request, {
          certificateOwnershipToken: token,
          parameters: { SerialNumber: 'U-1' },
        }),
      ),
    ).toEqual({
      topic: topics.registerThing.accepted,
      body: {
        deviceConfiguration: {
          TelemetryTopic: '$aws/rules/civic_essential/civic/air-quality/unit-aq-1/telemetry',
        },
        thingName: 'unit-aq-1',
      },
    });
    expect(recorded).toEqual([['unit-aq-1', '1'.padStart(64, '0')]]);
    expect(await registry.get('unit-aq-1')).toMatchObject({ deviceType: 'air-quality', status: 'active' });
    expect(await allowList.get('U-1')).toMatchObject({
      state: 'provisioned',
      certificateId: '1'.padStart(64, '0'),
    });
    expect(logs).toContain("fleet provisioning: serial 'U-1' admitted as device 'unit-aq-1' (air-quality)");
  });

  it('refuses an expired token, naming the serial, and leaves the serial waiting', async () => {
    const subject = provisioning();
    const token = await tokenFrom(subject);
    now = new Date(NOW.getTime() + OWNERSHIP_TOKEN_LIFETIME_MS);
    expect(
      await answerOf(
        subject,
        request(topics.registerThing.request, {
          certificateOwnershipToken: token,
          parameters: { SerialNumber: 'U-2' },
        }),
      ),
    ).toEqual({
      topic: topics.registerThing.rejected,
      body: {
        statusCode: 400,
        errorCode: 'InvalidCertificateOwnershipToken',
        errorMessage:
          "serial 'U-2': the certificate ownership token expired (good for 60 minutes); ask for a new certificate " +
          '($aws/certificates/create/json)',
      },
    });
    expect(await allowList.get('U-2')).toMatchObject({ state: 'waiting' });
  });

  it("refuses a token presented with another claim certificate's session", async () => {
    const subject = provisioning();
    const token = await tokenFrom(subject);
    const answer = await answerOf(
      subject,
      request(
        topics.registerThing.request,
        { certificateOwnershipToken: token, parameters: { SerialNumber: 'U-2' } },
        'd'.repeat(64),
      ),
    );
    expect(answer.body).toMatchObject({
      statusCode: 400,
      errorMessage: expect.stringContaining('issued to another claim certificate'),
    });
  });

  it.each([
    ['not JSON', '{', '(payload)'],
    ['no token', { parameters: { SerialNumber: 'U-2' } }, 'certificateOwnershipToken'],
    [
      'a parameter that is not a string',
      { certificateOwnershipToken: 't', parameters: { SerialNumber: 7 } },
      'parameters.SerialNumber',
    ],
  ])('refuses a RegisterThing payload with %s, naming the field', async (_what, payload, field) => {
    const answer = await answerOf(provisioning(), request(topics.registerThing.request, payload));
    expect(answer).toEqual({
      topic: topics.registerThing.rejected,
      body: {
        statusCode: 400,
        errorCode: 'InvalidPayload',
        errorMessage:
          'RegisterThing takes {"certificateOwnershipToken": string, "parameters": {"SerialNumber": string}}; ' +
          `wrong: ${field}`,
      },
    });
  });

  it('refuses a request with no serial number as the hook does', async () => {
    const subject = provisioning();
    const token = await tokenFrom(subject);
    const answer = await answerOf(
      subject,
      request(topics.registerThing.request, { certificateOwnershipToken: token }),
    );
    expect(answer.body).toEqual({
      statusCode: 403,
      errorCode: 'AccessDenied',
      errorMessage: 'the request names no serial number: the device must send the SerialNumber parameter',
    });
  });

  it('answers 500 naming the serial when the tables cannot be reached, and logs no token', async () => {
    const subject = provisioning({
      ports: () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      },
    });
    const token = await tokenFrom(subject);
    const answer = await answerOf(
      subject,
      request(topics.registerThing.request, {
        certificateOwnershipToken: token,
        parameters: { SerialNumber: 'U-3' },
      }),
    );
    expect(answer).toEqual({
      topic: topics.registerThing.rejected,
      body: {
        statusCode: 500,
        errorCode: 'InternalError',
        errorMessage:
          "serial 'U-3': the allow-list or the registry could not be reached; ask for a new certificate and try again",
      },
    });
    expect(logs).toContain("fleet provisioning failed: serial 'U-3': connect ECONNREFUSED 127.0.0.1:1");
    expect(logs.join('\n')).not.toContain(token);
  });

  it('answers 500 when the certificate cannot be recorded, and admits the serial again on the next attempt', async () => {
    const failing = provisioning({
      record: async () => {
        throw new Error('register locked');
      },
    });
    const register = (subject: Provisioning, token: string) =>
      answerOf(
        subject,
        request(topics.registerThing.request, {
          certificateOwnershipToken: token,
          parameters: { SerialNumber: 'U-4' },
        }),
      );
    const answer = await register(failing, await tokenFrom(failing));
    expect(answer.body).toEqual({
      statusCode: 500,
      errorCode: 'InternalError',
      errorMessage:
        "serial 'U-4': device 'unit-aq-4' is registered but its certificate could not be activated; ask for a new " +
        `certificate and register again after ${RECLAIM_AFTER_SECONDS} seconds (if that is refused, an ` +
        'administrator can issue one with: npm run device -- rotate --id unit-aq-4 --local)',
    });
    expect(recorded).toEqual([]);

    // The device tries again with a new certificate once the first claim has settled: admitted, recorded.
    now = new Date(NOW.getTime() + RECLAIM_AFTER_SECONDS * 1000);
    const working = provisioning();
    const again = await register(working, await tokenFrom(working));
    expect(again.topic).toBe(topics.registerThing.accepted);
    expect(recorded).toEqual([['unit-aq-4', '2'.padStart(64, '0')]]);
    expect(logs).toContain(
      `fleet provisioning: serial 'U-4' admitted again as device 'unit-aq-4' (air-quality): certificate ` +
        `${'2'.padStart(64, '0')} replaces ${'1'.padStart(64, '0')}, which was never activated`,
    );
    // The registry entry made by the first attempt was kept.
    expect(await registry.get('unit-aq-4')).toMatchObject({ revision: 1, registeredAt: NOW.toISOString() });

    // Now the certificate is active: a third device presenting the serial is refused, "already provisioned".
    const third = await register(working, await tokenFrom(working));
    expect(third.body).toMatchObject({
      statusCode: 403,
      errorMessage: expect.stringMatching(
        /^serial 'U-4' was already provisioned .*each serial is provisioned once$/,
      ),
    });
  });

  it('answers a failure to issue a certificate with a 500, and throws for a topic that is not a request', async () => {
    const subject = new LocalFleetProvisioning({
      templateName: LOCAL_PROVISIONING_TEMPLATE_NAME,
      issueCertificate: async () => {
        throw new Error('CA key unreadable');
      },
      ports: () => ({ allowList, registry, certificates }),
      settings: { essentialDeviceTypes: [] },
      recordCertificate: async () => undefined,
      log: (line) => logs.push(line),
    });
    expect(await answerOf(subject, request(topics.createKeysAndCertificate.request, {}))).toEqual({
      topic: topics.createKeysAndCertificate.rejected,
      body: {
        statusCode: 500,
        errorCode: 'InternalError',
        errorMessage: 'the request could not be completed; try again',
      },
    });
    await expect(subject.answer(request('$aws/rules/civic_ingest/x', {}))).rejects.toThrow(
      "'$aws/rules/civic_ingest/x' is not a fleet provisioning request topic",
    );
  });

  it('limits the topics a claim session may use to the two requests and their answers', () => {
    const subject = provisioning();
    expect([...subject.requestTopics]).toEqual([
      topics.createKeysAndCertificate.request,
      topics.registerThing.request,
    ]);
    expect([...subject.answerTopics]).toEqual([
      topics.createKeysAndCertificate.accepted,
      topics.createKeysAndCertificate.rejected,
      topics.registerThing.accepted,
      topics.registerThing.rejected,
    ]);
  });
});
