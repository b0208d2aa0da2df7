import type { RemovalPolicy } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/contracts/environment.js';
import { TABLES } from '../../lambdas/contracts/tables.js';
import { ContractTable, tableOnlyGrants } from './contract-table.js';

/** Props for {@link IngestRecords}. */
export interface IngestRecordsProps {
  /** On-demand read ceiling per table (requests per second). */
  readonly maxReadRequestUnits: number;
  /** On-demand write ceiling per table (requests per second). */
  readonly maxWriteRequestUnits: number;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The ingest path's own bookkeeping: the quarantine (every message not stored, with its reason) and the
 * processed-messages idempotency records. Both expire by TTL, so neither keeps PITR.
 */
export class IngestRecords extends Construct {
  readonly quarantineTable: TableV2;
  readonly processedMessagesTable: TableV2;

  constructor(scope: Construct, id: string, props: IngestRecordsProps) {
    super(scope, id);
    const common = {
      maxReadRequestUnits: props.maxReadRequestUnits,
      maxWriteRequestUnits: props.maxWriteRequestUnits,
      removalPolicy: props.removalPolicy,
      pointInTimeRecovery: false,
    };
    this.quarantineTable = new ContractTable(this, 'Quarantine', {
      definition: TABLES.quarantine,
      ...common,
      withoutRecoveryBecause:
        'Quarantine rows are diagnostic copies of rejected messages that expire by TTL after 90 days; ' +
        'losing them loses no telemetry, and PITR would cost more than the data is worth.',
    }).table;
    this.processedMessagesTable = new ContractTable(this, 'ProcessedMessages', {
      definition: TABLES['processed-messages'],
      ...common,
      withoutRecoveryBecause:
        'Idempotency records live only for the redelivery window (TTL) and are rebuilt by normal traffic; ' +
        'a restore would bring back nothing of value.',
    }).table;
  }

  /** Environment variables naming both tables. */
  get environment(): Record<string, string> {
    return {
      [ENV.tables.quarantine]: this.quarantineTable.tableName,
      [ENV.tables['processed-messages']]: this.processedMessagesTable.tableName,
    };
  }

  /** Enrichment: write quarantine rows, read and write idempotency records. */
  grantRecord(grantee: IGrantable): void {
    tableOnlyGrants(this.quarantineTable).writeData(grantee);
    tableOnlyGrants(this.processedMessagesTable).readWriteData(grantee);
  }

  /** The API's quarantine listing. */
  grantReadQuarantine(grantee: IGrantable): void {
    tableOnlyGrants(this.quarantineTable).readData(grantee);
  }
}
