import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BUS_TO_QUEUE_DELIVERY,
  servicePattern,
  WORKFLOW_LANES,
  WORKFLOW_QUEUE,
  type WorkflowLane,
  workflowLaneOf,
} from '../../lambdas/contracts/domain-event-bus.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import type { CostStatement } from '../../lib/cost/cost-statement.js';
import { busEventsPerSecond, writeCostStatement } from '../../lib/cost/cost-statement-writer.js';
import { BLUEPRINT_NAMES, BLUEPRINTS, blueprintNamed } from '../../services/catalogue.js';
import { STORE_CONFIGURATIONS, type SynthesizedPlatform, synthesizePlatform } from './platform-app.js';

type Resource = { Properties: Record<string, unknown> } & Record<string, unknown>;
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const json = (value: unknown) => JSON.stringify(value);
const actionsOf = (statement: Statement) => [statement.Action].flat();

let all: SynthesizedPlatform;
let platform: Template;
let floodOnly: SynthesizedPlatform;
let none: SynthesizedPlatform;

beforeAll(() => {
  all = synthesizePlatform({
    alertEmails: 'ops@council.gov.uk',
    serviceSubscribers: JSON.stringify({ flood: ['duty@council.gov.uk', 'rivers@council.gov.uk'] }),
    serviceSettings: JSON.stringify({ waste: { depotLat: 51.45, depotLon: -0.97 } }),
  });
  platform = all.platform;
  floodOnly = synthesizePlatform({ services: 'flood' });
  none = synthesizePlatform({ services: '[]' });
});

const ESSENTIAL = BLUEPRINTS.filter((b) => workflowLaneOf(b) === 'essential').map((b) => b.name);
const ORDINARY = BLUEPRINTS.filter((b) => workflowLaneOf(b) === 'ordinary').map((b) => b.name);
const laneOf = (service: string) => workflowLaneOf(blueprintNamed(service));

/** Every workflow lane function of a template: those with a SERVICE_NAMES variable. */
function workflowFunctions(template: Template): [string, Resource][] {
  return Object.entries(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ [ENV.serviceNames]: Match.anyValue() }) } },
    }),
  ) as [string, Resource][];
}

/** The workflow lane function hosting `service`: the one whose SERVICE_NAMES lists it. */
function functionOf(template: Template, service: string): [string, Resource] {
  const found = workflowFunctions(template).filter(([, fn]) =>
    String(variables(fn)[ENV.serviceNames]).split(',').includes(service),
  );
  expect(found, service).toHaveLength(1);
  return found[0] as [string, Resource];
}

/** The lane function of a lane, found by the services it hosts. */
function laneFunction(template: Template, lane: WorkflowLane): [string, Resource] {
  return functionOf(template, (lane === 'essential' ? ESSENTIAL : ORDINARY)[0] as string);
}

