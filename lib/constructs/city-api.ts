import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  CognitoUserPoolsAuthorizer,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  RequestValidator,
  type Resource,
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
import { ENV } from '../../lambdas/contracts/environment.js';
import type { LaneControlTargets } from '../../lambdas/contracts/metered-resources.js';
import type { CostGuardRecords } from './cost-guard-records.js';
import type { DeviceRegistry } from './device-registry.js';
import type { IngestLane } from './ingest-lane.js';
import type { IngestRecords } from './ingest-records.js';
import { PlatformFunction } from './platform-function.js';
import type { TelemetryStore } from './telemetry-store.js';

/** Staff roles (DESIGN §5); the handler authorises routes by the `cognito:groups` claim. */
const STAFF_GROUPS = ['admin', 'operator', 'viewer'] as const;

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
  /** Keep the staff user pool when the stack is deleted (production). @default false */
  readonly retainUserPool?: boolean;
}

/**
 * The council's REST API: staff routes behind a Cognito user pool (admin-created accounts, TOTP MFA), one
 * read-only query function behind every route, stage throttling and JSON access logs. `GET /health` is the only
 * route without authorisation.
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
      description: 'Read-only queries behind the city REST API',
      memorySizeMb: 512,
      timeout: Duration.seconds(10),
      logRetentionDays: props.logRetentionDays,
      environment: {
        ...props.registry.environment,
        ...props.ingestRecords.environment,
        ...props.telemetryStore.environment,
        ...props.costRecords.environment,
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

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetentionDays as RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.accessLogs = accessLogs;
    this.api = new RestApi(this, 'Api', {
      // Unique in the account and region: the usage meter reads the API's metrics by this name.
      restApiName: `${Stack.of(this).stackName}-city-api`,
      description: 'Civic IoT platform: devices, telemetry and quarantine for council staff',
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
    const staffGet = (resource: Resource, query: readonly string[] = []): Method =>
      resource.addMethod('GET', integration, {
        authorizationType: AuthorizationType.COGNITO,
        authorizer,
        requestValidator: validator,
        requestParameters: {
          ...(resource.path.includes('{id}') ? { 'method.request.path.id': true } : {}),
          ...Object.fromEntries(query.map((name) => [`method.request.querystring.${name}`, false])),
        },
      });

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
    staffGet(device.addResource('telemetry'), [
      'from',
      'to',
      'measure',
      'interval',
      'stat',
      'cursor',
      'limit',
    ]);
    staffGet(this.api.root.addResource('quarantine'), ['reason', 'from', 'to', 'cursor', 'limit']);

    // Any staff group may read the cost report; only admin may restore (the handler answers 403 otherwise).
    const cost = this.api.root.addResource('cost');
    staffGet(cost);
    cost.addResource('restore').addMethod('POST', integration, {
      authorizationType: AuthorizationType.COGNITO,
      authorizer,
      requestValidator: validator,
    });
  }
}
