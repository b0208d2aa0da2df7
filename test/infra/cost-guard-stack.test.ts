import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/contracts/environment.js';
import {
  type MeteredResources,
  meterMetricCounts,
  nominalMeteredResources,
  usageMetrics,
} from '../../lambdas/contracts/metered-resources.js';
import { dailyFixedAccrualUsd, meterMetricsPerMonth } from '../../lambdas/domain/cost-model.js';
import { platformEstimate, serviceLoads } from '../../lib/cost/platform-estimate.js';
import { STORE_CONFIGURATIONS, synthesizePlatform } from './platform-app.js';

let guard: Template;
let platform: Template;
let noCeiling: Template;
let built: ReturnType<typeof synthesizePlatform>;

beforeAll(() => {
  built = synthesizePlatform({ monthlyCeilingUsd: '60', alertEmails: 'iot-ops@example.gov.uk' });
  guard = built.costGuard;
  platform = built.platform;
  noCeiling = synthesizePlatform({ monthlyCeilingUsd: '' }).costGuard;
});

type Resource = { Properties: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

const json = (value: unknown) => JSON.stringify(value);

function only(template: Template, type: string, props: Record<string, unknown> = {}): [string, Resource] {
  const found = Object.entries(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found, `${type} ${json(props)}`).toHaveLength(1);
  return found[0] as [string, Resource];
}

function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => json(policy.Properties.Roles) === json([{ Ref: roleLogicalId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

function roleOf(template: Template, functionLogicalId: string): string {
  const fn = template.findResources('AWS::Lambda::Function')[functionLogicalId] as Resource;
  return (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

const meterId = () =>
  only(guard, 'AWS::Lambda::Function', {
    Handler: 'index.handler',
    Description: Match.stringLikeRegexp('^Every 5 minutes'),
  })[0];
const budgetAlertId = () =>
  only(guard, 'AWS::Lambda::Function', { Description: Match.stringLikeRegexp('^AWS Budgets') })[0];

describe('CostGuard: the meter and its schedule', () => {
  it('runs the meter every 5 minutes with EventBridge Scheduler', () => {
    const [, schedule] = only(guard, 'AWS::Scheduler::Schedule');
    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: { Arn: { 'Fn::GetAtt': [meterId(), 'Arn'] } },
    });
  });

  it('gives the schedule a role that may invoke the meter and nothing else', () => {
    const [, schedule] = only(guard, 'AWS::Scheduler::Schedule');
    const role = ((schedule.Properties.Target as { RoleArn: unknown }).RoleArn as { 'Fn::GetAtt': string[] })[
      'Fn::GetAtt'
    ][0] as string;
    const statements = statementsOf(guard, role);
    expect(statements.map((s) => s.Action)).toEqual(['lambda:InvokeFunction']);
    expect(json(statements[0]?.Resource)).not.toContain(budgetAlertId());
    expect(json(statements[0]?.Resource)).toContain(meterId());
  });

  it('raises the heartbeat alarm when the meter has not run for 15 minutes, to the alerts topic', () => {
    const [, alarm] = only(guard, 'AWS::CloudWatch::Alarm', { MetricName: 'Invocations' });
    expect(alarm.Properties).toMatchObject({
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: meterId() } }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    expect(json(alarm.Properties.AlarmActions)).toMatch(/CivicIot-dev-Platform:ExportsOutputRefAlertsTopic/);
  });

  it('alarms when every meter run fails for 15 minutes', () => {
    const [, alarm] = only(guard, 'AWS::CloudWatch::Alarm', { MetricName: 'Errors' });
    expect(alarm.Properties).toMatchObject({
      EvaluationPeriods: 3,
      Threshold: 0,
      TreatMissingData: 'notBreaching',
    });
  });

  it('tells the meter what to read: both lanes metered, only the ordinary lane switchable', () => {
    const [, meter] = only(guard, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Every 5'),
    });
    const variables = (meter.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(json(variables[ENV.meteredResources])).toContain(
      '\\"rules\\":[\\"civic_ingest\\",\\"civic_essential\\"]',
    );
    const controls = json(variables[ENV.laneControls]);
    expect(controls).toContain('civic_ingest');
    expect(controls).not.toContain('civic_essential');
    expect(controls).not.toMatch(/civicessential/);
    expect(variables[ENV.monthlyCeilingUsd]).toBe('60');
  });

  it("meters the data path only: not the guard's own functions or their logs", () => {
    const metered: MeteredResources = built.built.costGuardStack.guard.metered;
    const stack = built.built.costGuardStack;
    const names = metered.functions.map((fn) => stack.resolve(fn.name));
    // Two lane enrichment functions and the city API function, read every run.
    expect(names).toHaveLength(3);
    expect(json(names)).not.toMatch(/usage-meter|budget-alert|Workflow/);
    // The two workflow lanes' functions, read hourly.
    const lanes = metered.workflowFunctions.map((fn) => json(stack.resolve(fn.name)));
    expect(lanes).toHaveLength(2);
    expect(json(lanes)).toMatch(/ServicesEssentialLaneWorkflowFunction/);
    expect(json(lanes)).toMatch(/ServicesOrdinaryLaneWorkflowFunction/);
    expect(json(metered.logGroups.map((group) => stack.resolve(group)))).not.toMatch(
      /usage-meter|budget-alert/,
    );
    // The functions' log groups (the workflow lanes' too) and the API access log.
    expect(metered.logGroups).toHaveLength(4 + 2);
    expect(metered.usageRates.dynamoWriteUnitsPerMessage).toBeGreaterThan(1);
    expect(metered.usageRates.workflowInvocationsPerHour).toBeGreaterThan(0);
  });

  it('reads as many metrics as the cost model prices (11 a run, 46 more hourly), within one request', () => {
    const metered = built.built.costGuardStack.guard.metered;
    // Every run: 2 rules, 2 lane queues, 1 API, 3 functions x 2. Hourly: 2 workflow lane queues, 2 workflow lane
    // functions x 2, 11 tables and 6 indexes x 2, 6 log groups.
    expect(meterMetricCounts(metered)).toEqual({ perRun: 11, perReconciliation: 46 });
    expect(meterMetricCounts(metered)).toEqual(
      meterMetricCounts(nominalMeteredResources('dynamodb', ['essential', 'ordinary'])),
    );
    expect(meterMetricsPerMonth({ telemetryStore: 'dynamodb', services: serviceLoads() })).toBe(
      11 * 8_640 + 46 * 720,
    );
    const timestream = synthesizePlatform(STORE_CONFIGURATIONS.timestream).built;
    expect(meterMetricCounts(timestream.costGuardStack.guard.metered)).toEqual(
      meterMetricCounts(nominalMeteredResources('timestream', ['essential', 'ordinary'])),
    );
  });

  it('reads the workflow lanes on reconciliation runs only, never among the fast metrics', () => {
    const metered = built.built.costGuardStack.guard.metered;
    const stack = built.built.costGuardStack;
    const fast = json(stack.resolve(usageMetrics(metered, 'fast')));
    expect(fast).not.toMatch(/Services/);
    const all = json(stack.resolve(usageMetrics(metered, 'all')));
    expect(all).toMatch(/ServicesEssentialLaneQueue/);
    expect(all).toMatch(/ServicesOrdinaryLaneWorkflowFunction/);
  });

  it('meters only the deployed workflow lanes, as the cost model counts them', () => {
    const flood = synthesizePlatform({ services: 'flood' }).built;
    const metered = flood.costGuardStack.guard.metered;
    expect(metered.functions).toHaveLength(3);
    expect(metered.queues).toHaveLength(2);
    // The essential lane's queue (not its dead-letter queue) and function; no ordinary lane.
    const queues = metered.workflowQueues.map((queue) => json(flood.costGuardStack.resolve(queue)));
    expect(queues).toHaveLength(1);
    expect(queues[0]).toMatch(/ServicesEssentialLaneQueue/);
    expect(json(queues)).not.toMatch(/DeadLetters/);
    expect(metered.workflowFunctions).toHaveLength(1);
    expect(meterMetricCounts(metered)).toEqual(
      meterMetricCounts(nominalMeteredResources('dynamodb', ['essential'])),
    );
    expect(meterMetricsPerMonth({ telemetryStore: 'dynamodb', services: serviceLoads(['flood']) })).toBe(
      meterMetricCounts(metered).perRun * 8_640 + meterMetricCounts(metered).perReconciliation * 720,
    );
    const none = synthesizePlatform({ services: '[]' }).built.costGuardStack.guard.metered;
    expect(meterMetricCounts(none)).toEqual(meterMetricCounts(nominalMeteredResources('dynamodb')));
  });

  it("passes the fixed daily accrual, the guard's own meter included", () => {
    const [, meter] = only(guard, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Every 5'),
    });
    const variables = (meter.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    const daily = Number(variables[ENV.costFixedDailyUsd]);
    expect(daily).toBeCloseTo(dailyFixedAccrualUsd(platformEstimate(built.built.config)), 9);
    const guardFixed = platformEstimate(built.built.config)
      .lines.filter((line) => line.costGuard && line.overTime)
      .reduce((sum, line) => sum + line.monthlyUsd, 0);
    expect(guardFixed).toBeGreaterThan(1);
    expect(daily * 30).toBeGreaterThan(guardFixed);
  });

  it('sends guard notices to an SNS topic encrypted with the AWS managed key, with the e-mail subscribers', () => {
    const [topic] = only(guard, 'AWS::SNS::Topic', { DisplayName: 'Civic IoT spending guard' });
    expect(json(guard.findResources('AWS::SNS::Topic')[topic])).toContain('alias/aws/sns');
    guard.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'iot-ops@example.gov.uk',
      TopicArn: { Ref: topic },
    });
  });
});

describe('CostGuard: least privilege', () => {
  const roles = () => [roleOf(guard, meterId()), roleOf(guard, budgetAlertId())];

  it('may disable and enable only the ordinary lane rule, never the essential one', () => {
    for (const role of roles()) {
      const iot = statementsOf(guard, role).filter((s) => json(s.Action).includes('TopicRule'));
      expect(iot).toHaveLength(1);
      expect(iot[0]?.Action).toEqual(['iot:DisableTopicRule', 'iot:EnableTopicRule']);
      expect(json(iot[0]?.Resource)).toMatch(/TelemetryIngestioncivicingestRule.*Arn/);
      expect(json(iot[0]?.Resource)).not.toMatch(/civicessential/);
    }
  });

  it("may update only the ordinary lane's event source mapping, by its ARN", () => {
    for (const role of roles()) {
      const mapping = statementsOf(guard, role).filter((s) => s.Action === 'lambda:UpdateEventSourceMapping');
      expect(mapping).toHaveLength(1);
      const resource = json(mapping[0]?.Resource);
      expect(resource).toContain(':event-source-mapping:');
      expect(resource).toMatch(/TelemetryIngestioncivicingestEnrichmentFunctionSqsEventSource/);
      expect(resource).not.toMatch(/civicessential/);
    }
  });

  it("has no '*' action anywhere, and '*' resources only for cloudwatch:GetMetricData", () => {
    for (const policy of Object.values(guard.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of [statement.Action].flat()) expect(action).not.toMatch(/\*/);
        if (statement.Resource === '*') expect(statement.Action).toBe('cloudwatch:GetMetricData');
      }
    }
  });

  it('gives the city API only the switch-on half: EnableTopicRule and the mapping, no DisableTopicRule', () => {
    const api = only(platform, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('city REST API'),
    })[0];
    const statements = statementsOf(platform, roleOf(platform, api));
    // Its other IoT actions revoke a decommissioned device's certificates (city-api-routes.test.ts).
    const iot = statements.filter((s) => json(s.Action).includes('TopicRule'));
    expect(iot.map((s) => s.Action)).toEqual(['iot:EnableTopicRule']);
    expect(json(iot[0]?.Resource)).toMatch(/civicingestRule/);
    const mapping = statements.filter((s) => s.Action === 'lambda:UpdateEventSourceMapping');
    expect(json(mapping)).toMatch(/civicingestEnrichmentFunctionSqsEventSource/);
    expect(json(mapping)).not.toMatch(/civicessential/);
  });

  it('lets each enrichment function read only the degrade settings item, and tells it its lane', () => {
    for (const lane of ['civic_ingest', 'civic_essential']) {
      const [fn, resource] = only(platform, 'AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ [ENV.ingestLane]: lane }) },
      });
      expect(json(resource.Properties.Environment)).toContain(ENV.tables['cost-guard']);
      const reads = statementsOf(platform, roleOf(platform, fn)).filter((s) =>
        json(s.Resource).includes('CostGuardRecords'),
      );
      expect(reads).toEqual([
        expect.objectContaining({
          Action: 'dynamodb:GetItem',
          Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['settings'] } },
        }),
      ]);
    }
  });
});

