import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DisableTopicRuleCommand, EnableTopicRuleCommand, IoTClient } from '@aws-sdk/client-iot';
import { LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { APIGatewayProxyEvent, Context, SNSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  costApiFromEnvironment,
  costControlFromEnvironment,
} from '../../lambdas/adapters/cost-ports-from-environment.js';
import {
  CachedDegradeSettings,
  DynamoDbCostRecords,
  LaneSampling,
  LedgerConflictError,
} from '../../lambdas/adapters/dynamodb-cost-records.js';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { laneSamplingFromEnvironment } from '../../lambdas/adapters/ports-from-environment.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import type { MeteredResources } from '../../lambdas/contracts/metered-resources.js';
import { type AuditEntry, FULL_SERVICE } from '../../lambdas/domain/cost-control.js';
import { recordInterval } from '../../lambdas/domain/usage-meter.js';
import { createBudgetAlertHandler } from '../../lambdas/handlers/budget-alert.js';
import { createCityApiHandler } from '../../lambdas/handlers/city-api.js';
import { createUsageMeterHandler } from '../../lambdas/handlers/usage-meter.js';
import { startDynamo } from '../support/dynalite.js';

const cloudwatch = mockClient(CloudWatchClient);
const iot = mockClient(IoTClient);
const lambda = mockClient(LambdaClient);
const sns = mockClient(SNSClient);

const NOW = new Date('2026-11-27T12:00:00.000Z');
const context = { functionName: 'f', awsRequestId: 'r' } as Context;
const RESOURCES: MeteredResources = {
  rules: ['civic_ingest', 'civic_essential'],
  queues: ['ingest-q'],
  functions: [{ name: 'enrich', memoryMb: 512 }],
  workflowQueues: ['workflow-ordinary-q'],
  workflowFunctions: [{ name: 'workflow-ordinary', memoryMb: 256 }],
  tables: [{ name: 'telemetry' }],
  apis: [{ name: 'city-api', stage: 'v1' }],
  logGroups: ['/aws/lambda/enrich'],
  devices: 100,
  usageRates: {
    dynamoWriteUnitsPerMessage: 1.68,
    dynamoReadUnitsPerMessage: 1.5,
    logBytesPerInvocation: 50,
    logBytesPerApiRequest: 600,
    workflowInvocationsPerHour: 24,
    workflowGbSecondsPerHour: 3,
    workflowSqsRequestsPerHour: 1_000,
  },
};

let dynamo: Awaited<ReturnType<typeof startDynamo>>;
let env: Record<string, string>;

beforeEach(async () => {
  dynamo = await startDynamo();
  env = {
    AWS_REGION: 'eu-west-2',
    [ENV.dynamoEndpoint]: dynamo.endpoint,
    [ENV.tables['cost-guard']]: dynamo.names['cost-guard'],
    [ENV.laneControls]: JSON.stringify({ civic_ingest: { ruleName: 'civic_ingest', mappingUuid: 'uuid-1' } }),
    [ENV.meteredResources]: JSON.stringify(RESOURCES),
    [ENV.guardTopicArn]: 'arn:aws:sns:eu-west-2:111122223333:notices',
    [ENV.monthlyCeilingUsd]: '1',
    [ENV.councilName]: 'Test Council',
  };
  for (const mock of [cloudwatch, iot, lambda, sns]) mock.reset();
  iot.on(DisableTopicRuleCommand).resolves({});
  iot.on(EnableTopicRuleCommand).resolves({});
  lambda.on(UpdateEventSourceMappingCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});
afterEach(async () => {
  await dynamo.stop();
});

/** CloudWatch answers with `rules` TopicMatch on the ordinary rule: 10M is about $3.45 in London. */
function usage(rules: number) {
  cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'm0', Values: [rules] }] });
}

const records = () => new DynamoDbCostRecords(dynamo.client, dynamo.names['cost-guard']);
const meter = (at = NOW) =>
  createUsageMeterHandler({ guard: () => costControlFromEnvironment(env), now: () => at })({}, context);

