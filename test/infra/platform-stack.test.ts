import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { routeKey } from '../../lambdas/contracts/api-routes.js';
import { WORKFLOW_LANES } from '../../lambdas/contracts/domain-event-bus.js';
import { INGEST_SETTINGS } from '../../lambdas/contracts/ingest-settings.js';
import { THING_NAME_VARIABLE } from '../../lambdas/contracts/iot-policy.js';
import { LANES } from '../../lambdas/contracts/topics.js';
import { routeSpecsFor } from '../../lambdas/handlers/city-api.js';
import { BLUEPRINTS } from '../../services/catalogue.js';
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

type Found = ReturnType<Template['findResources']>;

/** The ingest lanes' resources among `found` (the service workflows have queues and mappings too). */
function laneResources(found: Found): Found[string][] {
  return Object.entries(found)
    .filter(([id]) => id.startsWith('TelemetryIngestion'))
    .map(([, resource]) => resource);
}

/** The lanes' event source mappings: those whose function is a lane's enrichment. */
function laneMappings(template: Template): Found[string][] {
  return Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).filter((mapping) =>
    JSON.stringify(mapping.Properties.FunctionName).includes('"TelemetryIngestion'),
  );
}

/** The open-data routes the blueprints declare. */
const OPEN_DATA_ROUTES = BLUEPRINTS.flatMap((b) => (b.openData ? [`GET /${b.openData.path}`] : []));
/** Every route of the API with every blueprint enabled (cdk.json), from the route specs. */
const ROUTE_SPECS_ALL = routeSpecsFor(BLUEPRINTS);

/** Each API resource's full path by logical id, from the PathPart chain. */
function resourcePaths(template: Template): Map<string, string> {
  const resources = template.findResources('AWS::ApiGateway::Resource');
  const pathOf = (id: string): string => {
    const resource = resources[id];
    if (!resource) return '';
    const parent = resource.Properties.ParentId as { Ref?: string };
    return `${parent.Ref ? pathOf(parent.Ref) : ''}/${resource.Properties.PathPart}`;
  };
  return new Map(Object.keys(resources).map((id) => [id, pathOf(id)]));
}

