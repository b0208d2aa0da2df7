import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreatePolicyCommand,
  DescribeCertificateCommand,
  DescribeThingCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListCertificatesCommand,
  ListThingPrincipalsCommand,
  ListThingsCommand,
} from '@aws-sdk/client-iot';
import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeviceCli } from '../../bin/device.js';
import { AMAZON_ROOT_CA_1_SHA256 } from '../../lambdas/adapters/amazon-root-ca.js';
import { IotDeviceIdentities } from '../../lambdas/adapters/iot-device-identities.js';
import { TABLES, toCreateTableInput } from '../../lambdas/contracts/tables.js';
import {
  hasMotoServer,
  MOTO_ACCOUNT,
  MOTO_CREDENTIALS,
  MOTO_REGION,
  type MotoServer,
  startMotoServer,
  warnWithoutMoto,
} from '../support/moto-server.js';

/**
 * `npm run device` on AWS (no --local), end to end over the real AWS wire protocols against moto_server:
 * CloudFormation (the stack's outputs), IoT (things, certificates, policies) and DynamoDB (the registry). What moto
 * cannot do is the MQTT side (a device connecting to IoT Core); the local end-to-end tests cover that with the
 * same commands.
 */
warnWithoutMoto('the device CLI on AWS');

const STACK = 'CivicIot-test-Platform';
const TABLE = 'civic-test-devices';
const LATEST_TABLE = 'civic-test-latest-state';
const ALLOW_LIST_TABLE = 'civic-test-provisioning-allow-list';
const CLAIM_POLICY = 'CivicClaimPolicy';
const DEVICE_POLICY = 'CivicDevicePolicy';
const QUARANTINE_POLICY = 'CivicQuarantinePolicy';
/** Reading and its surroundings, west,south,east,north. */
const COUNCIL_AREA = '-1.2,51.3,-0.8,51.6';

