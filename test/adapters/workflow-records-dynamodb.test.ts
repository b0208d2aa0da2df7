import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidCursorError } from '../../lambdas/adapters/dynamodb-batches.js';
import { MAX_QUERY_ROUNDS } from '../../lambdas/adapters/dynamodb-newest-first.js';
import {
  ALERT_HEAD,
  DynamoDbAlertBook,
  DynamoDbJobBook,
} from '../../lambdas/adapters/dynamodb-service-records.js';
import {
  serviceContextFromEnvironment,
  workflowPortsFromEnvironment,
} from '../../lambdas/adapters/workflow-ports-from-environment.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import { incidentId } from '../../services/shared/alerts.js';
import { type Job, openJob, transitionJob } from '../../services/shared/jobs.js';
import { at } from '../../services/shared/telemetry-fixtures.js';
import type { AlertRecord } from '../../services/shared/workflow-ports.js';
import { startDynamo } from '../support/dynalite.js';

let dynamo: Awaited<ReturnType<typeof startDynamo>>;

beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.stop();
});

function job(deviceId: string, openedAtSeconds: number, ward = 'E05000001', service = 'waste'): Job {
  return openJob({
    service,
    kind: 'collection',
    deviceId,
    ward,
    priority: 'routine',
    reason: 'full',
    openedAt: at(openedAtSeconds),
    note: 'filling level 0.85',
  });
}

function alert(key: string, openedAtSeconds: number, lastSignalSeconds = openedAtSeconds): AlertRecord {
  const openedAt = at(openedAtSeconds);
  return {
    incidentId: incidentId(key, openedAt),
    key,
    service: 'flood',
    summary: `Gauge ${key}: warning level`,
    status: 'open',
    severity: 'warning',
    peakSeverity: 'warning',
    openedAt,
    flaps: 0,
    lastSignalAt: at(lastSignalSeconds),
  };
}

async function rawItem(table: string, key: Record<string, string>) {
  return (await dynamo.client.send(new GetCommand({ TableName: table, Key: key }))).Item;
}

/** A client whose incident-copy writes (PutItem) fail, as if the function died after the head's update. */
function crashingBeforeCopies(client: DynamoDBDocumentClient): DynamoDBDocumentClient {
  return {
    send: (command: unknown) =>
      command instanceof PutCommand
        ? Promise.reject(new Error('function timed out'))
        : client.send(command as Parameters<DynamoDBDocumentClient['send']>[0]),
  } as unknown as DynamoDBDocumentClient;
}

describe('DynamoDbJobBook items', () => {
  it('keeps the job under jobId with its `<service>#<status>` partition, moved on every status change', async () => {
    const book = new DynamoDbJobBook(dynamo.client, dynamo.names.jobs, ['waste']);
    const opened = job('layout-bin', 0);
    await book.create(opened);
    expect(await rawItem(dynamo.names.jobs, { jobId: opened.id })).toMatchObject({
      jobId: opened.id,
      serviceStatus: 'waste#open',
      openedAt: at(0),
    });
    await book.replace(transitionJob(opened, 'scheduled', 'round 3', at(60)), opened.updatedAt);
    expect(await rawItem(dynamo.names.jobs, { jobId: opened.id })).toMatchObject({
      serviceStatus: 'waste#scheduled',
    });
    expect((await book.get(opened.id))?.status).toBe('scheduled');
  });
});