function roleOf(template: Template, functionLogicalId: string): string {
  const fn = template.findResources('AWS::Lambda::Function')[functionLogicalId] as Resource;
  return (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => json(policy.Properties.Roles).includes(`{"Ref":"${roleLogicalId}"}`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

function busId(template: Template): string {
  const buses = Object.keys(template.findResources('AWS::Events::EventBus'));
  expect(buses).toHaveLength(1);
  return buses[0] as string;
}

function rules(template: Template): Resource[] {
  return Object.values(template.findResources('AWS::Events::Rule')) as Resource[];
}

/** The queue a service's workflow consumes: the source of its lane function's event source mapping. */
function queueOf(template: Template, service: string): string {
  const mapping = mappingOf(template, service);
  return (mapping.Properties.EventSourceArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

function mappingOf(template: Template, service: string): Resource {
  const [fn] = functionOf(template, service);
  const mappings = Object.values(
    template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: fn } } }),
  ) as Resource[];
  expect(mappings, service).toHaveLength(1);
  return mappings[0] as Resource;
}

/** The dead-letter queue of a service's lane queue (its redrive policy's target). */
function deadLetterQueueOf(template: Template, service: string): string {
  const queue = template.findResources('AWS::SQS::Queue')[queueOf(template, service)] as Resource;
  const redrive = queue.Properties.RedrivePolicy as {
    deadLetterTargetArn: { 'Fn::GetAtt': [string, string] };
  };
  return redrive.deadLetterTargetArn['Fn::GetAtt'][0];
}

/** The workflow lanes' queues and dead-letter queues (the ingest lanes' are not in the services construct). */
const workflowQueues = (template: Template) =>
  Object.keys(template.findResources('AWS::SQS::Queue')).filter((id) => id.startsWith('Services'));

interface RuleTarget {
  readonly Arn: unknown;
  readonly RetryPolicy: unknown;
  readonly DeadLetterConfig: { readonly Arn: { readonly 'Fn::GetAtt': [string, string] } };
}

/** A service's rule: the one whose pattern is exactly its servicePattern. */
function ruleIdOf(template: Template, service: string): string {
  const pattern = servicePattern(blueprintNamed(service).eventTypes);
  const found = Object.entries(template.findResources('AWS::Events::Rule')).filter(
    ([, rule]) => json(rule.Properties.EventPattern) === json(pattern),
  );
  expect(found, service).toHaveLength(1);
  return (found[0] as [string, Resource])[0];
}

function ruleOf(template: Template, service: string): Resource {
  return template.findResources('AWS::Events::Rule')[ruleIdOf(template, service)] as Resource;
}

/** The one target of a service's rule. */
function targetOf(template: Template, service: string): RuleTarget {
  const targets = ruleOf(template, service).Properties.Targets as RuleTarget[];
  expect(targets).toHaveLength(1);
  return targets[0] as RuleTarget;
}

const enrichmentFunctions = (template: Template) =>
  Object.entries(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: Match.objectLike({ [ENV.ingestLane]: Match.anyValue() }) } },
    }),
  ) as [string, Resource][];

