import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKey,
  AuthorizationType,
  CognitoUserPoolsAuthorizer,
  EndpointType,
  type IApiKey,
  type IResource,
  type JsonSchema,
  JsonSchemaVersion,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  type MethodOptions,
  type Model,
  Period,
  RequestValidator,
  ResponseType,
  RestApi,
  type UsagePlan,
} from 'aws-cdk-lib/aws-apigateway';
import {
  AccountRecovery,
  CfnUserPoolGroup,
  FeaturePlan,
  Mfa,
  UserPool,
  type UserPoolClient,
} from 'aws-cdk-lib/aws-cognito';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { z } from 'zod';
import {
  API_SETTINGS,
  PROBLEM_CONTENT_TYPE,
  type ProblemStatus,
  problemKind,
} from '../../lambdas/contracts/api.js';
import { type RouteAccess, type RouteSpec, routeKey } from '../../lambdas/contracts/api-routes.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import type { LaneControlTargets } from '../../lambdas/contracts/metered-resources.js';
import type { BoundingBox } from '../../lambdas/domain/device.js';
import { boundingBoxText } from '../../lambdas/domain/device-registry.js';
import { routeSpecsFor } from '../../lambdas/handlers/city-api.js';
import { CORS_EXPOSED_HEADERS } from '../../lambdas/handlers/http/cors-headers.js';
import { INVALID_API_KEY_DETAIL } from '../../lambdas/handlers/http/problem-details.js';
import type { ServiceBlueprint } from '../../services/shared/blueprint.js';
import type { LogLevel } from '../config/platform-config.js';
import type { CostGuardRecords } from './cost-guard-records.js';
import type { DeviceRegistry } from './device-registry.js';
import type { IngestLane } from './ingest-lane.js';
import type { IngestRecords } from './ingest-records.js';
import { PlatformFunction } from './platform-function.js';
import type { ServiceRecords } from './service-records.js';
import type { TelemetryStore } from './telemetry-store.js';

/** Staff roles (DESIGN §5); the handler authorises routes by the `cognito:groups` claim. */
const STAFF_GROUPS = ['admin', 'operator', 'viewer'] as const;

/** In a gateway response template: API Gateway's own message, as a JSON string (quotes and escaping included). */
const GATEWAY_MESSAGE = '$context.error.messageString';

/**
 * API Gateway's own refusals (the Cognito authorizer, the open-data API key and its usage plan, stage throttling,
 * request validation, unknown routes, its defaults), rewritten as the RFC 9457 problems the handler answers with.
 * `status` is the body's; `setStatus` makes it the HTTP status too (each type's own, except unknown routes: 404
 * instead of 403). DEFAULT_4XX and DEFAULT_5XX never set one: on a default response it would replace the status of
 * every type not customised here. Their bodies say 400 and 500, so every type this API can produce with another
 * status is listed with its own; the types left to the defaults are 400 (request validation: BAD_REQUEST_PARAMETERS,
 * BAD_REQUEST_BODY) or 500, or cannot occur here (IAM signatures and WAF are not used).
 */
