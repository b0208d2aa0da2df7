import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { INGEST_SETTINGS } from '../../lambdas/contracts/ingest-settings.js';
import { THING_NAME_VARIABLE } from '../../lambdas/contracts/iot-policy.js';
import { LANES, ruleSql } from '../../lambdas/contracts/topics.js';
import { STORE_CONFIGURATIONS, synthesizePlatform } from './platform-app.js';

const stores: Record<keyof typeof STORE_CONFIGURATIONS, Template> = {} as never;
let reserved: Template;

beforeAll(() => {
  stores.dynamodb = synthesizePlatform(STORE_CONFIGURATIONS.dynamodb).platform;
  stores.timestream = synthesizePlatform(STORE_CONFIGURATIONS.timestream).platform;
  reserved = synthesizePlatform({
    enrichmentReservedConcurrency: '3',
    enrichmentMaxConcurrency: '7',
  }).platform;
});

const STORE_NAMES = Object.keys(STORE_CONFIGURATIONS) as (keyof typeof STORE_CONFIGURATIONS)[];

/** Logical id of the one resource of `type` whose properties match `props`. */
function logicalIdOf(template: Template, type: string, props: Record<string, unknown>): string {
  const ids = Object.keys(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

describe.each(STORE_NAMES)('TelemetryIngestion (%s store)', (store) => {
  it.each(LANES)('rule %s uses the contract SQL and sends to its own queue', (lane) => {
    const t = stores[store];
    t.hasResourceProperties('AWS::IoT::TopicRule', {
      RuleName: lane,
      TopicRulePayload: Match.objectLike({
        Sql: ruleSql(),
        AwsIotSqlVersion: '2016-03-23',
        Actions: [
          {
            Sqs: {
              QueueUrl: { Ref: Match.stringLikeRegexp(`${lane.replace('_', '')}Queue`) },
              RoleArn: Match.anyValue(),
              UseBase64: false,
            },
          },
        ],
      }),
    });
  });

  it.each(LANES)('rule %s archives delivery errors to the error bucket under its lane prefix', (lane) => {
    const t = stores[store];
    const bucket = logicalIdOf(t, 'AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90 })] },
    });
    t.hasResourceProperties('AWS::IoT::TopicRule', {
      RuleName: lane,
      TopicRulePayload: Match.objectLike({
        ErrorAction: {
          S3: {
            BucketName: { Ref: bucket },
            Key: Match.stringLikeRegexp(`^${lane}/`),
            RoleArn: Match.anyValue(),
          },
        },
      }),
    });
  });

  it('every topic rule has an errorAction', () => {
    const rules = Object.values(stores[store].findResources('AWS::IoT::TopicRule'));
    expect(rules).toHaveLength(LANES.length);
    for (const rule of rules) expect(rule.Properties.TopicRulePayload.ErrorAction).toBeDefined();
  });

  it('the rule error role may only put objects under its lane prefix', () => {
    stores[store].hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('civicingestRuleErrorRole'),
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, '/civic_ingest/*']] },
          },
        ],
      },
    });
  });

  it('lane queues redrive to a DLQ after maxReceiveCount, are SSE-encrypted and use the contract timeouts', () => {
    const t = stores[store];
    const queues = t.findResources('AWS::SQS::Queue', { Properties: { RedrivePolicy: Match.anyValue() } });
    expect(Object.keys(queues)).toHaveLength(LANES.length);
    for (const queue of Object.values(queues)) {
      expect(queue.Properties).toMatchObject({
        RedrivePolicy: { maxReceiveCount: INGEST_SETTINGS.maxReceiveCount },
        SqsManagedSseEnabled: true,
        VisibilityTimeout: INGEST_SETTINGS.visibilityTimeoutSeconds,
        MessageRetentionPeriod: INGEST_SETTINGS.queueRetentionDays * 86_400,
      });
    }
  });

  it('every queue refuses non-TLS access', () => {
    const t = stores[store];
    const queues = Object.keys(t.findResources('AWS::SQS::Queue'));
    expect(queues).toHaveLength(2 * LANES.length);
    for (const queue of queues) {
      t.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('each lane has its own event source mapping with partial batch failures and a concurrency cap', () => {
    const mappings = stores[store].findResources('AWS::Lambda::EventSourceMapping');
    expect(Object.keys(mappings)).toHaveLength(LANES.length);
    const functions = new Set(Object.values(mappings).map((m) => JSON.stringify(m.Properties.FunctionName)));
    expect(functions.size).toBe(LANES.length);
    for (const mapping of Object.values(mappings)) {
      expect(mapping.Properties).toMatchObject({
        BatchSize: INGEST_SETTINGS.batchSize,
        MaximumBatchingWindowInSeconds: INGEST_SETTINGS.maxBatchingWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      });
    }
  });

  it('every function is nodejs22.x on arm64', () => {
    const functions = Object.values(stores[store].findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(LANES.length + 1);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
    }
  });

  it('no function reserves concurrency unless config asks for it', () => {
    for (const fn of Object.values(stores[store].findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    }
  });

  it('enrichment functions use the contract memory and timeout and know the telemetry store', () => {
    const t = stores[store];
    const enrichment = t.findResources('AWS::Lambda::Function', {
      Properties: {
        MemorySize: INGEST_SETTINGS.enrichmentMemoryMb,
        Timeout: INGEST_SETTINGS.enrichmentTimeoutSeconds,
      },
    });
    expect(Object.keys(enrichment)).toHaveLength(LANES.length);
    for (const fn of Object.values(enrichment)) {
      expect(fn.Properties.Environment.Variables.TELEMETRY_STORE).toBe(store);
      expect(fn.Properties.Environment.Variables.RETENTION_DAYS).toBe('400');
    }
  });

  it('alarms on DLQ depth, function errors and queue age, all notifying the alert topic', () => {
    const t = stores[store];
    const topic = logicalIdOf(t, 'AWS::SNS::Topic', {});
    for (const [metric, threshold] of [
      ['ApproximateNumberOfMessagesVisible', 0],
      ['Errors', 0],
      ['ApproximateAgeOfOldestMessage', 900],
    ] as const) {
      const alarms = t.findResources('AWS::CloudWatch::Alarm', {
        Properties: { MetricName: metric, Threshold: threshold, ComparisonOperator: 'GreaterThanThreshold' },
      });
      expect(Object.keys(alarms), metric).toHaveLength(LANES.length);
      for (const alarm of Object.values(alarms))
        expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
    }
  });
});

describe.each(STORE_NAMES)('DeviceAccessPolicy (%s store)', (store) => {
  const policyDocument = () => {
    const policies = Object.values(stores[store].findResources('AWS::IoT::Policy'));
    expect(policies).toHaveLength(1);
    return policies[0]?.Properties.PolicyDocument as { Statement: Record<string, unknown>[] };
  };
  const flatten = (value: unknown): string => JSON.stringify(value);

  it('allows connect only as the own thing name, and only for certificates attached to a thing', () => {
    const connect = policyDocument().Statement.find((s) => s.Action === 'iot:Connect');
    expect(flatten(connect?.Resource)).toContain(`:client/${THING_NAME_VARIABLE}`);
    expect(connect?.Condition).toEqual({ Bool: { 'iot:Connection.Thing.IsAttached': 'true' } });
  });

  it('allows publish only to Basic Ingest telemetry topics of the own thing', () => {
    const publish = policyDocument().Statement.find((s) => s.Action === 'iot:Publish');
    const resources = publish?.Resource as unknown[];
    expect(resources).toHaveLength(5);
    for (const resource of resources) {
      expect(flatten(resource)).toMatch(
        /:topic\/\$aws\/rules\/civic_(ingest|essential)\/civic\/[a-z-]+\/\$\{iot:Connection\.Thing\.ThingName\}\/telemetry"/,
      );
    }
  });

  it('puts essential device types on the essential lane', () => {
    const topics = flatten(policyDocument());
    expect(topics).toContain('$aws/rules/civic_essential/civic/water-level/');
    expect(topics).toContain('$aws/rules/civic_ingest/civic/parking-spot/');
  });

  it('has only Allow statements for iot:Connect and iot:Publish: no subscribe, receive, wildcard action or resource', () => {
    const statements = policyDocument().Statement;
    expect(statements.map((s) => s.Action)).toEqual(['iot:Connect', 'iot:Publish']);
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      const resources = [statement.Resource].flat().map(flatten);
      for (const resource of resources) {
        expect(resource).not.toBe('"*"');
        expect(resource).not.toMatch(/:(topic|client|topicfilter)\/\*/);
        expect(resource.replaceAll(THING_NAME_VARIABLE, '')).not.toContain('*');
      }
    }
    expect(flatten(statements)).not.toMatch(/iot:(Subscribe|Receive|\*)/);
  });
});

describe.each(STORE_NAMES)('CityApi (%s store)', (store) => {
  const methods = () => Object.values(stores[store].findResources('AWS::ApiGateway::Method'));

  it('has exactly six GET routes and POST /cost/restore, nothing else', () => {
    expect(
      methods()
        .map((m) => m.Properties.HttpMethod)
        .sort(),
    ).toEqual(['GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'POST']);
  });

  it('requires the Cognito authorizer on every method except GET /health', () => {
    const t = stores[store];
    const authorizer = logicalIdOf(t, 'AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS' });
    const health = logicalIdOf(t, 'AWS::ApiGateway::Resource', { PathPart: 'health' });
    let open = 0;
    for (const method of methods()) {
      if (method.Properties.ResourceId.Ref === health) {
        expect(method.Properties.AuthorizationType).toBe('NONE');
        open += 1;
        continue;
      }
      expect(method.Properties.AuthorizationType).toBe('COGNITO_USER_POOLS');
      expect(method.Properties.AuthorizerId).toEqual({ Ref: authorizer });
    }
    expect(open).toBe(1);
  });

  it('validates the required device id path parameter', () => {
    const t = stores[store];
    const validator = logicalIdOf(t, 'AWS::ApiGateway::RequestValidator', {
      ValidateRequestParameters: true,
    });
    const withId = methods().filter(
      (m) => m.Properties.RequestParameters?.['method.request.path.id'] === true,
    );
    expect(withId).toHaveLength(3);
    for (const method of withId) expect(method.Properties.RequestValidatorId).toEqual({ Ref: validator });
  });

  it('routes every method to one query function through a Lambda proxy integration', () => {
    const targets = new Set(
      methods().map((m) => {
        expect(m.Properties.Integration.Type).toBe('AWS_PROXY');
        return JSON.stringify(m.Properties.Integration.Uri);
      }),
    );
    expect(targets.size).toBe(1);
  });

  it('throttles the stage from config and writes access logs', () => {
    stores[store].hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 })],
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
    });
  });

  it('staff pool has no self sign-up, requires MFA and a strong password', () => {
    stores[store].hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      Policies: {
        PasswordPolicy: Match.objectLike({
          MinimumLength: 14,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        }),
      },
    });
  });

  it('outputs the API URL, user pool, device policy name, queue URLs and DLQ names', () => {
    const outputs = Object.keys(stores[store].findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining([
        'ApiUrl',
        'UserPoolId',
        'DevicePolicyName',
        ...LANES.flatMap((lane) => [
          `${lane.replace('_', '')}QueueUrl`,
          `${lane.replace('_', '')}DeadLetterQueueName`,
        ]),
      ]),
    );
  });
});

describe('configured concurrency', () => {
  it('reserves concurrency on the enrichment functions only when config sets it', () => {
    const reservedFunctions = reserved.findResources('AWS::Lambda::Function', {
      Properties: { ReservedConcurrentExecutions: 3 },
    });
    expect(Object.keys(reservedFunctions)).toHaveLength(LANES.length);
  });

  it('uses the configured event source mapping maximum concurrency', () => {
    reserved.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 7 },
    });
  });
});

describe('configuration failures stop the app before any stack exists', () => {
  it('refuses Timestream in a region without it', () => {
    expect(() => synthesizePlatform({ telemetryStore: 'timestream', region: 'eu-west-2' })).toThrow(
      /Invalid config 'telemetryStore'.*eu-west-2.*us-east-1/s,
    );
  });

  it('refuses an unknown telemetry store', () => {
    expect(() => synthesizePlatform({ telemetryStore: 'influx' })).toThrow(
      "Invalid config 'telemetryStore': got 'influx'; allowed: dynamodb, timestream",
    );
  });
});
