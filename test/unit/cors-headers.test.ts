import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { createCityApiHandler } from '../../lambdas/handlers/city-api.js';
import { allowedOriginsOf, corsHeadersFor } from '../../lambdas/handlers/http/cors-headers.js';
import { device, NOW } from '../support/messages.js';

const context = { functionName: 'city-api', awsRequestId: 'r' } as Context;
const APP = 'https://app.example.gov.uk';

function event(resource: string, headers: Record<string, string>, path = resource): APIGatewayProxyEvent {
  return {
    resource,
    path,
    httpMethod: 'GET',
    headers,
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: resource.includes('{id}') ? { id: path.split('/')[2] as string } : null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      authorizer: { claims: { sub: 'user-1', 'cognito:groups': 'viewer' } },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

function handlerWith(corsAllowOrigins?: readonly string[]) {
  const ports = new InMemoryPorts([device('bin-001', 'waste-container')]);
  const handler = createCityApiHandler({
    ports: () => ports,
    now: () => NOW,
    ...(corsAllowOrigins ? { corsAllowOrigins } : {}),
  });
  return (e: APIGatewayProxyEvent) => handler(e, context);
}

describe('CORS headers on the city API answers', () => {
  it('adds none when no origin is configured', async () => {
    const response = await handlerWith()(event('/health', { Origin: APP }));
    expect(response.statusCode).toBe(200);
    expect(
      Object.keys(response.headers ?? {}).filter((name) => /^access-control|^vary$/i.test(name)),
    ).toEqual([]);
  });

  it("echoes a listed origin, whatever the header's case, and exposes Link", async () => {
    const response = await handlerWith([APP, 'https://maps.example.gov.uk'])(
      event('/health', { origin: APP }),
    );
    expect(response.headers).toMatchObject({
      'access-control-allow-origin': APP,
      'access-control-expose-headers': 'Link',
      vary: 'Origin',
      'content-type': 'application/json',
    });
  });

  it('leaves out Allow-Origin for an origin not in the list, but still varies by origin', async () => {
    const response = await handlerWith([APP])(event('/health', { Origin: 'https://evil.example.com' }));
    expect(response.headers?.['access-control-allow-origin']).toBeUndefined();
    expect(response.headers?.vary).toBe('Origin');
  });

  it('answers * when any origin may call', async () => {
    const response = await handlerWith(['*'])(event('/health', {}));
    expect(response.headers?.['access-control-allow-origin']).toBe('*');
  });

  it('puts the headers on problem answers too (a 404 from a route that threw)', async () => {
    const response = await handlerWith([APP])(event('/devices/{id}', { Origin: APP }, '/devices/nope'));
    expect(response.statusCode).toBe(404);
    expect(response.headers).toMatchObject({
      'content-type': 'application/problem+json',
      'access-control-allow-origin': APP,
    });
  });

  it('reads the origins from the environment, comma-separated, ignoring blanks', () => {
    expect(allowedOriginsOf(undefined)).toEqual([]);
    expect(allowedOriginsOf('')).toEqual([]);
    expect(allowedOriginsOf(`${APP}, https://maps.example.gov.uk,`)).toEqual([
      APP,
      'https://maps.example.gov.uk',
    ]);
    expect(corsHeadersFor([], event('/health', { Origin: APP }))).toEqual({});
  });
});