describe('CostGuard: AWS Budgets backstop', () => {
  it('budgets the ceiling monthly on the stage cost-allocation tag', () => {
    const [, budget] = only(guard, 'AWS::Budgets::Budget');
    expect((budget.Properties as { Budget: unknown }).Budget).toMatchObject({
      BudgetType: 'COST',
      TimeUnit: 'MONTHLY',
      BudgetLimit: { Amount: 60, Unit: 'USD' },
      CostFilters: { TagKeyValue: ['user:civic:stage$dev'] },
    });
  });

  it('notifies at 50/80/100% actual and 100% forecast, each to the one budget topic', () => {
    const [, budget] = only(guard, 'AWS::Budgets::Budget');
    const [topic] = only(guard, 'AWS::SNS::Topic', { DisplayName: 'Civic IoT AWS Budgets notices' });
    const notifications = budget.Properties.NotificationsWithSubscribers as {
      Notification: Record<string, unknown>;
      Subscribers: unknown[];
    }[];
    expect(
      notifications.map((n) => `${n.Notification.NotificationType} ${n.Notification.Threshold}`),
    ).toEqual(['ACTUAL 50', 'ACTUAL 80', 'ACTUAL 100', 'FORECASTED 100']);
    for (const n of notifications) {
      expect(n.Notification).toMatchObject({
        ComparisonOperator: 'GREATER_THAN',
        ThresholdType: 'PERCENTAGE',
      });
      // AWS Budgets allows one SNS subscriber per notification.
      expect(n.Subscribers).toEqual([{ SubscriptionType: 'SNS', Address: { Ref: topic } }]);
    }
  });

  it("lets only this account's budgets publish to the budget topic, and sends its notices to the budget-alert function", () => {
    const [topic] = only(guard, 'AWS::SNS::Topic', { DisplayName: 'Civic IoT AWS Budgets notices' });
    const [, policy] = only(guard, 'AWS::SNS::TopicPolicy', { Topics: [{ Ref: topic }] });
    const allow = (
      policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }
    ).Statement.find((s) => json(s.Principal).includes('budgets.amazonaws.com'));
    expect(allow).toMatchObject({
      Effect: 'Allow',
      Action: 'sns:Publish',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    guard.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { Ref: topic },
      Endpoint: { 'Fn::GetAtt': [budgetAlertId(), 'Arn'] },
    });
  });
});

