import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ALERT_STATUSES } from '../../services/shared/alerts.js';
import { isActiveJob, JOB_STATUSES, type Job, jobAsAt } from '../../services/shared/jobs.js';
import type {
  AlertBook,
  AlertQuery,
  AlertRecord,
  DeviceFleet,
  JobBook,
  JobQuery,
  SiteBoard,
  SiteRecord,
} from '../../services/shared/workflow-ports.js';
import type { Device } from '../domain/device.js';
import type { Page, TelemetryPoint } from '../domain/telemetry.js';
import { conditionally, isConditionFailure } from './dynamodb-batches.js';
import type { DynamoDbLatestState } from './dynamodb-latest-state.js';
import { listNewestFirst } from './dynamodb-newest-first.js';

type Item = Record<string, unknown>;

/** The `byServiceStatus` partition of a job or alert: `GET /jobs?service&status` is one Query. */
export function serviceStatus(service: string, status: string): string {
  return `${service}#${status}`;
}

function partitionsFor(
  services: readonly string[],
  service: string | undefined,
  statuses: readonly string[],
  status: string | undefined,
): string[] {
  return (service === undefined ? services : [service]).flatMap((s) =>
    (status === undefined ? statuses : [status]).map((st) => serviceStatus(s, st)),
  );
}

/** Reads every page of a Query (a device's jobs, a service's active alerts, a service's sites: all small). */
async function queryAll(
  client: DynamoDBDocumentClient,
  input: ConstructorParameters<typeof QueryCommand>[0],
) {
  const items: Item[] = [];
  let exclusiveStartKey: Item | undefined;
  do {
    const response = await client.send(
      new QueryCommand({ ...input, ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}) }),
    );
    items.push(...((response.Items ?? []) as Item[]));
    exclusiveStartKey = response.LastEvaluatedKey;
  } while (exclusiveStartKey);
  return items;
}

/**
 * The `jobs` table: one item per job keyed by `jobId`, with `serviceStatus` for the `byServiceStatus` index.
 * Reads by id are strongly consistent, because every change is a read followed by a write conditional on what was
 * read; the index reads (a device's jobs, the lists) are eventually consistent, which the deterministic job ids and
 * the conditional writes make harmless: a job seen late is refused by `create`, not doubled.
 */
/** Jobs read per device when deciding on a reading: far more than the kinds of job a device can have open. */
const RECENT_JOBS_PER_DEVICE = 25;