const variables = (fn: Resource) =>
  (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;

/**
 * A lane function's SERVICE_TOPIC_ARNS, with each topic's `Ref` written as `ref:<logical id>`: the JSON map the
 * function parses at run time.
 */
function topicArnsOf(fn: Resource): Record<string, string> {
  const value = variables(fn)[ENV.serviceTopicArns] as { 'Fn::Join': [string, unknown[]] };
  const text = value['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : `ref:${(part as { Ref: string }).Ref}`))
    .join('');
  return JSON.parse(text) as Record<string, string>;
}

describe('the services event bus', () => {
  it('is one custom bus per deployment, named after the stage', () => {
    platform.resourceCountIs('AWS::Events::EventBus', 1);
    platform.hasResourceProperties('AWS::Events::EventBus', { Name: 'civic-iot-dev-services' });
  });

  it('is named per stage, so two deployments in one account never share it', () => {
    synthesizePlatform({ stage: 'test', services: 'flood' }).platform.hasResourceProperties(
      'AWS::Events::EventBus',
      { Name: 'civic-iot-test-services' },
    );
  });
});

describe('two workflow lanes, a rule per blueprint', () => {
  it('splits the blueprints by their essential flag: air quality and flood in the essential lane', () => {
    expect(ESSENTIAL).toEqual(['air-quality', 'flood']);
    expect(ORDINARY).toEqual(['waste', 'parking', 'traffic', 'offline']);
  });

  it("has ONE function per lane, hosting exactly its lane's blueprints, and one queue and dead-letter queue each", () => {
    const hosted = workflowFunctions(platform).map(([, fn]) => variables(fn)[ENV.serviceNames]);
    expect(hosted.sort()).toEqual([ESSENTIAL.join(','), ORDINARY.join(',')].sort());
    expect(workflowQueues(platform)).toHaveLength(2 * WORKFLOW_LANES.length);
    expect(queueOf(platform, 'flood')).not.toBe(queueOf(platform, 'parking'));
    for (const lane of [ESSENTIAL, ORDINARY]) {
      for (const name of lane) expect(queueOf(platform, name)).toBe(queueOf(platform, lane[0] as string));
    }
  });

  it('has one rule per blueprint, all on the services bus', () => {
    const bus = busId(platform);
    expect(rules(platform)).toHaveLength(BLUEPRINT_NAMES.length);
    for (const rule of rules(platform)) expect(rule.Properties.EventBusName).toEqual({ Ref: bus });
  });

  it.each(BLUEPRINTS.map((b) => [b.name, b] as const))(
    "routes %s's own event types and nothing else: the exact servicePattern",
    (name, blueprint) => {
      expect(ruleOf(platform, name).Properties.EventPattern).toEqual(servicePattern(blueprint.eventTypes));
    },
  );

  it('gives no two rules an event type in common, so each event reaches one workflow', () => {
    const types = rules(platform).flatMap(
      (rule) => (rule.Properties.EventPattern as { 'detail-type': string[] })['detail-type'],
    );
    expect(new Set(types).size).toBe(types.length);
  });

  it.each(BLUEPRINT_NAMES)(
    "%s: the rule puts its events on its lane's encrypted queue, retrying sends, then to the lane's dead-letter queue",
    (name) => {
      const target = targetOf(platform, name);
      const queue = queueOf(platform, name);
      expect(queue).toMatch(
        laneOf(name) === 'essential' ? /^ServicesEssentialLane/ : /^ServicesOrdinaryLane/,
      );
      expect(target.Arn).toEqual({ 'Fn::GetAtt': [queue, 'Arn'] });
      expect(target.RetryPolicy).toEqual({
        MaximumRetryAttempts: BUS_TO_QUEUE_DELIVERY.retryAttempts,
        MaximumEventAgeInSeconds: BUS_TO_QUEUE_DELIVERY.maxEventAgeSeconds,
      });
      // One dead-letter queue per lane: what the bus could not queue and what the workflow kept failing.
      expect(target.DeadLetterConfig.Arn).toEqual({
        'Fn::GetAtt': [deadLetterQueueOf(platform, name), 'Arn'],
      });
    },
  );

  it.each(WORKFLOW_LANES)(
    '%s lane: its queue is encrypted, dead-letters after the contract receives and outlives a long outage',
    (lane) => {
      const service = (lane === 'essential' ? ESSENTIAL : ORDINARY)[0] as string;
      const queues = platform.findResources('AWS::SQS::Queue');
      const queue = queues[queueOf(platform, service)] as Resource;
      expect(queue.Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        VisibilityTimeout: WORKFLOW_QUEUE.visibilityTimeoutSeconds,
        MessageRetentionPeriod: 14 * 86_400,
        RedrivePolicy: { maxReceiveCount: WORKFLOW_QUEUE.maxReceiveCount },
      });
      expect(WORKFLOW_QUEUE.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
        6 * WORKFLOW_QUEUE.functionTimeoutSeconds,
      );
      expect((queues[deadLetterQueueOf(platform, service)] as Resource).Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 86_400,
      });
    },
  );

  it.each(WORKFLOW_LANES)(
    "%s lane: lets only its own services' rules send to its queue, each by its ARN, over TLS, and nobody else",
    (lane) => {
      const services = lane === 'essential' ? ESSENTIAL : ORDINARY;
      const queue = queueOf(platform, services[0] as string);
      const policies = Object.values(
        platform.findResources('AWS::SQS::QueuePolicy', { Properties: { Queues: [{ Ref: queue }] } }),
      ) as Resource[];
      expect(policies).toHaveLength(1);
      const policy = policies[0] as Resource;
      const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] })
        .Statement;
      const allows = statements.filter((statement) => statement.Effect === 'Allow');
      expect(allows).toEqual(
        services.map((service) =>
          expect.objectContaining({
            Principal: { Service: 'events.amazonaws.com' },
            Action: expect.arrayContaining(['sqs:SendMessage']),
            Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
            Condition: {
              ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleIdOf(platform, service), 'Arn'] } },
            },
          }),
        ),
      );
      expect(json(allows)).not.toMatch(/sqs:\*|ReceiveMessage|DeleteMessage/);
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    },
  );

  it.each(WORKFLOW_LANES)(
    '%s lane: the function consumes its queue in batches of 10, capped by the mapping, reporting failed events alone',
    (lane) => {
      const [fn] = laneFunction(platform, lane);
      const mappings = Object.values(
        platform.findResources('AWS::Lambda::EventSourceMapping', {
          Properties: { FunctionName: { Ref: fn } },
        }),
      ) as Resource[];
      expect(mappings).toHaveLength(1);
      expect(mappings[0]?.Properties).toMatchObject({
        BatchSize: WORKFLOW_QUEUE.batchSize,
        MaximumBatchingWindowInSeconds: WORKFLOW_QUEUE.maxBatchingWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 2 },
      });
      expect(WORKFLOW_QUEUE.batchSize).toBe(10);
    },
  );

  it('caps every lane at config workflowMaxConcurrency, and refuses a cap SQS does not allow', () => {
    const raised = synthesizePlatform({ services: 'flood,waste', workflowMaxConcurrency: '5' }).platform;
    for (const name of ['flood', 'waste']) {
      expect(mappingOf(raised, name).Properties.ScalingConfig).toEqual({ MaximumConcurrency: 5 });
    }
    expect(() => synthesizePlatform({ services: 'flood', workflowMaxConcurrency: '1' })).toThrow(
      "Invalid config 'workflowMaxConcurrency': got '1'; allowed: an integer from 2 to 1000",
    );
  });

  it.each(WORKFLOW_LANES)(
    '%s lane: the function may consume its own queue only, and send to its dead-letter queue only',
    (lane) => {
      const [fn] = laneFunction(platform, lane);
      const service = (lane === 'essential' ? ESSENTIAL : ORDINARY)[0] as string;
      const statements = statementsOf(platform, roleOf(platform, fn)).filter((s) =>
        json(s.Action).includes('sqs:'),
      );
      const queue = queueOf(platform, service);
      const dlq = deadLetterQueueOf(platform, service);
      const consume = statements.filter((s) => actionsOf(s).includes('sqs:ReceiveMessage'));
      expect(consume.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [queue, 'Arn'] }]);
      for (const statement of statements) {
        expect([{ 'Fn::GetAtt': [queue, 'Arn'] }, { 'Fn::GetAtt': [dlq, 'Arn'] }]).toContainEqual(
          statement.Resource,
        );
      }
    },
  );

  it('alarms once per lane on its dead letters and once on its backlog, to the platform alarm topic', () => {
    const alarmsOn = (metric: string, queue: string) =>
      Object.values(
        platform.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: metric } }),
      ).filter((alarm) => json(alarm.Properties.Dimensions).includes(`"${queue}"`));
    const topic = Object.keys(
      platform.findResources('AWS::SNS::Topic', {
        Properties: { DisplayName: 'Civic IoT platform alarms' },
      }),
    )[0];
    for (const service of ['flood', 'parking']) {
      const deadLetters = alarmsOn(
        'ApproximateNumberOfMessagesVisible',
        deadLetterQueueOf(platform, service),
      );
      expect(deadLetters).toHaveLength(1);
      expect(deadLetters[0]?.Properties).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: topic }],
      });
      const backlog = alarmsOn('ApproximateAgeOfOldestMessage', queueOf(platform, service));
      expect(backlog).toHaveLength(1);
      expect(backlog[0]?.Properties).toMatchObject({
        Threshold: 15 * 60,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmActions: [{ Ref: topic }],
      });
    }
    const workflowAlarms = Object.keys(platform.findResources('AWS::CloudWatch::Alarm')).filter((id) =>
      id.startsWith('Services'),
    );
    expect(workflowAlarms).toHaveLength(2 * WORKFLOW_LANES.length);
  });

  it('lets the bus invoke no function: events reach the workflows only through their queues', () => {
    expect(
      platform.findResources('AWS::Lambda::Permission', {
        Properties: { Principal: 'events.amazonaws.com' },
      }),
    ).toEqual({});
  });
});

