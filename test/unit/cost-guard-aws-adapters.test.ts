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
    { name: 'city-api', memoryMb: 512 },
  ],
  workflowQueues: ['essential-workflow-q', 'ordinary-workflow-q'],
  workflowFunctions: [
    { name: 'workflow-essential', memoryMb: 256 },
    { name: 'workflow-ordinary', memoryMb: 256 },
  ],
  tables: [{ name: 'devices', indexes: ['byType'] }, { name: 'telemetry' }],
  apis: [{ name: 'city-api', stage: 'v1' }],
  logGroups: ['/aws/lambda/enrich-ingest', 'api-access'],
  devices: 1000,
  usageRates: {
    dynamoWriteUnitsPerMessage: 1.5,
    dynamoReadUnitsPerMessage: 1.25,
    logBytesPerInvocation: 50,
    logBytesPerApiRequest: 600,
    workflowInvocationsPerHour: 36,
    workflowGbSecondsPerHour: 6,
    workflowSqsRequestsPerHour: 1_800,
  },
};

const json = (value: unknown) => JSON.stringify(value);

const describeQuery = (q: {
  MetricStat?: {
    Metric?: { Namespace?: string; MetricName?: string; Dimensions?: { Name?: string; Value?: string }[] };
  };
}) => {
  const metric = q.MetricStat?.Metric;
  const dims = (metric?.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).join(',');
  return `${metric?.Namespace} ${metric?.MetricName} ${dims}`;
};