const GATEWAY_PROBLEMS: readonly {
  readonly id: string;
  readonly type: ResponseType;
  readonly status: ProblemStatus;
  readonly setStatus?: boolean;
  /** A fixed detail; without one, API Gateway's message (for example "The incoming token has expired"). */
  readonly detail?: string;
  readonly headers?: Readonly<Record<string, string>>;
}[] = [
  {
    id: 'Unauthorized',
    type: ResponseType.UNAUTHORIZED,
    status: 401,
    setStatus: true,
    headers: { 'WWW-Authenticate': "'Bearer'" },
  },
  { id: 'AccessDenied', type: ResponseType.ACCESS_DENIED, status: 403, setStatus: true },
  {
    // An open-data route called without the x-api-key header, or with a key that is not in the usage plan.
    id: 'InvalidApiKey',
    type: ResponseType.INVALID_API_KEY,
    status: 403,
    setStatus: true,
    detail: INVALID_API_KEY_DETAIL,
  },
  {
    id: 'QuotaExceeded',
    type: ResponseType.QUOTA_EXCEEDED,
    status: 429,
    setStatus: true,
    detail: "this API key's daily open-data quota is used up; it resets at midnight UTC",
  },
  {
    id: 'Throttled',
    type: ResponseType.THROTTLED,
    status: 429,
    setStatus: true,
    detail: 'the API request rate limit was reached; retry after a short wait',
  },
  {
    // API Gateway answers a path or method it has no route for as a missing token (403); to a client it is a 404.
    id: 'UnknownRoute',
    type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
    status: 404,
    setStatus: true,
    detail: 'no route matches this method and path',
  },
  { id: 'ResourceNotFound', type: ResponseType.RESOURCE_NOT_FOUND, status: 404, setStatus: true },
  { id: 'RequestTooLarge', type: ResponseType.REQUEST_TOO_LARGE, status: 413, setStatus: true },
  { id: 'UnsupportedMediaType', type: ResponseType.UNSUPPORTED_MEDIA_TYPE, status: 415, setStatus: true },
  { id: 'IntegrationFailure', type: ResponseType.INTEGRATION_FAILURE, status: 504, setStatus: true },
  { id: 'IntegrationTimeout', type: ResponseType.INTEGRATION_TIMEOUT, status: 504, setStatus: true },
  { id: 'Default4xx', type: ResponseType.DEFAULT_4XX, status: 400 },
  { id: 'Default5xx', type: ResponseType.DEFAULT_5XX, status: 500 },
];

/** The problem+json body template of one gateway response (simple variable substitution only, no VTL). */
function problemTemplate(status: ProblemStatus, detail: string | undefined): string {
  const { type, title } = problemKind(status);
  const detailJson = detail === undefined ? GATEWAY_MESSAGE : JSON.stringify(detail);
  return `{"type":${JSON.stringify(type)},"title":${JSON.stringify(title)},"status":${status},"detail":${detailJson}}`;
}

/** The request headers a browser app sends: a staff token, a JSON body, an open-data key. */
const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'X-Api-Key'];

/**
 * The CORS headers of API Gateway's own refusals (as gateway response header values: quoted literals or a
 * request mapping). A gateway response cannot test the request's `Origin` against a list, so with several origins
 * it echoes the caller's: a refusal carries no council data, and staff send a bearer token in a header, never a
 * cookie, so letting any page read one discloses nothing; the browser app then shows the problem instead of an
 * opaque CORS failure. The handler's own answers and the preflights do check the list.
 */
function gatewayCorsHeaders(origins: readonly string[]): Record<string, string> {
  if (origins.length === 0) return {};
  if (origins.length === 1) return { 'Access-Control-Allow-Origin': `'${origins[0]}'` };
  return { 'Access-Control-Allow-Origin': 'method.request.header.Origin', Vary: "'Origin'" };
}

/** `{id}` in `/devices/{id}`: a route's path parameters, from its path. */
function pathParametersOf(path: string): string[] {
  return [...path.matchAll(/\{([^}+]+)\+?\}/g)].map((match) => match[1] as string);
}

/**
 * The request parameters API Gateway checks before calling the function: every path parameter, and each query
 * parameter of the route's (strict) schema, required when the schema has no default for it. The handler parses
 * the same schema, so the two cannot disagree; the gateway only refuses a missing one sooner (a value's format,
 * and unknown parameters, are the handler's to refuse: request parameters have names, not schemas).
 */
function requestParametersOf(spec: RouteSpec): Record<string, boolean> {
  const query = Object.entries(spec.query?.shape ?? {}).map(([name, field]) => [
    `method.request.querystring.${name}`,
    !(field as z.ZodType).safeParse(undefined).success,
  ]);
  const path = pathParametersOf(spec.path).map((name) => [`method.request.path.${name}`, true]);
  return Object.fromEntries([...path, ...query]);
}