describe('workflow schedules: one per lane', () => {
  it('exists for each lane hosting a blueprint with an onSchedule, and runs every hosted one', () => {
    const scheduled = BLUEPRINTS.filter((b) => b.workflow.onSchedule).map((b) => b.name);
    expect(scheduled).toEqual(expect.arrayContaining(['waste', 'flood']));
    const schedules = Object.values(platform.findResources('AWS::Scheduler::Schedule'));
    expect(schedules).toHaveLength(WORKFLOW_LANES.length);
  });

  it.each(WORKFLOW_LANES)('%s lane: runs every 5 minutes with the input {"kind":"schedule"}', (lane) => {
    const [fn] = laneFunction(platform, lane);
    platform.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [fn, 'Arn'] }, Input: '{"kind":"schedule"}' }),
    });
  });

  it.each(WORKFLOW_LANES)(
    "%s lane: a scheduled run that keeps failing goes to the lane's dead-letter queue (Lambda's own retries)",
    (lane) => {
      const [fn] = laneFunction(platform, lane);
      const service = (lane === 'essential' ? ESSENTIAL : ORDINARY)[0] as string;
      platform.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fn },
        MaximumRetryAttempts: 2,
        // A run older than the schedule's period is superseded by the next one.
        MaximumEventAgeInSeconds: 300,
        DestinationConfig: {
          OnFailure: { Destination: { 'Fn::GetAtt': [deadLetterQueueOf(platform, service), 'Arn'] } },
        },
      });
    },
  );

  it('is left out for a lane whose blueprints have no scheduled work: nothing invokes it asynchronously', () => {
    const unscheduled = BLUEPRINTS.filter((b) => !b.workflow.onSchedule).map((b) => b.name);
    expect(unscheduled).toContain('parking');
    const parking = synthesizePlatform({ services: 'parking' }).platform;
    parking.resourceCountIs('AWS::Scheduler::Schedule', 0);
    parking.resourceCountIs('AWS::Lambda::EventInvokeConfig', 0);
    expect(workflowFunctions(parking)).toHaveLength(1);
  });
});

