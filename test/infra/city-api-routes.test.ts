import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RouteSpec, routeKey } from '../../lambdas/contracts/api-routes.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import { routeSpecsFor } from '../../lambdas/handlers/city-api.js';
import { INVALID_API_KEY_DETAIL } from '../../lambdas/handlers/http/problem-details.js';
import { writeCostStatement } from '../../lib/cost/cost-statement-writer.js';
import { blueprintsNamed } from '../../services/catalogue.js';
import { type SynthesizedPlatform, synthesizePlatform } from './platform-app.js';

/**
 * The city API as deployed is derived from the route specs: every method in the template matches exactly one spec
 * and carries that spec's access decision, and every spec has its method, so no route is left without a decision.
 */
const APP_ORIGIN = 'https://app.example.gov.uk';
const MAPS_ORIGIN = 'https://maps.example.gov.uk';

let plain: SynthesizedPlatform;
let withCors: SynthesizedPlatform;
let severalOrigins: SynthesizedPlatform;

beforeAll(() => {
  plain = synthesizePlatform();
  // With cdk-nag: the preflights are methods without authorisation, each acknowledged with its reason.
  // The council area as a cdk.json array here; cleared (`-c councilArea=`) with several origins.
  withCors = synthesizePlatform(
    { corsAllowOrigins: APP_ORIGIN, apiReservedConcurrency: '4', councilArea: [-1.2, 51.3, -0.8, 51.6] },
    { nag: true },
  );
  severalOrigins = synthesizePlatform({ corsAllowOrigins: `${APP_ORIGIN},${MAPS_ORIGIN}`, councilArea: '' });
});

const specsOf = (synthesized: SynthesizedPlatform): RouteSpec[] =>
  routeSpecsFor(blueprintsNamed(synthesized.built.config.services));

/** Each API resource's full path by logical id, from the PathPart chain (the root's children start at `/`). */
function resourcePaths(template: Template): Map<string, string> {
  const resources = template.findResources('AWS::ApiGateway::Resource');
  const pathOf = (id: string): string => {
    const parent = resources[id]?.Properties.ParentId as { Ref?: string };
    return `${parent.Ref ? pathOf(parent.Ref) : ''}/${resources[id]?.Properties.PathPart}`;
  };
  return new Map(Object.keys(resources).map((id) => [id, pathOf(id)]));
}

interface DeployedMethod {
  readonly key: string;
  readonly path: string;
  readonly httpMethod: string;
  readonly props: Record<string, unknown> & {
    AuthorizationType?: string;
    AuthorizerId?: unknown;
    ApiKeyRequired?: boolean;
    RequestParameters?: Record<string, boolean>;
    RequestModels?: Record<string, { Ref: string }>;
    RequestValidatorId?: { Ref: string };
    Integration: { Type: string; IntegrationResponses?: Record<string, unknown>[] };
  };
}

/** Every `AWS::ApiGateway::Method` of the template, as `GET /devices/{id}`. */
function methodsOf(template: Template): DeployedMethod[] {
  const paths = resourcePaths(template);
  return Object.values(template.findResources('AWS::ApiGateway::Method')).map((method) => {
    const props = method.Properties as DeployedMethod['props'] & {
      HttpMethod: string;
      ResourceId: { Ref: string };
    };
    const path = paths.get(props.ResourceId.Ref) ?? '/';
    return { key: `${props.HttpMethod} ${path}`, path, httpMethod: props.HttpMethod, props };
  });
}

function onlyLogicalId(template: Template, type: string, props: Record<string, unknown> = {}): string {
  const ids = Object.keys(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(ids, type).toHaveLength(1);
  return ids[0] as string;
}

function apiFunction(template: Template): Record<string, unknown> {
  const functions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) =>
    id.startsWith('CityApiQueries'),
  );
  expect(functions).toHaveLength(1);
  return (functions[0]?.[1].Properties ?? {}) as Record<string, unknown>;
}

/** The API function's environment variables. */
function apiEnvironment(template: Template): Record<string, unknown> {
  return (apiFunction(template).Environment as { Variables: Record<string, unknown> }).Variables;
}

function gatewayResponses(template: Template): Record<string, Record<string, string>> {
  return Object.fromEntries(
    Object.values(template.findResources('AWS::ApiGateway::GatewayResponse')).map((response) => [
      response.Properties.ResponseType as string,
      response.Properties.ResponseParameters as Record<string, string>,
    ]),
  );
}

