import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { ORDINARY_LANE } from '../../lambdas/contracts/topics.js';
import { boundingBoxText } from '../../lambdas/domain/device-registry.js';
import { blueprintsNamed } from '../../services/catalogue.js';
import type { PlatformConfig } from '../config/platform-config.js';
import { CertificateRetirement } from '../constructs/certificate-retirement.js';
import { CityApi } from '../constructs/city-api.js';
import type { CostGuardRecords } from '../constructs/cost-guard-records.js';
import { DeviceAccessPolicy } from '../constructs/device-access-policy.js';
import type { DeviceRegistry } from '../constructs/device-registry.js';
import { FleetProvisioning } from '../constructs/fleet-provisioning.js';
import type { IngestRecords } from '../constructs/ingest-records.js';
import { PlatformAlerts } from '../constructs/platform-alerts.js';
import type { ProvisioningAllowList } from '../constructs/provisioning-allow-list.js';
import type { ServiceRecords } from '../constructs/service-records.js';
import { constructId } from '../constructs/service-workflow-lane.js';
import { ServiceWorkflows } from '../constructs/service-workflows.js';
import { TelemetryIngestion } from '../constructs/telemetry-ingestion.js';
import type { TelemetryStore } from '../constructs/telemetry-store.js';

/** Props for {@link PlatformStack}. */
export interface PlatformStackProps extends StackProps {
  readonly config: PlatformConfig;
  readonly registry: DeviceRegistry;
  readonly ingestRecords: IngestRecords;
  readonly telemetryStore: TelemetryStore;
  readonly costRecords: CostGuardRecords;
  readonly serviceRecords: ServiceRecords;
  /** The serials devices may provision themselves under by claim (in the data stack). */
  readonly provisioningAllowList: ProvisioningAllowList;
}

/**
 * The stateless platform: device access, telemetry ingestion, the enabled services' workflows on their event bus,
 * the city API and their alarms.
 */
export class PlatformStack extends Stack {
  readonly deviceAccess: DeviceAccessPolicy;
  /** The role rotation's grace-period schedules run as to retire old device certificates. */
  readonly certificateRetirement: CertificateRetirement;
  /** Fleet provisioning by claim: the template, its allow-list hook and the claim certificate's policy. */
  readonly fleetProvisioning: FleetProvisioning;
  readonly ingestion: TelemetryIngestion;
  readonly cityApi: CityApi;
  readonly alerts: PlatformAlerts;
  /** The enabled services' bus and workflows; absent when config enables none. */
  readonly services?: ServiceWorkflows;

  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    super(scope, id, props);
    const { config, registry, ingestRecords, telemetryStore, costRecords, serviceRecords } = props;
    const blueprints = blueprintsNamed(config.services);