describe('choosing services with config', () => {
  it('deploys only the essential lane, with flood alone, with -c services=flood', () => {
    const t = floodOnly.platform;
    expect(rules(t)).toHaveLength(1);
    expect(ruleOf(t, 'flood').Properties.EventPattern).toEqual(
      servicePattern(blueprintNamed('flood').eventTypes),
    );
    const workflows = workflowFunctions(t);
    expect(workflows).toHaveLength(1);
    expect(variables((workflows[0] as [string, Resource])[1])[ENV.serviceNames]).toBe('flood');
    expect(queueOf(t, 'flood')).toMatch(/^ServicesEssentialLane/);
    // The essential lane's queue and dead-letter queue, its schedule and two alarms; nothing of the ordinary lane.
    expect(workflowQueues(t)).toHaveLength(2);
    t.resourceCountIs('AWS::Scheduler::Schedule', 1);
    expect(json(t.toJSON().Resources)).not.toMatch(/ServicesOrdinaryLane/);
    expect(
      Object.keys(t.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('Services')),
    ).toHaveLength(2);
    for (const [, fn] of enrichmentFunctions(t)) expect(variables(fn)[ENV.enabledServices]).toBe('flood');
  });

  it('deploys no bus, rule or workflow with an empty list, and enrichment publishes nothing', () => {
    const t = none.platform;
    t.resourceCountIs('AWS::Events::EventBus', 0);
    t.resourceCountIs('AWS::Events::Rule', 0);
    t.resourceCountIs('AWS::Scheduler::Schedule', 0);
    for (const [id, fn] of enrichmentFunctions(t)) {
      expect(variables(fn)[ENV.eventBusName]).toBeUndefined();
      expect(variables(fn)[ENV.enabledServices]).toBeUndefined();
      expect(json(statementsOf(t, roleOf(t, id)))).not.toMatch(/events:PutEvents|ServiceRecordsStateTable/);
    }
    const [, api] = Object.entries(
      t.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('city REST API') },
      }),
    )[0] as [string, Resource];
    expect(variables(api)[ENV.enabledServices]).toBeUndefined();
    // The records stay: switching services off and on again loses no job or alert.
    none.data.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'jobId', KeyType: 'HASH' }],
    });
  });

  it('fails synth on an unknown service, naming it and the known ones', () => {
    expect(() => synthesizePlatform({ services: 'flood,lamps' })).toThrow(
      new RegExp(`Invalid config 'services'.*unknown service 'lamps'.*${BLUEPRINT_NAMES.join(', ')}`),
    );
  });
});

