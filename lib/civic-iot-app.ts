import { App, type AppProps, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { dailyFixedAccrualUsd } from '../lambdas/domain/cost-model.js';
import { loadPlatformConfig, type PlatformConfig } from './config/platform-config.js';
import { platformEstimate } from './cost/platform-estimate.js';
import { CostGuardStack } from './stacks/cost-guard-stack.js';
import { DataStack } from './stacks/data-stack.js';
import { PlatformStack } from './stacks/platform-stack.js';

/** What {@link buildApp} returns: the app and its stacks, for bin/ and for the infra tests. */
export interface CivicIotApp {
  readonly app: App;
  readonly config: PlatformConfig;
  readonly dataStack: DataStack;
  readonly platformStack: PlatformStack;
  readonly costGuardStack: CostGuardStack;
}

/** Options for {@link buildApp}. */
export interface BuildAppOptions {
  /** Register cdk-nag's AWS Solutions checks as a validation plugin. @default true */
  readonly nag?: boolean;
  /** Passed to the App (e.g. `outdir`). @default - CDK defaults */
  readonly appProps?: Omit<AppProps, 'context'>;
}

/**
 * Builds the whole CDK app from context. `context` is added to what the CDK CLI supplies (cdk.json and `-c`);
 * the config is read from the merged context, so bin/ and the tests build exactly the same app.
 * Throws `ConfigError` when the context is not a valid configuration.
 */
export function buildApp(
  context: Readonly<Record<string, unknown>> = {},
  options: BuildAppOptions = {},
): CivicIotApp {
  const app = new App({
    ...options.appProps,
    context: {
      // Strong references: CloudFormation refuses to delete a DataStack table the PlatformStack still uses.
      // A default only: cdk.json or -c may override it.
      '@aws-cdk/core:defaultCrossStackReferences': 'strong',
      ...context,
    },
  });
  const config = loadPlatformConfig(app.node.getAllContext());
  // No account in env: the stacks are environment-agnostic in account, so synth needs no credentials or lookups.
  const env = { region: config.region };
  const prefix = `CivicIot-${config.stage}`;

  const dataStack = new DataStack(app, `${prefix}-Data`, {
    env,
    config,
    description: `Civic IoT platform data (${config.councilName}, ${config.stage}): registry, telemetry, quarantine, cost and service records`,
    terminationProtection: config.stage === 'prod',
  });
  const platformStack = new PlatformStack(app, `${prefix}-Platform`, {
    env,
    config,
    registry: dataStack.registry,
    ingestRecords: dataStack.ingestRecords,
    telemetryStore: dataStack.telemetryStore,
    costRecords: dataStack.costRecords,
    serviceRecords: dataStack.serviceRecords,
    provisioningAllowList: dataStack.provisioningAllowList,
    description: `Civic IoT platform (${config.councilName}, ${config.stage}): ingestion, device access, service workflows, city API`,
  });
  // After the platform: it meters the platform's resources and may switch off its ordinary lane.
  const costGuardStack = new CostGuardStack(app, `${prefix}-CostGuard`, {
    env,
    config,
    data: dataStack,
    platform: platformStack,
    // Storage and alarms accrue by the day whatever the traffic; the meter adds them to the metered usage.
    fixedDailyUsd: dailyFixedAccrualUsd(platformEstimate(config)),
    description: `Civic IoT platform spending guard (${config.councilName}, ${config.stage}): usage meter, budget, notices`,
  });

  Tags.of(app).add('civic:platform', 'civic-iot');
  Tags.of(app).add('civic:stage', config.stage);
  // Tag values allow only letters, digits, spaces and _ . : / = + - @ (an apostrophe would fail the deploy).
  Tags.of(app).add(
    'civic:council',
    config.councilName.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '').slice(0, 256),
  );

  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, config, dataStack, platformStack, costGuardStack };
}
