import type { RemovalPolicy } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/contracts/environment.js';
import { TABLES } from '../../lambdas/contracts/tables.js';
import { ContractTable, tableOnlyGrants } from './contract-table.js';

/** Props for {@link DeviceRegistry}. */
export interface DeviceRegistryProps {
  /** On-demand read ceiling per table (requests per second). */
  readonly maxReadRequestUnits: number;
  /** On-demand write ceiling per table (requests per second). */
  readonly maxWriteRequestUnits: number;
  /** RETAIN in production so a stack deletion never loses the fleet register. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * What each device is (the `devices` register) and what it last said (`latest-state`). Both have PITR: the
 * register is entered by hand and cannot be rebuilt from anything else.
 */
export class DeviceRegistry extends Construct {
  readonly devicesTable: TableV2;
  readonly latestStateTable: TableV2;

  constructor(scope: Construct, id: string, props: DeviceRegistryProps) {
    super(scope, id);
    const common = {
      maxReadRequestUnits: props.maxReadRequestUnits,
      maxWriteRequestUnits: props.maxWriteRequestUnits,
      removalPolicy: props.removalPolicy,
    };
    this.devicesTable = new ContractTable(this, 'Devices', { definition: TABLES.devices, ...common }).table;
    this.latestStateTable = new ContractTable(this, 'LatestState', {
      definition: TABLES['latest-state'],
      ...common,
    }).table;
  }

  /** Environment variables naming the registry's tables, for the functions that use them. */
  get environment(): Record<string, string> {
    return {
      [ENV.tables.devices]: this.devicesTable.tableName,
      [ENV.tables['latest-state']]: this.latestStateTable.tableName,
    };
  }

  /** Read devices and latest state (the API, the enrichment registry lookup). */
  grantRead(grantee: IGrantable): void {
    tableOnlyGrants(this.devicesTable).readData(grantee);
    tableOnlyGrants(this.latestStateTable).readData(grantee);
  }

  /**
   * The API's register routes: read both tables, list devices by type (the `byType` index), and register, change
   * or decommission a device (PutItem with a condition; the record is never deleted, so no DeleteItem).
   */
  grantManage(grantee: IGrantable): void {
    this.grantRead(grantee);
    const [byType] = TABLES.devices.globalSecondaryIndexes;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.devicesTable.tableArn] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${this.devicesTable.tableArn}/index/${byType.indexName}`],
      }),
    );
  }

  /**
   * Register a new device, and nothing else (the fleet provisioning hook): read one entry consistently and add it
   * with a conditional PutItem. No listing, no index, no latest state.
   */
  grantRegister(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resources: [this.devicesTable.tableArn],
      }),
    );
  }

  /** Read devices, and read/replace latest state (enrichment: conditional "only if newer" writes). */
  grantRecordLatest(grantee: IGrantable): void {
    tableOnlyGrants(this.devicesTable).readData(grantee);
    tableOnlyGrants(this.latestStateTable).readWriteData(grantee);
  }
}