describe('city API methods from the route specs', () => {
  it('gives every method exactly one spec, and every spec its method: no route without a decision', () => {
    const specs = specsOf(plain);
    const methods = methodsOf(plain.platform);
    for (const method of methods) {
      expect(
        specs.filter((spec) => routeKey(spec) === method.key),
        method.key,
      ).toHaveLength(1);
    }
    expect(methods.map((m) => m.key).sort()).toEqual(specs.map(routeKey).sort());
    // Every enabled service's open data is among them, and the platform's own routes.
    expect(methods.map((m) => m.key)).toEqual(
      expect.arrayContaining(['GET /health', 'GET /openapi.json', 'GET /parking/sites', 'POST /devices']),
    );
  });

  it('puts staff routes behind the Cognito authorizer, without an API key', () => {
    const authorizer = onlyLogicalId(plain.platform, 'AWS::ApiGateway::Authorizer', {
      Type: 'COGNITO_USER_POOLS',
    });
    const staff = specsOf(plain).filter((spec) => spec.access.kind === 'staff');
    expect(staff.length).toBeGreaterThan(10);
    const methods = methodsOf(plain.platform);
    for (const spec of staff) {
      const method = methods.find((m) => m.key === routeKey(spec));
      expect(method?.props.AuthorizationType, routeKey(spec)).toBe('COGNITO_USER_POOLS');
      expect(method?.props.AuthorizerId, routeKey(spec)).toEqual({ Ref: authorizer });
      expect(method?.props.ApiKeyRequired, routeKey(spec)).toBeUndefined();
    }
  });

  it('asks an API key of open-data routes, and no authorizer', () => {
    const openData = specsOf(plain).filter((spec) => spec.access.kind === 'open-data');
    expect(openData.map(routeKey)).toEqual(
      expect.arrayContaining(['GET /parking/sites', 'GET /ngsi-ld/v1/entities', 'GET /export/{file}']),
    );
    const methods = methodsOf(plain.platform);
    for (const spec of openData) {
      const method = methods.find((m) => m.key === routeKey(spec));
      expect(method?.props.AuthorizationType, routeKey(spec)).toBe('NONE');
      expect(method?.props.ApiKeyRequired, routeKey(spec)).toBe(true);
    }
  });

  it('leaves only the public routes open: no authorizer, no key', () => {
    const open = methodsOf(plain.platform).filter(
      (m) => m.props.AuthorizationType === 'NONE' && m.props.ApiKeyRequired !== true,
    );
    expect(open.map((m) => m.key).sort()).toEqual(['GET /health', 'GET /openapi.json']);
    const publicSpecs = specsOf(plain).filter((spec) => spec.access.kind === 'public');
    expect(publicSpecs.map(routeKey).sort()).toEqual(['GET /health', 'GET /openapi.json']);
  });

  it("declares each route's path parameters and its schema's query parameters, required where the schema says", () => {
    const methods = methodsOf(plain.platform);
    for (const spec of specsOf(plain)) {
      const declared = methods.find((m) => m.key === routeKey(spec))?.props.RequestParameters ?? {};
      const expected: Record<string, boolean> = {};
      for (const [, name] of spec.path.matchAll(/\{(\w+)\}/g)) expected[`method.request.path.${name}`] = true;
      for (const [name, field] of Object.entries(spec.query?.shape ?? {})) {
        expected[`method.request.querystring.${name}`] = !(field as z.ZodType).safeParse(undefined).success;
      }
      expect(declared, routeKey(spec)).toEqual(expected);
    }
    const declared = (key: string) => methods.find((m) => m.key === key)?.props.RequestParameters;
    // NGSI-LD needs its entity type; every telemetry parameter has a default or may be left out.
    expect(declared('GET /ngsi-ld/v1/entities')).toMatchObject({
      'method.request.querystring.type': true,
      'method.request.querystring.limit': false,
    });
    expect(Object.values(declared('GET /devices/{id}/telemetry') ?? {}).filter(Boolean)).toEqual([true]);
    expect(declared('GET /export/{file}')).toMatchObject({ 'method.request.path.file': true });
  });

  it('validates every request with one validator, and each JSON body against its zod schema as draft 4', () => {
    const t = plain.platform;
    const validator = onlyLogicalId(t, 'AWS::ApiGateway::RequestValidator', {
      ValidateRequestParameters: true,
      ValidateRequestBody: true,
    });
    const models = t.findResources('AWS::ApiGateway::Model');
    const methods = methodsOf(t);
    const withBody = specsOf(plain).filter((spec) => spec.body !== undefined);
    expect(withBody.map(routeKey)).toEqual(expect.arrayContaining(['POST /devices', 'PATCH /jobs/{id}']));
    for (const method of methods)
      expect(method.props.RequestValidatorId, method.key).toEqual({ Ref: validator });
    for (const spec of withBody) {
      const method = methods.find((m) => m.key === routeKey(spec));
      const modelId = method?.props.RequestModels?.['application/json']?.Ref as string;
      const model = models[modelId]?.Properties as { ContentType: string; Schema: Record<string, unknown> };
      expect(model.ContentType).toBe('application/json');
      expect(model.Schema).toEqual(
        z.toJSONSchema(spec.body as z.ZodType, { target: 'draft-4', io: 'input', unrepresentable: 'any' }),
      );
      expect(model.Schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
    }
    expect(Object.keys(models)).toHaveLength(withBody.length);
    expect(methods.filter((m) => m.props.RequestModels).map((m) => m.key)).toHaveLength(withBody.length);
  });
});

describe('open-data usage plan and API key', () => {
  it('puts one usage plan on the stage, with the per-key throttle and daily quota from config', () => {
    const t = plain.platform;
    const stage = onlyLogicalId(t, 'AWS::ApiGateway::Stage');
    const api = onlyLogicalId(t, 'AWS::ApiGateway::RestApi');
    const plan = onlyLogicalId(t, 'AWS::ApiGateway::UsagePlan', {
      // cdk.json: 10,000 requests a day, so a stage of 10/s; a key gets half of it and ten days' worth a day.
      Throttle: { RateLimit: 5, BurstLimit: 10 },
      Quota: { Limit: 100_000, Period: 'DAY' },
      ApiStages: [Match.objectLike({ ApiId: { Ref: api }, Stage: { Ref: stage } })],
    });
    const key = onlyLogicalId(t, 'AWS::ApiGateway::ApiKey', { Enabled: true });
    t.hasResourceProperties('AWS::ApiGateway::UsagePlanKey', {
      KeyId: { Ref: key },
      KeyType: 'API_KEY',
      UsagePlanId: { Ref: plan },
    });
    expect(plain.built.config.openDataQuotaPerDay).toBe(100_000);
  });

  it("outputs the council apps' key id, never its value (which is not in the template at all)", () => {
    const t = plain.platform;
    const key = onlyLogicalId(t, 'AWS::ApiGateway::ApiKey');
    expect(t.findResources('AWS::ApiGateway::ApiKey')[key]?.Properties.Value).toBeUndefined();
    expect(t.findOutputs('OpenDataApiKeyId').OpenDataApiKeyId?.Value).toEqual({ Ref: key });
  });

  it('follows the open-data keys from config', () => {
    const t = synthesizePlatform({
      openDataRateLimit: '2',
      openDataBurstLimit: '3',
      openDataQuotaPerDay: '500',
    });
    t.platform.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 2, BurstLimit: 3 },
      Quota: { Limit: 500, Period: 'DAY' },
    });
  });

  it.each([
    ['INVALID_API_KEY', '403', 'forbidden', 403, INVALID_API_KEY_DETAIL],
    ['QUOTA_EXCEEDED', '429', 'too-many-requests', 429, "this API key's daily open-data quota is used up"],
    ['THROTTLED', '429', 'too-many-requests', 429, 'rate limit was reached'],
    ['REQUEST_TOO_LARGE', '413', 'payload-too-large', 413, '$context.error.messageString'],
  ])('answers %s with %s problem+json', (type, statusCode, slug, status, detail) => {
    const responses = Object.values(
      plain.platform.findResources('AWS::ApiGateway::GatewayResponse', {
        Properties: { ResponseType: type },
      }),
    );
    expect(responses).toHaveLength(1);
    const response = responses[0]?.Properties as {
      StatusCode: string;
      ResponseParameters: Record<string, string>;
      ResponseTemplates: Record<string, string>;
    };
    expect(response.StatusCode).toBe(statusCode);
    expect(response.ResponseParameters['gatewayresponse.header.Content-Type']).toBe(
      "'application/problem+json'",
    );
    const body = response.ResponseTemplates['application/json'] as string;
    expect(body).toContain(`"type":"urn:civic-iot:problem:${slug}"`);
    expect(body).toContain(`"status":${status}`);
    expect(body).toContain(detail);
  });
});

