import { type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableGrants, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { KeyDefinition, TableDefinition } from '../../lambdas/contracts/tables.js';

/** Props for {@link ContractTable}. */
export interface ContractTableProps {
  /** The table's shape from `lambdas/contracts/tables.ts`: keys, TTL attribute and indexes are taken from it. */
  readonly definition: TableDefinition;
  /** On-demand ceiling on reads per second; bounds the worst-case bill. */
  readonly maxReadRequestUnits: number;
  /** On-demand ceiling on writes per second; bounds the worst-case bill. */
  readonly maxWriteRequestUnits: number;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Point-in-time recovery. When off, `withoutRecoveryBecause` must say why (it becomes the cdk-nag DDB3
   * acknowledgement on this table).
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;
  /** Why PITR is off; required when `pointInTimeRecovery` is false. @default - none */
  readonly withoutRecoveryBecause?: string;
}

/**
 * A DynamoDB table rendered from a contract definition, so the deployed keys, TTL and indexes are exactly what
 * the handlers and the local runtime use. On-demand with a throughput cap on the table and on each of its indexes,
 * encrypted with the AWS managed key so key use is visible in CloudTrail without a customer key's monthly fee.
 */
export class ContractTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: ContractTableProps) {
    super(scope, id);
    const { definition } = props;
    const pointInTimeRecovery = props.pointInTimeRecovery ?? true;
    if (!pointInTimeRecovery && !props.withoutRecoveryBecause) {
      throw new Error(
        `ContractTable '${definition.id}': withoutRecoveryBecause is required when PITR is off`,
      );
    }
    this.table = new TableV2(this, 'Table', {
      partitionKey: attribute(definition.partitionKey),
      ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
      ...(definition.timeToLiveAttribute ? { timeToLiveAttribute: definition.timeToLiveAttribute } : {}),
      globalSecondaryIndexes: (definition.globalSecondaryIndexes ?? []).map((index) => ({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
        // An index is billed for its own reads and for every table write it copies, so it needs caps of its own:
        // the table's, stated on the index rather than left to a default the cost statement cannot read.
        maxReadRequestUnits: props.maxReadRequestUnits,
        maxWriteRequestUnits: props.maxWriteRequestUnits,
      })),
      billing: Billing.onDemand({
        maxReadRequestUnits: props.maxReadRequestUnits,
        maxWriteRequestUnits: props.maxWriteRequestUnits,
      }),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: pointInTimeRecovery },
      removalPolicy: props.removalPolicy,
    });
    if (!pointInTimeRecovery && props.withoutRecoveryBecause) {
      Validations.of(this.table).acknowledge({
        id: 'AwsSolutions-DDB3',
        reason: props.withoutRecoveryBecause,
      });
    }
  }
}

/**
 * Grants on the table itself, without its indexes. `TableV2`'s own grants add `<table>/index/*` whenever the table
 * has an index; no handler queries an index yet, so granting them would be a wildcard nobody uses. When a handler
 * starts querying one, grant that index by name instead.
 */
export function tableOnlyGrants(table: TableV2): TableGrants {
  return TableGrants.fromTable(table, undefined, false);
}

function attribute(key: KeyDefinition): { name: string; type: AttributeType } {
  return { name: key.name, type: key.type === 'N' ? AttributeType.NUMBER : AttributeType.STRING };
}
