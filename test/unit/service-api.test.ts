import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { createCityApiHandler } from '../../lambdas/handlers/city-api.js';
import type { ServiceBlueprint } from '../../services/shared/blueprint.js';
import { inMemoryWorkflowPorts } from '../../services/shared/in-memory-workflow-ports.js';
import { openJob } from '../../services/shared/jobs.js';
import { applyAlert } from '../../services/shared/workflow-steps.js';
import { NOW } from '../support/messages.js';

const context = { functionName: 'city-api', awsRequestId: 'r' } as Context;

/** A blueprint with just what the API reads: its name and open data. */
const carParks: ServiceBlueprint = {
  name: 'parking',
  title: 'Parking',
  summary: 'Free spaces per car park.',
  essential: false,
  eventTypes: ['parking.spot-changed'],
  workflow: { onEvent: async () => {} },
  openData: {
    path: 'parking/sites',
    description: 'Free spaces per car park',
    view: (record) =>
      record.data.total === 0
        ? undefined
        : { site: record.site, free: record.data.free, total: record.data.total },
  },
  cost: {
    watches: ['parking-spot'],
    stateWritesPerReading: 0,
    historyReadUnitsPerReading: 0,
    eventsPerDevicePerDay: 0,
    writeUnitsPerEvent: 0,
    readUnitsPerEvent: 0,
    readUnitsPerDevicePerScheduledRun: 0,
  },
};
const waste: ServiceBlueprint = { ...carParks, name: 'waste', title: 'Waste', openData: undefined };

function request(
  method: string,
  resource: string,
  options: {
    pathParameters?: Record<string, string>;
    query?: Record<string, string>;
    groups?: string | null;
    body?: unknown;
  } = {},
): APIGatewayProxyEvent {
  const groups = options.groups === undefined ? 'operator' : options.groups;
  return {
    resource,
    path: resource,
    httpMethod: method,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: options.pathParameters ?? null,
    stageVariables: null,
    body:
      options.body === undefined
        ? null
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
    isBase64Encoded: false,
    requestContext: {
      authorizer:
        groups === null
          ? undefined
          : { claims: { sub: 'user-1', 'cognito:username': 'sam', 'cognito:groups': groups } },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

function setup() {
  const workflow = inMemoryWorkflowPorts();
  const enabled = [waste, carParks];
  const handler = createCityApiHandler({
    ports: () => new InMemoryPorts([]),
    services: () => ({ ...workflow, enabled }),
    enabledServices: enabled,
    now: () => NOW,
  });
  return { workflow, call: async (e: APIGatewayProxyEvent) => handler(e, context) };
}

const fullBin = (deviceId: string, ward: string, openedAt: string) =>
  openJob({
    service: 'waste',
    kind: 'collection',
    deviceId,
    ward,
    priority: 'routine',
    reason: 'full',
    openedAt,
    note: 'fillingLevel 0.85 at or over 0.8',
  });

describe('jobs API', () => {
  it('lists open jobs of a service in a ward, newest first', async () => {
    const { workflow, call } = setup();
    await workflow.jobs.create(fullBin('bin-1', 'Abbey', '2026-11-27T08:00:00.000Z'));
    await workflow.jobs.create(fullBin('bin-2', 'Abbey', '2026-11-27T09:00:00.000Z'));
    await workflow.jobs.create(fullBin('bin-3', 'Battle', '2026-11-27T09:30:00.000Z'));
    const response = await call(
      request('GET', '/jobs', {
        query: { service: 'waste', status: 'open', ward: 'Abbey' },
        groups: 'viewer',
      }),
    );
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).items.map((j: { deviceId: string }) => j.deviceId)).toEqual([
      'bin-2',
      'bin-1',
    ]);
  });

  it('refuses a service that is not enabled, naming the enabled ones', async () => {
    const { call } = setup();
    const response = await call(request('GET', '/jobs', { query: { service: 'flood' } }));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({
      parameter: 'service',
      detail: "service 'flood' is not enabled here; enabled: waste, parking",
    });
  });

  it('moves a job open -> scheduled -> done, keeping each note and who made it', async () => {
    const { workflow, call } = setup();
    const job = fullBin('bin-1', 'Abbey', '2026-11-27T08:00:00.000Z');
    await workflow.jobs.create(job);
    const scheduled = await call(
      request('PATCH', '/jobs/{id}', {
        pathParameters: { id: job.id },
        body: { status: 'scheduled', note: 'on tomorrow morning round' },
      }),
    );
    expect(scheduled.statusCode).toBe(200);
    const done = await call(
      request('PATCH', '/jobs/{id}', {
        pathParameters: { id: job.id },
        body: { status: 'done', note: 'emptied' },
      }),
    );
    expect(JSON.parse(done.body)).toMatchObject({ status: 'done', closedAs: 'completed' });
    expect((await workflow.jobs.get(job.id))?.history.map((h) => h.note)).toEqual([
      'fillingLevel 0.85 at or over 0.8',
      'on tomorrow morning round (by sam (user-1))',
      'emptied (by sam (user-1))',
    ]);
  });

  it('answers a move the job cannot make with 409 saying what it may become', async () => {
    const { workflow, call } = setup();
    const job = fullBin('bin-1', 'Abbey', '2026-11-27T08:00:00.000Z');
    await workflow.jobs.create(job);
    const response = await call(
      request('PATCH', '/jobs/{id}', { pathParameters: { id: job.id }, body: { status: 'done', note: 'x' } }),
    );
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body).detail).toBe(
      `job ${job.id} is open; it can only move to scheduled (asked: done)`,
    );
  });

  it.each([
    ['a body that is not JSON', '{status', 'the request body is not valid JSON'],
    [
      'a move without a note',
      { status: 'scheduled', note: ' ' },
      "'note': a note saying what was done is required",
    ],
    ['an unknown status', { status: 'lost', note: 'x' }, "'status'"],
  ])('refuses %s with 400', async (_case, body, detail) => {
    const { workflow, call } = setup();
    const job = fullBin('bin-1', 'Abbey', '2026-11-27T08:00:00.000Z');
    await workflow.jobs.create(job);
    const response = await call(request('PATCH', '/jobs/{id}', { pathParameters: { id: job.id }, body }));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).detail).toContain(detail);
  });

  it('lets viewers read jobs but not move them', async () => {
    const { workflow, call } = setup();
    const job = fullBin('bin-1', 'Abbey', '2026-11-27T08:00:00.000Z');
    await workflow.jobs.create(job);
    const response = await call(
      request('PATCH', '/jobs/{id}', {
        pathParameters: { id: job.id },
        body: { status: 'scheduled', note: 'x' },
        groups: 'viewer',
      }),
    );
    expect(response.statusCode).toBe(403);
  });

  it('answers an unknown job with 404', async () => {
    const { call } = setup();
    const response = await call(
      request('GET', '/jobs/{id}', { pathParameters: { id: `job_${'0'.repeat(32)}` } }),
    );
    expect(response.statusCode).toBe(404);
  });
});