describe('CORS from config', () => {
  it('is off by default: no preflights, no CORS headers on refusals, none asked of the function', () => {
    expect(plain.built.config.corsAllowOrigins).toEqual([]);
    expect(methodsOf(plain.platform).filter((m) => m.httpMethod === 'OPTIONS')).toEqual([]);
    for (const [type, headers] of Object.entries(gatewayResponses(plain.platform))) {
      expect(
        Object.keys(headers).filter((h) => /Access-Control/i.test(h)),
        type,
      ).toEqual([]);
    }
    expect(apiEnvironment(plain.platform)).not.toHaveProperty(ENV.corsAllowOrigins);
  });

  it("answers a preflight on every resource with a route, allowing that resource's methods and the headers", () => {
    const methods = methodsOf(withCors.platform);
    const preflights = methods.filter((m) => m.httpMethod === 'OPTIONS');
    const routePaths = [...new Set(specsOf(withCors).map((spec) => spec.path))];
    expect(preflights.map((m) => m.path).sort()).toEqual(routePaths.sort());
    for (const preflight of preflights) {
      const allowed = specsOf(withCors)
        .filter((spec) => spec.path === preflight.path)
        .map((spec) => spec.method);
      expect(preflight.props.AuthorizationType).toBe('NONE');
      expect(preflight.props.Integration.Type).toBe('MOCK');
      expect(preflight.props.Integration.IntegrationResponses?.[0]?.ResponseParameters).toMatchObject({
        'method.response.header.Access-Control-Allow-Origin': `'${APP_ORIGIN}'`,
        'method.response.header.Access-Control-Allow-Headers': "'Authorization,Content-Type,X-Api-Key'",
        'method.response.header.Access-Control-Allow-Methods': `'${[...allowed, 'OPTIONS'].join(',')}'`,
        'method.response.header.Access-Control-Expose-Headers': "'Link'",
      });
    }
  });

  it("puts the configured origin on API Gateway's refusals and tells the function", () => {
    for (const [type, headers] of Object.entries(gatewayResponses(withCors.platform))) {
      expect(headers['gatewayresponse.header.Access-Control-Allow-Origin'], type).toBe(`'${APP_ORIGIN}'`);
    }
    expect(apiEnvironment(withCors.platform)[ENV.corsAllowOrigins]).toBe(APP_ORIGIN);
  });

  it("with several origins, echoes the caller's origin on refusals and checks the list in the preflight", () => {
    for (const [type, headers] of Object.entries(gatewayResponses(severalOrigins.platform))) {
      expect(headers, type).toMatchObject({
        'gatewayresponse.header.Access-Control-Allow-Origin': 'method.request.header.Origin',
        'gatewayresponse.header.Vary': "'Origin'",
      });
    }
    const preflight = methodsOf(severalOrigins.platform).find((m) => m.key === 'OPTIONS /parking/sites');
    expect(JSON.stringify(preflight?.props.Integration.IntegrationResponses)).toContain(
      `$origin == \\"${MAPS_ORIGIN}\\"`,
    );
    expect(apiEnvironment(severalOrigins.platform)[ENV.corsAllowOrigins]).toBe(
      `${APP_ORIGIN},${MAPS_ORIGIN}`,
    );
  });

  it('leaves no cdk-nag finding open with the preflights', () => {
    const report = JSON.parse(
      readFileSync(join(withCors.assembly.directory, 'validation-report.json'), 'utf8'),
    ) as { pluginReports: { violations: { ruleName: string }[] }[] };
    expect(report.pluginReports.flatMap((p) => p.violations.map((v) => v.ruleName))).toEqual([]);
  });

  const hasCfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasCfnLint)('passes cfn-lint with the preflights and several origins', () => {
    for (const synthesized of [withCors, severalOrigins]) {
      const { assembly, built } = synthesized;
      const result = spawnSync(
        'cfn-lint',
        [
          '--format',
          'json',
          '--regions',
          built.config.region,
          '--',
          `${assembly.directory}/${assembly.getStackByName(built.platformStack.stackName).templateFile}`,
        ],
        { encoding: 'utf8' },
      );
      expect(result.status, result.stderr).not.toBe(1);
      const errors = (JSON.parse(result.stdout) as { Level: string; Message: string }[]).filter(
        (m) => m.Level === 'Error',
      );
      expect(errors).toEqual([]);
    }
  });
});