describe('DynamoDbCostRecords', () => {
  it('keeps one ledger per month and loads the latest', async () => {
    const store = records();
    const october = recordInterval(undefined, 2, new Date('2026-10-31T23:55:00Z'), 300);
    expect(await store.loadLedger()).toBeUndefined();
    await store.saveLedger(october);
    const november = recordInterval(october, 0.5, new Date('2026-11-01T00:05:00Z'), 600);
    await store.saveLedger(november);
    expect(await records().loadLedger()).toEqual(november);
  });

  it('refuses a ledger save when another run saved since this one read (no double counting)', async () => {
    const first = records();
    const second = records();
    await first.saveLedger(recordInterval(undefined, 1, NOW, 300));
    const base = await first.loadLedger();
    await second.loadLedger();
    await first.saveLedger(recordInterval(base, 1, new Date(NOW.getTime() + 300_000), 300));
    await expect(
      second.saveLedger(recordInterval(base, 1, new Date(NOW.getTime() + 290_000), 290)),
    ).rejects.toBeInstanceOf(LedgerConflictError);
    expect((await records().loadLedger())?.monthToDateUsd).toBe(2);
  });

  it('round-trips guard state and degrade settings, with full service before any is saved', async () => {
    const store = records();
    expect(await store.loadGuardState()).toBeUndefined();
    expect(await store.loadDegradeSettings()).toEqual(FULL_SERVICE);
    const state = { month: '2026-11', tier: 'stop' as const, announcedThreshold: 1, forecastAnnounced: true };
    await store.saveGuardState({ ...state, restoredAtUsd: 3.5 });
    await store.saveDegradeSettings({ sampleRates: { civic_ingest: 0.25 }, openDataNarrowed: true });
    expect(await store.loadGuardState()).toEqual({ ...state, restoredAtUsd: 3.5 });
    expect(await store.loadDegradeSettings()).toEqual({
      sampleRates: { civic_ingest: 0.25 },
      openDataNarrowed: true,
    });
  });

  it('appends audit entries that expire after the retention, newest first, keeping an unset ceiling', async () => {
    const store = records();
    const entry = (at: string, by: string): AuditEntry => ({
      at,
      action: { kind: 'manual-restore', by },
      reading: { monthToDateUsd: 1, forecastUsd: 2, ceilingUsd: Number.POSITIVE_INFINITY, tier: 'ok' },
      outcome: 'done',
    });
    await store.appendAudit([entry('2026-11-27T10:00:00.000Z', 'a'), entry('2026-11-27T10:00:00.000Z', 'b')]);
    await store.appendAudit([entry('2026-11-27T11:00:00.000Z', 'c')]);
    const recent = await store.recentAudit(2);
    expect(recent.map((e) => (e.action as { by: string }).by)).toEqual(['c', 'b']);
    expect(recent[0]?.reading.ceilingUsd).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('CachedDegradeSettings and LaneSampling', () => {
  it('reads the settings at most once per TTL and fails open with the last known settings', async () => {
    let reads = 0;
    let fail = false;
    let clock = 0;
    const cached = new CachedDegradeSettings(
      {
        loadDegradeSettings: async () => {
          reads += 1;
          if (fail) throw new Error('throttled');
          return { sampleRates: { civic_ingest: 0.25 }, openDataNarrowed: false };
        },
      },
      60_000,
      () => clock,
    );
    const ordinary = new LaneSampling(cached, 'civic_ingest');
    expect(await ordinary.keepRate()).toBe(0.25);
    expect(await ordinary.keepRate()).toBe(0.25);
    expect(reads).toBe(1);
    clock = 61_000;
    fail = true;
    expect(await ordinary.keepRate()).toBe(0.25);
    expect(reads).toBe(2);
    expect(await new LaneSampling(cached, 'civic_essential').keepRate()).toBe(1);
  });

  it('is wired from the environment only when the function knows its lane and the table', async () => {
    await records().saveDegradeSettings({ sampleRates: { civic_ingest: 0.25 }, openDataNarrowed: true });
    expect(laneSamplingFromEnvironment(env, dynamo.client)).toBeUndefined();
    const sampling = laneSamplingFromEnvironment({ ...env, [ENV.ingestLane]: 'civic_ingest' }, dynamo.client);
    expect(await sampling?.keepRate()).toBe(0.25);
  });
});

describe('usage meter handler', () => {
  it('meters with one GetMetricData call per run and keeps the ledger', async () => {
    usage(1000);
    await meter();
    expect(cloudwatch.commandCalls(GetMetricDataCommand)).toHaveLength(1);
    const ledger = await records().loadLedger();
    expect(ledger).toMatchObject({ month: '2026-11', meteredUntil: NOW.toISOString() });
    expect(ledger?.monthToDateUsd).toBeGreaterThan(0);
    expect(iot.calls()).toHaveLength(0);
  });

  it('stops the ordinary lane past the ceiling: rule disabled, consumer paused, notice sent, all audited', async () => {
    usage(10_000_000);
    await meter();
    expect(iot.commandCalls(DisableTopicRuleCommand)[0]?.args[0].input).toEqual({ ruleName: 'civic_ingest' });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)[0]?.args[0].input).toEqual({
      UUID: 'uuid-1',
      Enabled: false,
    });
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input).toMatchObject({
      Subject: 'Test Council: IoT platform spending stop',
    });
    expect((await records().loadGuardState())?.tier).toBe('stop');
    const kinds = (await records().recentAudit(20)).map((e) => `${e.action.kind}:${e.outcome}`);
    expect(kinds).toEqual(
      expect.arrayContaining(['disable-rule:done', 'pause-consumer:done', 'sample-lane:done', 'notify:done']),
    );
  });

  it('audits a failed action and retries it on the next run', async () => {
    usage(10_000_000);
    lambda.on(UpdateEventSourceMappingCommand).rejectsOnce(new Error('ResourceInUseException'));
    await meter();
    expect((await records().loadGuardState())?.tier).not.toBe('stop');
    const failed = (await records().recentAudit(20)).find((e) => e.outcome === 'failed');
    expect(failed).toMatchObject({ action: { kind: 'pause-consumer' }, error: 'ResourceInUseException' });
    await meter(new Date(NOW.getTime() + 300_000));
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(2);
    expect((await records().loadGuardState())?.tier).toBe('stop');
  });
});

describe('budget alert handler', () => {
  it('runs the guard and records the Budgets notice in the audit log', async () => {
    usage(1000);
    const event = {
      Records: [
        {
          Sns: {
            Subject: 'AWS Budgets: civic-iot-dev-eu-west-2 has exceeded your alert threshold',
            Message: 'AWS Budget Notification: ACTUAL cost is greater than 80% of your budget',
          },
        },
      ],
    } as unknown as SNSEvent;
    await createBudgetAlertHandler({ guard: () => costControlFromEnvironment(env), now: () => NOW })(
      event,
      context,
    );
    expect(await records().loadLedger()).toBeDefined();
    const [latest] = await records().recentAudit(1);
    expect(latest?.action).toMatchObject({
      kind: 'budget-notice',
      subject: 'AWS Budgets: civic-iot-dev-eu-west-2 has exceeded your alert threshold',
    });
    expect(sns.commandCalls(PublishCommand).at(-1)?.args[0].input.Subject).toBe(
      'Test Council: AWS Budgets notice',
    );
  });
});

describe('city API cost routes', () => {
  function call(method: string, resource: string, claims?: Record<string, string>) {
    const handler = createCityApiHandler({
      ports: () => new InMemoryPorts(),
      cost: () => costApiFromEnvironment(env),
      now: () => NOW,
    });
    const event = {
      resource,
      path: resource,
      httpMethod: method,
      headers: {},
      queryStringParameters: null,
      pathParameters: null,
      body: null,
      requestContext: { authorizer: claims ? { claims } : undefined },
    } as unknown as APIGatewayProxyEvent;
    return handler(event, context);
  }
  const staff = (group: string) => ({ sub: 'sub-1', 'cognito:username': 'alice', 'cognito:groups': group });

  it('GET /cost answers any staff group with month to date, ceiling and tier; 401 without a token', async () => {
    usage(10_000_000);
    await meter();
    const response = await call('GET', '/cost', staff('viewer'));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({
      month: '2026-11',
      ceilingUsd: 1,
      tier: 'stop',
      degrade: { sampleRates: { civic_ingest: 0.25 } },
    });
    expect((await call('GET', '/cost')).statusCode).toBe(401);
    expect((await call('GET', '/cost', staff('citizens'))).statusCode).toBe(403);
  });

  it('POST /cost/restore is admin only: 403 for an operator, 401 without a token', async () => {
    expect((await call('POST', '/cost/restore', staff('operator'))).statusCode).toBe(403);
    expect((await call('POST', '/cost/restore')).statusCode).toBe(401);
    expect(iot.calls()).toHaveLength(0);
  });

  it("POST /cost/restore by an admin resumes the lane and audits the caller's name and sub", async () => {
    usage(10_000_000);
    await meter();
    iot.resetHistory();
    lambda.resetHistory();
    const response = await call('POST', '/cost/restore', staff('admin'));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ tier: 'ok', complete: true });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)[0]?.args[0].input).toEqual({
      UUID: 'uuid-1',
      Enabled: true,
    });
    expect(iot.commandCalls(EnableTopicRuleCommand)).toHaveLength(1);
    expect(iot.commandCalls(DisableTopicRuleCommand)).toHaveLength(0);
    const audit = await records().recentAudit(20);
    expect(audit.find((e) => e.action.kind === 'manual-restore')?.action).toEqual({
      kind: 'manual-restore',
      by: 'alice (sub-1)',
    });
    expect(await records().loadDegradeSettings()).toMatchObject({ sampleRates: { civic_ingest: 1 } });
  });
});
