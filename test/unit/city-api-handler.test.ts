import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { ROUTE_SPECS, routeKey } from '../../lambdas/contracts/api-routes.js';
import { createCityApiHandler, ROUTE_HANDLERS } from '../../lambdas/handlers/city-api.js';
import { device, NOW } from '../support/messages.js';

const context = { functionName: 'city-api', awsRequestId: 'r' } as Context;

function event(
  resource: string,
  options: {
    path?: string;
    pathParameters?: Record<string, string>;
    query?: Record<string, string>;
    groups?: string | null;
    method?: string;
    claims?: Record<string, string>;
  } = {},
): APIGatewayProxyEvent {
  const groups = options.groups === undefined ? 'viewer' : options.groups;
  return {
    resource,
    path: options.path ?? resource,
    httpMethod: options.method ?? 'GET',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: options.pathParameters ?? null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      authorizer:
        groups === null
          ? undefined
          : { claims: { sub: 'user-1', 'cognito:groups': groups, ...options.claims } },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

function setup() {
  const ports = new InMemoryPorts([device('bin-001', 'waste-container')]);
  const handler = createCityApiHandler({ ports: () => ports, now: () => NOW });
  return { ports, call: (e: APIGatewayProxyEvent) => handler(e, context) };
}

async function seed(ports: InMemoryPorts) {
  const points = [10, 11, 12].map((hour) => ({
    deviceId: 'bin-001',
    deviceType: 'waste-container' as const,
    messageId: `m${hour}`,
    observedAt: `2026-11-27T${hour}:00:00.000Z`,
    receivedAt: `2026-11-27T${hour}:00:01.000Z`,
    readings: { fillingLevel: hour / 100 },
  }));
  await ports.telemetry.write(points);
  await ports.latestState.putIfNewer(points);
}

describe('city API', () => {
  it('answers /health without a token', async () => {
    const { call } = setup();
    const response = await call(event('/health', { groups: null }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ status: 'ok' });
  });

  it('returns a registered device', async () => {
    const { call } = setup();
    const response = await call(event('/devices/{id}', { pathParameters: { id: 'bin-001' } }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ deviceId: 'bin-001', deviceType: 'waste-container' });
  });

  it('answers an unknown device with 404 problem+json', async () => {
    const { call } = setup();
    const response = await call(
      event('/devices/{id}', { path: '/devices/nope', pathParameters: { id: 'nope' } }),
    );
    expect(response.statusCode).toBe(404);
    expect(response.headers?.['content-type']).toBe('application/problem+json');
    expect(JSON.parse(response.body)).toMatchObject({
      status: 404,
      title: 'Not found',
      detail: "device 'nope' is not registered",
      instance: '/devices/nope',
    });
  });

  it('answers a device that has not reported with 404 on /latest', async () => {
    const { call } = setup();
    const response = await call(event('/devices/{id}/latest', { pathParameters: { id: 'bin-001' } }));
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body).detail).toMatch(/not reported/);
  });

  it('returns the latest reading', async () => {
    const { call, ports } = setup();
    await seed(ports);
    const response = await call(event('/devices/{id}/latest', { pathParameters: { id: 'bin-001' } }));
    expect(JSON.parse(response.body)).toMatchObject({
      observedAt: '2026-11-27T12:00:00.000Z',
      readings: { fillingLevel: 0.12 },
    });
  });

  it('pages through raw telemetry in a range', async () => {
    const { call, ports } = setup();
    await seed(ports);
    const query = { from: '2026-11-27T09:00:00Z', to: '2026-11-27T12:00:00Z', limit: '2' };
    const first = JSON.parse(
      (await call(event('/devices/{id}/telemetry', { pathParameters: { id: 'bin-001' }, query }))).body,
    );
    expect(first.items.map((p: { messageId: string }) => p.messageId)).toEqual(['m10', 'm11']);
    const second = JSON.parse(
      (
        await call(
          event('/devices/{id}/telemetry', {
            pathParameters: { id: 'bin-001' },
            query: { ...query, cursor: first.nextCursor },
          }),
        )
      ).body,
    );
    expect(second.items.map((p: { messageId: string }) => p.messageId)).toEqual(['m12']);
    expect(second.nextCursor).toBeUndefined();
  });

  it("keeps the first page's range on later pages when from and to were left to default", async () => {
    const ports = new InMemoryPorts([device('bin-001', 'waste-container')]);
    await seed(ports);
    let now = new Date('2026-11-27T12:30:00.000Z');
    const handler = createCityApiHandler({ ports: () => ports, now: () => now });
    const ask = async (query: Record<string, string>) =>
      JSON.parse(
        (
          await handler(
            event('/devices/{id}/telemetry', { pathParameters: { id: 'bin-001' }, query }),
            context,
          )
        ).body,
      );
    const first = await ask({ limit: '2' });
    // A day later the default window no longer covers these readings, but the cursor keeps the first query's.
    now = new Date('2026-11-28T13:00:00.000Z');
    const second = await ask({ limit: '2', cursor: first.nextCursor });
    expect(second).toMatchObject({ from: first.from, to: first.to });
    expect(second.items.map((p: { messageId: string }) => p.messageId)).toEqual(['m12']);
  });

  it('refuses a cursor replayed with other filters, or made up, with 400 naming the cursor', async () => {
    const { call, ports } = setup();
    await seed(ports);
    const first = JSON.parse(
      (
        await call(
          event('/devices/{id}/telemetry', { pathParameters: { id: 'bin-001' }, query: { limit: '1' } }),
        )
      ).body,
    );
    for (const query of [
      { cursor: first.nextCursor as string, measure: 'temperature' },
      { cursor: 'bm90LWEtY3Vyc29y' },
    ] as Record<string, string>[]) {
      const response = await call(
        event('/devices/{id}/telemetry', { pathParameters: { id: 'bin-001' }, query }),
      );
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(response.body).parameter).toBe('cursor');
    }
  });

  it.each([
    [{ from: 'yesterday' }, 'from'],
    [{ limit: '0' }, 'limit'],
    [{ limit: '1001' }, 'limit'],
    [{ measure: 'drop table' }, 'measure'],
    [{ colour: 'red' }, ''],
    [{ from: '2026-11-27T12:00:00Z', to: '2026-11-27T11:00:00Z' }, 'from'],
    [{ from: '2026-09-01T00:00:00Z', to: '2026-11-27T00:00:00Z' }, 'from'],
  ])('rejects telemetry query %o with 400 naming %s', async (query, parameter) => {
    const { call } = setup();
    const response = await call(
      event('/devices/{id}/telemetry', { pathParameters: { id: 'bin-001' }, query }),
    );
    expect(response.statusCode).toBe(400);
    const problem = JSON.parse(response.body);
    expect(problem).toMatchObject({ status: 400, title: 'Bad request' });
    if (parameter) expect(problem.parameter).toBe(parameter);
    expect(problem.detail.length).toBeGreaterThan(5);
  });

  it('rejects an unknown quarantine reason with 400', async () => {
    const { call } = setup();
    const response = await call(event('/quarantine', { query: { reason: 'BAD_VIBES' } }));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body).parameter).toBe('reason');
  });

  it('has a handler for every route spec and a spec for every handler', () => {
    expect(Object.keys(ROUTE_HANDLERS).sort()).toEqual(ROUTE_SPECS.map(routeKey).sort());
  });

  it('answers 401 without claims and 403 without a staff group, on every staff route', async () => {
    const { call } = setup();
    for (const spec of ROUTE_SPECS) {
      if (spec.access.kind !== 'staff') continue;
      const key = routeKey(spec);
      const [method, resource] = [spec.method, spec.path];
      const params = { method, pathParameters: { id: 'bin-001' } };
      expect((await call(event(resource, { ...params, groups: null }))).statusCode, key).toBe(401);
      expect((await call(event(resource, { ...params, groups: 'citizens' }))).statusCode, key).toBe(403);
    }
  });

  it('hides internal errors behind a plain 500', async () => {
    const { call, ports } = setup();
    ports.devices.findMany = async () => {
      throw new Error('ResourceNotFoundException: table civic-devices-secret');
    };
    const response = await call(event('/devices/{id}', { pathParameters: { id: 'bin-001' } }));
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toMatch(/civic-devices-secret|stack/);
  });
});