describe('enrichment and the bus', () => {
  it('tells every lane the bus, the enabled services and their settings', () => {
    const lanes = enrichmentFunctions(platform);
    expect(lanes).toHaveLength(2);
    for (const [, fn] of lanes) {
      const env = variables(fn);
      expect(env[ENV.eventBusName]).toEqual({ Ref: busId(platform) });
      expect(env[ENV.enabledServices]).toBe(BLUEPRINT_NAMES.join(','));
      expect(JSON.parse(env[ENV.serviceSettings] as string)).toEqual({
        waste: { depotLat: 51.45, depotLon: -0.97 },
      });
      expect(env[ENV.tables['service-state']]).toBeDefined();
    }
  });

  it('may put events on the services bus only: one statement, one action, one ARN', () => {
    for (const [id] of enrichmentFunctions(platform)) {
      const events = statementsOf(platform, roleOf(platform, id)).filter((s) =>
        json(s.Action).includes('events:'),
      );
      expect(events).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'events:PutEvents',
          Resource: { 'Fn::GetAtt': [busId(platform), 'Arn'] },
        }),
      ]);
    }
  });

  it('reads and writes detector state and reads the telemetry history, on those tables only', () => {
    for (const [id] of enrichmentFunctions(platform)) {
      const statements = statementsOf(platform, roleOf(platform, id));
      const state = statements.filter((s) => json(s.Resource).includes('ServiceRecordsStateTable'));
      expect(actionsOf(state[0] as Statement)).toEqual(
        expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem']),
      );
      expect(json(statements)).not.toMatch(/ServiceRecords(Jobs|Alerts|Sites)Table/);
      const series = statements.filter((s) => json(s.Resource).includes('TelemetryStoreSeriesTable'));
      expect(series.flatMap(actionsOf)).toEqual(
        expect.arrayContaining(['dynamodb:Query', 'dynamodb:PutItem']),
      );
    }
  });

  it("has no '*' action and no '*' resource in any platform policy", () => {
    for (const policy of Object.values(platform.findResources('AWS::IAM::Policy'))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of actionsOf(statement)) expect(action).not.toMatch(/\*/);
        expect(statement.Resource).not.toBe('*');
      }
    }
  });
});