describe('CostGuard without a ceiling', () => {
  it('still meters on the schedule with its heartbeat, but creates no budget and switches nothing', () => {
    noCeiling.resourceCountIs('AWS::Scheduler::Schedule', 1);
    noCeiling.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Invocations' });
    noCeiling.resourceCountIs('AWS::Budgets::Budget', 0);
    noCeiling.resourceCountIs('AWS::SNS::Topic', 1);
    for (const fn of Object.values(noCeiling.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.Environment.Variables[ENV.monthlyCeilingUsd]).toBeUndefined();
    }
  });
});

describe('CostGuard: runaway devices', () => {
  const iotStatements = (template: Template, functionId: string) =>
    statementsOf(template, roleOf(template, functionId)).filter((s) => json(s.Action).includes('iot:'));

  it('lets only the meter list thing principals and set certificates INACTIVE, and nothing wider', () => {
    const meter = iotStatements(guard, meterId());
    expect(
      meter.filter((s) => ['iot:ListThingPrincipals', 'iot:UpdateCertificate'].includes(s.Action as string)),
    ).toEqual([
      expect.objectContaining({
        Action: 'iot:ListThingPrincipals',
        Resource: expect.objectContaining({ 'Fn::Join': expect.anything() }),
      }),
      expect.objectContaining({
        Action: 'iot:UpdateCertificate',
        Resource: expect.objectContaining({ 'Fn::Join': expect.anything() }),
      }),
    ]);
    expect(json(meter)).toMatch(/:thing\/\*/);
    expect(json(meter)).toMatch(/:cert\/\*/);
    expect(json(meter)).not.toMatch(/"iot:\*"|DeleteCertificate/);
    expect(json(iotStatements(guard, budgetAlertId()))).not.toMatch(/UpdateCertificate|ListThingPrincipals/);
  });

  it('tells the meter where the refusals are and which types are essential', () => {
    const [, meter] = only(guard, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Every 5 minutes'),
    });
    const variables = (meter.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables[ENV.disconnectRunawayDevices]).toBe('true');
    expect(variables[ENV.essentialDeviceTypes]).toBe('water-level,air-quality');
    expect(variables[ENV.tables.quarantine]).toBeDefined();
  });

  it('is off when config says so', () => {
    const off = synthesizePlatform({ disconnectRunawayDevices: 'false' }).costGuard;
    expect(json(off.findResources('AWS::IAM::Policy'))).not.toMatch(/UpdateCertificate/);
  });
});