/**
 * A body schema as the JSON Schema draft 4 API Gateway models take. What draft 4 cannot say (a transform, a
 * refinement) becomes "anything" rather than failing synth: the handler parses the same zod schema, so it stays
 * the source of truth and the gateway only turns away the plainly malformed before a function runs.
 */
export function requestBodyJsonSchema(body: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(body, {
    target: 'draft-4',
    io: 'input',
    unrepresentable: 'any',
  });
  // CDK passes keys it does not know through as they are ($ref, definitions), so the cast only renames types.
  return { ...(schema as JsonSchema), schema: JsonSchemaVersion.DRAFT4 };
}

/** `PATCH /jobs/{id}` -> `PatchJobsId`: a construct id per route. */
function routeId(spec: RouteSpec): string {
  return routeKey(spec)
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => part[0]?.toUpperCase() + part.slice(1).toLowerCase())
    .join('');
}

/** Why a method without a Cognito authorizer is right, for the cdk-nag acknowledgements on it. */
function unauthenticatedReason(spec: RouteSpec): string {
  return spec.access.kind === 'open-data'
    ? `${routeKey(spec)} is open data (${spec.summary}): it serves public fields only. Callers send an API key ` +
        'for attribution and the usage plan (per-key quota and throttle); the key is not a security boundary.'
    : `${routeKey(spec)} is public by its route spec (${spec.summary}): it answers without credentials and ` +
        'returns no council data.';
}

/** Throttle and quota of each open-data API key (the usage plan's). */
export interface OpenDataLimits {
  /** Steady requests per second of one key. */
  readonly rateLimit: number;
  /** Requests one key may make at once above its rate. */
  readonly burstLimit: number;
  /** Requests one key may make in a UTC day. */
  readonly quotaPerDay: number;
}

/** Props for {@link CityApi}. */
export interface CityApiProps {
  readonly registry: DeviceRegistry;
  readonly ingestRecords: IngestRecords;
  readonly telemetryStore: TelemetryStore;
  /** The cost guard's records: GET /cost reads them, POST /cost/restore writes them. */
  readonly costRecords: CostGuardRecords;
  /** The lane the cost guard may stop: POST /cost/restore switches it back on (and may do nothing else to it). */
  readonly ordinaryLane: IngestLane;
  /** Shown by GET /cost and recorded with a restore. @default - none (GET /cost reports a null ceiling) */
  readonly monthlyCeilingUsd?: number;
  /** Named in the cost guard's notices. */
  readonly councilName: string;
  /** Stage steady-state requests per second: with the function's cost this bounds the API bill. */
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /** Each open-data API key's throttle and daily quota (within the stage's). */
  readonly openDataLimits: OpenDataLimits;
  /**
   * Origins browser apps may call from: `https://` origins, or `*` alone. Adds the preflights, and the CORS
   * headers on the function's answers and on API Gateway's refusals. @default - none: no CORS headers
   */
  readonly corsAllowOrigins?: readonly string[];
  /**
   * The council's area: the device routes register and move devices only inside it (`COUNCIL_AREA`).
   * @default - none: any location is accepted
   */
  readonly councilArea?: BoundingBox;
  /** Reserved concurrency of the API function. @default - none (the stage throttle bounds it) */
  readonly reservedConcurrentExecutions?: number;
  readonly logRetentionDays: number;
  /** Level of the functions' application logs. */
  readonly logLevel: LogLevel;
  /** Keep the staff user pool when the stack is deleted (production). @default false */
  readonly retainUserPool?: boolean;
  /** Jobs, alerts and site views: the job and alert routes read and change them, open data reads site views. */
  readonly serviceRecords: ServiceRecords;
  /**
   * The enabled service blueprints: `ENABLED_SERVICES` for the function, and a public `GET /<path>` route for
   * each one's open data. @default - none: no open-data routes, and the function is told no service runs
   */
  readonly services?: readonly ServiceBlueprint[];
}