describe('a workflow lane function', () => {
  it.each(WORKFLOW_LANES)(
    '%s lane: knows the services it hosts, their topics, their settings and the tables it uses',
    (lane) => {
      const [, fn] = laneFunction(platform, lane);
      const services = lane === 'essential' ? ESSENTIAL : ORDINARY;
      const env = variables(fn);
      expect(env[ENV.serviceNames]).toBe(services.join(','));
      expect(topicArnsOf(fn)).toEqual(
        Object.fromEntries(services.map((service) => [service, `ref:${topicOf(service)}`])),
      );
      expect(JSON.parse(env[ENV.serviceSettings] as string)).toEqual({
        waste: { depotLat: 51.45, depotLon: -0.97 },
      });
      for (const table of ['devices', 'latest-state', 'jobs', 'alerts', 'service-sites'] as const) {
        expect(env[ENV.tables[table]], table).toBeDefined();
      }
      expect(env[ENV.tables['service-state']]).toBeUndefined();
    },
  );

  it('runs the service-workflow handler on nodejs22.x arm64 with its own log group', () => {
    const [, fn] = laneFunction(platform, 'essential');
    expect(fn.Properties).toMatchObject({
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 30,
    });
    expect(json(fn.Properties.LoggingConfig)).toMatch(
      /"LogGroup":\{"Ref":"ServicesEssentialLaneWorkflowLogs/,
    );
    expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('reserves concurrency when config asks for it', () => {
    const reserved = synthesizePlatform({ services: 'flood', workflowReservedConcurrency: '1' }).platform;
    const [, fn] = functionOf(reserved, 'flood');
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it.each(WORKFLOW_LANES)("%s lane: may publish to its own services' topics only", (lane) => {
    const [fn] = laneFunction(platform, lane);
    const services = lane === 'essential' ? ESSENTIAL : ORDINARY;
    const publish = statementsOf(platform, roleOf(platform, fn)).filter((s) =>
      json(s.Action).includes('sns:'),
    );
    expect(publish.flatMap(actionsOf)).toEqual(['sns:Publish']);
    const refs = publish.flatMap((s) => [s.Resource].flat()).map((resource) => json(resource));
    expect(refs.sort()).toEqual(services.map((service) => json({ Ref: topicOf(service) })).sort());
  });

  it('reads and writes jobs, alerts and site views, queries their indexes by name, and only reads the registry', () => {
    const [fn] = laneFunction(platform, 'ordinary');
    const statements = statementsOf(platform, roleOf(platform, fn));
    const on = (table: string) =>
      statements.filter((s) => json(s.Resource).includes(table)).flatMap(actionsOf);
    for (const table of [
      'ServiceRecordsJobsTable',
      'ServiceRecordsAlertsTable',
      'ServiceRecordsSitesTable',
    ]) {
      expect(on(table), table).toEqual(
        expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']),
      );
    }
    for (const table of ['DeviceRegistryDevicesTable', 'DeviceRegistryLatestStateTable']) {
      expect(on(table), table).toEqual(
        expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Scan']),
      );
      expect(on(table), table).not.toEqual(expect.arrayContaining(['dynamodb:PutItem']));
    }
    const indexes = statements.find((s) => json(s.Resource).includes('/index/'));
    expect(json(indexes?.Resource)).toMatch(/\/index\/byDevice/);
    expect(json(indexes?.Resource)).toMatch(/\/index\/byIncident/);
    expect(json(indexes?.Resource)).not.toMatch(/\/index\/\*/);
    expect(json(statements)).not.toMatch(/events:|ServiceRecordsStateTable|TelemetryStore/);
  });
});

/** The logical id of a service's topic: the SNS topic displayed with its title. */
function topicOf(service: string): string {
  const found = Object.keys(
    platform.findResources('AWS::SNS::Topic', {
      Properties: { DisplayName: `Civic IoT: ${blueprintNamed(service).title}`.slice(0, 100) },
    }),
  );
  expect(found, service).toHaveLength(1);
  return found[0] as string;
}

describe('a service topic', () => {
  it('exists per service, encrypted with the AWS managed SNS key and TLS-only', () => {
    for (const name of BLUEPRINT_NAMES) {
      const topic = platform.findResources('AWS::SNS::Topic')[topicOf(name)] as Resource;
      expect(json(topic.Properties.KmsMasterKeyId)).toContain('alias/aws/sns');
      platform.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: topicOf(name) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('subscribes the service list from serviceSubscribers, and alertEmails where a service has none', () => {
    const subscriptions = (service: string) =>
      Object.values(
        platform.findResources('AWS::SNS::Subscription', {
          Properties: { TopicArn: { Ref: topicOf(service) } },
        }),
      ).map((s) => s.Properties.Endpoint);
    expect(subscriptions('flood').sort()).toEqual(['duty@council.gov.uk', 'rivers@council.gov.uk']);
    expect(subscriptions('waste')).toEqual(['ops@council.gov.uk']);
  });

  it.each(BLUEPRINT_NAMES)('%s: its topic carries its service name as a tag', (name) => {
    const topic = platform.findResources('AWS::SNS::Topic')[topicOf(name)] as Resource;
    expect(topic.Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'civic:service', Value: name }]));
  });
});

describe('essential services', () => {
  it.each(WORKFLOW_LANES)('the %s lane function carries its lane and essential flag as tags', (lane) => {
    const [, fn] = laneFunction(platform, lane);
    expect(fn.Properties.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'civic:essential', Value: String(lane === 'essential') },
        { Key: 'civic:workflow-lane', Value: lane },
      ]),
    );
  });

  it('are named in a stack output', () => {
    const essential = BLUEPRINTS.filter((b) => b.essential).map((b) => b.name);
    expect(essential).toEqual(expect.arrayContaining(['air-quality', 'flood']));
    platform.hasOutput('EssentialServices', { Value: essential.join(',') });
  });

  it("are out of the cost guard's reach: its IAM names no events action, bus or rule", () => {
    const guardPolicies = json(all.costGuard.findResources('AWS::IAM::Policy'));
    expect(guardPolicies).not.toMatch(/"events:/);
    expect(guardPolicies).not.toMatch(/Services\w*(Bus|Rule)/);
    // Nor can the city API's restore reach them.
    const api = Object.keys(
      platform.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('city REST API') },
      }),
    )[0] as string;
    expect(json(statementsOf(platform, roleOf(platform, api)))).not.toMatch(/"events:/);
  });

  it("are out of the cost guard's switches: it controls only the ordinary ingest lane", () => {
    const [, meter] = Object.entries(
      all.costGuard.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('^Every 5 minutes') },
      }),
    )[0] as [string, Resource];
    expect(json(variables(meter)[ENV.laneControls])).not.toMatch(/Services|events/);
  });
});

