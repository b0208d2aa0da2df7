import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Props for {@link PlatformFunction}. */
export interface PlatformFunctionProps {
  /** Handler file under `lambdas/handlers/`, without extension (e.g. `enrich-telemetry`). Exports `handler`. */
  readonly handlerName: string;
  readonly description: string;
  readonly memorySizeMb: number;
  readonly timeout: Duration;
  /** Retention of the function's own log group; must be a value CloudWatch Logs accepts. */
  readonly logRetentionDays: number;
  readonly environment: Readonly<Record<string, string>>;
  /** Reserved concurrency; leave unset on accounts whose concurrency quota is 10. @default - none */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * One of the platform's Lambda functions with the house defaults: Node.js 22 on arm64, ESM bundle with source
 * maps, JSON logs into a log group with bounded retention, and a role that may write only to that log group
 * (instead of the AWSLambdaBasicExecutionRole managed policy, which allows every log group in the account).
 */
export class PlatformFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PlatformFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as RetentionDays,
      // Logs are diagnostics, not records; leaving orphaned log groups behind only costs money.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${props.handlerName}`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: `${REPO_ROOT}lambdas/handlers/${props.handlerName}.ts`,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySizeMb,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      bundling: {
        minify: true,
        sourceMap: true,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        // Some CommonJS dependencies call require(); an ESM bundle has no require unless we make one.
        banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: handlers are bundled for and tested on Node 22 (esbuild target node22); ' +
        'moving to a newer runtime is a reviewed change, not a side effect of upgrading aws-cdk-lib.',
    });
  }
}