describe('decommissioning through the API on AWS', () => {
  /** `arn:<partition>:iot:<region>:<account>:<resource>/*` as the template writes it for this stack. */
  const iotArn = (resource: string) => ({
    'Fn::Join': [
      '',
      ['arn:', { Ref: 'AWS::Partition' }, ':iot:eu-west-2:', { Ref: 'AWS::AccountId' }, `:${resource}/*`],
    ],
  });
  const apiRole = (template: Template) =>
    (apiFunction(template).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  /** The IoT statements of the API function's role. */
  const iotStatements = (template: Template): Record<string, unknown>[] =>
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter(
        (policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: apiRole(template) }]),
      )
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[])
      .filter((statement) => JSON.stringify(statement.Action).includes('iot:'));

  it("lets the API function list a thing's principals and update certificates in this account, nothing wider", () => {
    const statements = iotStatements(plain.platform);
    expect(statements).toEqual(
      expect.arrayContaining([
        { Effect: 'Allow', Action: 'iot:ListThingPrincipals', Resource: iotArn('thing') },
        { Effect: 'Allow', Action: 'iot:UpdateCertificate', Resource: iotArn('cert') },
      ]),
    );
    // Otherwise only switching the ordinary lane's rule back on (POST /cost/restore).
    expect(statements.map((s) => s.Action).sort()).toEqual(
      ['iot:EnableTopicRule', 'iot:ListThingPrincipals', 'iot:UpdateCertificate'].sort(),
    );
    expect(JSON.stringify(statements)).not.toMatch(
      /"iot:\*"|DeleteCertificate|CreateKeysAndCertificate|:\*"\]/,
    );
  });

  it("acknowledges the two wildcards on the API function's role, each with its reason", () => {
    const role = withCors.built.platformStack.node
      .findAll()
      .find((construct) => construct.node.path.endsWith('/CityApi/Queries/Role'));
    const acknowledged = Object.assign(
      {},
      ...(role?.node.metadata ?? [])
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .map((entry) => entry.data as Record<string, string>),
    ) as Record<string, string>;
    const reasonFor = (resource: string) =>
      Object.entries(acknowledged).find(([id]) =>
        id.endsWith(
          `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:${resource}/*]`,
        ),
      )?.[1];
    expect(reasonFor('thing')).toMatch(/decommissions/);
    expect(reasonFor('cert')).toMatch(/REVOKED.*DELETE \/devices\/\{id\}/);
  });
});