describe.skipIf(!hasMotoServer)('npm run device on AWS (moto_server)', () => {
  let moto: MotoServer;
  let cwd: string;
  let iot: IoTClient;
  const savedEnv = { ...process.env };

  async function run(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDeviceCli(argv, {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      cwd,
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  const policiesOf = async (certificateArn: string) =>
    ((await iot.send(new ListAttachedPoliciesCommand({ target: certificateArn }))).policies ?? []).map(
      (p) => p.policyName,
    );
  const principalsOf = async (thingName: string) =>
    (await iot.send(new ListThingPrincipalsCommand({ thingName }))).principals ?? [];
  const statusOf = async (certificateArn: string) =>
    (
      await iot.send(
        new DescribeCertificateCommand({ certificateId: certificateArn.split('/').pop() as string }),
      )
    ).certificateDescription?.status;
  const counts = async () => ({
    things: (await iot.send(new ListThingsCommand({}))).things?.length ?? 0,
    certificates: (await iot.send(new ListCertificatesCommand({}))).certificates?.length ?? 0,
  });

  beforeAll(async () => {
    moto = await startMotoServer();
    // The CLI makes its clients as a user's shell would: credentials, region and endpoint from the environment.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      AWS_REGION: MOTO_REGION,
    });
    delete process.env.AWS_PROFILE;
    const config = { endpoint: moto.endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS };
    iot = new IoTClient(config);
    const dynamoDb = new DynamoDBClient(config);
    await dynamoDb.send(new CreateTableCommand(toCreateTableInput(TABLES.devices, TABLE)));
    await dynamoDb.send(new CreateTableCommand(toCreateTableInput(TABLES['latest-state'], LATEST_TABLE)));
    await dynamoDb.send(
      new CreateTableCommand(toCreateTableInput(TABLES['provisioning-allow-list'], ALLOW_LIST_TABLE)),
    );
    for (const policyName of [DEVICE_POLICY, QUARANTINE_POLICY, CLAIM_POLICY]) {
      await iot.send(
        new CreatePolicyCommand({
          policyName,
          policyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }],
          }),
        }),
      );
    }
    const outputs = {
      DevicePolicyName: DEVICE_POLICY,
      QuarantinePolicyName: QUARANTINE_POLICY,
      DeviceRegistryTableName: TABLE,
      LatestStateTableName: LATEST_TABLE,
      ProvisioningAllowListTableName: ALLOW_LIST_TABLE,
      ProvisioningTemplateName: `${STACK}-Devices`,
      ClaimPolicyName: CLAIM_POLICY,
      EssentialDeviceTypes: 'water-level,air-quality',
      CouncilArea: COUNCIL_AREA,
      CertificateRetirementRoleArn: `arn:aws:iam::${MOTO_ACCOUNT}:role/civic-certificate-retirement`,
    };
    await new CloudFormationClient(config).send(
      new CreateStackCommand({
        StackName: STACK,
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [key, { Value: value }])),
        }),
      }),
    );
    cwd = await mkdtemp(path.join(tmpdir(), 'civic-aws-cli-'));
    // The stack name comes from cdk.json's stage, as `cdk deploy` names it.
    await writeFile(
      path.join(cwd, 'cdk.json'),
      JSON.stringify({ context: { stage: 'test', region: MOTO_REGION } }),
    );
  }, 60_000);

  afterAll(async () => {
    process.env = savedEnv;
    moto?.stop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  it('adds a device: thing, certificate with the device policy, registry entry and a bundle trusting Amazon Root CA 1', async () => {
    const result = await run(
      'add',
      '--id',
      'bin-1',
      '--type',
      'waste-container',
      '--lat',
      '51.455',
      '--lon',
      '-0.973',
      '--ward',
      'Abbey',
      '--site',
      "St Mary's Butts",
    );
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out).toMatch(
      /^added bin-1 \(waste-container\) at 51\.455,-0\.973: certificate [0-9a-f]{12}/,
    );
    expect(result.out).toContain('test: npm run device -- publish-test --bundle devices/bin-1');

    const bundle = path.join(cwd, 'devices', 'bin-1');
    const manifest = JSON.parse(await readFile(path.join(bundle, 'device.json'), 'utf8'));
    expect(manifest).toEqual({
      deviceId: 'bin-1',
      type: 'waste-container',
      endpoint: expect.stringMatching(/^mqtts:\/\/[a-z0-9]+-ats\.iot\.eu-west-2\.amazonaws\.com:8883$/),
      topic: '$aws/rules/civic_ingest/civic/waste-container/bin-1/telemetry',
    });
    expect((await stat(path.join(bundle, 'key.pem'))).mode & 0o777).toBe(0o600);
    const ca = new X509Certificate(await readFile(path.join(bundle, 'ca.pem'), 'utf8'));
    expect(ca.fingerprint256).toBe(AMAZON_ROOT_CA_1_SHA256);
    const certificate = new X509Certificate(await readFile(path.join(bundle, 'cert.pem'), 'utf8'));
    expect(
      certificate.checkPrivateKey(createPrivateKey(await readFile(path.join(bundle, 'key.pem'), 'utf8'))),
    ).toBe(true);

    const thing = await iot.send(new DescribeThingCommand({ thingName: 'bin-1' }));
    // IoT refuses spaces and apostrophes in attribute values: the site stays readable with underscores.
    expect(thing.attributes).toEqual({ type: 'waste-container', ward: 'Abbey', site: 'St_Mary_s_Butts' });
    const [principal] = await principalsOf('bin-1');
    expect(await policiesOf(principal as string)).toEqual([DEVICE_POLICY]);
    expect(await statusOf(principal as string)).toBe('ACTIVE');

    const registry = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: moto.endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS }),
    );
    const { Item } = await registry.send(new GetCommand({ TableName: TABLE, Key: { deviceId: 'bin-1' } }));
    expect(Item).toMatchObject({
      deviceId: 'bin-1',
      deviceType: 'waste-container',
      status: 'active',
      location: { lat: 51.455, lon: -0.973 },
      ward: 'Abbey',
    });
  });

  it('shows and lists the device with its certificate', async () => {
    const show = await run('show', '--id', 'bin-1');
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/certificates {2}[0-9a-f]{12} active/);
    expect(show.out).toContain('quarantined   no');
    expect(show.out).toContain('last reading  none yet');
    const list = await run('list', '--stack', STACK, '--region', MOTO_REGION);
    expect(list.out).toMatch(/^bin-1 +waste-container +active +certificates 1 active$/m);
  });

  it('refuses a duplicate id and a device outside the council area, creating nothing in IoT', async () => {
    const before = await counts();
    const duplicate = await run(
      'add',
      '--id',
      'bin-1',
      '--type',
      'waste-container',
      '--lat',
      '51.45',
      '--lon',
      '-0.97',
    );
    expect(duplicate.code).toBe(1);
    expect(duplicate.err).toBe("device: device 'bin-1': --id is already registered (status active)");
    const outside = await run(
      'add',
      '--id',
      'bin-2',
      '--type',
      'waste-container',
      '--lat',
      '52.2',
      '--lon',
      '0.12',
    );
    expect(outside.code).toBe(1);
    expect(outside.err).toContain("device 'bin-2': --lat/--lon 52.2,0.12 is outside the council area");
    expect(await counts()).toEqual(before);
  });

  it('quarantines with the connect-only policy and releases back to the device policy', async () => {
    const [principal] = await principalsOf('bin-1');
    expect((await run('quarantine', '--id', 'bin-1')).code).toBe(0);
    expect(await policiesOf(principal as string)).toEqual([QUARANTINE_POLICY]);
    expect((await run('show', '--id', 'bin-1')).out).toContain('quarantined   yes');
    expect((await run('release', '--id', 'bin-1')).code).toBe(0);
    expect(await policiesOf(principal as string)).toEqual([DEVICE_POLICY]);
    expect((await run('show', '--id', 'bin-1')).out).toContain('quarantined   no');
  });

  it('rotates with no grace: a new certificate in the bundle, the old one inactive at once', async () => {
    const [old] = await principalsOf('bin-1');
    const result = await run('rotate', '--id', 'bin-1', '--grace', '0s');
    expect(result.err).toBe('');
    expect(result.out).toContain('the old one is inactive now');
    const principals = await principalsOf('bin-1');
    expect(principals).toHaveLength(2);
    const fresh = principals.find((p) => p !== old) as string;
    expect(await statusOf(old as string)).toBe('INACTIVE');
    expect(await statusOf(fresh)).toBe('ACTIVE');
    const bundleCert = new X509Certificate(
      await readFile(path.join(cwd, 'devices', 'bin-1', 'cert.pem'), 'utf8'),
    );
    const described = await iot.send(
      new DescribeCertificateCommand({ certificateId: fresh.split('/').pop() as string }),
    );
    expect(bundleCert.fingerprint256).toBe(
      new X509Certificate(described.certificateDescription?.certificatePem as string).fingerprint256,
    );
  });

  it('rotates with a grace period: the old certificate stays active and its retirement is scheduled', async () => {
    const active = async () => {
      const principals = await principalsOf('bin-1');
      const statuses = await Promise.all(principals.map(statusOf));
      return principals.filter((_, n) => statuses[n] === 'ACTIVE');
    };
    const [old] = await active();
    const result = await run('rotate', '--id', 'bin-1', '--grace', '1h');
    expect(result.err).toBe('');
    expect(result.out).toMatch(/the old one stops in 3600 s \(at \d{4}-\d\d-\d\dT/);
    expect(await active()).toHaveLength(2);
    const certificateId = (old as string).split('/').pop() as string;
    const schedule = await new SchedulerClient({
      endpoint: moto.endpoint,
      region: MOTO_REGION,
      credentials: MOTO_CREDENTIALS,
    }).send(new GetScheduleCommand({ Name: `retire-${certificateId.slice(0, 57)}` }));
    expect(schedule.ScheduleExpression).toMatch(/^at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\)$/);
    expect(JSON.parse(schedule.Target?.Input as string)).toEqual({
      CertificateId: certificateId,
      NewStatus: 'INACTIVE',
    });
  });

  it('revokes every certificate of the device', async () => {
    expect((await run('revoke', '--id', 'bin-1')).code).toBe(0);
    for (const principal of await principalsOf('bin-1')) expect(await statusOf(principal)).toBe('REVOKED');
  });

  it('imports a CSV: every row onboarded, a re-run skips them all', async () => {
    const csv = path.join(cwd, 'assets.csv');
    await writeFile(
      csv,
      [
        'id,type,lat,lon,ward',
        'gauge-1,water-level,51.46,-0.96,Caversham',
        'aq-1,air-quality,51.45,-0.98,Abbey',
        'bay-1,parking-spot,51.454,-0.97,Abbey',
      ].join('\n'),
    );
    const first = await run('import', '--csv', 'assets.csv');
    expect(first.err).toBe('');
    expect(first.out).toContain('3 created');
    const gauge = JSON.parse(await readFile(path.join(cwd, 'devices', 'gauge-1', 'device.json'), 'utf8'));
    expect(gauge.topic).toBe('$aws/rules/civic_essential/civic/water-level/gauge-1/telemetry');
    const before = await counts();
    const again = await run('import', '--csv', 'assets.csv');
    expect(again.code).toBe(0);
    expect(again.out).toContain('skipped 3 already onboarded');
    expect(await counts()).toEqual(before);
  });

  it('decommissions: the entry kept as decommissioned and every certificate revoked', async () => {
    const result = await run('decommission', '--id', 'gauge-1');
    expect(result.err).toBe('');
    expect(result.out).toMatch(/^decommissioned gauge-1 at \d{4}-/);
    for (const principal of await principalsOf('gauge-1')) expect(await statusOf(principal)).toBe('REVOKED');
    expect((await run('show', '--id', 'gauge-1')).out).toContain('status        decommissioned');
  });

  it('puts serial numbers on the allow-list, refusing a file with a bad row whole', async () => {
    const registry = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: moto.endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS }),
    );
    const entry = async (serialNumber: string) =>
      (await registry.send(new GetCommand({ TableName: ALLOW_LIST_TABLE, Key: { serialNumber } }))).Item;
    await writeFile(
      path.join(cwd, 'bad-serials.csv'),
      [
        'serial,id,type,lat,lon',
        'SN-001,bin-50,waste-container,51.45,-0.97',
        'SN-002,bin-1,waste-container,51.45,-0.97',
      ].join('\n'),
    );
    const bad = await run('allow', '--csv', 'bad-serials.csv');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^line 3: serial 'SN-002': device 'bin-1'/);
    expect(bad.err).toContain('nothing was put on the allow-list');
    expect(await entry('SN-001')).toBeUndefined();

    await writeFile(
      path.join(cwd, 'serials.csv'),
      [
        'serial,id,type,lat,lon,ward',
        'SN-001,bin-50,waste-container,51.45,-0.97,Abbey',
        'SN-002,bin-51,waste-container,51.46,-0.96,Abbey',
      ].join('\n'),
    );
    const good = await run('allow', '--csv', 'serials.csv');
    expect(good.err).toBe('');
    expect(good.out).toBe(`allow-list: 2 serials waiting to provision with template ${STACK}-Devices`);
    expect(await entry('SN-002')).toMatchObject({ deviceId: 'bin-51', state: 'waiting', ward: 'Abbey' });
  });

  it('makes a claim certificate carrying only the claim policy, attached to no thing, in a claim bundle', async () => {
    const before = await counts();
    const result = await run('claim', '--name', 'acme-2026');
    expect(result.err).toBe('');
    expect(result.out).toMatch(/^made claim certificate [0-9a-f]{64} 'acme-2026' in /);
    const dir = path.join(cwd, 'claims', 'acme-2026');
    expect(JSON.parse(await readFile(path.join(dir, 'claim.json'), 'utf8'))).toEqual({
      name: 'acme-2026',
      certificateId: expect.stringMatching(/^[0-9a-f]{64}$/),
      endpoint: expect.stringMatching(/-ats\.iot\.eu-west-2\.amazonaws\.com:8883$/),
      templateName: `${STACK}-Devices`,
      clientIdPrefix: 'claim.',
    });
    expect((await stat(path.join(dir, 'key.pem'))).mode & 0o777).toBe(0o600);
    const after = await counts();
    expect(after).toEqual({ things: before.things, certificates: before.certificates + 1 });
    const certificate = new X509Certificate(await readFile(path.join(dir, 'cert.pem'), 'utf8'));
    const listed = (await iot.send(new ListCertificatesCommand({}))).certificates ?? [];
    const arns = listed.map((c) => c.certificateArn as string);
    const withClaimPolicy = [];
    for (const arn of arns) if ((await policiesOf(arn)).includes(CLAIM_POLICY)) withClaimPolicy.push(arn);
    expect(withClaimPolicy).toHaveLength(1);
    expect(await policiesOf(withClaimPolicy[0] as string)).toEqual([CLAIM_POLICY]);
    const described = await iot.send(
      new DescribeCertificateCommand({
        certificateId: (withClaimPolicy[0] as string).split('/').pop() as string,
      }),
    );
    expect(
      new X509Certificate(described.certificateDescription?.certificatePem as string).fingerprint256,
    ).toBe(certificate.fingerprint256);
  });

  it('withdraws an issued identity completely: certificate and the thing left without one are deleted', async () => {
    const identities = new IotDeviceIdentities({
      iot,
      devicePolicyName: DEVICE_POLICY,
      quarantinePolicyName: QUARANTINE_POLICY,
      rootCaPem: '-----BEGIN CERTIFICATE-----\nunused\n-----END CERTIFICATE-----\n',
      essentialDeviceTypes: [],
      conflictRetryMs: 10,
    });
    const before = await counts();
    const credentials = await identities.issue({
      deviceId: 'half-made',
      deviceType: 'traffic-flow',
      status: 'active',
      location: { lat: 51.45, lon: -0.97 },
      registeredAt: new Date().toISOString(),
    });
    await identities.withdraw('half-made', credentials.certificateId);
    expect(await counts()).toEqual(before);
  });

  it('names the stack and how to fix it when the platform is not deployed', async () => {
    const result = await run('list', '--stack', 'CivicIot-nowhere-Platform');
    expect(result.code).toBe(1);
    expect(result.err).toBe(
      'device: stack CivicIot-nowhere-Platform does not exist in eu-west-2: deploy the platform ' +
        '(npx cdk deploy --all) or pass --stack and --region',
    );
  });
});