export class DynamoDbJobBook implements JobBook {
  /**
   * @param services the services a list without `service` covers (the enabled blueprints): the index is
   *   partitioned by service and status, so "every job" is one Query per service and status.
   */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly services: readonly string[],
  ) {}

  async create(job: Job): Promise<boolean> {
    return conditionally(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toJobItem(job),
          ConditionExpression: 'attribute_not_exists(jobId)',
        }),
      ),
    );
  }

  async replace(job: Job, expectedUpdatedAt: string): Promise<boolean> {
    return conditionally(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toJobItem(job),
          // Fails on a missing job too: a replace never creates.
          ConditionExpression: 'updatedAt = :expected',
          ExpressionAttributeValues: { ':expected': expectedUpdatedAt },
        }),
      ),
    );
  }

  async get(id: string): Promise<Job | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { jobId: id }, ConsistentRead: true }),
    );
    return response.Item ? fromJobItem(response.Item) : undefined;
  }

  async activeAt(deviceId: string, at: string): Promise<readonly Job[]> {
    // A device has at most one active job per kind, so the jobs open at `at` are among the last few opened
    // before it: one page, newest first, instead of the device's whole history.
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byDevice',
        KeyConditionExpression: 'deviceId = :deviceId AND openedAt <= :at',
        ExpressionAttributeValues: { ':deviceId': deviceId, ':at': at },
        ScanIndexForward: false,
        Limit: RECENT_JOBS_PER_DEVICE,
      }),
    );
    return (response.Items ?? []).map(fromJobItem).flatMap((job) => {
      const then = jobAsAt(job, at);
      return then && isActiveJob(then) ? [then] : [];
    });
  }

  async list(query: JobQuery): Promise<Page<Job>> {
    const page = await listNewestFirst(this.client, {
      tableName: this.tableName,
      indexName: 'byServiceStatus',
      partitionAttribute: 'serviceStatus',
      sortAttribute: 'openedAt',
      tableKeyAttributes: ['jobId'],
      partitions: partitionsFor(this.services, query.service, JOB_STATUSES, query.status),
      ...(query.ward === undefined
        ? {}
        : {
            filter: {
              expression: '#ward = :ward',
              names: { '#ward': 'ward' },
              values: { ':ward': query.ward },
            },
          }),
      limit: query.limit,
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
    return { ...page, items: page.items.map(fromJobItem) };
  }
}

function toJobItem(job: Job): Item {
  const { id, ...rest } = job;
  return { jobId: id, ...rest, serviceStatus: serviceStatus(job.service, job.status) };
}

function fromJobItem(item: Item): Job {
  const { jobId, serviceStatus: _index, ...rest } = item;
  return { id: jobId, ...rest } as unknown as Job;
}

/** Sort key of an alert key's head item; `#` sorts before every ISO time, so it never reads as an incident. */
export const ALERT_HEAD = '#head';

/**
 * The `alerts` table: one item per incident (partition `alertKey`, sorted by `openedAt`) for the lists and the
 * `byIncident` / `byServiceStatus` indexes, and per alert key one head item (sort key {@link ALERT_HEAD}) holding
 * the key's latest incident as a whole record plus a revision counter.
 *
 * Why a head: "save only if the stored latest incident is still `expected`" has to cover a new incident too,
 * and two workers opening two different incidents for one key write two different items; only a single item can
 * carry the condition. DynamoDB transactions would let one write check the head and put the incident at once,
 * but the local runtime's DynamoDB-compatible server has none, so the protocol works without them:
 *
 * 1. The head is updated conditionally on `expected` (incident id, last signal time and status). This is the
 *    commit point: it alone decides who wins, and `current` reads only the head, so the workflows always decide
 *    from the committed state.
 * 2. Then the incident items are written as copies stamped with the head's revision, each only over an older
 *    revision, so a slow writer never moves an item backwards. When the save leaves an incident behind (a new one
 *    opens), that incident's final state from the head is copied too.
 *
 * Crash safety: a failure between 1 and 2 leaves the head right and at most the latest incident's item behind it
 * (or missing). Nothing decides from items (`current` reads the head; `byIncident` prefers the head for the latest
 * incident), the failed invocation throws so the bus redelivers the event, and the next save on that key, whether
 * it updates the incident or opens a new one, writes the lagging copy level. Until then only the lists and
 * `active` can show that one incident a step behind.
 */
export class DynamoDbAlertBook implements AlertBook {
  /** @param services the services a list without `service` covers (the enabled blueprints). */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly services: readonly string[],
  ) {}

  async current(key: string): Promise<AlertRecord | undefined> {
    return (await this.head(key))?.latest;
  }

  async save(alert: AlertRecord, expected: AlertRecord | undefined): Promise<boolean> {
    let previous: Item | undefined;
    try {
      const response = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { alertKey: alert.key, openedAt: ALERT_HEAD },
          UpdateExpression: 'SET latest = :latest ADD revision :one',
          ConditionExpression:
            expected === undefined
              ? 'attribute_not_exists(alertKey)'
              : 'latest.incidentId = :incidentId AND latest.lastSignalAt = :lastSignalAt AND latest.#status = :status',
          ...(expected === undefined ? {} : { ExpressionAttributeNames: { '#status': 'status' } }),
          ExpressionAttributeValues: {
            ':latest': { ...alert },
            ':one': 1,
            ...(expected === undefined
              ? {}
              : {
                  ':incidentId': expected.incidentId,
                  ':lastSignalAt': expected.lastSignalAt,
                  ':status': expected.status,
                }),
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      previous = response.Attributes;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
    const previousRevision = Number(previous?.revision ?? 0);
    const left = previous?.latest as AlertRecord | undefined;
    await Promise.all([
      ...(left && left.incidentId !== alert.incidentId ? [this.copy(left, previousRevision)] : []),
      this.copy(alert, previousRevision + 1),
    ]);
    return true;
  }

  async byIncident(incidentId: string): Promise<AlertRecord | undefined> {
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byIncident',
        KeyConditionExpression: 'incidentId = :incidentId',
        ExpressionAttributeValues: { ':incidentId': incidentId },
      }),
    );
    const item = response.Items?.[0];
    if (!item) return undefined;
    const found = fromAlertItem(item);
    // The index is eventually consistent and the copy may lag (see the class comment): for the key's latest
    // incident, the head is the truth, and acknowledging from a stale copy would only be refused and retried.
    const head = await this.head(found.key);
    return head?.latest.incidentId === incidentId ? head.latest : found;
  }

  async active(service: string): Promise<readonly AlertRecord[]> {
    const pages = await Promise.all(
      ALERT_STATUSES.filter((status) => status !== 'cleared').map((status) =>
        queryAll(this.client, {
          TableName: this.tableName,
          IndexName: 'byServiceStatus',
          KeyConditionExpression: 'serviceStatus = :serviceStatus',
          ExpressionAttributeValues: { ':serviceStatus': serviceStatus(service, status) },
        }),
      ),
    );
    return pages.flat().map(fromAlertItem);
  }

  async list(query: AlertQuery): Promise<Page<AlertRecord>> {
    const page = await listNewestFirst(this.client, {
      tableName: this.tableName,
      indexName: 'byServiceStatus',
      partitionAttribute: 'serviceStatus',
      sortAttribute: 'openedAt',
      tableKeyAttributes: ['alertKey', 'openedAt'],
      partitions: partitionsFor(this.services, query.service, ALERT_STATUSES, query.status),
      limit: query.limit,
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
    return { ...page, items: page.items.map(fromAlertItem) };
  }

  private async head(key: string): Promise<{ latest: AlertRecord; revision: number } | undefined> {
    const response = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { alertKey: key, openedAt: ALERT_HEAD },
        ConsistentRead: true,
      }),
    );
    const item = response.Item;
    return item ? { latest: item.latest as AlertRecord, revision: Number(item.revision) } : undefined;
  }

  /** Writes an incident's item unless a later revision of it is already there. */
  private async copy(alert: AlertRecord, revision: number): Promise<void> {
    await conditionally(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...toAlertItem(alert), revision },
          ConditionExpression: 'attribute_not_exists(alertKey) OR revision < :revision',
          ExpressionAttributeValues: { ':revision': revision },
        }),
      ),
    );
  }
}

