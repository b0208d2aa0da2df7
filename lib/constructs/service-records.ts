import type { RemovalPolicy } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/contracts/environment.js';
import { TABLES, type TableDefinition } from '../../lambdas/contracts/tables.js';
import { ContractTable, tableOnlyGrants } from './contract-table.js';

/** Props for {@link ServiceRecords}. */
export interface ServiceRecordsProps {
  /** Read ceiling of `service-state`: enrichment reads a watched device's detector states once per reading. */
  readonly stateMaxReadRequestUnits: number;
  /** Write ceiling of `service-state`; every domain event comes with a state write, so it bounds the events too. */
  readonly stateMaxWriteRequestUnits: number;
  /** Read ceiling of the jobs, alerts and service-sites tables (and each of their indexes). */
  readonly workflowMaxReadRequestUnits: number;
  /** Write ceiling of the jobs, alerts and service-sites tables (and each of their indexes). */
  readonly workflowMaxWriteRequestUnits: number;
  /** RETAIN in production: jobs and alerts are the council's record of what was done and when. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * What the service blueprints keep: each detector's small state per device (`service-state`, written by
 * enrichment), and what the workflows make of the events: work orders (`jobs`), alert incidents (`alerts`) and
 * each service's current view per site (`service-sites`, served as open data). The tables exist whatever the
 * `services` config says, so switching a service off and on again loses nothing. PITR on all four: jobs and alerts
 * are records a council may have to produce, and the detector state decides which events are still to come.
 */
export class ServiceRecords extends Construct {
  readonly stateTable: TableV2;
  readonly jobsTable: TableV2;
  readonly alertsTable: TableV2;
  readonly sitesTable: TableV2;

  constructor(scope: Construct, id: string, props: ServiceRecordsProps) {
    super(scope, id);
    const workflowCaps = {
      maxReadRequestUnits: props.workflowMaxReadRequestUnits,
      maxWriteRequestUnits: props.workflowMaxWriteRequestUnits,
      removalPolicy: props.removalPolicy,
    };
    this.stateTable = new ContractTable(this, 'State', {
      definition: TABLES['service-state'],
      maxReadRequestUnits: props.stateMaxReadRequestUnits,
      maxWriteRequestUnits: props.stateMaxWriteRequestUnits,
      removalPolicy: props.removalPolicy,
    }).table;
    this.jobsTable = new ContractTable(this, 'Jobs', { definition: TABLES.jobs, ...workflowCaps }).table;
    this.alertsTable = new ContractTable(this, 'Alerts', {
      definition: TABLES.alerts,
      ...workflowCaps,
    }).table;
    this.sitesTable = new ContractTable(this, 'Sites', {
      definition: TABLES['service-sites'],
      ...workflowCaps,
    }).table;
  }

  /** Environment variables naming the four tables. */
  get environment(): Record<string, string> {
    return {
      [ENV.tables['service-state']]: this.stateTable.tableName,
      [ENV.tables.jobs]: this.jobsTable.tableName,
      [ENV.tables.alerts]: this.alertsTable.tableName,
      [ENV.tables['service-sites']]: this.sitesTable.tableName,
    };
  }

  /** The workflow tables' variables only (jobs, alerts, service-sites): what the workflows and the API use. */
  get workflowEnvironment(): Record<string, string> {
    const { [ENV.tables['service-state']]: _state, ...rest } = this.environment;
    return rest;
  }

  /** Enrichment: read a device's detector states and write the ones that changed. */
  grantDetectorState(grantee: IGrantable): void {
    tableOnlyGrants(this.stateTable).readWriteData(grantee);
  }

  /** A service workflow: read and write jobs, alerts and site views, and query their indexes by name. */
  grantWorkflow(grantee: IGrantable): void {
    for (const table of [this.jobsTable, this.alertsTable, this.sitesTable]) {
      tableOnlyGrants(table).readWriteData(grantee);
    }
    this.grantIndexQueries(grantee);
  }

  /**
   * The city API: list jobs, alerts and site views (with their indexes), and change a job (PATCH /jobs/{id}) or
   * an alert (POST /alerts/{id}/ack) with a conditional put or update. No delete: a job or an alert is a record.
   */
  grantApi(grantee: IGrantable): void {
    for (const table of [this.jobsTable, this.alertsTable, this.sitesTable]) {
      tableOnlyGrants(table).readData(grantee);
    }
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
        resources: [this.jobsTable.tableArn, this.alertsTable.tableArn],
      }),
    );
    this.grantIndexQueries(grantee);
  }

  /** Query on each index the contracts declare for jobs and alerts, by its name (never `index/*`). */
  private grantIndexQueries(grantee: IGrantable): void {
    const indexArns = (table: TableV2, definition: TableDefinition) =>
      (definition.globalSecondaryIndexes ?? []).map((index) => `${table.tableArn}/index/${index.indexName}`);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [...indexArns(this.jobsTable, TABLES.jobs), ...indexArns(this.alertsTable, TABLES.alerts)],
      }),
    );
  }
}