/** Every API method as `METHOD /path`. */
function routes(template: Template): string[] {
  const paths = resourcePaths(template);
  return Object.values(template.findResources('AWS::ApiGateway::Method')).map(
    (m) => `${m.Properties.HttpMethod} ${paths.get(m.Properties.ResourceId.Ref) ?? '/'}`,
  );
}

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

  it.each(LANES)(
    'rule %s selects the base64 payload, type, id and client id from the telemetry topics',
    (lane) => {
      const rules = stores[store].findResources('AWS::IoT::TopicRule', { Properties: { RuleName: lane } });
      const sql = Object.values(rules)[0]?.Properties.TopicRulePayload.Sql as string;
      // Literal fragments, not ruleSql() itself: a wrong SQL in the contract must fail here too.
      expect(sql).toMatch(/^SELECT /);
      for (const fragment of [
        "encode(*, 'base64') AS payload",
        'topic(2) AS deviceType',
        'topic(3) AS deviceId',
        'clientid() AS clientId',
        'timestamp() AS receivedAt',
      ]) {
        expect(sql).toContain(fragment);
      }
      expect(sql).toMatch(/ FROM 'civic\/\+\/\+\/telemetry'$/);
    },
  );

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
    const queues = laneResources(
      t.findResources('AWS::SQS::Queue', { Properties: { RedrivePolicy: Match.anyValue() } }),
    );
    expect(queues).toHaveLength(LANES.length);
    for (const queue of queues) {
      expect(queue.Properties).toMatchObject({
        // Ten receives (30 minutes at the 180 s visibility timeout): a backlog throttled at the table caps drains
        // instead of dead-lettering; a poison message still reaches the DLQ.
        RedrivePolicy: { maxReceiveCount: 10 },
        SqsManagedSseEnabled: true,
        VisibilityTimeout: INGEST_SETTINGS.visibilityTimeoutSeconds,
        MessageRetentionPeriod: INGEST_SETTINGS.queueRetentionDays * 86_400,
      });
    }
  });

  it('every queue refuses non-TLS access', () => {
    const t = stores[store];
    const queues = Object.keys(t.findResources('AWS::SQS::Queue'));
    // Each ingest lane's queue and DLQ, and each workflow lane's (essential, ordinary).
    expect(queues).toHaveLength(2 * LANES.length + 2 * WORKFLOW_LANES.length);
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
    const mappings = laneMappings(stores[store]);
    expect(mappings).toHaveLength(LANES.length);
    const functions = new Set(mappings.map((m) => JSON.stringify(m.Properties.FunctionName)));
    expect(functions.size).toBe(LANES.length);
    for (const mapping of mappings) {
      expect(mapping.Properties).toMatchObject({
        BatchSize: INGEST_SETTINGS.batchSize,
        MaximumBatchingWindowInSeconds: INGEST_SETTINGS.maxBatchingWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        // Default: the SQS minimum, so two lanes take 4 of a new account's 10 concurrent executions.
        ScalingConfig: { MaximumConcurrency: 2 },
      });
    }
  });

  it('every function is nodejs22.x on arm64', () => {
    const functions = Object.values(stores[store].findResources('AWS::Lambda::Function'));
    // Enrichment per lane, the city API, a function per workflow lane, the fleet provisioning hook.
    expect(functions).toHaveLength(LANES.length + 1 + WORKFLOW_LANES.length + 1);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
    }
  });

  it('every function logs at the configured level (WARN by default) with Lambda platform lines filtered', () => {
    for (const fn of Object.values(stores[store].findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.LoggingConfig).toMatchObject({
        LogFormat: 'JSON',
        ApplicationLogLevel: 'WARN',
        SystemLogLevel: 'WARN',
      });
      expect(fn.Properties.Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe('WARN');
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
    const topic = logicalIdOf(t, 'AWS::SNS::Topic', { DisplayName: 'Civic IoT platform alarms' });
    for (const [metric, threshold, count] of [
      // Each ingest lane's DLQ and each workflow lane's.
      ['ApproximateNumberOfMessagesVisible', 0, LANES.length + WORKFLOW_LANES.length],
      ['Errors', 0, LANES.length],
      // Each ingest lane's queue and each workflow lane's.
      ['ApproximateAgeOfOldestMessage', 900, LANES.length + WORKFLOW_LANES.length],
    ] as const) {
      const alarms = t.findResources('AWS::CloudWatch::Alarm', {
        Properties: { MetricName: metric, Threshold: threshold, ComparisonOperator: 'GreaterThanThreshold' },
      });
      expect(Object.keys(alarms), metric).toHaveLength(count);
      for (const alarm of Object.values(alarms))
        expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
    }
  });
});

describe.each(STORE_NAMES)('DeviceAccessPolicy (%s store)', (store) => {
  /** The policy of the DeviceAccess construct with this id (the claim policy of fleet provisioning is another). */
  const documentOf = (id: 'Policy' | 'QuarantinePolicy') => {
    const policies = Object.entries(stores[store].findResources('AWS::IoT::Policy')).filter(([logicalId]) =>
      new RegExp(`^DeviceAccess${id}[0-9A-F]{8}$`).test(logicalId),
    );
    expect(policies).toHaveLength(1);
    return policies[0]?.[1].Properties.PolicyDocument as { Statement: Record<string, unknown>[] };
  };
  const policyDocument = () => documentOf('Policy');
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

  it('gives a quarantined device connect as its own thing and nothing else', () => {
    const statements = documentOf('QuarantinePolicy').Statement;
    expect(statements).toEqual([policyDocument().Statement.find((s) => s.Action === 'iot:Connect')]);
  });

  it('outputs both policy names for the device CLI', () => {
    const outputs = stores[store].findOutputs('*');
    expect(outputs.DevicePolicyName?.Value).toEqual({ Ref: expect.stringMatching(/^DeviceAccessPolicy/) });
    expect(outputs.QuarantinePolicyName?.Value).toEqual({
      Ref: expect.stringMatching(/^DeviceAccessQuarantinePolicy/),
    });
  });
});

