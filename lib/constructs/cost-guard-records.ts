import type { RemovalPolicy } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/contracts/environment.js';
import { COST_GUARD_KEYS, TABLES } from '../../lambdas/contracts/tables.js';
import { ContractTable, tableOnlyGrants } from './contract-table.js';

/** Props for {@link CostGuardRecords}. */
export interface CostGuardRecordsProps {
  /** On-demand read ceiling (requests per second). */
  readonly maxReadRequestUnits: number;
  /** On-demand write ceiling (requests per second). */
  readonly maxWriteRequestUnits: number;
  /** RETAIN in production: the audit log is the council's record of what the guard switched off and who restored it. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The cost guard's records (`cost-guard` table): the month ledgers, the guard's state, the degrade settings and
 * the audit log. It lives with the other stateful resources in the data stack because three stacks' functions use
 * it: the enrichment functions read the degrade settings and the city API reads the report and restores, both in
 * the platform stack, which the cost guard stack itself depends on. PITR on: the audit log is evidence.
 */
export class CostGuardRecords extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: CostGuardRecordsProps) {
    super(scope, id);
    this.table = new ContractTable(this, 'Records', {
      definition: TABLES['cost-guard'],
      maxReadRequestUnits: props.maxReadRequestUnits,
      maxWriteRequestUnits: props.maxWriteRequestUnits,
      removalPolicy: props.removalPolicy,
    }).table;
  }

  /** The variable naming the table. */
  get environment(): Record<string, string> {
    return { [ENV.tables['cost-guard']]: this.table.tableName };
  }

  /** The meter, the budget alert and the API's restore: read and write every record. */
  grantGuard(grantee: IGrantable): void {
    tableOnlyGrants(this.table).readWriteData(grantee);
  }

  /**
   * The enrichment functions: read the degrade settings item and nothing else (IAM `dynamodb:LeadingKeys`
   * limits GetItem to the settings partition, so the audit log and ledgers stay out of reach).
   */
  grantReadDegradeSettings(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': [COST_GUARD_KEYS.degradeSettings.recordKey],
          },
        },
      }),
    );
  }
}
