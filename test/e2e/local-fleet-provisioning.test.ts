import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../lambdas/adapters/dynamodb-client.js';
import { DynamoDbDeviceDirectory } from '../../lambdas/adapters/dynamodb-device-directory.js';
import { DynamoDbProvisioningAllowList } from '../../lambdas/adapters/dynamodb-provisioning-allow-list.js';
import {
  fleetProvisioningTopics,
  LOCAL_PROVISIONING_TEMPLATE_NAME,
  type ProvisioningOperationTopics,
} from '../../lambdas/contracts/provisioning-template.js';
import { localTableName } from '../../lambdas/contracts/tables.js';
import { type AdmissionPorts, admitDevice } from '../../lambdas/domain/provisioning-allow-list.js';
import { LocalCertificateAuthority } from '../../local/certificate-authority.js';
import { LocalClaimedCertificates } from '../../local/local-claimed-certificates.js';
import type { LocalSettings } from '../../local/local-settings-file.js';
import { type LocalPlatform, startLocalPlatform } from '../../local/start-local-platform.js';
import { apiGet, connectDevice, eventually, publishAcked, tempDataDir } from './local-platform-support.js';

interface Answer {
  readonly outcome: 'accepted' | 'rejected';
  readonly body: Record<string, unknown>;
}

interface NewCertificate {
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly privateKey: string;
  readonly certificateOwnershipToken: string;
}

/** A device with the claim certificate, talking to the fleet provisioning MQTT API as AWS IoT's device SDKs do. */
class ClaimSession {
  private constructor(
    readonly client: MqttClient,
    private readonly topics: ReturnType<typeof fleetProvisioningTopics>,
  ) {}

