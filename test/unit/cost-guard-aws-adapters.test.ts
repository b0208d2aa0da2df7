import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DisableTopicRuleCommand, EnableTopicRuleCommand, IoTClient } from '@aws-sdk/client-iot';
import { LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchUsageSource, periodFor } from '../../lambdas/adapters/cloudwatch-usage-source.js';
import {
  IotLambdaLaneControls,
  UncontrolledLaneError,
} from '../../lambdas/adapters/iot-lambda-lane-controls.js';
import { SnsNotifier, snsSubject } from '../../lambdas/adapters/sns-notifier.js';
import {
  GET_METRIC_DATA_QUERY_LIMIT,
  type MeteredResources,
  usageMetrics,
} from '../../lambdas/contracts/metered-resources.js';

const cloudwatch = mockClient(CloudWatchClient);
const iot = mockClient(IoTClient);
const lambda = mockClient(LambdaClient);
const sns = mockClient(SNSClient);

beforeEach(() => {
  cloudwatch.reset();
  iot.reset();
  lambda.reset();
  sns.reset();
});

const RESOURCES: MeteredResources = {
  rules: ['civic_ingest', 'civic_essential'],
  queues: ['ingest-q', 'essential-q'],
  functions: [
    { name: 'enrich-ingest', memoryMb: 512 },
    { name: 'usage-meter', memoryMb: 256 },
  ],
  tables: [{ name: 'devices', indexes: ['byType'] }, { name: 'telemetry' }],
  apis: [{ name: 'city-api', stage: 'v1' }],
  logGroups: ['/aws/lambda/enrich-ingest'],
  devices: 1000,
};

describe('CloudWatchUsageSource', () => {
  const start = new Date('2026-11-27T12:00:20.000Z');
  const end = new Date('2026-11-27T12:05:20.000Z');

  it('asks ONE GetMetricData request for every platform metric, Sum per minute, over the settled window', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES).read(start, end);
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    const input = cloudwatch.commandCalls(GetMetricDataCommand)[0]?.args[0].input;
    // Shifted back by the 3-minute settle delay and cut at whole minutes.
    expect(input?.StartTime).toEqual(new Date('2026-11-27T11:57:00.000Z'));
    expect(input?.EndTime).toEqual(new Date('2026-11-27T12:02:00.000Z'));
    const queries = input?.MetricDataQueries ?? [];
    // 2 rules + 4 per queue + 2 per function + 2 per table and index + 1 API + 1 log group
    expect(queries).toHaveLength(2 + 8 + 4 + 6 + 1 + 1);
    for (const query of queries) {
      expect(query.Id).toMatch(/^[a-z][A-Za-z0-9_]*$/);
      expect(query.MetricStat).toMatchObject({ Period: 60, Stat: 'Sum' });
    }
    const described = queries.map((q) => {
      const metric = q.MetricStat?.Metric;
      const dims = (metric?.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).join(',');
      return `${metric?.Namespace} ${metric?.MetricName} ${dims}`;
    });
    expect(described).toEqual(
      expect.arrayContaining([
        'AWS/IoT TopicMatch RuleName=civic_ingest',
        'AWS/IoT TopicMatch RuleName=civic_essential',
        'AWS/SQS NumberOfMessagesSent QueueName=ingest-q',
        'AWS/SQS NumberOfMessagesReceived QueueName=ingest-q',
        'AWS/SQS NumberOfMessagesDeleted QueueName=essential-q',
        'AWS/SQS NumberOfEmptyReceives QueueName=essential-q',
        'AWS/Lambda Invocations FunctionName=enrich-ingest',
        'AWS/Lambda Duration FunctionName=usage-meter',
        'AWS/DynamoDB ConsumedWriteCapacityUnits TableName=devices',
        'AWS/DynamoDB ConsumedReadCapacityUnits TableName=devices,GlobalSecondaryIndexName=byType',
        'AWS/DynamoDB ConsumedReadCapacityUnits TableName=telemetry',
        'AWS/ApiGateway Count ApiName=city-api,Stage=v1',
        'AWS/Logs IncomingBytes LogGroupName=/aws/lambda/enrich-ingest',
      ]),
    );
  });

  it('maps a canned response to a usage sample (SQS requests approximated from message counts)', async () => {
    const source = new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES);
    const idOf = (namespace: string, name: string, value?: string) =>
      source.queries.find(
        (q) =>
          q.namespace === namespace &&
          q.metricName === name &&
          (value === undefined || q.dimensions.some((d) => d.value === value)),
      )?.id as string;
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: idOf('AWS/IoT', 'TopicMatch', 'civic_ingest'), Values: [100, 200] },
        { Id: idOf('AWS/IoT', 'TopicMatch', 'civic_essential'), Values: [50] },
        { Id: idOf('AWS/SQS', 'NumberOfMessagesSent', 'ingest-q'), Values: [300] },
        { Id: idOf('AWS/SQS', 'NumberOfMessagesReceived', 'ingest-q'), Values: [300] },
        { Id: idOf('AWS/SQS', 'NumberOfMessagesDeleted', 'ingest-q'), Values: [300] },
        { Id: idOf('AWS/SQS', 'NumberOfEmptyReceives', 'ingest-q'), Values: [40] },
        { Id: idOf('AWS/Lambda', 'Invocations', 'enrich-ingest'), Values: [3] },
        { Id: idOf('AWS/Lambda', 'Duration', 'enrich-ingest'), Values: [1000, 1000] },
        { Id: idOf('AWS/Lambda', 'Duration', 'usage-meter'), Values: [4000] },
        { Id: idOf('AWS/DynamoDB', 'ConsumedWriteCapacityUnits', 'devices'), Values: [10] },
        { Id: idOf('AWS/DynamoDB', 'ConsumedWriteCapacityUnits', 'byType'), Values: [5] },
        { Id: idOf('AWS/DynamoDB', 'ConsumedReadCapacityUnits', 'telemetry'), Values: [7.5] },
        { Id: idOf('AWS/ApiGateway', 'Count'), Values: [12] },
        { Id: idOf('AWS/Logs', 'IncomingBytes'), Values: [2048] },
      ],
    });
    expect(await source.read(start, end)).toEqual({
      intervalSeconds: 300,
      rulesTriggered: 350,
      brokerMessages: 0,
      connectedDevices: 1000,
      sqsRequests: 300 + 30 + 30 + 40,
      lambdaInvocations: 3,
      lambdaGbSeconds: 2 * 0.5 + 4 * 0.25,
      dynamoWriteUnits: 15,
      dynamoReadUnits: 7.5,
      apiRequests: 12,
      logBytes: 2048,
    });
  });

  it('follows NextToken should CloudWatch page the answer anyway', async () => {
    const source = new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES);
    const rule = source.queries[0]?.id as string;
    cloudwatch
      .on(GetMetricDataCommand)
      .resolvesOnce({ MetricDataResults: [{ Id: rule, Values: [1] }], NextToken: 'more' })
      .resolvesOnce({ MetricDataResults: [{ Id: rule, Values: [2] }] });
    expect((await source.read(start, end)).rulesTriggered).toBe(3);
  });

  it('reads nothing for an empty window', async () => {
    const sample = await new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES).read(start, start);
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(0);
    expect(sample.rulesTriggered).toBe(0);
  });

  it('widens the period for a long catch-up window so one request still returns every point', () => {
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(periodFor(now - 300_000, now, now, 40)).toBe(60);
    const twoDays = 2 * 86_400_000;
    const period = periodFor(now - twoDays, now, now, 40);
    expect(period % 60).toBe(0);
    expect((twoDays / 1000 / period) * 40).toBeLessThanOrEqual(100_800);
    // Past 15 days only 5-minute data is left.
    expect(periodFor(now - 20 * 86_400_000, now - 19 * 86_400_000, now, 1) % 300).toBe(0);
  });

  it(`refuses more than ${GET_METRIC_DATA_QUERY_LIMIT} metrics`, () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ name: `t${i}` }));
    expect(() => usageMetrics({ ...RESOURCES, tables: many })).toThrow(/at most 500/);
  });
});

