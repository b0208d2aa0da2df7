import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { ROUTE_SPECS, routeKey } from '../../lambdas/contracts/api-routes.js';
import {
  entitiesResponseSchema,
  exportFeatureCollectionSchema,
  STANDARDS_ROUTE_SPECS,
} from '../../lambdas/contracts/api-standards.js';
import { SMART_DATA_MODELS } from '../../lambdas/contracts/smart-data-models.js';
import { standardsRouteHandlers } from '../../lambdas/handlers/api/standards-routes.js';
import { createCityApiHandler } from '../../lambdas/handlers/city-api.js';
import { device, NOW } from '../support/messages.js';

const context = { functionName: 'city-api', awsRequestId: 'r' } as Context;

/** An open-data request as API Gateway hands it over after checking the API key: no Cognito claims. */
function event(
  resource: string,
  query: Record<string, string> = {},
  pathParameters: Record<string, string> | null = null,
): APIGatewayProxyEvent {
  const path = pathParameters?.file ? resource.replace('{file}', pathParameters.file) : resource;
  return {
    resource,
    path,
    httpMethod: 'GET',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: null,
    pathParameters,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { identity: { apiKey: 'key-1' } } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

async function setup() {
  const site = 'Queens Road car park, "east"';
  const ports = new InMemoryPorts([
    device('bay-1', 'parking-spot', { site }),
    device('bay-2', 'parking-spot', { site }),
    device('bay-3', 'parking-spot', { site }),
    device('aq-1', 'air-quality'),
  ]);
  const points = ['bay-1', 'bay-2'].flatMap((id) =>
    [0, 1, 2].map((m) => ({
      deviceId: id,
      deviceType: 'parking-spot' as const,
      messageId: `${id}-${m}`,
      observedAt: `2026-11-27T1${m}:00:00.000Z`,
      receivedAt: `2026-11-27T1${m}:00:01.000Z`,
      readings: { status: m % 2 === 0 ? 'occupied' : 'free' },
      site,
      ward: 'Abbey',
    })),
  );
  await ports.telemetry.write(points);
  await ports.latestState.putIfNewer(points);
  const handler = createCityApiHandler({ ports: () => ports, now: () => NOW });
  return { ports, site, call: (e: APIGatewayProxyEvent) => handler(e, context) };
}

/** The `rel="next"` target of a Link header, as query parameters. */
function nextQuery(link: string | undefined): Record<string, string> | undefined {
  const next = link?.split(/,\s*(?=<)/).find((part) => part.endsWith('rel="next"'));
  const target = next?.match(/^<\?([^>]*)>/)?.[1];
  return target === undefined ? undefined : Object.fromEntries(new URLSearchParams(target));
}

function problem(body: string) {
  return JSON.parse(body) as { status: number; detail: string; parameter?: string };
}

describe('standards routes', () => {
  it('are declared as open data with response schemas, and each spec has its handler', () => {
    for (const spec of STANDARDS_ROUTE_SPECS) {
      expect(spec.access.kind).toBe('open-data');
      expect(spec.response ?? spec.responseContent).toBeDefined();
      expect(standardsRouteHandlers[routeKey(spec)]).toBeTypeOf('function');
      expect(ROUTE_SPECS).toContain(spec);
    }
    expect(Object.keys(standardsRouteHandlers).sort()).toEqual(STANDARDS_ROUTE_SPECS.map(routeKey).sort());
  });
});

describe('GET /ngsi-ld/v1/entities', () => {
  it('answers keyValues by default, as application/json with the pinned model context in a Link header', async () => {
    const { call, site } = await setup();
    const response = await call(event('/ngsi-ld/v1/entities', { type: 'ParkingSpot' }));
    expect(response.statusCode).toBe(200);
    expect(response.headers?.['content-type']).toBe('application/json');
    expect(response.headers?.link).toBe(
      `<${SMART_DATA_MODELS['parking-spot'].context}>; rel="http://www.w3.org/ns/json-ld#context"; ` +
        'type="application/ld+json"',
    );
    const entities = entitiesResponseSchema.parse(JSON.parse(response.body));
    expect(entities.map((e) => e.id)).toEqual([
      'urn:ngsi-ld:ParkingSpot:bay-1',
      'urn:ngsi-ld:ParkingSpot:bay-2',
      'urn:ngsi-ld:ParkingSpot:bay-3',
    ]);
    expect(entities[0]).toMatchObject({
      status: 'occupied',
      refParkingSite: `urn:ngsi-ld:OffStreetParking:${encodeURIComponent(site)}`,
    });
    expect(entities[2]).toMatchObject({ status: 'unknown' });
  });

  it('answers normalized when asked, with observedAt on the readings', async () => {
    const { call } = await setup();
    const response = await call(
      event('/ngsi-ld/v1/entities', { type: 'ParkingSpot', options: 'normalized' }),
    );
    const [first] = entitiesResponseSchema.parse(JSON.parse(response.body));
    expect(first).toMatchObject({
      status: { type: 'Property', value: 'occupied', observedAt: '2026-11-27T12:00:00.000Z' },
      refParkingSite: { type: 'Relationship' },
      location: { type: 'GeoProperty' },
    });
  });

  it('pages with a cursor in a rel="next" Link, next to the context link', async () => {
    const { call } = await setup();
    const first = await call(event('/ngsi-ld/v1/entities', { type: 'ParkingSpot', limit: '2' }));
    const next = nextQuery(first.headers?.link as string);
    expect(next).toMatchObject({ type: 'ParkingSpot', options: 'keyValues', limit: '2' });
    expect(next?.cursor).toBeTruthy();
    const second = await call(event('/ngsi-ld/v1/entities', next));
    expect(JSON.parse(second.body).map((e: { id: string }) => e.id)).toEqual([
      'urn:ngsi-ld:ParkingSpot:bay-3',
    ]);
    expect(nextQuery(second.headers?.link as string)).toBeUndefined();
  });

  it.each([
    [
      { type: 'Bin' },
      'type',
      /WasteContainer, ParkingSpot, AirQualityObserved, TrafficFlowObserved, FloodMonitoring/,
    ],
    [{}, 'type', /one of WasteContainer/],
    [{ type: 'ParkingSpot', options: 'sysAttrs' }, 'options', /keyValues, normalized/],
    [{ type: 'ParkingSpot', limit: '1001' }, 'limit', /1000/],
    [{ type: 'ParkingSpot', cursor: 'junk' }, 'cursor', /cursor/],
    [{ type: 'ParkingSpot', q: 'status==free' }, '', /Unrecognized key.*"q"/],
  ])('answers %j with 400 problem+json naming %s', async (query, parameter, detail) => {
    const { call } = await setup();
    const response = await call(event('/ngsi-ld/v1/entities', query as Record<string, string>));
    expect(response.statusCode).toBe(400);
    expect(response.headers?.['content-type']).toBe('application/problem+json');
    const body = problem(response.body);
    expect(body.detail).toMatch(detail);
    if (parameter) expect(body.parameter).toBe(parameter);
  });
});

describe('GET /export/{file}', () => {
  it('serves CSV as text/csv in pages linked by rel="next", the header row on the first page only', async () => {
    const { call, site } = await setup();
    const file = { file: 'parking-spot.csv' };
    const query = { from: '2026-11-27T00:00:00Z', to: '2026-11-27T12:00:00Z', limit: '4' };
    const first = await call(event('/export/{file}', query, file));
    expect(first.statusCode).toBe(200);
    expect(first.headers?.['content-type']).toBe('text/csv; charset=utf-8');
    const lines = first.body.split('\r\n');
    expect(lines[0]).toBe('deviceId,dateObserved,longitude,latitude,areaServed,name,status');
    expect(lines[1]).toBe(
      `bay-1,2026-11-27T10:00:00.000Z,-0.9781,51.4545,Abbey,"${site.replaceAll('"', '""')}",occupied`,
    );
    expect(lines).toHaveLength(6);
    const next = nextQuery(first.headers?.link as string);
    expect(next).toMatchObject({ limit: '4' });
    const second = await call(event('/export/{file}', next, file));
    expect(second.body.split('\r\n')).toEqual([
      expect.stringMatching(/^bay-2,2026-11-27T11:00:00.000Z,/),
      expect.stringMatching(/^bay-2,2026-11-27T12:00:00.000Z,/),
      '',
    ]);
    expect(second.headers?.link).toBeUndefined();
  });

  it('serves GeoJSON as application/geo+json, the cursor also in the body', async () => {
    const { call } = await setup();
    const response = await call(
      event('/export/{file}', { from: '2026-11-27T00:00:00Z', limit: '5' }, { file: 'parking-spot.geojson' }),
    );
    expect(response.headers?.['content-type']).toBe('application/geo+json');
    const collection = exportFeatureCollectionSchema.parse(JSON.parse(response.body));
    expect(collection.features).toHaveLength(5);
    expect(collection.features[0]?.geometry.coordinates).toEqual([-0.9781, 51.4545]);
    expect(nextQuery(response.headers?.link as string)?.cursor).toBe(collection.next);
  });

  it.each([
    [
      { file: 'bins.csv' },
      {},
      'file',
      /waste-container, parking-spot, air-quality, traffic-flow, water-level/,
    ],
    [{ file: 'parking-spot.xlsx' }, {}, 'file', /\.csv or <device type>\.geojson/],
    [
      { file: 'parking-spot.csv' },
      { from: '2026-11-01T00:00:00Z', to: '2026-11-20T00:00:00Z' },
      'from',
      /at most 7 days/,
    ],
    [{ file: 'parking-spot.csv' }, { from: 'yesterday' }, 'from', /./],
    [{ file: 'parking-spot.csv' }, { limit: '2001' }, 'limit', /2000/],
    [{ file: 'parking-spot.csv' }, { cursor: 'e30' }, 'cursor', /cursor/],
  ])('answers %j %j with 400 problem+json naming %s', async (pathParameters, query, parameter, detail) => {
    const { call } = await setup();
    const response = await call(event('/export/{file}', query as Record<string, string>, pathParameters));
    expect(response.statusCode).toBe(400);
    expect(response.headers?.['content-type']).toBe('application/problem+json');
    const body = problem(response.body);
    expect(body.parameter).toBe(parameter);
    expect(body.detail).toMatch(detail);
  });
});
