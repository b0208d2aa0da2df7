import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEM_CONTENT_TYPE } from '../../lambdas/contracts/api.js';
import { INVALID_API_KEY_DETAIL } from '../../lambdas/handlers/http/problem-details.js';
import { type ApiServer, startApiServer } from '../../local/api-server.js';
import {
  type LocalSettings,
  loadOrCreateApiKey,
  loadOrCreateToken,
  writeLocalSettings,
} from '../../local/local-settings-file.js';

const TOKEN = 't'.repeat(40);
const API_KEY = 'k'.repeat(40);

describe('local API server: access as API Gateway decides it', () => {
  let server: ApiServer;
  const seen: APIGatewayProxyEvent[] = [];

  beforeAll(async () => {
    server = await startApiServer({
      host: '127.0.0.1',
      port: 0,
      routes: [
        { method: 'GET', resource: '/health', access: 'public' },
        { method: 'GET', resource: '/parking/sites', access: 'open-data' },
        { method: 'GET', resource: '/jobs', access: 'staff' },
      ],
      handler: async (event) => {
        seen.push(event);
        return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
      },
      token: TOKEN,
      apiKey: API_KEY,
      claims: { sub: 'local-admin', 'cognito:groups': 'admin' },
      region: 'eu-west-2',
      accountId: '000000000000',
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  const get = (route: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${route}`, { headers });

  it('serves public routes with no credentials at all', async () => {
    expect((await get('/health')).status).toBe(200);
  });

  it.each([
    ['no key', {}],
    ['a wrong key', { 'x-api-key': 'not-the-key' }],
    ['a bearer token instead of the key', { authorization: `Bearer ${TOKEN}` }],
  ])('refuses open data with %s: 403 problem+json, as API Gateway answers', async (_case, headers) => {
    const response = await get('/parking/sites', headers);
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
    expect(await response.json()).toEqual({
      type: 'urn:civic-iot:problem:forbidden',
      title: 'Forbidden',
      status: 403,
      detail: INVALID_API_KEY_DETAIL,
    });
  });

  it('serves open data with the key, without claims (no authorizer on the route), the key in the identity', async () => {
    const before = seen.length;
    const response = await get('/parking/sites', { 'x-api-key': API_KEY });
    expect(response.status).toBe(200);
    const event = seen[before] as APIGatewayProxyEvent;
    expect(event.requestContext.authorizer).toBeNull();
    expect(event.requestContext.identity.apiKey).toBe(API_KEY);
  });

  it('still wants the bearer token, not the key, on staff routes', async () => {
    expect((await get('/jobs', { 'x-api-key': API_KEY })).status).toBe(401);
    expect((await get('/jobs', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });
});

describe('local.json API key', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'civic-settings-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is generated on the first run, kept across runs, and apart from the token', async () => {
    const file = path.join(dir, 'local.json');
    const apiKey = await loadOrCreateApiKey(file);
    const token = await loadOrCreateToken(file);
    expect(apiKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(apiKey).not.toBe(token);
    const settings: LocalSettings = { apiUrl: 'u', mqttUrl: 'm', token, apiKey, caCert: 'c', devices: [] };
    await writeLocalSettings(file, settings);
    expect(JSON.parse(await readFile(file, 'utf8')).apiKey).toBe(apiKey);
    expect(await loadOrCreateApiKey(file)).toBe(apiKey);
    expect(await loadOrCreateToken(file)).toBe(token);
  });

  it('gives a data dir from before API keys a new key, keeping its token', async () => {
    const file = path.join(dir, 'old.json');
    await writeLocalSettings(file, {
      apiUrl: 'u',
      mqttUrl: 'm',
      token: TOKEN,
      caCert: 'c',
      devices: [],
    } as never);
    expect(await loadOrCreateToken(file)).toBe(TOKEN);
    expect(await loadOrCreateApiKey(file)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