describe('CloudWatchUsageSource', () => {
  const start = new Date('2026-11-27T12:00:20.000Z');
  const end = new Date('2026-11-27T12:05:20.000Z');
  const FAST = [
    'AWS/IoT TopicMatch RuleName=civic_ingest',
    'AWS/IoT TopicMatch RuleName=civic_essential',
    'AWS/SQS NumberOfMessagesSent QueueName=ingest-q',
    'AWS/SQS NumberOfMessagesSent QueueName=essential-q',
    'AWS/ApiGateway Count ApiName=city-api,Stage=v1',
    'AWS/Lambda Invocations FunctionName=enrich-ingest',
    'AWS/Lambda Duration FunctionName=enrich-ingest',
    'AWS/Lambda Invocations FunctionName=city-api',
    'AWS/Lambda Duration FunctionName=city-api',
  ];
  // The workflow lanes: capped by their mappings and slow, so read hourly like DynamoDB and logs.
  const WORKFLOW_LANES = [
    'AWS/SQS NumberOfMessagesSent QueueName=essential-workflow-q',
    'AWS/SQS NumberOfMessagesSent QueueName=ordinary-workflow-q',
    'AWS/Lambda Invocations FunctionName=workflow-essential',
    'AWS/Lambda Duration FunctionName=workflow-essential',
    'AWS/Lambda Invocations FunctionName=workflow-ordinary',
    'AWS/Lambda Duration FunctionName=workflow-ordinary',
  ];
  const SLOW = [
    ...WORKFLOW_LANES,
    'AWS/DynamoDB ConsumedWriteCapacityUnits TableName=devices',
    'AWS/DynamoDB ConsumedReadCapacityUnits TableName=devices',
    'AWS/DynamoDB ConsumedWriteCapacityUnits TableName=devices,GlobalSecondaryIndexName=byType',
    'AWS/DynamoDB ConsumedReadCapacityUnits TableName=devices,GlobalSecondaryIndexName=byType',
    'AWS/DynamoDB ConsumedWriteCapacityUnits TableName=telemetry',
    'AWS/DynamoDB ConsumedReadCapacityUnits TableName=telemetry',
    'AWS/Logs IncomingBytes LogGroupName=/aws/lambda/enrich-ingest',
    'AWS/Logs IncomingBytes LogGroupName=api-access',
  ];

  it('asks ONE GetMetricData request for the fast signals only, Sum per minute, over the settled window', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES).read(start, end);
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    const input = cloudwatch.commandCalls(GetMetricDataCommand)[0]?.args[0].input;
    // Shifted back by the 3-minute settle delay and cut at whole minutes.
    expect(input?.StartTime).toEqual(new Date('2026-11-27T11:57:00.000Z'));
    expect(input?.EndTime).toEqual(new Date('2026-11-27T12:02:00.000Z'));
    const queries = input?.MetricDataQueries ?? [];
    // 2 rules + 1 per lane queue + 1 API + 2 per data-path function: no DynamoDB, no logs, no SQS receives, and
    // nothing of the workflow lanes.
    expect(queries.map(describeQuery)).toEqual(FAST);
    expect(json(queries)).not.toMatch(/workflow/);
    for (const query of queries) {
      expect(query.Id).toMatch(/^[a-z][A-Za-z0-9_]*$/);
      expect(query.MetricStat).toMatchObject({ Period: 60, Stat: 'Sum' });
    }
  });

  it('asks the same ONE request for the slow metrics too on a reconciliation run, over the window since the last one', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const source = new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES);
    await source.read(new Date('2026-11-27T12:55:20Z'), new Date('2026-11-27T13:00:20Z'), {
      reconcileFrom: start,
    });
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    const input = cloudwatch.commandCalls(GetMetricDataCommand)[0]?.args[0].input;
    expect(input?.StartTime).toEqual(new Date('2026-11-27T11:57:00.000Z'));
    expect(input?.EndTime).toEqual(new Date('2026-11-27T12:57:00.000Z'));
    const queries = input?.MetricDataQueries ?? [];
    expect(queries.map(describeQuery)).toEqual([...FAST, ...SLOW]);
    // A fast metric keeps its id in both kinds of run.
    expect(queries.slice(0, FAST.length).map((q) => q.Id)).toEqual(source.fastQueries.map((q) => q.id));
    for (const query of queries) expect(query.MetricStat).toMatchObject({ Period: 60, Stat: 'Sum' });
  });

  const idOf = (source: CloudWatchUsageSource, namespace: string, name: string, value?: string) =>
    source.queries.find(
      (q) =>
        q.namespace === namespace &&
        q.metricName === name &&
        (value === undefined || q.dimensions.some((d) => d.value === value)),
    )?.id as string;

  it('maps a fast run to a sample, estimating DynamoDB and log usage from the fast signals', async () => {
    const source = new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES);
    const id = (namespace: string, name: string, value?: string) => idOf(source, namespace, name, value);
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: id('AWS/IoT', 'TopicMatch', 'civic_ingest'), Values: [100, 200] },
        { Id: id('AWS/IoT', 'TopicMatch', 'civic_essential'), Values: [50] },
        { Id: id('AWS/SQS', 'NumberOfMessagesSent', 'ingest-q'), Values: [300] },
        { Id: id('AWS/SQS', 'NumberOfMessagesSent', 'essential-q'), Values: [50] },
        { Id: id('AWS/Lambda', 'Invocations', 'enrich-ingest'), Values: [3] },
        { Id: id('AWS/Lambda', 'Invocations', 'city-api'), Values: [12] },
        { Id: id('AWS/Lambda', 'Duration', 'enrich-ingest'), Values: [1000, 1000] },
        { Id: id('AWS/Lambda', 'Duration', 'city-api'), Values: [600] },
        { Id: id('AWS/ApiGateway', 'Count'), Values: [12] },
      ],
    });
    expect(await source.read(start, end)).toEqual({
      intervalSeconds: 300,
      rulesTriggered: 350,
      brokerMessages: 0,
      connectedDevices: 1000,
      // 350 sent x (1 + 2/10) + idle polls: 5 pollers x 3 a minute per lane = 0.25 a second x 2 lanes x 300 s.
      sqsRequests: 350 * 1.2 + 150,
      lambdaInvocations: 15,
      lambdaGbSeconds: 2 * 0.5 + 0.6 * 0.5,
      apiRequests: 12,
      // 350 messages x 1.5 write units and x 1.25 read units; 15 invocations x 50 B + 12 requests x 600 B.
      dynamoWriteUnits: 525,
      dynamoReadUnits: 437.5,
      logBytes: 15 * 50 + 12 * 600,
      // Not read this run: the cost model's hourly figures for 5 minutes, provisional like the rest.
      workflows: { sqsRequests: 150, invocations: 3, gbSeconds: 0.5 },
      slowUsage: { kind: 'estimated' },
    });
  });

  it('maps a reconciliation run: slow usage measured since the last reconciliation, fast signals for the run alone', async () => {
    const source = new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES);
    const id = (namespace: string, name: string, value?: string) => idOf(source, namespace, name, value);
    const at = (iso: string) => new Date(`2026-11-27T${iso}:00Z`);
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        // Minutes before this run's own window (from 12:52) were counted by earlier runs.
        {
          Id: id('AWS/IoT', 'TopicMatch', 'civic_ingest'),
          Values: [999, 100],
          Timestamps: [at('12:10'), at('12:52')],
        },
        {
          Id: id('AWS/SQS', 'NumberOfMessagesSent', 'ingest-q'),
          Values: [999, 100],
          Timestamps: [at('12:10'), at('12:53')],
        },
        {
          Id: id('AWS/DynamoDB', 'ConsumedWriteCapacityUnits', 'devices'),
          Values: [10, 20],
          Timestamps: [at('12:10'), at('12:55')],
        },
        {
          Id: id('AWS/DynamoDB', 'ConsumedWriteCapacityUnits', 'byType'),
          Values: [5],
          Timestamps: [at('11:57')],
        },
        {
          Id: id('AWS/DynamoDB', 'ConsumedReadCapacityUnits', 'telemetry'),
          Values: [7.5],
          Timestamps: [at('12:30')],
        },
        { Id: id('AWS/Logs', 'IncomingBytes', 'api-access'), Values: [2048], Timestamps: [at('12:00')] },
      ],
    });
    const sample = await source.read(new Date('2026-11-27T12:55:20Z'), new Date('2026-11-27T13:00:20Z'), {
      reconcileFrom: start,
    });
    expect(sample).toMatchObject({
      rulesTriggered: 100,
      sqsRequests: 100 * 1.2 + 150,
      dynamoWriteUnits: 35,
      dynamoReadUnits: 7.5,
      logBytes: 2048,
      slowUsage: { kind: 'reconciled', from: start.toISOString() },
    });
  });

  it('prices the workflow lanes on a reconciliation run: every message, invocation and millisecond since the last', async () => {
    const source = new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES);
    const id = (namespace: string, name: string, value?: string) => idOf(source, namespace, name, value);
    const at = (iso: string) => new Date(`2026-11-27T${iso}:00Z`);
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        // From the reconciliation's start (11:57, settled), not this run's own window: an hour of each.
        {
          Id: id('AWS/SQS', 'NumberOfMessagesSent', 'essential-workflow-q'),
          Values: [2, 1],
          Timestamps: [at('11:57'), at('12:40')],
        },
        {
          Id: id('AWS/SQS', 'NumberOfMessagesSent', 'ordinary-workflow-q'),
          Values: [7],
          Timestamps: [at('12:20')],
        },
        {
          Id: id('AWS/Lambda', 'Invocations', 'workflow-essential'),
          Values: [12, 3],
          Timestamps: [at('12:00'), at('12:55')],
        },
        { Id: id('AWS/Lambda', 'Invocations', 'workflow-ordinary'), Values: [19], Timestamps: [at('12:30')] },
        {
          Id: id('AWS/Lambda', 'Duration', 'workflow-essential'),
          Values: [4_000],
          Timestamps: [at('12:10')],
        },
        {
          Id: id('AWS/Lambda', 'Duration', 'workflow-ordinary'),
          Values: [2_000, 2_000],
          Timestamps: [at('12:10'), at('12:56')],
        },
      ],
    });
    const sample = await source.read(new Date('2026-11-27T12:55:20Z'), new Date('2026-11-27T13:00:20Z'), {
      reconcileFrom: start,
    });
    expect(sample.workflows).toEqual({
      // 10 events sent, each received and deleted alone, + idle polls of 2 queues over the hour since 12:00:20.
      sqsRequests: 10 * 3 + 0.25 * 2 * 3600,
      invocations: 34,
      // 8 s at 256 MB.
      gbSeconds: 2,
    });
    // Nothing of the lanes in the data path's own figures.
    expect(sample).toMatchObject({ lambdaInvocations: 0, lambdaGbSeconds: 0, sqsRequests: 150 });
  });

  it('prices nothing for workflow lanes a deployment does not have', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const none = { ...RESOURCES, workflowQueues: [], workflowFunctions: [] };
    const source = new CloudWatchUsageSource(new CloudWatchClient({}), none);
    expect((await source.read(start, end)).workflows).toBeUndefined();
    expect((await source.read(start, end, { reconcileFrom: start })).workflows).toBeUndefined();
  });

  it('follows NextToken should CloudWatch page the answer anyway', async () => {
    const source = new CloudWatchUsageSource(new CloudWatchClient({}), RESOURCES);
    const rule = source.fastQueries[0]?.id as string;
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
