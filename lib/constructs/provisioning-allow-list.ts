import type { RemovalPolicy } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/contracts/environment.js';
import { TABLES } from '../../lambdas/contracts/tables.js';
import { ContractTable } from './contract-table.js';

/**
 * The allow-list's own ceiling, reads and writes alike. Its traffic is people-paced: a council loading a list
 * (eight conditional puts at a time) and devices provisioning (a read and a write or two each). The platform's
 * floor of 25 a second loads a thousand serials in under a minute and costs at most a few dollars a month even
 * if held at the cap all month.
 */
export const ALLOW_LIST_REQUEST_UNITS = 25;

/** Props for {@link ProvisioningAllowList}. */
export interface ProvisioningAllowListProps {
  /** On-demand read ceiling (requests per second). @default {@link ALLOW_LIST_REQUEST_UNITS} */
  readonly maxReadRequestUnits?: number;
  /** On-demand write ceiling (requests per second). @default {@link ALLOW_LIST_REQUEST_UNITS} */
  readonly maxWriteRequestUnits?: number;
  /** RETAIN in production: the list says which serials were used, by which certificate, and when. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The serial numbers devices may provision themselves under by claim, each with the device it becomes, and
 * whether it has been used (`provisioning-allow-list`). Stateful, so it lives with the other tables: the record
 * of which serial provisioned when, under which certificate, must outlive a redeployed platform. PITR on, like
 * every table entered by hand.
 */
export class ProvisioningAllowList extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: ProvisioningAllowListProps) {
    super(scope, id);
    this.table = new ContractTable(this, 'Table', {
      definition: TABLES['provisioning-allow-list'],
      maxReadRequestUnits: props.maxReadRequestUnits ?? ALLOW_LIST_REQUEST_UNITS,
      maxWriteRequestUnits: props.maxWriteRequestUnits ?? ALLOW_LIST_REQUEST_UNITS,
      removalPolicy: props.removalPolicy,
    }).table;
  }

  /** The environment variable naming the table, for the function that uses it. */
  get environment(): Record<string, string> {
    return { [ENV.tables['provisioning-allow-list']]: this.table.tableName };
  }

  /**
   * The pre-provisioning hook: read an entry (consistently) and claim or give back a serial (conditional
   * UpdateItem). No PutItem, DeleteItem or Scan: the hook never adds serials, removes them or lists them.
   */
  grantAdmission(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
    );
  }
}
