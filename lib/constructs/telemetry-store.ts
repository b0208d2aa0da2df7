import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-timestream';
import { Construct } from 'constructs';
import { ENV, type TelemetryStoreKind } from '../../lambdas/contracts/environment.js';
import { TABLES } from '../../lambdas/contracts/tables.js';
import { ContractTable, tableOnlyGrants } from './contract-table.js';

/** Props for {@link TelemetryStore}. */
export interface TelemetryStoreProps {
  /** Which adapter's resources to create. Only that adapter's resources exist in the stack. */
  readonly kind: TelemetryStoreKind;
  /** How long readings are kept; DynamoDB TTL is written from it by the handler, Timestream uses it below. */
  readonly retentionDays: number;
  /** DynamoDB on-demand read ceiling (requests per second). Ignored for Timestream. */
  readonly maxReadRequestUnits: number;
  /** DynamoDB on-demand write ceiling (requests per second). Ignored for Timestream. */
  readonly maxWriteRequestUnits: number;
  /** Timestream memory store retention. @default 24 */
  readonly timestreamMemoryRetentionHours?: number;
  /** Timestream magnetic store retention. @default - retentionDays */
  readonly timestreamMagneticRetentionDays?: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The time series behind one port with two adapters: a DynamoDB `telemetry` table (default; works on every
 * account) or a Timestream for LiveAnalytics database and table (opt-in; only accounts that already have it).
 * Functions get access through {@link grantWrite}/{@link grantRead} and find the store through {@link environment}.
 */
export class TelemetryStore extends Construct {
  readonly kind: TelemetryStoreKind;
  /** The DynamoDB series table, when `kind` is `dynamodb`. */
  readonly table?: TableV2;
  /** The Timestream database, when `kind` is `timestream`. */
  readonly timestreamDatabase?: CfnDatabase;
  /** The Timestream table, when `kind` is `timestream`. */
  readonly timestreamTable?: CfnTable;
  /** Where Timestream reports records it rejects asynchronously on magnetic-store writes. */
  readonly rejectedDataBucket?: Bucket;
  private readonly retentionDays: number;

  constructor(scope: Construct, id: string, props: TelemetryStoreProps) {
    super(scope, id);
    this.kind = props.kind;
    this.retentionDays = props.retentionDays;
    if (props.kind === 'dynamodb') {
      this.table = new ContractTable(this, 'Series', {
        definition: TABLES.telemetry,
        maxReadRequestUnits: props.maxReadRequestUnits,
        maxWriteRequestUnits: props.maxWriteRequestUnits,
        removalPolicy: props.removalPolicy,
      }).table;
      return;
    }

    // No bucket policy for a Timestream service principal: like its batch-load reports, Timestream writes these
    // with the permissions of the principal that created or updated the table (here CloudFormation's execution
    // role, which needs s3:PutObject on this bucket; the default bootstrap role has it), not as a service.
    this.rejectedDataBucket = new Bucket(this, 'RejectedData', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // Reports are for diagnosing late or conflicting writes; after 90 days nobody will act on them.
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.rejectedDataBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Only the Timestream service writes here (rejected-record reports); server access logs would need a ' +
        'second bucket and would record nothing but that service.',
    });

    this.timestreamDatabase = new CfnDatabase(this, 'Database');
    this.timestreamDatabase.applyRemovalPolicy(props.removalPolicy);
    Validations.of(this.timestreamDatabase).acknowledge({
      id: 'AwsSolutions-TS3',
      reason:
        'Encrypted at rest with the AWS managed Timestream key; readings from street sensors carry no personal ' +
        'data, so a customer managed key (monthly fee) is not required.',
    });

    this.timestreamTable = new CfnTable(this, 'Series', {
      databaseName: this.timestreamDatabase.ref,
      retentionProperties: {
        MemoryStoreRetentionPeriodInHours: String(props.timestreamMemoryRetentionHours ?? 24),
        MagneticStoreRetentionPeriodInDays: String(
          props.timestreamMagneticRetentionDays ?? props.retentionDays,
        ),
      },
      // Readings from a device that was offline longer than the memory window still land (in the magnetic store);
      // what Timestream refuses there is reported to the bucket instead of disappearing.
      magneticStoreWriteProperties: {
        EnableMagneticStoreWrites: true,
        MagneticStoreRejectedDataLocation: {
          S3Configuration: { BucketName: this.rejectedDataBucket.bucketName, EncryptionOption: 'SSE_S3' },
        },
      },
    });
    this.timestreamTable.applyRemovalPolicy(props.removalPolicy);
    for (const resource of [this.timestreamDatabase, this.timestreamTable]) {
      Validations.of(resource).acknowledge({
        id: 'CloudFormation-Validate::W3697',
        reason:
          'Timestream for LiveAnalytics is in maintenance mode (closed to new customers since 20 June 2025). This ' +
          'adapter is opt-in for accounts that already have it; the default store is DynamoDB.',
      });
    }
  }

  /** Environment variables telling the handlers which adapter to use and where its data lives. */
  get environment(): Record<string, string> {
    const common = { [ENV.telemetryStore]: this.kind, [ENV.retentionDays]: String(this.retentionDays) };
    if (this.table) return { ...common, [ENV.tables.telemetry]: this.table.tableName };
    return {
      ...common,
      [ENV.timestreamDatabase]: this.timestreamDatabase?.ref ?? '',
      [ENV.timestreamTable]: this.timestreamTable?.attrName ?? '',
    };
  }

  /**
   * Append readings (enrichment). On DynamoDB this includes reading a bucket item: when a conditional append
   * fails, the writer reads the item's message ids to tell a duplicate from a full item.
   */
  grantWrite(grantee: IGrantable): void {
    if (this.table) {
      tableOnlyGrants(this.table).readWriteData(grantee);
      return;
    }
    this.grantTimestream(grantee, ['timestream:WriteRecords']);
  }

  /** Query readings (the API). */
  grantRead(grantee: IGrantable): void {
    if (this.table) {
      tableOnlyGrants(this.table).readData(grantee);
      return;
    }
    this.grantTimestream(grantee, ['timestream:Select', 'timestream:DescribeTable']);
  }

  private grantTimestream(grantee: IGrantable, tableActions: string[]): void {
    if (!this.timestreamTable) throw new Error('TelemetryStore: no Timestream table');
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: tableActions, resources: [this.timestreamTable.attrArn] }),
    );
    // Endpoint discovery has no resource type in IAM: it can only be granted on '*'.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['timestream:DescribeEndpoints'], resources: ['*'] }),
    );
    if (Construct.isConstruct(grantee.grantPrincipal)) {
      Validations.of(grantee.grantPrincipal).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          "Only timestream:DescribeEndpoints is on '*': it has no resource type in IAM. Reads and writes are " +
          'granted on the Timestream table ARN alone.',
      });
    }
  }
}