describe('DynamoDbJobBook.list with a ward filter', () => {
  it(`spends at most ${MAX_QUERY_ROUNDS} request rounds per page, and the cursors still reach every match in order`, async () => {
    const book = new DynamoDbJobBook(dynamo.client, dynamo.names.jobs, ['sparse', 'sparse-2']);
    // Two jobs in ward A under 600 newer jobs in ward B: a filter that matches nothing for six rounds of reads.
    const wanted = [job('a-1', 0, 'A', 'sparse'), job('a-2', 1, 'A', 'sparse')];
    const others = Array.from({ length: 600 }, (_, i) => job(`b-${i}`, 10 + i, 'B', 'sparse'));
    // And an older ward A job of another service, found at once: it must wait until the newer ones are reached.
    const older = job('z-1', -100, 'A', 'sparse-2');
    for (const part of [[...wanted, older], others.slice(0, 300), others.slice(300)]) {
      await Promise.all(part.map((j) => book.create(j)));
    }
    const send = vi.spyOn(dynamo.client, 'send');
    const readAll = async (query: { service?: string }, partitions: number) => {
      const pages: Job[][] = [];
      let cursor: string | undefined;
      do {
        send.mockClear();
        const page = await book.list({
          ...query,
          status: 'open',
          ward: 'A',
          limit: 5,
          ...(cursor ? { cursor } : {}),
        });
        expect(send.mock.calls.length).toBeLessThanOrEqual(MAX_QUERY_ROUNDS * partitions);
        pages.push([...page.items]);
        cursor = page.nextCursor;
      } while (cursor && pages.length < 10);
      expect(cursor).toBeUndefined();
      return pages;
    };
    try {
      const oneService = await readAll({ service: 'sparse' }, 1);
      // The first page ran out of requests before it reached ward A: it says so with a cursor, not an end.
      expect(oneService[0]).toEqual([]);
      expect(oneService.flat().map((j) => j.id)).toEqual([wanted[1]?.id, wanted[0]?.id]);

      const merged = await readAll({}, 2);
      expect(merged[0]).toEqual([]);
      expect(merged.flat().map((j) => j.id)).toEqual([wanted[1]?.id, wanted[0]?.id, older.id]);
    } finally {
      send.mockRestore();
    }
  });

  it('refuses a cursor it did not issue, or one issued for another service', async () => {
    const book = new DynamoDbJobBook(dynamo.client, dynamo.names.jobs, ['cursors', 'other']);
    for (let i = 0; i < 3; i += 1) await book.create(job(`c-${i}`, i, 'A', 'cursors'));
    const page = await book.list({ service: 'cursors', limit: 1 });
    expect(page.nextCursor).toBeDefined();
    await expect(
      book.list({ service: 'other', limit: 1, cursor: page.nextCursor as string }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(book.list({ limit: 1, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(InvalidCursorError);
    const forged = Buffer.from(
      JSON.stringify({ 'cursors#open': { serviceStatus: 'cursors#open' } }),
    ).toString('base64url');
    await expect(book.list({ service: 'cursors', limit: 1, cursor: forged })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
    // The cursor it did issue continues where the first page stopped.
    const next = await book.list({ service: 'cursors', limit: 5, cursor: page.nextCursor as string });
    expect(next.items.map((j) => j.deviceId)).toEqual(['c-1', 'c-0']);
  });
});

describe('DynamoDbAlertBook items', () => {
  it("keeps the key's latest incident in a head item that no index or list sees", async () => {
    const book = new DynamoDbAlertBook(dynamo.client, dynamo.names.alerts, ['flood']);
    const opened = alert('layout-gauge', 0);
    await book.save(opened, undefined);
    const quiet = { ...opened, quietSince: at(60), lastSignalAt: at(60) };
    await book.save(quiet, opened);
    const partition = await dynamo.client.send(
      new QueryCommand({
        TableName: dynamo.names.alerts,
        KeyConditionExpression: 'alertKey = :key',
        ExpressionAttributeValues: { ':key': 'layout-gauge' },
      }),
    );
    expect(partition.Items).toEqual([
      expect.objectContaining({ openedAt: ALERT_HEAD, revision: 2, latest: quiet }),
      expect.objectContaining({
        openedAt: at(0),
        revision: 2,
        serviceStatus: 'flood#open',
        quietSince: at(60),
      }),
    ]);
    expect(partition.Items?.[0]).not.toHaveProperty('incidentId');
    expect(partition.Items?.[0]).not.toHaveProperty('serviceStatus');
  });
});

describe('DynamoDbAlertBook when a save dies between the head and the incident item', () => {
  it('decides from the head, and the next save brings the incident items level', async () => {
    const healthy = new DynamoDbAlertBook(dynamo.client, dynamo.names.alerts, ['flood']);
    const dying = new DynamoDbAlertBook(crashingBeforeCopies(dynamo.client), dynamo.names.alerts, ['flood']);
    const opened = alert('crash-gauge', 0);
    await healthy.save(opened, undefined);
    const cleared: AlertRecord = { ...opened, status: 'cleared', clearedAt: at(900), lastSignalAt: at(900) };
    await expect(dying.save(cleared, opened)).rejects.toThrow('function timed out');

    // The commit point was passed: the workflow sees the incident cleared, and a retry from the old read loses.
    expect(await healthy.current('crash-gauge')).toEqual(cleared);
    expect(await healthy.save({ ...opened, flaps: 1 }, opened)).toBe(false);
    // Only the copy lags: the lists still show the incident open, by the head, which is the truth.
    expect((await healthy.active('flood')).map((a) => a.incidentId)).toContain(opened.incidentId);

    // A new incident copies the final state of the one it leaves behind.
    const next = alert('crash-gauge', 1000);
    expect(await healthy.save(next, cleared)).toBe(true);
    expect(await healthy.byIncident(opened.incidentId)).toEqual(cleared);
    const active = (await healthy.active('flood')).filter((a) => a.key === 'crash-gauge');
    expect(active).toEqual([next]);
  });

  it('never lets a late copy move an incident item back', async () => {
    const book = new DynamoDbAlertBook(dynamo.client, dynamo.names.alerts, ['flood']);
    const held: { command: unknown; release: () => void }[] = [];
    const slow = {
      send: async (command: unknown) => {
        if (command instanceof PutCommand)
          await new Promise<void>((release) => held.push({ command, release }));
        return dynamo.client.send(command as Parameters<DynamoDBDocumentClient['send']>[0]);
      },
    } as unknown as DynamoDBDocumentClient;
    const slowBook = new DynamoDbAlertBook(slow, dynamo.names.alerts, ['flood']);

    const opened = alert('late-gauge', 0);
    await book.save(opened, undefined);
    const quiet = { ...opened, quietSince: at(60), lastSignalAt: at(60) };
    const slowSave = slowBook.save(quiet, opened);
    await vi.waitFor(() => expect(held).toHaveLength(1));
    const raisedAgain = { ...opened, flaps: 1, lastSignalAt: at(120) };
    expect(await book.save(raisedAgain, quiet)).toBe(true);
    held[0]?.release();
    expect(await slowSave).toBe(true);
    expect(await book.byIncident(opened.incidentId)).toEqual(raisedAgain);
    expect(await rawItem(dynamo.names.alerts, { alertKey: 'late-gauge', openedAt: at(0) })).toMatchObject({
      revision: 3,
      flaps: 1,
    });
  });
});

describe('workflow ports from the environment', () => {
  const env = () => ({
    [ENV.dynamoEndpoint]: dynamo.endpoint,
    [ENV.serviceNames]: 'waste,parking',
    [ENV.serviceTopicArns]: JSON.stringify({
      waste: 'arn:aws:sns:eu-west-2:111122223333:civic-waste',
      parking: 'arn:aws:sns:eu-west-2:111122223333:civic-parking',
    }),
    [ENV.tables.jobs]: dynamo.names.jobs,
    [ENV.tables.alerts]: dynamo.names.alerts,
    [ENV.tables['service-sites']]: dynamo.names['service-sites'],
    [ENV.tables.devices]: dynamo.names.devices,
    [ENV.tables['latest-state']]: dynamo.names['latest-state'],
  });

  it("works on the tables the environment names, listing the hosted services' jobs", async () => {
    const ports = workflowPortsFromEnvironment(env());
    const opened = job('env-bin', 0);
    expect(await ports.jobs.create(opened)).toBe(true);
    expect(await ports.jobs.get(opened.id)).toEqual(opened);
    expect((await ports.jobs.list({ limit: 100 })).items.map((j) => j.id)).toContain(opened.id);
  });

  it('names a missing variable, and a hosted service without a topic', () => {
    const { [ENV.serviceTopicArns]: _topic, ...withoutTopic } = env();
    expect(() => workflowPortsFromEnvironment(withoutTopic)).toThrow(ENV.serviceTopicArns);
    const { [ENV.serviceNames]: _names, ...withoutNames } = env();
    expect(() => workflowPortsFromEnvironment(withoutNames)).toThrow(ENV.serviceNames);
    expect(() =>
      workflowPortsFromEnvironment({ ...env(), [ENV.serviceNames]: 'waste,parking,flood' }),
    ).toThrow(/SERVICE_TOPIC_ARNS is not set; expected .* \(none for flood\)/);
    expect(() => workflowPortsFromEnvironment({ ...env(), [ENV.serviceTopicArns]: '{"waste": 1}' })).toThrow(
      ENV.serviceTopicArns,
    );
    const { [ENV.tables.alerts]: _alerts, ...withoutAlerts } = env();
    expect(() => workflowPortsFromEnvironment(withoutAlerts)).toThrow(ENV.tables.alerts);
  });

  it("reads each hosted service's own settings from SERVICE_SETTINGS, defaulting to none", () => {
    expect(serviceContextFromEnvironment(env(), 'waste')).toEqual({ timeScale: 1, settings: {} });
    const settings = JSON.stringify({
      waste: { depotLat: 51.45, depotLon: -0.97 },
      flood: { coolDownSeconds: 60 },
    });
    expect(serviceContextFromEnvironment({ ...env(), [ENV.serviceSettings]: settings }, 'waste')).toEqual({
      timeScale: 1,
      settings: { depotLat: 51.45, depotLon: -0.97 },
    });
    expect(serviceContextFromEnvironment({ ...env(), [ENV.serviceSettings]: settings }, 'parking')).toEqual({
      timeScale: 1,
      settings: {},
    });
    expect(() =>
      serviceContextFromEnvironment(
        { ...env(), [ENV.serviceSettings]: '{"waste":{"depotLat":"north"}}' },
        'waste',
      ),
    ).toThrow(ENV.serviceSettings);
  });
});
