/**
 * DynamoDB table shapes, as plain data. The CDK constructs turn them into `TableV2`s and the local runtime into
 * `CreateTable` calls, so a key or an index is declared once.
 */
export type KeyType = 'S' | 'N';

export interface KeyDefinition {
  readonly name: string;
  readonly type: KeyType;
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyDefinition;
  readonly sortKey?: KeyDefinition;
}

export interface TableDefinition {
  /** Short name: the local table name is `civic-{id}`; on AWS CloudFormation names the table. */
  readonly id: TableId;
  readonly description: string;
  readonly partitionKey: KeyDefinition;
  readonly sortKey?: KeyDefinition;
  /** Epoch-seconds attribute after which DynamoDB deletes the item. */
  readonly timeToLiveAttribute?: string;
  readonly globalSecondaryIndexes?: readonly IndexDefinition[];
}

export type TableId =
  | 'devices'
  | 'latest-state'
  | 'quarantine'
  | 'processed-messages'
  | 'telemetry'
  | 'cost-guard'
  | 'service-state'
  | 'jobs'
  | 'alerts'
  | 'service-sites'
  | 'provisioning-allow-list';

export const TTL_ATTRIBUTE = 'expiresAt';

export const TABLES = {
  devices: {
    id: 'devices',
    description: 'Device registry: what each device is, where it is and whether it is in service.',
    partitionKey: { name: 'deviceId', type: 'S' },
    globalSecondaryIndexes: [
      {
        indexName: 'byType',
        partitionKey: { name: 'deviceType', type: 'S' },
        sortKey: { name: 'deviceId', type: 'S' },
      },
    ],
  },
  'latest-state': {
    id: 'latest-state',
    description: "Each device's newest reading; only ever replaced by a reading observed later.",
    partitionKey: { name: 'deviceId', type: 'S' },
  },
  quarantine: {
    id: 'quarantine',
    description: 'Messages that were not stored, with the reason and the raw payload.',
    partitionKey: { name: 'reason', type: 'S' },
    sortKey: { name: 'receivedKey', type: 'S' },
    timeToLiveAttribute: TTL_ATTRIBUTE,
    globalSecondaryIndexes: [
      {
        indexName: 'byDevice',
        partitionKey: { name: 'deviceId', type: 'S' },
        sortKey: { name: 'receivedKey', type: 'S' },
      },
    ],
  },
  'processed-messages': {
    id: 'processed-messages',
    description: 'Idempotency records: device message ids already stored, kept for the redelivery window.',
    partitionKey: { name: 'messageKey', type: 'S' },
    timeToLiveAttribute: TTL_ATTRIBUTE,
  },
  telemetry: {
    id: 'telemetry',
    description: 'Time series: one partition per device, readings grouped in hourly bucket items.',
    partitionKey: { name: 'deviceId', type: 'S' },
    sortKey: { name: 'bucketKey', type: 'S' },
    timeToLiveAttribute: TTL_ATTRIBUTE,
  },
  'cost-guard': {
    id: 'cost-guard',
    description:
      "The cost guard's records: the month-to-date ledger per month, the guard's state, the degrade settings the " +
      'enrichment functions read, and the audit log of every action, sorted by time.',
    partitionKey: { name: 'recordKey', type: 'S' },
    sortKey: { name: 'sortKey', type: 'S' },
    // Only audit entries carry it (kept for years, not forever); ledgers, state and settings never expire.
    timeToLiveAttribute: TTL_ATTRIBUTE,
  },
  'service-state': {
    id: 'service-state',
    description:
      "Each service detector's small state per device (a bin's full flag, a gauge's level), written by " +
      'enrichment only when it changes.',
    partitionKey: { name: 'deviceId', type: 'S' },
    sortKey: { name: 'service', type: 'S' },
  },
  jobs: {
    id: 'jobs',
    description:
      'Work orders the services open (collections, urgent hazards, maintenance visits) and crews close.',
    partitionKey: { name: 'jobId', type: 'S' },
    globalSecondaryIndexes: [
      {
        indexName: 'byDevice',
        partitionKey: { name: 'deviceId', type: 'S' },
        sortKey: { name: 'openedAt', type: 'S' },
      },
      {
        // `<service>#<status>`: GET /jobs?service&status is one Query, newest first.
        indexName: 'byServiceStatus',
        partitionKey: { name: 'serviceStatus', type: 'S' },
        sortKey: { name: 'openedAt', type: 'S' },
      },
    ],
  },
  alerts: {
    id: 'alerts',
    description: 'Alert incidents, one item per incident, sorted by when each opened within its alert key.',
    partitionKey: { name: 'alertKey', type: 'S' },
    sortKey: { name: 'openedAt', type: 'S' },
    globalSecondaryIndexes: [
      { indexName: 'byIncident', partitionKey: { name: 'incidentId', type: 'S' } },
      {
        indexName: 'byServiceStatus',
        partitionKey: { name: 'serviceStatus', type: 'S' },
        sortKey: { name: 'openedAt', type: 'S' },
      },
    ],
  },
  'service-sites': {
    id: 'service-sites',
    description:
      "Each service's current view per site or device (car park occupancy, an air-quality site's band), " +
      'served as open data.',
    partitionKey: { name: 'service', type: 'S' },
    sortKey: { name: 'site', type: 'S' },
  },
  'provisioning-allow-list': {
    id: 'provisioning-allow-list',
    description:
      'Serial numbers a device may provision itself under by claim (fleet provisioning), each with the device ' +
      'it becomes; an entry is used once.',
    partitionKey: { name: 'serialNumber', type: 'S' },
  },
} as const satisfies Record<TableId, TableDefinition>;

/**
 * Item layout of the `cost-guard` table: one partition per kind of record. Ledger items are sorted by month
 * (`YYYY-MM`), audit entries by time (`<ISO time>#<sequence>`), so "latest" and "most recent" are one Query each.
 */
export const COST_GUARD_KEYS = {
  ledgerPartition: 'ledger',
  guardState: { recordKey: 'guard', sortKey: 'state' },
  degradeSettings: { recordKey: 'settings', sortKey: 'degrade' },
  auditPartition: 'audit',
} as const;

/** How long audit entries are kept: two full financial years, enough for a committee and an auditor. */
export const COST_AUDIT_RETENTION_DAYS = 731;

/** Local table names (the local runtime and tests); on AWS the names come from the stack through env vars. */
export function localTableName(id: TableId): string {
  return `civic-${id}`;
}

/**
 * The `CreateTable` request for a definition (on-demand billing), as plain data: the local runtime and the
 * adapter tests create their tables from it, so they can never drift from what the CDK construct deploys.
 */
export function toCreateTableInput(definition: TableDefinition, tableName: string) {
  const keys = [definition.partitionKey, definition.sortKey].filter(
    (k): k is KeyDefinition => k !== undefined,
  );
  const indexKeys = (definition.globalSecondaryIndexes ?? []).flatMap((index) =>
    [index.partitionKey, index.sortKey].filter((k): k is KeyDefinition => k !== undefined),
  );
  const attributes = new Map([...keys, ...indexKeys].map((key) => [key.name, key.type]));
  const keySchema = (partition: KeyDefinition, sort?: KeyDefinition) => [
    { AttributeName: partition.name, KeyType: 'HASH' as const },
    ...(sort ? [{ AttributeName: sort.name, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    KeySchema: keySchema(definition.partitionKey, definition.sortKey),
    ...(definition.globalSecondaryIndexes?.length
      ? {
          GlobalSecondaryIndexes: definition.globalSecondaryIndexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: 'ALL' as const },
          })),
        }
      : {}),
  };
}
