import { crc32 } from 'node:zlib';
import { CreateTopicRuleCommand, GetTopicRuleCommand, IoTClient } from '@aws-sdk/client-iot';
import {
  CreateEventSourceMappingCommand,
  CreateFunctionCommand,
  GetEventSourceMappingCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IotLambdaLaneControls } from '../../lambdas/adapters/iot-lambda-lane-controls.js';
import { LANES, type Lane } from '../../lambdas/contracts/topics.js';
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
 * The lane switches against moto_server (a local AWS API emulator, from the machine's Python): a real IoT topic
 * rule and a real SQS -> Lambda event source mapping, switched off and on and read back. Moto 5 supports all of
 * CreateTopicRule, Disable/EnableTopicRule, GetTopicRule, CreateFunction (zip, no Docker needed unless invoked),
 * Create/Update/GetEventSourceMapping and SQS CreateQueue.
 */
warnWithoutMoto('lane controls');

const ACCOUNT = MOTO_ACCOUNT;
const REGION = MOTO_REGION;
const credentials = MOTO_CREDENTIALS;

/** A one-file zip (stored, not deflated): all CreateFunction needs from a package. */
function zipOf(name: string, content: string): Uint8Array {
  const data = Buffer.from(content);
  const fileName = Buffer.from(name);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + fileName.length, 12);
  end.writeUInt32LE(30 + fileName.length + data.length, 16);
  return Buffer.concat([local, fileName, data, central, fileName, end]);
}

describe.skipIf(!hasMotoServer)('IotLambdaLaneControls against moto_server', () => {
  let moto: MotoServer | undefined;
  let endpoint: string;
  let iot: IoTClient;
  let lambda: LambdaClient;
  const mappings = {} as Record<Lane, string>;

  /** SQS and IAM through their query APIs (the repo has no clients for them): moto routes by the signing service. */
  async function query(service: string, body: string): Promise<void> {
    const response = await fetch(`${endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body,
    });
    expect(response.status, await response.text()).toBe(200);
  }
  async function createQueue(name: string): Promise<string> {
    await query('sqs', `Action=CreateQueue&QueueName=${name}&Version=2012-11-05`);
    return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
  }

  beforeAll(async () => {
    moto = await startMotoServer();
    endpoint = moto.endpoint;
    const config = { endpoint, region: REGION, credentials };
    iot = new IoTClient(config);
    lambda = new LambdaClient(config);
    const trust = encodeURIComponent(
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    );
    await query(
      'iam',
      `Action=CreateRole&RoleName=enrich&AssumeRolePolicyDocument=${trust}&Version=2010-05-08`,
    );
    for (const lane of LANES) {
      await iot.send(
        new CreateTopicRuleCommand({
          ruleName: lane,
          topicRulePayload: { sql: "SELECT * FROM 'civic/+/+/telemetry'", actions: [], ruleDisabled: false },
        }),
      );
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: `enrich-${lane}`,
          Runtime: 'nodejs22.x',
          Role: `arn:aws:iam::${ACCOUNT}:role/enrich`,
          Handler: 'index.handler',
          Code: { ZipFile: zipOf('index.mjs', 'export const handler = async () => ({});') },
        }),
      );
      const mapping = await lambda.send(
        new CreateEventSourceMappingCommand({
          FunctionName: `enrich-${lane}`,
          EventSourceArn: await createQueue(`${lane}-queue`),
          BatchSize: 10,
          Enabled: true,
        }),
      );
      mappings[lane] = mapping.UUID as string;
    }
  });

  afterAll(() => {
    moto?.stop();
  });

  const ruleDisabled = async (lane: Lane) =>
    (await iot.send(new GetTopicRuleCommand({ ruleName: lane }))).rule?.ruleDisabled;
  const mappingState = async (lane: Lane) =>
    (await lambda.send(new GetEventSourceMappingCommand({ UUID: mappings[lane] }))).State;
  const controls = () =>
    new IotLambdaLaneControls(iot, lambda, {
      civic_ingest: { ruleName: 'civic_ingest', mappingUuid: mappings.civic_ingest },
    });

  it('stops the ordinary lane (rule disabled, mapping disabled) and leaves the essential lane running', async () => {
    await controls().disableRule('civic_ingest');
    await controls().pauseConsumer('civic_ingest');
    expect(await ruleDisabled('civic_ingest')).toBe(true);
    expect(await mappingState('civic_ingest')).toBe('Disabled');
    expect(await ruleDisabled('civic_essential')).toBe(false);
    expect(await mappingState('civic_essential')).toBe('Enabled');
  });

  it('is idempotent: stopping a stopped lane succeeds', async () => {
    await controls().disableRule('civic_ingest');
    await controls().pauseConsumer('civic_ingest');
    expect(await ruleDisabled('civic_ingest')).toBe(true);
  });

  it('restores the ordinary lane: consumer resumed, rule enabled', async () => {
    await controls().resumeConsumer('civic_ingest');
    await controls().enableRule('civic_ingest');
    expect(await mappingState('civic_ingest')).toBe('Enabled');
    expect(await ruleDisabled('civic_ingest')).toBe(false);
  });
});