describe('alerts API', () => {
  async function raise(workflow: ReturnType<typeof inMemoryWorkflowPorts>, at: string) {
    const outcome = await applyAlert(
      workflow,
      { service: 'parking', key: 'parking:p1:full', summary: 'Car park P1 is full' },
      { kind: 'raise', at, severity: 'warning' },
      900,
    );
    if (!outcome.alert) throw new Error('expected an alert');
    return outcome.alert;
  }

  it('lists alerts by status and acknowledges one once, keeping the first acknowledgement', async () => {
    const { workflow, call } = setup();
    const alert = await raise(workflow, '2026-11-27T08:00:00.000Z');
    const listed = await call(request('GET', '/alerts', { query: { status: 'open' }, groups: 'viewer' }));
    expect(JSON.parse(listed.body).items).toHaveLength(1);
    const ack = await call(request('POST', '/alerts/{id}/ack', { pathParameters: { id: alert.incidentId } }));
    expect(ack.statusCode).toBe(200);
    expect(JSON.parse(ack.body)).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'sam (user-1)' });
    const again = await call(
      request('POST', '/alerts/{id}/ack', { pathParameters: { id: alert.incidentId }, groups: 'admin' }),
    );
    expect(JSON.parse(again.body)).toMatchObject({ acknowledgedBy: 'sam (user-1)' });
    expect(workflow.notifier.sent).toHaveLength(1);
  });

  it('refuses to acknowledge a cleared alert with 409', async () => {
    const { workflow, call } = setup();
    const alert = await raise(workflow, '2026-11-27T08:00:00.000Z');
    await applyAlert(
      workflow,
      { service: 'parking', key: alert.key, summary: alert.summary },
      { kind: 'clear', at: '2026-11-27T08:10:00.000Z' },
      0,
    );
    const response = await call(
      request('POST', '/alerts/{id}/ack', { pathParameters: { id: alert.incidentId } }),
    );
    expect(response.statusCode).toBe(409);
    expect(JSON.parse(response.body).detail).toMatch(/was cleared at 2026-11-27T08:10:00.000Z/);
  });
});

describe('open data', () => {
  it("serves an enabled service's sites through its public view, without a token", async () => {
    const { workflow, call } = setup();
    const base = { service: 'parking', version: 1, updatedAt: '2026-11-27T08:00:00.000Z' };
    await workflow.sites.save({ ...base, site: 'P1', data: { free: 12, total: 40, spots: { secret: 1 } } });
    await workflow.sites.save({ ...base, site: 'P2', data: { free: 0, total: 0 } });
    const response = await call(request('GET', '/parking/sites', { groups: null }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      service: 'parking',
      items: [{ site: 'P1', free: 12, total: 40 }],
    });
  });

  it('answers 404 for the open data of a service that is not enabled', async () => {
    const { call } = setup();
    const response = await call(request('GET', '/air-quality/sites', { groups: null }));
    expect(response.statusCode).toBe(404);
  });
});