/**
 * The council's REST API, built from the route specs (`routeSpecsFor`): every route's method, its access decision
 * and its request validation come from the same list the handler, the local server and the OpenAPI document read.
 * Staff routes sit behind a Cognito user pool (admin-created accounts, TOTP MFA; the handler checks the groups),
 * open-data routes take an API key under a usage plan, public routes (`/health`, `/openapi.json`) need nothing.
 * One function behind every route, stage throttling and JSON access logs. The function writes only where a route
 * changes something: the registry (and a decommissioned device's IoT certificates, revoked), the cost guard's
 * restore, a job's status, an alert's acknowledgement.
 */
export class CityApi extends Construct {
  readonly api: RestApi;
  readonly userPool: UserPool;
  readonly userPoolClient: UserPoolClient;
  readonly queries: PlatformFunction;
  /** The stage's JSON access log group. */
  readonly accessLogs: LogGroup;
  /** The open-data usage plan on the stage: each key's throttle and daily quota. */
  readonly usagePlan: UsagePlan;
  /** The open-data API key of the council's own apps (its value stays in API Gateway; output its id only). */
  readonly councilAppsKey: IApiKey;

  constructor(scope: Construct, id: string, props: CityApiProps) {
    super(scope, id);
    this.userPool = new UserPool(this, 'StaffPool', {
      // Staff accounts are created by a council admin; nobody signs themselves up.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.ESSENTIALS,
      deletionProtection: props.retainUserPool ?? false,
      removalPolicy: props.retainUserPool ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        'Threat protection needs the Plus feature plan (per-MAU fee). Staff accounts are admin-created with ' +
        'mandatory TOTP MFA and a 14-character password policy; revisit if the pool ever admits citizens.',
    });
    for (const group of STAFF_GROUPS) {
      new CfnUserPoolGroup(this, `${group}Group`, { userPoolId: this.userPool.userPoolId, groupName: group });
    }
    this.userPoolClient = this.userPool.addClient('CouncilApps', {
      authFlows: { userSrp: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
    });

    const corsAllowOrigins = props.corsAllowOrigins ?? [];
    const laneControls: LaneControlTargets = {
      [props.ordinaryLane.lane]: props.ordinaryLane.controlTarget,
    };
    this.queries = new PlatformFunction(this, 'Queries', {
      handlerName: 'city-api',
      description: 'Queries, staff actions and open data behind the city REST API',
      memorySizeMb: API_SETTINGS.functionMemoryMb,
      timeout: Duration.seconds(10),
      logRetentionDays: props.logRetentionDays,
      logLevel: props.logLevel,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      environment: {
        ...props.registry.environment,
        ...props.ingestRecords.environment,
        ...props.telemetryStore.environment,
        ...props.costRecords.environment,
        ...props.serviceRecords.workflowEnvironment,
        // Absent when none is enabled: the handler reads a missing list as none.
        ...(props.services?.length
          ? { [ENV.enabledServices]: props.services.map((service) => service.name).join(',') }
          : {}),
        [ENV.laneControls]: Stack.of(this).toJsonString(laneControls),
        [ENV.councilName]: props.councilName,
        ...(props.monthlyCeilingUsd === undefined
          ? {}
          : { [ENV.monthlyCeilingUsd]: String(props.monthlyCeilingUsd) }),
        ...(corsAllowOrigins.length === 0 ? {} : { [ENV.corsAllowOrigins]: corsAllowOrigins.join(',') }),
        ...(props.councilArea === undefined ? {} : { [ENV.councilArea]: boundingBoxText(props.councilArea) }),
      },
    });
    props.registry.grantManage(this.queries.role);
    props.ingestRecords.grantReadQuarantine(this.queries.role);
    props.telemetryStore.grantRead(this.queries.role);
    props.costRecords.grantGuard(this.queries.role);
    props.ordinaryLane.grantSwitch(this.queries.role, { switchOff: false });
    props.serviceRecords.grantApi(this.queries.role);
    this.grantRevokeDeviceCertificates();

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetentionDays as RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.accessLogs = accessLogs;
    this.api = new RestApi(this, 'Api', {
      // Unique in the account and region: the usage meter reads the API's metrics by this name.
      restApiName: `${Stack.of(this).stackName}-city-api`,
      description:
        'Civic IoT platform: devices, telemetry, quarantine, jobs and alerts for council staff; service open data',
      endpointTypes: [EndpointType.REGIONAL],
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
      },
    });
    for (const problem of GATEWAY_PROBLEMS) {
      this.api.addGatewayResponse(problem.id, {
        type: problem.type,
        ...(problem.setStatus ? { statusCode: String(problem.status) } : {}),
        responseHeaders: {
          'Content-Type': `'${PROBLEM_CONTENT_TYPE}'`,
          'Cache-Control': "'no-store'",
          ...gatewayCorsHeaders(corsAllowOrigins),
          ...problem.headers,
        },
        templates: { 'application/json': problemTemplate(problem.status, problem.detail) },
      });
    }

    const stage = this.api.deploymentStage;
    Validations.of(stage).acknowledge(
      {
        id: 'AwsSolutions-APIG6',
        reason:
          'Every request is in the JSON access log. Execution logging needs the account-wide API Gateway ' +
          'CloudWatch role, an account setting this app does not take over in a council account.',
      },
      {
        id: 'AwsSolutions-APIG3',
        reason:
          'No WAF yet: AWS WAF adds a fixed monthly fee per web ACL and rule. Staff routes are authenticated, ' +
          'the stage is throttled, and each open-data API key has its own throttle and daily quota.',
      },
    );

    // Attribution and fair use, not security: an open-data key is handed to anyone who asks and sits in app
    // code, and open-data routes serve public fields only. The plan bounds what one consumer can take from the
    // stage (per-key throttle and daily quota), and API Gateway's per-key metrics say who uses the data.
    this.usagePlan = this.api.addUsagePlan('OpenDataPlan', {
      description: "Open data: each API key's throttle and daily quota",
      throttle: { rateLimit: props.openDataLimits.rateLimit, burstLimit: props.openDataLimits.burstLimit },
      quota: { limit: props.openDataLimits.quotaPerDay, period: Period.DAY },
      apiStages: [{ stage }],
    });
    // The council's own apps' key. Its value is generated by API Gateway and never in a template or output;
    // read it with `aws apigateway get-api-key --api-key <id> --include-value`. Other consumers get keys of their
    // own in the same plan, so their use is counted apart.
    this.councilAppsKey = new ApiKey(this, 'CouncilAppsKey', {
      description: "The council's own apps: open-data routes (attribution and usage plan, not security)",
    });
    this.usagePlan.addApiKey(this.councilAppsKey);

    const authorizer = new CognitoUserPoolsAuthorizer(this, 'StaffAuthorizer', {
      cognitoUserPools: [this.userPool],
    });
    const validator = new RequestValidator(this, 'Validator', {
      restApi: this.api,
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    const integration = new LambdaIntegration(this.queries.function, { allowTestInvoke: false });
    const accessOptions = (access: RouteAccess): MethodOptions => {
      switch (access.kind) {
        // The authorizer checks the token; the handler checks the groups (403 for a group the route does not list).
        case 'staff':
          return { authorizationType: AuthorizationType.COGNITO, authorizer };
        case 'open-data':
          return { authorizationType: AuthorizationType.NONE, apiKeyRequired: true };
        case 'public':
          return { authorizationType: AuthorizationType.NONE };
      }
    };

    // Every route this deployment serves (the platform's own and each enabled service's open data), with exactly
    // one access decision each, from its spec. Loading the handler module here also runs its own check at synth:
    // a spec without a handler fails it.
    const methodsByResource = new Map<IResource, string[]>();
    for (const spec of routeSpecsFor(props.services ?? [])) {
      const resource = this.resourceAt(spec.path);
      const method = resource.addMethod(spec.method, integration, {
        ...accessOptions(spec.access),
        requestValidator: validator,
        requestParameters: requestParametersOf(spec),
        ...(spec.body ? { requestModels: { 'application/json': this.bodyModel(spec, spec.body) } } : {}),
      });
      if (spec.access.kind !== 'staff') this.acknowledgeUnauthenticated(method, unauthenticatedReason(spec));
      methodsByResource.set(resource, [...(methodsByResource.get(resource) ?? []), spec.method]);
    }

    if (corsAllowOrigins.length > 0) {
      for (const [resource, methods] of methodsByResource) {
        const preflight = resource.addCorsPreflight({
          allowOrigins: [...corsAllowOrigins],
          allowHeaders: CORS_ALLOWED_HEADERS,
          allowMethods: [...methods, 'OPTIONS'],
          exposeHeaders: [...CORS_EXPOSED_HEADERS],
          // Browsers cache a preflight this long (Chromium at most 2 hours): fewer billed OPTIONS requests.
          maxAge: Duration.hours(1),
        });
        this.acknowledgeUnauthenticated(
          preflight,
          `OPTIONS ${resource.path} is a CORS preflight: browsers send it without credentials by design, and a ` +
            'mock integration answers it with the allowed origins, methods and headers, no data and no function.',
        );
      }
    }
  }

  /**
   * `DELETE /devices/{id}` revokes the device's certificates before it decommissions the entry: list the principals
   * of its thing, set each certificate REVOKED. The cost guard's meter has the same two actions for runaway devices.
   */
  private grantRevokeDeviceCertificates(): void {
    const stack = Stack.of(this);
    const role = this.queries.role;
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iot:ListThingPrincipals'],
        resources: [stack.formatArn({ service: 'iot', resource: 'thing', resourceName: '*' })],
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iot:UpdateCertificate'],
        resources: [stack.formatArn({ service: 'iot', resource: 'cert', resourceName: '*' })],
      }),
    );
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:${stack.region}:<AWS::AccountId>:thing/*]`,
      reason:
        'Things are per device and created after deployment (by the device CLI or fleet provisioning); the API lists ' +
        'the principals of one thing, the device an admin decommissions, and listing is read-only.',
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:${stack.region}:<AWS::AccountId>:cert/*]`,
      reason:
        'Certificates are per device and created after deployment; the API only sets the certificates attached to ' +
        "a decommissioned device's thing to REVOKED (DELETE /devices/{id}, admins only), never creates or deletes one.",
    });
  }

  /** The resource at a route's path, adding the parts that do not exist yet. */
  private resourceAt(path: string): IResource {
    return path
      .split('/')
      .filter((part) => part.length > 0)
      .reduce<IResource>(
        (parent, part) => parent.getResource(part) ?? parent.addResource(part),
        this.api.root,
      );
  }

  /** The request model of a route's JSON body, from its zod schema (see {@link requestBodyJsonSchema}). */
  private bodyModel(spec: RouteSpec, body: z.ZodType): Model {
    return this.api.addModel(`${routeId(spec)}Body`, {
      contentType: 'application/json',
      description: `The body of ${routeKey(spec)}`,
      schema: requestBodyJsonSchema(body),
    });
  }

  /** cdk-nag: a method without the Cognito authorizer, with the route's own reason. */
  private acknowledgeUnauthenticated(method: Method, reason: string): void {
    Validations.of(method).acknowledge(
      { id: 'AwsSolutions-APIG4', reason },
      { id: 'AwsSolutions-COG4', reason },
    );
  }
}
