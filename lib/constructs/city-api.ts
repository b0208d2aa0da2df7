import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  CognitoUserPoolsAuthorizer,
  EndpointType,
  type IResource,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  RequestValidator,
  type Resource,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import {
  AccountRecovery,
  CfnUserPoolGroup,
  FeaturePlan,
  Mfa,
  UserPool,
  type UserPoolClient,
} from 'aws-cdk-lib/aws-cognito';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  API_SETTINGS,
  alertsQuerySchema,
  jobsQuerySchema,
  PROBLEM_CONTENT_TYPE,
  type ProblemStatus,
  problemKind,
  quarantineQuerySchema,
  telemetryQuerySchema,
} from '../../lambdas/contracts/api.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import type { LaneControlTargets } from '../../lambdas/contracts/metered-resources.js';
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
 * API Gateway's own refusals (the Cognito authorizer, stage throttling, unknown routes, its defaults), rewritten
 * as the RFC 9457 problems the handler answers with. `status` is the body's; `setStatus` makes it the HTTP status
 * too (each type's own, except unknown routes: 404 instead of 403). DEFAULT_4XX and DEFAULT_5XX never set one: on
 * a default response it would replace the status of every type not customised here. Their bodies say 400 and 500, so every
 * type this API can produce with another status is listed with its own; the types left to the defaults are 400
 * or 500, or cannot occur here (API keys, usage plans, IAM signatures and WAF are not used).
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
 * The council's REST API: staff routes behind a Cognito user pool (admin-created accounts, TOTP MFA), one query
 * function behind every route, stage throttling and JSON access logs. `GET /health` and the enabled services' open
 * data are the only routes without authorisation. The function writes only where a route changes something: the
 * cost guard's restore, a job's status, an alert's acknowledgement.
 */
export class CityApi extends Construct {
  readonly api: RestApi;
  readonly userPool: UserPool;
  readonly userPoolClient: UserPoolClient;
  readonly queries: PlatformFunction;
  /** The stage's JSON access log group. */
  readonly accessLogs: LogGroup;

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
      },
    });
    props.registry.grantRead(this.queries.role);
    props.ingestRecords.grantReadQuarantine(this.queries.role);
    props.telemetryStore.grantRead(this.queries.role);
    props.costRecords.grantGuard(this.queries.role);
    props.ordinaryLane.grantSwitch(this.queries.role, { switchOff: false });
    props.serviceRecords.grantApi(this.queries.role);

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
          // Staff sign in with a bearer token in a header, never a cookie, so any origin may read a refusal: a
          // browser app then shows the problem instead of an opaque CORS failure, and no credentials are exposed.
          'Access-Control-Allow-Origin': "'*'",
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
          'No WAF yet: AWS WAF adds a fixed monthly fee per web ACL and rule; the API is authenticated and ' +
          'throttled per stage. To be attached when open-data routes are public.',
      },
    );

    const authorizer = new CognitoUserPoolsAuthorizer(this, 'StaffAuthorizer', {
      cognitoUserPools: [this.userPool],
    });
    const validator = new RequestValidator(this, 'Validator', {
      restApi: this.api,
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    const integration = new LambdaIntegration(this.queries.function, { allowTestInvoke: false });
    const staffMethod = (httpMethod: string, resource: Resource, query: readonly string[] = []): Method =>
      resource.addMethod(httpMethod, integration, {
        authorizationType: AuthorizationType.COGNITO,
        authorizer,
        requestValidator: validator,
        requestParameters: {
          ...(resource.path.includes('{id}') ? { 'method.request.path.id': true } : {}),
          ...Object.fromEntries(query.map((name) => [`method.request.querystring.${name}`, false])),
        },
      });
    const staffGet = (resource: Resource, query: readonly string[] = []): Method =>
      staffMethod('GET', resource, query);

    const health = this.api.root.addResource('health').addMethod('GET', integration, {
      authorizationType: AuthorizationType.NONE,
    });
    Validations.of(health).acknowledge(
      {
        id: 'AwsSolutions-APIG4',
        reason: 'GET /health is a public liveness probe; it returns no council data.',
      },
      {
        id: 'AwsSolutions-COG4',
        reason: 'GET /health is a public liveness probe; it returns no council data.',
      },
    );

    const device = this.api.root.addResource('devices').addResource('{id}');
    staffGet(device);
    staffGet(device.addResource('latest'));
    // Declared from the handler's own (strict) schemas, so the two cannot disagree.
    staffGet(device.addResource('telemetry'), Object.keys(telemetryQuerySchema.shape));
    staffGet(this.api.root.addResource('quarantine'), Object.keys(quarantineQuerySchema.shape));

    // Any staff group may read jobs and alerts; only admin and operator may change them (the handler checks).
    const jobs = this.api.root.addResource('jobs');
    staffGet(jobs, Object.keys(jobsQuerySchema.shape));
    const job = jobs.addResource('{id}');
    staffGet(job);
    staffMethod('PATCH', job);
    const alerts = this.api.root.addResource('alerts');
    staffGet(alerts, Object.keys(alertsQuerySchema.shape));
    staffMethod('POST', alerts.addResource('{id}').addResource('ack'));
    for (const service of props.services ?? []) {
      if (service.openData) this.addOpenDataRoute(service, integration);
    }

    // Any staff group may read the cost report; only admin may restore (the handler answers 403 otherwise).
    const cost = this.api.root.addResource('cost');
    staffGet(cost);
    cost.addResource('restore').addMethod('POST', integration, {
      authorizationType: AuthorizationType.COGNITO,
      authorizer,
      requestValidator: validator,
    });
  }

  /**
   * A service's open data, `GET /<path>` (e.g. `/parking/sites`): public, like the council's other open data, and
   * bounded by the stage throttle. It serves only what the blueprint's view lets out (never internal records).
   */
  private addOpenDataRoute(service: ServiceBlueprint, integration: LambdaIntegration): void {
    const path = service.openData?.path ?? '';
    const resource = path
      .split('/')
      .filter((part) => part.length > 0)
      .reduce<IResource>(
        (parent, part) => parent.getResource(part) ?? parent.addResource(part),
        this.api.root,
      );
    const method = resource.addMethod('GET', integration, { authorizationType: AuthorizationType.NONE });
    const reason =
      `GET /${path} is the ${service.title} service's open data for residents' apps: the blueprint's public view ` +
      'of its sites, no personal data; bounded by the stage throttle.';
    Validations.of(method).acknowledge(
      { id: 'AwsSolutions-APIG4', reason },
      { id: 'AwsSolutions-COG4', reason },
    );
  }
}