    this.alerts = new PlatformAlerts(this, 'Alerts', { emails: config.alertEmails });
    this.deviceAccess = new DeviceAccessPolicy(this, 'DeviceAccess', {
      essentialDeviceTypes: config.essentialDeviceTypes,
    });
    this.certificateRetirement = new CertificateRetirement(this, 'CertificateRetirement');
    this.fleetProvisioning = new FleetProvisioning(this, 'FleetProvisioning', {
      allowList: props.provisioningAllowList,
      registry,
      deviceAccess: this.deviceAccess,
      essentialDeviceTypes: config.essentialDeviceTypes,
      ...(config.councilArea === undefined ? {} : { councilArea: config.councilArea }),
      logRetentionDays: config.logRetentionDays,
      logLevel: config.logLevel,
    });
    if (blueprints.length > 0) {
      this.services = new ServiceWorkflows(this, 'Services', {
        stage: config.stage,
        blueprints,
        subscribers: config.serviceSubscribers,
        settings: config.serviceSettings,
        registry,
        records: serviceRecords,
        alerts: this.alerts,
        logRetentionDays: config.logRetentionDays,
        logLevel: config.logLevel,
        maxConcurrency: config.workflowMaxConcurrency,
        ...(config.workflowReservedConcurrency === undefined
          ? {}
          : { reservedConcurrentExecutions: config.workflowReservedConcurrency }),
      });
    }
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
      ...(this.services ? { serviceDetection: { workflows: this.services, records: serviceRecords } } : {}),
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
      openDataLimits: {
        rateLimit: config.openDataRateLimit,
        burstLimit: config.openDataBurstLimit,
        quotaPerDay: config.openDataQuotaPerDay,
      },
      corsAllowOrigins: config.corsAllowOrigins,
      ...(config.councilArea === undefined ? {} : { councilArea: config.councilArea }),
      ...(config.apiReservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: config.apiReservedConcurrency }),
      logRetentionDays: config.logRetentionDays,
      logLevel: config.logLevel,
      retainUserPool: config.stage === 'prod',
      serviceRecords,
      services: blueprints,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.cityApi.api.url });
    if (config.councilArea) {
      // Where devices may be registered: what `npm run device` on AWS checks before it creates anything.
      new CfnOutput(this, 'CouncilArea', {
        value: boundingBoxText(config.councilArea),
        description: 'The council area devices are registered in: west,south,east,north (decimal degrees)',
      });
    }
    new CfnOutput(this, 'UserPoolId', { value: this.cityApi.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.cityApi.userPoolClient.userPoolClientId });
    // The id only: the key's value is read from API Gateway (aws apigateway get-api-key --include-value).
    new CfnOutput(this, 'OpenDataApiKeyId', { value: this.cityApi.councilAppsKey.keyId });
    // What `npm run device` (AWS mode) reads to onboard, quarantine and register devices.
    new CfnOutput(this, 'DevicePolicyName', { value: this.deviceAccess.policyName });
    new CfnOutput(this, 'QuarantinePolicyName', { value: this.deviceAccess.quarantinePolicyName });
    // The role `npm run device -- rotate` passes to the schedules that retire old certificates after the grace period.
    new CfnOutput(this, 'CertificateRetirementRoleArn', { value: this.certificateRetirement.role.roleArn });
    new CfnOutput(this, 'DeviceRegistryTableName', { value: registry.devicesTable.tableName });
    new CfnOutput(this, 'LatestStateTableName', { value: registry.latestStateTable.tableName });
    // Fleet provisioning by claim: the template vendors configure, the policy for claim certificates, the list.
    new CfnOutput(this, 'ProvisioningTemplateName', { value: this.fleetProvisioning.templateName });
    new CfnOutput(this, 'ClaimPolicyName', { value: this.fleetProvisioning.claimPolicyName });
    new CfnOutput(this, 'ProvisioningAllowListTableName', {
      value: props.provisioningAllowList.table.tableName,
    });
    // Which Basic Ingest lane each device type publishes to (a device bundle's topic depends on it).
    new CfnOutput(this, 'EssentialDeviceTypes', { value: config.essentialDeviceTypes.join(',') || 'none' });
    for (const [lane, ingestLane] of Object.entries(this.ingestion.lanes)) {
      new CfnOutput(this, `${lane}QueueUrl`, { value: ingestLane.queue.queueUrl });
      new CfnOutput(this, `${lane}DeadLetterQueueName`, { value: ingestLane.deadLetterQueue.queueName });
    }
    if (this.services) {
      new CfnOutput(this, 'ServiceEventBusName', { value: this.services.bus.eventBusName });
      for (const lane of this.services.lanes) {
        const id = lane.node.id;
        for (const blueprint of lane.blueprints) {
          new CfnOutput(this, `${constructId(blueprint.name)}TopicArn`, {
            value: (lane.topics.get(blueprint.name) as Topic).topicArn,
            description: `${blueprint.title}: notices (${lane.lane} workflow lane)`,
          });
        }
        new CfnOutput(this, `${id}QueueUrl`, {
          value: lane.queue.queueUrl,
          description: `${lane.lane} workflow lane: ${lane.blueprints.map((b) => b.name).join(', ')}`,
        });
        new CfnOutput(this, `${id}DeadLetterQueueName`, { value: lane.deadLetterQueue.queueName });
      }
      // Which services the cost guard may never hold back, stated where an operator reads the stack.
      new CfnOutput(this, 'EssentialServices', {
        value:
          blueprints
            .filter((b) => b.essential)
            .map((b) => b.name)
            .join(',') || 'none',
      });
    }
  }
}
