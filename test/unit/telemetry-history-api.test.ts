import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import {
  MAX_AGGREGATE_BUCKETS,
  TELEMETRY_ROUTE_SPECS,
  telemetryHistorySchema,
} from '../../lambdas/contracts/api-telemetry.js';
import { telemetryRouteHandlers } from '../../lambdas/handlers/api/telemetry-routes.js';
import { createCityApiHandler } from '../../lambdas/handlers/city-api.js';
import {
  DAILY,
  HOURLY,
  hourlyBuckets,
  SERIES_DEVICE,
  SERIES_FROM,
  SERIES_POINTS,
  SERIES_TO,
} from '../support/aggregation-series.js';
import { device } from '../support/messages.js';

const context = { functionName: 'city-api', awsRequestId: 'r' } as Context;
const NOW = new Date('2026-11-27T13:20:00.000Z');

function event(id: string, query: Record<string, string>): APIGatewayProxyEvent {
  return {
    resource: '/devices/{id}/telemetry',
    path: `/devices/${id}/telemetry`,
    httpMethod: 'GET',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: query,
    multiValueQueryStringParameters: null,
    pathParameters: { id },
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      authorizer: { claims: { sub: 'user-1', 'cognito:groups': 'viewer' } },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

async function setup() {
  const ports = new InMemoryPorts([
    device(SERIES_DEVICE, 'air-quality'),
    device('bin-1', 'waste-container'),
    device('bay-1', 'parking-spot'),
  ]);
  await ports.telemetry.write(SERIES_POINTS);
  const handler = createCityApiHandler({ ports: () => ports, now: () => NOW });
  return async (query: Record<string, string>, id = SERIES_DEVICE) => {
    const response = await handler(event(id, query), context);
    return { status: response.statusCode, body: JSON.parse(response.body) };
  };
}

describe('GET /devices/{id}/telemetry with an interval', () => {
  it('answers each stat in hourly buckets, as worked out by hand, in the documented shape', async () => {
    const call = await setup();
    for (const stat of ['avg', 'min', 'max', 'count'] as const) {
      const { status, body } = await call({
        from: SERIES_FROM,
        to: SERIES_TO,
        measure: 'no2',
        interval: '1h',
        stat,
      });
      expect(status).toBe(200);
      expect(body).toEqual({
        deviceId: SERIES_DEVICE,
        interval: '1h',
        stat,
        measure: 'no2',
        from: SERIES_FROM,
        to: SERIES_TO,
        buckets: hourlyBuckets(HOURLY[stat]),
      });
      expect(telemetryHistorySchema.safeParse(body).success).toBe(true);
    }
  });

  it('averages by default and answers daily buckets', async () => {
    const call = await setup();
    const { body } = await call({ from: SERIES_FROM, to: SERIES_TO, measure: 'no2', interval: '1d' });
    expect(body.stat).toBe('avg');
    expect(body.buckets).toEqual([
      { start: '2026-11-27T00:00:00.000Z', count: DAILY.count, value: DAILY.avg },
    ]);
  });

  it('defaults to the 24 hours ending with the current hour, whole', async () => {
    const call = await setup();
    const { body } = await call({ measure: 'no2', interval: '1h', stat: 'count' });
    expect(body).toMatchObject({ from: '2026-11-26T14:00:00.000Z', to: '2026-11-27T14:00:00.000Z' });
    expect(body.buckets).toHaveLength(24);
    // 13:00 holds everything from 13:00 on, the 13:15 and 13:40 readings too: no range edge cuts it now.
    expect(body.buckets.at(-1)).toEqual({ start: '2026-11-27T13:00:00.000Z', count: 4, value: 4 });
  });

  it('still answers raw readings, paged, and says so', async () => {
    const call = await setup();
    const { status, body } = await call({ from: SERIES_FROM, to: SERIES_TO, limit: '5' });
    expect(status).toBe(200);
    expect(body.interval).toBe('raw');
    expect(body.items).toHaveLength(5);
    expect(body.nextCursor).toEqual(expect.any(String));
    expect(telemetryHistorySchema.safeParse(body).success).toBe(true);
  });

  it.each([
    [{ interval: '5m', from: '2026-11-20T00:00:00Z', to: '2026-11-23T00:00:01Z' }, 'from', /at most 3 days/],
    [{ interval: '1h', from: '2026-10-01T00:00:00Z', to: '2026-11-02T00:00:00Z' }, 'from', /at most 31 days/],
    [{ interval: '1d', from: '2026-01-01T00:00:00Z', to: '2026-11-27T00:00:00Z' }, 'from', /at most 92 days/],
    [{ interval: '1h', from: '2026-11-27T12:00:00Z', to: '2026-11-27T11:00:00Z' }, 'from', /after 'to'/],
    [{ interval: 'weekly' }, 'interval', /./],
    [{ interval: '1h', stat: 'median' }, 'stat', /./],
    [{ stat: 'max' }, 'stat', /aggregate interval/],
    [{ interval: '1h', cursor: 'abc' }, 'cursor', /one page/],
  ])('refuses %o with 400 naming %s', async (query, parameter, detail) => {
    const call = await setup();
    const { status, body } = await call({ measure: 'no2', ...query });
    expect(status).toBe(400);
    expect(body).toMatchObject({ status: 400, title: 'Bad request', parameter });
    expect(body.detail).toMatch(detail);
  });

  it('asks for one numeric reading of the device, naming the ones it has', async () => {
    const call = await setup();
    const missing = await call({ interval: '1h' });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ parameter: 'measure' });
    expect(missing.body.detail).toContain('measure=no2, measure=pm25, measure=pm10, measure=o3');
    const status = await call({ interval: '1h', measure: 'status' }, 'bin-1');
    expect(status.body.detail).toContain('measure=fillingLevel, measure=temperature');
    const bay = await call({ interval: '1h', measure: 'status' }, 'bay-1');
    expect(bay.body.detail).toMatch(/parking-spot has no numeric readings/);
  });

  it('answers 404 for a device that is not registered', async () => {
    const call = await setup();
    expect((await call({ interval: '1h', measure: 'no2' }, 'nobody')).status).toBe(404);
  });
});

describe('the telemetry route spec', () => {
  it('declares interval and stat, a response for both forms, and a handler', () => {
    const [spec] = TELEMETRY_ROUTE_SPECS;
    expect(Object.keys(spec?.query?.shape ?? {})).toEqual(
      expect.arrayContaining(['from', 'to', 'measure', 'interval', 'stat', 'limit', 'cursor']),
    );
    expect(spec?.query?.parse({})).toMatchObject({ interval: 'raw' });
    expect(spec?.response).toBe(telemetryHistorySchema);
    expect(telemetryRouteHandlers['GET /devices/{id}/telemetry']).toBeTypeOf('function');
  });

  it('bounds an aggregated answer to one page of buckets', () => {
    expect(MAX_AGGREGATE_BUCKETS).toBe(865);
    const tooMany = {
      deviceId: 'd',
      interval: '5m',
      stat: 'avg',
      measure: 'no2',
      from: SERIES_FROM,
      to: SERIES_TO,
      buckets: Array.from({ length: 866 }, () => ({ start: SERIES_FROM, count: 0, value: null })),
    };
    expect(telemetryHistorySchema.safeParse(tooMany).success).toBe(false);
  });
});