describe('the city API and the service records', () => {
  const api = () =>
    Object.entries(
      platform.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('city REST API') },
      }),
    )[0] as [string, Resource];

  it('knows the enabled services and the jobs, alerts and site tables', () => {
    const env = variables(api()[1]);
    expect(env[ENV.enabledServices]).toBe(BLUEPRINT_NAMES.join(','));
    for (const table of ['jobs', 'alerts', 'service-sites'] as const)
      expect(env[ENV.tables[table]]).toBeDefined();
  });

  it('reads the three tables, changes jobs and alerts only by put or update, and deletes nothing', () => {
    const statements = statementsOf(platform, roleOf(platform, api()[0]));
    const on = (table: string) =>
      statements.filter((s) => json(s.Resource).includes(table)).flatMap(actionsOf);
    for (const table of ['ServiceRecordsJobsTable', 'ServiceRecordsAlertsTable']) {
      expect(on(table), table).toEqual(
        expect.arrayContaining(['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem']),
      );
    }
    expect(on('ServiceRecordsSitesTable')).toEqual(
      expect.arrayContaining(['dynamodb:Query', 'dynamodb:GetItem']),
    );
    expect(on('ServiceRecordsSitesTable')).not.toEqual(expect.arrayContaining(['dynamodb:PutItem']));
    const services = statements.filter((s) => json(s.Resource).includes('ServiceRecords'));
    expect(json(services)).not.toMatch(/DeleteItem|BatchWriteItem|ServiceRecordsStateTable/);
  });

  it('serves no open-data route for a service that is not enabled', () => {
    const paths = Object.values(floodOnly.platform.findResources('AWS::ApiGateway::Resource')).map(
      (r) => r.Properties.PathPart,
    );
    expect(paths).toEqual(expect.arrayContaining(['flood', 'gauges']));
    expect(paths).not.toContain('parking');
  });
});

describe('cost statement: the workflow lanes are bounded by their mappings', () => {
  const statementOf = (synthesized: SynthesizedPlatform) =>
    writeCostStatement(synthesized.built.app, synthesized.built.config).statement;
  const workflowLines = (statement: CostStatement) =>
    statement.worstCaseLines.filter((line) => /Services\w+WorkflowFunction/.test(line.resource));

  it('prices each lane at its maximum concurrency and its schedule, not at the events the bus can carry', () => {
    const statement = statementOf(all);
    expect(statement.uncapped).toEqual([]);
    const lines = workflowLines(statement);
    expect(lines).toHaveLength(WORKFLOW_LANES.length);
    for (const line of lines) {
      expect(line.cap).toBe('event source mapping maximum concurrency 2 and schedule rate(5 minutes)');
      // Two instances busy all month at 256 MB, plus 8,640 scheduled runs to their timeout: under $30 each.
      expect(line.worstMonthlyUsd).toBeLessThan(30);
    }
  });

  it('keeps the worst case at the defaults under $5,000 (it was about $30,000 when the bus invoked them)', () => {
    const statement = statementOf(all);
    expect(statement.worstCaseUsd).toBeLessThan(5_000);
    // The bus line is the events and their SQS requests only: no workflow run is priced per event any more.
    const bus = statement.worstCaseLines.find((line) => line.type === 'AWS::Events::EventBus');
    expect(bus?.cap).toMatch(/received at most its maxReceiveCount times$/);
    expect(bus?.worstMonthlyUsd).toBeLessThan(1_100);
  });

  it('follows config workflowMaxConcurrency: twice the cap, about twice the bound', () => {
    const [two] = workflowLines(statementOf(floodOnly));
    const [four] = workflowLines(
      statementOf(synthesizePlatform({ services: 'flood', workflowMaxConcurrency: '4' })),
    );
    expect(four?.cap).toMatch(/^event source mapping maximum concurrency 4 and schedule/);
    // The schedule's runs are the same in both; the capped part doubles.
    const schedule = 2 * (two?.worstMonthlyUsd ?? 0) - (four?.worstMonthlyUsd ?? 0);
    expect(schedule).toBeGreaterThan(0);
    expect(schedule).toBeLessThan(1);
  });
});

describe('cost statement bound on the bus', () => {
  it('is the state table write cap times the most event types of an enabled service', () => {
    const most = Math.max(...BLUEPRINTS.map((b) => b.eventTypes.length));
    expect(busEventsPerSecond(all.built.config)).toBe(
      all.built.config.serviceStateMaxWriteRequestUnits * most,
    );
    expect(busEventsPerSecond(none.built.config)).toBeUndefined();
  });
});

describe('with the Timestream store', () => {
  it('lets enrichment read history from Timestream, not only write', () => {
    const t = synthesizePlatform({ ...STORE_CONFIGURATIONS.timestream, services: 'air-quality' }).platform;
    for (const [id] of enrichmentFunctions(t)) {
      const actions = statementsOf(t, roleOf(t, id)).flatMap(actionsOf);
      expect(actions).toEqual(expect.arrayContaining(['timestream:WriteRecords', 'timestream:Select']));
    }
  });
});