function toAlertItem(alert: AlertRecord): Item {
  const { key, ...rest } = alert;
  return { alertKey: key, ...rest, serviceStatus: serviceStatus(alert.service, alert.status) };
}

function fromAlertItem(item: Item): AlertRecord {
  const { alertKey, serviceStatus: _index, revision: _revision, ...rest } = item;
  return { key: alertKey, ...rest } as unknown as AlertRecord;
}

/**
 * The `service-sites` table: one item per service and site, saved with optimistic concurrency on `version`
 * (concurrent spot updates of one car park each re-read and re-apply instead of overwriting each other).
 */
export class DynamoDbSiteBoard implements SiteBoard {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(service: string, site: string): Promise<SiteRecord | undefined> {
    const response = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { service, site }, ConsistentRead: true }),
    );
    return response.Item as SiteRecord | undefined;
  }

  async save(record: SiteRecord): Promise<boolean> {
    return conditionally(
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...record },
          ...(record.version === 1
            ? { ConditionExpression: 'attribute_not_exists(site)' }
            : {
                ConditionExpression: 'version = :previous',
                ExpressionAttributeValues: { ':previous': record.version - 1 },
              }),
        }),
      ),
    );
  }

  /** In site order (byte order of the sort key). Open data reads this, so eventually consistent is enough. */
  async list(service: string): Promise<readonly SiteRecord[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#service = :service',
      ExpressionAttributeNames: { '#service': 'service' },
      ExpressionAttributeValues: { ':service': service },
    });
    return items as unknown as SiteRecord[];
  }
}

/**
 * The fleet for sweeps (offline devices): the whole registry, read with a Scan (the sweep needs every device, and
 * a Scan reads each once), and each device's newest reading through the latest-state store in batches.
 */
export class DynamoDbDeviceFleet implements DeviceFleet {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly devicesTable: string,
    private readonly latestState: Pick<DynamoDbLatestState, 'all'>,
  ) {}

  async devicesWithLatest(): Promise<readonly { device: Device; latest: TelemetryPoint | undefined }[]> {
    const devices: Device[] = [];
    let exclusiveStartKey: Item | undefined;
    do {
      const response = await this.client.send(
        new ScanCommand({
          TableName: this.devicesTable,
          ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
        }),
      );
      devices.push(...((response.Items ?? []) as unknown as Device[]));
      exclusiveStartKey = response.LastEvaluatedKey;
    } while (exclusiveStartKey);
    // Two scans, not a lookup per device: billed by the bytes read, about a tenth of per-item reads.
    const latest = new Map((await this.latestState.all()).map((point) => [point.deviceId, point]));
    return devices.map((device) => ({ device, latest: latest.get(device.deviceId) }));
  }
}