describe.each(STORE_NAMES)('CityApi (%s store)', (store) => {
  const methods = () => Object.values(stores[store].findResources('AWS::ApiGateway::Method'));

  it('has exactly the routes the handler serves, nothing else', () => {
    expect(OPEN_DATA_ROUTES).toEqual(
      expect.arrayContaining(['GET /parking/sites', 'GET /air-quality/sites']),
    );
    // Generated from the specs (city-api-routes.test.ts checks each method's access decision).
    expect(routes(stores[store]).sort()).toEqual(ROUTE_SPECS_ALL.map(routeKey).sort());
    expect(routes(stores[store])).toEqual(expect.arrayContaining(['GET /health', ...OPEN_DATA_ROUTES]));
  });

  it('requires the Cognito authorizer on every method except the public and open-data ones', () => {
    const t = stores[store];
    const authorizer = logicalIdOf(t, 'AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS' });
    const open = ROUTE_SPECS_ALL.filter((spec) => spec.access.kind !== 'staff').map(routeKey);
    expect(open).toEqual(expect.arrayContaining(['GET /health', ...OPEN_DATA_ROUTES]));
    const paths = resourcePaths(t);
    for (const method of methods()) {
      const route = `${method.Properties.HttpMethod} ${paths.get(method.Properties.ResourceId.Ref)}`;
      if (open.includes(route)) {
        expect(method.Properties.AuthorizationType, route).toBe('NONE');
        continue;
      }
      expect(method.Properties.AuthorizationType, route).toBe('COGNITO_USER_POOLS');
      expect(method.Properties.AuthorizerId, route).toEqual({ Ref: authorizer });
    }
  });

  it('declares the job and alert list query parameters from the handler schemas', () => {
    const t = stores[store];
    const paths = resourcePaths(t);
    const query = (route: string) =>
      methods().find((m) => `${m.Properties.HttpMethod} ${paths.get(m.Properties.ResourceId.Ref)}` === route)
        ?.Properties.RequestParameters;
    expect(query('GET /jobs')).toEqual({
      'method.request.querystring.service': false,
      'method.request.querystring.status': false,
      'method.request.querystring.ward': false,
      'method.request.querystring.limit': false,
      'method.request.querystring.cursor': false,
    });
    expect(query('GET /alerts')).toEqual({
      'method.request.querystring.service': false,
      'method.request.querystring.status': false,
      'method.request.querystring.limit': false,
      'method.request.querystring.cursor': false,
    });
  });

  it('validates the required device id path parameter', () => {
    const t = stores[store];
    const validator = logicalIdOf(t, 'AWS::ApiGateway::RequestValidator', {
      ValidateRequestParameters: true,
    });
    const withId = methods().filter(
      (m) => m.Properties.RequestParameters?.['method.request.path.id'] === true,
    );
    // Every route with {id} in its path: the device routes, GET and PATCH /jobs/{id}, POST /alerts/{id}/ack.
    expect(withId).toHaveLength(ROUTE_SPECS_ALL.filter((spec) => spec.path.includes('{id}')).length);
    expect(withId.length).toBeGreaterThanOrEqual(6);
    for (const method of withId) expect(method.Properties.RequestValidatorId).toEqual({ Ref: validator });
  });

  it('declares exactly the telemetry query parameters the handler accepts', () => {
    const t = stores[store];
    const telemetry = logicalIdOf(t, 'AWS::ApiGateway::Resource', { PathPart: 'telemetry' });
    const method = methods().find((m) => m.Properties.ResourceId.Ref === telemetry);
    expect(method?.Properties.RequestParameters).toEqual({
      'method.request.path.id': true,
      'method.request.querystring.from': false,
      'method.request.querystring.to': false,
      'method.request.querystring.measure': false,
      'method.request.querystring.interval': false,
      'method.request.querystring.stat': false,
      'method.request.querystring.cursor': false,
      'method.request.querystring.limit': false,
    });
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

/** A gateway response body with API Gateway's message substituted, as a client would receive it. */
function renderGatewayBody(template: string): unknown {
  return JSON.parse(template.replaceAll('$context.error.messageString', '"message from API Gateway"'));
}

describe.each(STORE_NAMES)('CityApi gateway responses (%s store)', (store) => {
  const gatewayResponse = (type: string) => {
    const responses = Object.values(
      stores[store].findResources('AWS::ApiGateway::GatewayResponse', { Properties: { ResponseType: type } }),
    );
    expect(responses, type).toHaveLength(1);
    return responses[0]?.Properties as {
      StatusCode?: string;
      ResponseParameters: Record<string, string>;
      ResponseTemplates: Record<string, string>;
    };
  };

  it.each([
    // [response type, HTTP status set on it, problem type, title, body status, detail]
    ['UNAUTHORIZED', '401', 'unauthorized', 'Unauthorized', 401, 'message from API Gateway'],
    ['ACCESS_DENIED', '403', 'forbidden', 'Forbidden', 403, 'message from API Gateway'],
    [
      'THROTTLED',
      '429',
      'too-many-requests',
      'Too many requests',
      429,
      'the API request rate limit was reached; retry after a short wait',
    ],
    [
      'MISSING_AUTHENTICATION_TOKEN',
      '404',
      'not-found',
      'Not found',
      404,
      'no route matches this method and path',
    ],
    ['RESOURCE_NOT_FOUND', '404', 'not-found', 'Not found', 404, 'message from API Gateway'],
    ['REQUEST_TOO_LARGE', '413', 'payload-too-large', 'Payload too large', 413, 'message from API Gateway'],
    [
      'UNSUPPORTED_MEDIA_TYPE',
      '415',
      'unsupported-media-type',
      'Unsupported media type',
      415,
      'message from API Gateway',
    ],
    ['INTEGRATION_FAILURE', '504', 'gateway-timeout', 'Gateway timeout', 504, 'message from API Gateway'],
    ['INTEGRATION_TIMEOUT', '504', 'gateway-timeout', 'Gateway timeout', 504, 'message from API Gateway'],
    ['DEFAULT_4XX', undefined, 'invalid-request', 'Bad request', 400, 'message from API Gateway'],
    ['DEFAULT_5XX', undefined, 'internal-error', 'Internal error', 500, 'message from API Gateway'],
  ] as const)('%s answers %s with an RFC 9457 problem', (type, statusCode, slug, title, status, detail) => {
    const response = gatewayResponse(type);
    // DEFAULT_4XX/5XX must not set a status: it would replace the status of every type not customised.
    expect(response.StatusCode).toBe(statusCode);
    expect(Object.keys(response.ResponseTemplates)).toEqual(['application/json']);
    expect(renderGatewayBody(response.ResponseTemplates['application/json'] as string)).toEqual({
      type: `urn:civic-iot:problem:${slug}`,
      title,
      status,
      detail,
    });
  });

  it.each([
    'UNAUTHORIZED',
    'ACCESS_DENIED',
    'THROTTLED',
    'MISSING_AUTHENTICATION_TOKEN',
    'DEFAULT_4XX',
    'DEFAULT_5XX',
  ])('%s is application/problem+json and not cached (CORS headers only when configured)', (type) => {
    expect(gatewayResponse(type).ResponseParameters).toMatchObject({
      'gatewayresponse.header.Content-Type': "'application/problem+json'",
      'gatewayresponse.header.Cache-Control': "'no-store'",
    });
    expect(gatewayResponse(type).ResponseParameters).not.toHaveProperty(
      'gatewayresponse.header.Access-Control-Allow-Origin',
    );
  });

  it('asks for a bearer token on 401', () => {
    expect(gatewayResponse('UNAUTHORIZED').ResponseParameters).toMatchObject({
      'gatewayresponse.header.WWW-Authenticate': "'Bearer'",
    });
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
    const mappings = laneMappings(reserved);
    expect(mappings).toHaveLength(LANES.length);
    for (const mapping of mappings) {
      expect(mapping.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 7 });
    }
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
