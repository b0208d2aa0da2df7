import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ORDINARY_LANE } from '../../lambdas/contracts/topics.js';
import type { PlatformConfig } from '../config/platform-config.js';
import { CityApi } from '../constructs/city-api.js';
import type { CostGuardRecords } from '../constructs/cost-guard-records.js';
import { DeviceAccessPolicy } from '../constructs/device-access-policy.js';
import type { DeviceRegistry } from '../constructs/device-registry.js';
import type { IngestRecords } from '../constructs/ingest-records.js';
import { PlatformAlerts } from '../constructs/platform-alerts.js';
import { TelemetryIngestion } from '../constructs/telemetry-ingestion.js';
import type { TelemetryStore } from '../constructs/telemetry-store.js';

/** Props for {@link PlatformStack}. */
export interface PlatformStackProps extends StackProps {
  readonly config: PlatformConfig;
  readonly registry: DeviceRegistry;
  readonly ingestRecords: IngestRecords;
  readonly telemetryStore: TelemetryStore;
  readonly costRecords: CostGuardRecords;
}

/** The stateless platform: device access, telemetry ingestion, the city API and their alarms. */
export class PlatformStack extends Stack {
  readonly deviceAccess: DeviceAccessPolicy;
  readonly ingestion: TelemetryIngestion;
  readonly cityApi: CityApi;
  readonly alerts: PlatformAlerts;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    const { config, registry, ingestRecords, telemetryStore, costRecords } = props;

    this.alerts = new PlatformAlerts(this, 'Alerts', { emails: config.alertEmails });
    this.deviceAccess = new DeviceAccessPolicy(this, 'DeviceAccess', {
      essentialDeviceTypes: config.essentialDeviceTypes,
    });
    this.ingestion = new TelemetryIngestion(this, 'TelemetryIngestion', {
      registry,
      ingestRecords,
      telemetryStore,
      costRecords,
      alerts: this.alerts,
      maxConcurrency: config.enrichmentMaxConcurrency,
      ...(config.enrichmentReservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: config.enrichmentReservedConcurrency }),
      logRetentionDays: config.logRetentionDays,
      logLevel: config.logLevel,
    });
    this.cityApi = new CityApi(this, 'CityApi', {
      registry,
      ingestRecords,
      telemetryStore,
      costRecords,
      ordinaryLane: this.ingestion.lanes[ORDINARY_LANE],
      councilName: config.councilName,
      ...(config.monthlyCeilingUsd === undefined ? {} : { monthlyCeilingUsd: config.monthlyCeilingUsd }),
      throttleRateLimit: config.apiThrottleRateLimit,
      throttleBurstLimit: config.apiThrottleBurstLimit,
      logRetentionDays: config.logRetentionDays,
      logLevel: config.logLevel,
      retainUserPool: config.stage === 'prod',
    });

    new CfnOutput(this, 'ApiUrl', { value: this.cityApi.api.url });
    new CfnOutput(this, 'UserPoolId', { value: this.cityApi.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.cityApi.userPoolClient.userPoolClientId });
    new CfnOutput(this, 'DevicePolicyName', { value: this.deviceAccess.policyName });
    for (const [lane, ingestLane] of Object.entries(this.ingestion.lanes)) {
      new CfnOutput(this, `${lane}QueueUrl`, { value: ingestLane.queue.queueUrl });
      new CfnOutput(this, `${lane}DeadLetterQueueName`, { value: ingestLane.deadLetterQueue.queueName });
    }
  }
}
