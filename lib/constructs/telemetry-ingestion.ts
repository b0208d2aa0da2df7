import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/contracts/environment.js';
import { INGEST_SETTINGS } from '../../lambdas/contracts/ingest-settings.js';
import { LANES, type Lane } from '../../lambdas/contracts/topics.js';
import type { LogLevel } from '../config/platform-config.js';
import type { CostGuardRecords } from './cost-guard-records.js';
import type { DeviceRegistry } from './device-registry.js';
import { IngestLane } from './ingest-lane.js';
import type { IngestRecords } from './ingest-records.js';
import type { PlatformAlerts } from './platform-alerts.js';
import type { ServiceRecords } from './service-records.js';
import type { ServiceWorkflows } from './service-workflows.js';
import type { TelemetryStore } from './telemetry-store.js';

/** What enrichment needs to run the enabled services' change detectors. */
export interface ServiceDetection {
  /** The bus the domain events go to, and the enabled services with their settings. */
  readonly workflows: ServiceWorkflows;
  /** The detector state (`service-state`), read per reading and written on change. */
  readonly records: ServiceRecords;
}

/** Props for {@link TelemetryIngestion}. */
export interface TelemetryIngestionProps {
  readonly registry: DeviceRegistry;
  readonly ingestRecords: IngestRecords;
  readonly telemetryStore: TelemetryStore;
  /** The cost guard's records: each lane function reads its lane's sampling rate there while degraded. */
  readonly costRecords: CostGuardRecords;
  readonly alerts: PlatformAlerts;
  /** Event source mapping maximum concurrency per lane (2..1000). */
  readonly maxConcurrency: number;
  /** Reserved concurrency per lane function. @default - none */
  readonly reservedConcurrentExecutions?: number;
  readonly logRetentionDays: number;
  /** Level of the functions' application logs. */
  readonly logLevel: LogLevel;
  /** Days kept in the rule-error archive before expiry. @default 90 */
  readonly errorArchiveRetentionDays?: number;
  /**
   * The enabled services' detectors, run by every lane's enrichment after a point is stored. @default - none: no
   * service is enabled, so enrichment neither reads history nor publishes events and gets no access to either
   */
  readonly serviceDetection?: ServiceDetection;
}

/**
 * Device telemetry from IoT Core into the stores: one {@link IngestLane} per lane in `LANES`, sharing one
 * encrypted, TLS-only archive for messages the rules could not deliver. With services enabled, each lane's
 * enrichment also runs their change detectors and puts the domain events on the services' bus.
 */
export class TelemetryIngestion extends Construct {
  readonly errorArchive: Bucket;
  readonly lanes: Readonly<Record<Lane, IngestLane>>;

  constructor(scope: Construct, id: string, props: TelemetryIngestionProps) {
    super(scope, id);
    this.errorArchive = new Bucket(this, 'RuleErrorArchive', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      lifecycleRules: [{ expiration: Duration.days(props.errorArchiveRetentionDays ?? 90) }],
      // It holds telemetry that never reached a queue, waiting for replay: never deleted together with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.errorArchive).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only the IoT rules engine writes here (rule error records, via per-lane roles); server access logs would ' +
        'need a second bucket and would record nothing but that service. CloudTrail data events can be enabled if audit needs it.',
    });

    const environment = {
      ...props.registry.environment,
      ...props.ingestRecords.environment,
      ...props.telemetryStore.environment,
      ...props.costRecords.environment,
      [ENV.registryCacheSeconds]: String(INGEST_SETTINGS.registryCacheSeconds),
      [ENV.dedupeWindowSeconds]: String(INGEST_SETTINGS.dedupeWindowSeconds),
      [ENV.quarantineRetentionDays]: String(INGEST_SETTINGS.quarantineRetentionDays),
      ...(props.serviceDetection
        ? {
            ...props.serviceDetection.workflows.detectionEnvironment,
            [ENV.tables['service-state']]: props.serviceDetection.records.stateTable.tableName,
          }
        : {}),
    };

    const lanes = {} as Record<Lane, IngestLane>;
    for (const lane of LANES) {
      const ingestLane = new IngestLane(this, lane, {
        lane,
        errorArchive: this.errorArchive,
        environment,
        maxConcurrency: props.maxConcurrency,
        ...(props.reservedConcurrentExecutions === undefined
          ? {}
          : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
        logRetentionDays: props.logRetentionDays,
        logLevel: props.logLevel,
        alerts: props.alerts,
      });
      const role = ingestLane.enrichment.role;
      props.registry.grantRecordLatest(role);
      props.ingestRecords.grantRecord(role);
      props.telemetryStore.grantWrite(role);
      props.costRecords.grantReadDegradeSettings(role);
      if (props.serviceDetection) {
        // Detectors read the device's recent history, fold it into their state and publish what changed.
        props.telemetryStore.grantRead(role);
        props.serviceDetection.records.grantDetectorState(role);
        props.serviceDetection.workflows.grantPublish(role);
      }
      lanes[lane] = ingestLane;
    }
    this.lanes = lanes;
  }
}
