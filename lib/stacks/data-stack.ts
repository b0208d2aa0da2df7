import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { TABLES } from '../../lambdas/contracts/tables.js';
import type { PlatformConfig } from '../config/platform-config.js';
import { CostGuardRecords } from '../constructs/cost-guard-records.js';
import { DeviceRegistry } from '../constructs/device-registry.js';
import { IngestRecords } from '../constructs/ingest-records.js';
import { ProvisioningAllowList } from '../constructs/provisioning-allow-list.js';
import { ServiceRecords } from '../constructs/service-records.js';
import { TelemetryStore } from '../constructs/telemetry-store.js';

/** Props for {@link DataStack}. */
export interface DataStackProps extends StackProps {
  readonly config: PlatformConfig;
}

/** A table the usage meter reads consumed capacity for, with its index names. */
export interface MeteredTable {
  readonly table: TableV2;
  readonly indexes: readonly string[];
}

/**
 * Everything stateful: registry, ingest bookkeeping, the telemetry store, the cost guard's records, the service
 * records (detector state, jobs, alerts, site views) and the provisioning allow-list. Kept apart from the stateless
 * platform so that redeploying or deleting the platform never touches data; retained in `prod`.
 */
export class DataStack extends Stack {
  readonly registry: DeviceRegistry;
  readonly ingestRecords: IngestRecords;
  readonly telemetryStore: TelemetryStore;
  readonly costRecords: CostGuardRecords;
  readonly serviceRecords: ServiceRecords;
  /** The serial numbers devices may provision themselves under by claim (fleet provisioning). */
  readonly provisioningAllowList: ProvisioningAllowList;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const caps = {
      maxReadRequestUnits: config.telemetryMaxReadRequestUnits,
      maxWriteRequestUnits: config.telemetryMaxWriteRequestUnits,
    };

    // The registry's reads include the scheduled fleet sweeps (offline devices): a cap of their own.
    this.registry = new DeviceRegistry(this, 'DeviceRegistry', {
      ...caps,
      maxReadRequestUnits: config.registryMaxReadRequestUnits,
      removalPolicy,
    });
    this.ingestRecords = new IngestRecords(this, 'IngestRecords', { ...caps, removalPolicy });
    this.telemetryStore = new TelemetryStore(this, 'TelemetryStore', {
      ...caps,
      kind: config.telemetryStore,
      retentionDays: config.retentionDays,
      timestreamMemoryRetentionHours: config.timestreamMemoryRetentionHours,
      timestreamMagneticRetentionDays: config.timestreamMagneticRetentionDays,
      removalPolicy,
    });
    this.costRecords = new CostGuardRecords(this, 'CostGuardRecords', { ...caps, removalPolicy });
    this.serviceRecords = new ServiceRecords(this, 'ServiceRecords', {
      stateMaxReadRequestUnits: config.serviceStateMaxReadRequestUnits,
      stateMaxWriteRequestUnits: config.serviceStateMaxWriteRequestUnits,
      workflowMaxReadRequestUnits: config.workflowMaxReadRequestUnits,
      workflowMaxWriteRequestUnits: config.workflowMaxWriteRequestUnits,
      removalPolicy,
    });
    this.provisioningAllowList = new ProvisioningAllowList(this, 'ProvisioningAllowList', { removalPolicy });
  }

  /** Every DynamoDB table, with its index names, for the usage meter. */
  get meteredTables(): MeteredTable[] {
    const indexes = (id: keyof typeof TABLES) => {
      const definition = TABLES[id];
      return 'globalSecondaryIndexes' in definition
        ? definition.globalSecondaryIndexes.map((index) => index.indexName)
        : [];
    };
    return [
      { table: this.registry.devicesTable, indexes: indexes('devices') },
      { table: this.registry.latestStateTable, indexes: indexes('latest-state') },
      { table: this.ingestRecords.quarantineTable, indexes: indexes('quarantine') },
      { table: this.ingestRecords.processedMessagesTable, indexes: indexes('processed-messages') },
      ...(this.telemetryStore.table
        ? [{ table: this.telemetryStore.table, indexes: indexes('telemetry') }]
        : []),
      { table: this.costRecords.table, indexes: indexes('cost-guard') },
      { table: this.serviceRecords.stateTable, indexes: indexes('service-state') },
      { table: this.serviceRecords.jobsTable, indexes: indexes('jobs') },
      { table: this.serviceRecords.alertsTable, indexes: indexes('alerts') },
      { table: this.serviceRecords.sitesTable, indexes: indexes('service-sites') },
      { table: this.provisioningAllowList.table, indexes: indexes('provisioning-allow-list') },
    ];
  }
}