  static async open(
    platform: LocalPlatform,
    claim: { certPem: string; keyPem: string },
    templateName: string,
    clientId: string,
  ): Promise<ClaimSession> {
    const client = await connectDevice(platform.mqttUrl, platform.caPem, claim, clientId);
    const topics = fleetProvisioningTopics(templateName);
    // Subscribed before asking: IoT answers only sessions subscribed to the answer topics.
    const granted = await client.subscribeAsync(
      [topics.createKeysAndCertificate, topics.registerThing].flatMap((t) => [t.accepted, t.rejected]),
      { qos: 1 },
    );
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1, 1]);
    return new ClaimSession(client, topics);
  }

  createKeysAndCertificate(): Promise<Answer> {
    return this.ask(this.topics.createKeysAndCertificate, {});
  }

  registerThing(certificateOwnershipToken: string, serialNumber: string): Promise<Answer> {
    return this.ask(this.topics.registerThing, {
      certificateOwnershipToken,
      parameters: { SerialNumber: serialNumber },
    });
  }

  /** A new certificate, as the accepted answer gives it. */
  async newCertificate(): Promise<NewCertificate> {
    const answer = await this.createKeysAndCertificate();
    expect(answer.outcome).toBe('accepted');
    return answer.body as unknown as NewCertificate;
  }

  private ask(operation: ProvisioningOperationTopics, request: unknown): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer on ${operation.request}`)), 5000);
      const onMessage = (topic: string, payload: Buffer) => {
        if (topic !== operation.accepted && topic !== operation.rejected) return;
        clearTimeout(timer);
        this.client.off('message', onMessage);
        resolve({
          outcome: topic === operation.accepted ? 'accepted' : 'rejected',
          body: JSON.parse(payload.toString('utf8')) as Record<string, unknown>,
        });
      };
      this.client.on('message', onMessage);
      this.client.publish(operation.request, JSON.stringify(request), { qos: 1 });
    });
  }
}

describe('fleet provisioning by claim on the local runtime', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let settings: LocalSettings;
  let claim: { certPem: string; keyPem: string };
  let session: ClaimSession;
  /** The tables and the identity register, as the runtime's fleet provisioning reaches them. */
  let ports: AdmissionPorts;
  const logs: string[] = [];
  const refusals = (reason: string) => platform.counters.refusedByReason[reason as 'tls-handshake'] ?? 0;
  let sequence = 0;
  const reading = (readings: Record<string, unknown>) =>
    JSON.stringify({ messageId: `fp-${++sequence}`, observedAt: new Date().toISOString(), readings });
  const secrets: string[] = [];

  beforeAll(async () => {
    dataDir = await tempDataDir('fleet-provisioning');
    platform = await startLocalPlatform({
      dataDir,
      apiPort: 0,
      mqttPort: 0,
      simulator: false,
      log: (line) => logs.push(line),
    });
    settings = JSON.parse(await readFile(platform.settingsPath, 'utf8')) as LocalSettings;

    // What `npm run device -- allow --csv FILE --local` does: the allow-list table through local.json's URL.
    const client = createDocumentClient({ endpoint: settings.dynamoDbUrl as string, region: 'eu-west-2' });
    const allowList = new DynamoDbProvisioningAllowList(client, localTableName('provisioning-allow-list'));
    ports = {
      allowList,
      registry: new DynamoDbDeviceDirectory(client, localTableName('devices')),
      certificates: new LocalClaimedCertificates(path.join(dataDir, 'certs')),
    };
    const loaded = await allowList.put(
      [
        {
          serialNumber: 'ACME-BIN-0001',
          deviceId: 'fp-bin-1',
          deviceType: 'waste-container',
          location: { lat: 51.4551, lon: -0.9734 },
          ward: 'Abbey',
          expectedIntervalSeconds: 12,
        },
        {
          serialNumber: 'ACME-AQ-0002',
          deviceId: 'fp-aq-1',
          deviceType: 'air-quality',
          location: { lat: 51.4545, lon: -0.9781 },
        },
        {
          serialNumber: 'ACME-BIN-0004',
          deviceId: 'fp-bin-4',
          deviceType: 'waste-container',
          location: { lat: 51.4562, lon: -0.9712 },
          ward: 'Battle',
        },
      ],
      new Date(),
    );
    expect(loaded).toEqual({
      waiting: ['ACME-BIN-0001', 'ACME-AQ-0002', 'ACME-BIN-0004'],
      alreadyProvisioned: [],
    });

    // What `npm run device -- claim --name NAME --local` does: a claim certificate from the local CA.
    const ca = await LocalCertificateAuthority.loadOrCreate(path.join(dataDir, 'certs'));
    claim = await ca.issueClaimCertificate('acme-bins-2025');
    secrets.push(claim.keyPem);
    session = await ClaimSession.open(
      platform,
      claim,
      LOCAL_PROVISIONING_TEMPLATE_NAME,
      'claim.ACME-BIN-0001',
    );
  });

  afterAll(async () => {
    session?.client.end(true);
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('writes the template name and the DynamoDB URL into local.json', () => {
    expect(settings.provisioningTemplateName).toBe(LOCAL_PROVISIONING_TEMPLATE_NAME);
    expect(settings.dynamoDbUrl).toBe(platform.dynamoEndpoint);
  });

  it('provisions an allow-listed serial: new certificate, RegisterThing, connect as the device, reading in the API', async () => {
    const created = await session.newCertificate();
    secrets.push(created.privateKey, created.certificateOwnershipToken);
    // AWS IoT's certificate id: the SHA-256 of the certificate's DER.
    expect(created.certificateId).toBe(
      createHash('sha256').update(new X509Certificate(created.certificatePem).raw).digest('hex'),
    );
    // A key Node can load, made for this device just now (never a literal in the repository).
    expect(createPrivateKey(created.privateKey).asymmetricKeyType).toBeDefined();
    expect(created.certificateOwnershipToken.length).toBeGreaterThanOrEqual(32);

    const registered = await session.registerThing(created.certificateOwnershipToken, 'ACME-BIN-0001');
    const topic = '$aws/rules/civic_ingest/civic/waste-container/fp-bin-1/telemetry';
    expect(registered).toEqual({
      outcome: 'accepted',
      body: { deviceConfiguration: { TelemetryTopic: topic }, thingName: 'fp-bin-1' },
    });
    const device = await apiGet<{ deviceType: string; ward?: string; status: string }>(
      platform.apiUrl,
      platform.token,
      '/devices/fp-bin-1',
    );
    expect(device).toMatchObject({
      status: 200,
      body: { deviceType: 'waste-container', ward: 'Abbey', status: 'active' },
    });

    const bundle = { certPem: created.certificatePem, keyPem: created.privateKey };
    const client = await connectDevice(platform.mqttUrl, platform.caPem, bundle, 'fp-bin-1');
    expect(await publishAcked(client, topic, reading({ fillingLevel: 0.42 }))).toBe(true);
    client.end(true);
    await eventually(
      async () => {
        const latest = await apiGet<{ readings?: Record<string, unknown> }>(
          platform.apiUrl,
          platform.token,
          '/devices/fp-bin-1/latest',
        );
        return latest.status === 200 && latest.body.readings?.fillingLevel === 0.42;
      },
      10_000,
      "the provisioned device's reading in the latest state",
    );
    expect(logs).toContain(
      "fleet provisioning: serial 'ACME-BIN-0001' admitted as device 'fp-bin-1' (waste-container)",
    );

    // The certificate is this device's only: not another device id, and the token is spent.
    await expect(connectDevice(platform.mqttUrl, platform.caPem, bundle, 'fp-aq-1')).rejects.toThrow(
      /identifier rejected/i,
    );
    const again = await session.registerThing(created.certificateOwnershipToken, 'ACME-AQ-0002');
    expect(again).toEqual({
      outcome: 'rejected',
      body: {
        statusCode: 400,
        errorCode: 'InvalidCertificateOwnershipToken',
        errorMessage: expect.stringMatching(/^serial 'ACME-AQ-0002': .*unknown or already used/),
      },
    });
  });

  it('provisions a second serial of the batch with the same claim certificate, on the essential lane', async () => {
    const created = await session.newCertificate();
    secrets.push(created.privateKey, created.certificateOwnershipToken);
    const registered = await session.registerThing(created.certificateOwnershipToken, 'ACME-AQ-0002');
    expect(registered.body).toEqual({
      deviceConfiguration: {
        TelemetryTopic: '$aws/rules/civic_essential/civic/air-quality/fp-aq-1/telemetry',
      },
      thingName: 'fp-aq-1',
    });
  });

  it('refuses a serial provisioned already ("only once") and an unknown serial, naming the serial', async () => {
    const first = await session.newCertificate();
    secrets.push(first.privateKey, first.certificateOwnershipToken);
    expect(await session.registerThing(first.certificateOwnershipToken, 'ACME-BIN-0001')).toEqual({
      outcome: 'rejected',
      body: {
        statusCode: 403,
        errorCode: 'AccessDenied',
        errorMessage: expect.stringMatching(
          /^serial 'ACME-BIN-0001' was already provisioned at .* as device 'fp-bin-1'; each serial is provisioned once$/,
        ),
      },
    });

    const second = await session.newCertificate();
    secrets.push(second.privateKey, second.certificateOwnershipToken);
    expect(await session.registerThing(second.certificateOwnershipToken, 'NOBODY-0003')).toEqual({
      outcome: 'rejected',
      body: {
        statusCode: 403,
        errorCode: 'AccessDenied',
        errorMessage: "serial 'NOBODY-0003' is not on the provisioning allow-list",
      },
    });

    // A refused device's certificate was never recorded: it connects as nobody.
    const before = refusals('certificate-inactive');
    await expect(
      connectDevice(
        platform.mqttUrl,
        platform.caPem,
        { certPem: second.certificatePem, keyPem: second.privateKey },
        'fp-bin-1',
      ),
    ).rejects.toThrow(/not authorized/i);
    expect(refusals('certificate-inactive')).toBe(before + 1);
  });

  it('completes a provisioning whose RegisterThing failed after the hook: admitted again, the device connects', async () => {
    // As on AWS when IoT fails after the hook: a minute ago the hook claimed the serial with a certificate and
    // registered the device, and that certificate never became the device's (it is in no identity register).
    const hookRanAt = new Date(Date.now() - 60_000);
    const lost = 'e'.repeat(64);
    expect(
      await admitDevice({ serialNumber: 'ACME-BIN-0004', certificateId: lost }, ports, hookRanAt, {
        essentialDeviceTypes: [],
      }),
    ).toMatchObject({ allowed: true });
    expect(await ports.allowList.get('ACME-BIN-0004')).toMatchObject({
      state: 'provisioned',
      certificateId: lost,
    });

    // The device tries again: a new certificate and RegisterThing, as its firmware would.
    const created = await session.newCertificate();
    secrets.push(created.privateKey, created.certificateOwnershipToken);
    const topic = '$aws/rules/civic_ingest/civic/waste-container/fp-bin-4/telemetry';
    expect(await session.registerThing(created.certificateOwnershipToken, 'ACME-BIN-0004')).toEqual({
      outcome: 'accepted',
      body: { deviceConfiguration: { TelemetryTopic: topic }, thingName: 'fp-bin-4' },
    });
    expect(await ports.allowList.get('ACME-BIN-0004')).toMatchObject({
      state: 'provisioned',
      certificateId: created.certificateId,
      provisionedAt: hookRanAt.toISOString(),
    });
    // The registry entry the first run made is the device's, kept as it was.
    expect(await ports.registry.get('fp-bin-4')).toMatchObject({
      ward: 'Battle',
      revision: 1,
      registeredAt: hookRanAt.toISOString(),
    });
    expect(logs).toContain(
      `fleet provisioning: serial 'ACME-BIN-0004' admitted again as device 'fp-bin-4' (waste-container): ` +
        `certificate ${created.certificateId} replaces ${lost}, which was never activated`,
    );

    const client = await connectDevice(
      platform.mqttUrl,
      platform.caPem,
      { certPem: created.certificatePem, keyPem: created.privateKey },
      'fp-bin-4',
    );
    expect(await publishAcked(client, topic, reading({ fillingLevel: 0.17 }))).toBe(true);
    client.end(true);
    await eventually(
      async () => {
        const latest = await apiGet<{ readings?: Record<string, unknown> }>(
          platform.apiUrl,
          platform.token,
          '/devices/fp-bin-4/latest',
        );
        return latest.status === 200 && latest.body.readings?.fillingLevel === 0.17;
      },
      10_000,
      "the re-admitted device's reading in the latest state",
    );

    // Its certificate is active now: the serial is used up, as any provisioned serial is.
    const another = await session.newCertificate();
    secrets.push(another.privateKey, another.certificateOwnershipToken);
    expect(await session.registerThing(another.certificateOwnershipToken, 'ACME-BIN-0004')).toEqual({
      outcome: 'rejected',
      body: {
        statusCode: 403,
        errorCode: 'AccessDenied',
        errorMessage: expect.stringMatching(
          /^serial 'ACME-BIN-0004' was already provisioned at .* as device 'fp-bin-4'; each serial is provisioned once$/,
        ),
      },
    });
  });

  it('refuses a RegisterThing whose token was never issued', async () => {
    expect(await session.registerThing('made-up-token', 'ACME-BIN-0001')).toMatchObject({
      outcome: 'rejected',
      body: {
        statusCode: 400,
        errorCode: 'InvalidCertificateOwnershipToken',
        errorMessage: expect.stringMatching(/^serial 'ACME-BIN-0001': /),
      },
    });
  });

  it('lets the claim certificate publish no telemetry: no PUBACK, connection closed, nothing queued', async () => {
    const other = await ClaimSession.open(platform, claim, LOCAL_PROVISIONING_TEMPLATE_NAME, 'claim.spoof-1');
    const closed = new Promise<void>((resolve) => other.client.once('close', () => resolve()));
    const before = refusals('topic-not-allowed');
    const queued = platform.counters.messagesIn;
    expect(
      await publishAcked(
        other.client,
        '$aws/rules/civic_ingest/civic/waste-container/fp-bin-1/telemetry',
        reading({ fillingLevel: 0.99 }),
        1500,
      ),
    ).toBe(false);
    await closed;
    other.client.end(true);
    expect(refusals('topic-not-allowed')).toBe(before + 1);
    expect(platform.counters.messagesIn).toBe(queued);
  });

  it('lets the claim certificate subscribe to nothing but the provisioning answers', async () => {
    const client = await connectDevice(platform.mqttUrl, platform.caPem, claim, 'claim.spoof-2');
    const before = refusals('subscribe-not-allowed');
    const granted = await client.subscribeAsync('$aws/certificates/create/json/#').catch(() => undefined);
    expect(granted?.every((g) => g.qos === 128) ?? true).toBe(true);
    client.end(true);
    expect(refusals('subscribe-not-allowed')).toBe(before + 1);

    // Nor the request topics: nobody hears another device's request.
    const listener = await connectDevice(platform.mqttUrl, platform.caPem, claim, 'claim.spoof-3');
    const refused = await listener
      .subscribeAsync(fleetProvisioningTopics(LOCAL_PROVISIONING_TEMPLATE_NAME).registerThing.request)
      .catch(() => undefined);
    expect(refused?.every((g) => g.qos === 128) ?? true).toBe(true);
    listener.end(true);
    expect(refusals('subscribe-not-allowed')).toBe(before + 2);
  });

  it("refuses a claim session whose client id does not start with 'claim.'", async () => {
    const before = refusals('client-id-mismatch');
    await expect(connectDevice(platform.mqttUrl, platform.caPem, claim, 'fp-bin-1')).rejects.toThrow(
      /identifier rejected/i,
    );
    expect(refusals('client-id-mismatch')).toBe(before + 1);
    expect(logs.some((line) => line.includes("a claim session's client id must start with 'claim.'"))).toBe(
      true,
    );
  });

  it('never logs a private key, a certificate or an ownership token', () => {
    expect(secrets.length).toBeGreaterThan(0);
    for (const line of logs) {
      expect(line).not.toMatch(/BEGIN (PRIVATE KEY|CERTIFICATE)/);
      for (const secret of secrets) expect(line).not.toContain(secret);
    }
  });
});
