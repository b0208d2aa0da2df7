import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { PlatformConfig } from '../config/platform-config.js';
import { DeviceRegistry } from '../constructs/device-registry.js';
import { IngestRecords } from '../constructs/ingest-records.js';
import { TelemetryStore } from '../constructs/telemetry-store.js';

/** Props for {@link DataStack}. */
export interface DataStackProps extends StackProps {
  readonly config: PlatformConfig;
}

/**
 * Everything stateful: registry, ingest bookkeeping and the telemetry store. Kept apart from the stateless
 * platform so that redeploying or deleting the platform never touches data; retained in `prod`.
 */
export class DataStack extends Stack {
  readonly registry: DeviceRegistry;
  readonly ingestRecords: IngestRecords;
  readonly telemetryStore: TelemetryStore;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = config.stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const caps = {
      maxReadRequestUnits: config.telemetryMaxReadRequestUnits,
      maxWriteRequestUnits: config.telemetryMaxWriteRequestUnits,
    };

    this.registry = new DeviceRegistry(this, 'DeviceRegistry', { ...caps, removalPolicy });
    this.ingestRecords = new IngestRecords(this, 'IngestRecords', { ...caps, removalPolicy });
    this.telemetryStore = new TelemetryStore(this, 'TelemetryStore', {
      ...caps,
      kind: config.telemetryStore,
      retentionDays: config.retentionDays,
      timestreamMemoryRetentionHours: config.timestreamMemoryRetentionHours,
      timestreamMagneticRetentionDays: config.timestreamMagneticRetentionDays,
      removalPolicy,
    });
  }
}