describe('API function concurrency and the cost statement', () => {
  it('reserves concurrency on the API function only when config sets it', () => {
    expect(apiFunction(plain.platform).ReservedConcurrentExecutions).toBeUndefined();
    expect(apiFunction(withCors.platform).ReservedConcurrentExecutions).toBe(4);
  });

  it('states the usage plan and bounds the API function by both its caps', () => {
    const { statement } = writeCostStatement(withCors.built.app, withCors.built.config);
    expect(statement.uncapped).toEqual([]);
    const plan = statement.worstCaseLines.find((line) => line.type === 'AWS::ApiGateway::UsagePlan');
    expect(plan?.cap).toMatch(/^each API key at most 5 requests a second and 100000 a day/);
    const queries = statement.worstCaseLines.find((line) => line.resource.startsWith('CityApiQueries'));
    expect(queries?.cap).toBe('reserved concurrency 4 and API stage throttle 10 requests a second');
  });
});

describe('the council area from config', () => {
  it("tells the API function cdk.json's area and states it as a stack output", () => {
    expect(apiEnvironment(plain.platform)[ENV.councilArea]).toBe('-1.07,51.39,-0.91,51.51');
    plain.platform.hasOutput('CouncilArea', {
      Value: '-1.07,51.39,-0.91,51.51',
      Description: Match.stringLikeRegexp('west,south,east,north'),
    });
  });

  it('writes an area given as a JSON array west,south,east,north', () => {
    expect(apiEnvironment(withCors.platform)[ENV.councilArea]).toBe('-1.2,51.3,-0.8,51.6');
    withCors.platform.hasOutput('CouncilArea', { Value: '-1.2,51.3,-0.8,51.6' });
  });

  it('without an area, neither tells the function nor outputs one', () => {
    expect(severalOrigins.built.config.councilArea).toBeUndefined();
    expect(apiEnvironment(severalOrigins.platform)).not.toHaveProperty(ENV.councilArea);
    expect(severalOrigins.platform.findOutputs('CouncilArea')).toEqual({});
  });
});
