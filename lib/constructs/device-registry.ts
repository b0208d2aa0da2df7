import type { RemovalPolicy } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
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

  /** Read devices, and read/replace latest state (enrichment: conditional "only if newer" writes). */
  grantRecordLatest(grantee: IGrantable): void {
    tableOnlyGrants(this.devicesTable).readData(grantee);
    tableOnlyGrants(this.latestStateTable).readWriteData(grantee);
  }
}