describe('IotLambdaLaneControls', () => {
  const controls = () =>
    new IotLambdaLaneControls(new IoTClient({}), new LambdaClient({}), {
      civic_ingest: { ruleName: 'civic_ingest', mappingUuid: 'uuid-ordinary' },
    });

  it('disables and enables the ordinary lane rule by name', async () => {
    iot.on(DisableTopicRuleCommand).resolves({});
    iot.on(EnableTopicRuleCommand).resolves({});
    await controls().disableRule('civic_ingest');
    await controls().enableRule('civic_ingest');
    expect(iot.commandCalls(DisableTopicRuleCommand)[0]?.args[0].input).toEqual({ ruleName: 'civic_ingest' });
    expect(iot.commandCalls(EnableTopicRuleCommand)[0]?.args[0].input).toEqual({ ruleName: 'civic_ingest' });
  });

  it("pauses and resumes the lane's event source mapping by UUID", async () => {
    lambda.on(UpdateEventSourceMappingCommand).resolves({});
    await controls().pauseConsumer('civic_ingest');
    await controls().resumeConsumer('civic_ingest');
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([
      { UUID: 'uuid-ordinary', Enabled: false },
      { UUID: 'uuid-ordinary', Enabled: true },
    ]);
  });

  it('cannot touch a lane it has no target for (the essential lane)', async () => {
    await expect(controls().disableRule('civic_essential')).rejects.toBeInstanceOf(UncontrolledLaneError);
    await expect(controls().pauseConsumer('civic_essential')).rejects.toBeInstanceOf(UncontrolledLaneError);
    expect(iot.calls()).toHaveLength(0);
    expect(lambda.calls()).toHaveLength(0);
  });
});

describe('SnsNotifier', () => {
  it('publishes to the topic with an ASCII subject SNS accepts', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    await new SnsNotifier(new SNSClient({}), 'arn:aws:sns:eu-west-2:1:notices').notify(
      'Cyngor Bro Morgannwg — Vale of Glamorgan: spending stop',
      'Spending has reached 100%',
    );
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input).toEqual({
      TopicArn: 'arn:aws:sns:eu-west-2:1:notices',
      Subject: 'Cyngor Bro Morgannwg Vale of Glamorgan: spending stop',
      Message: 'Spending has reached 100%',
    });
    expect(snsSubject('x'.repeat(300))).toHaveLength(100);
  });
});
