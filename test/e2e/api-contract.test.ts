import { rm } from 'node:fs/promises';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEM_CONTENT_TYPE } from '../../lambdas/contracts/api.js';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import type {
  JsonObject,
  OpenApiDocument,
  OpenApiOperation,
  OpenApiParameter,
} from '../../lambdas/contracts/openapi.js';
import type { Device } from '../../lambdas/domain/device.js';
import { cityApiDocument } from '../../lambdas/handlers/api/docs-routes.js';
import type { DeviceBundle } from '../../local/city-simulator.js';
import { type LocalPlatform, startLocalPlatform } from '../../local/start-local-platform.js';
import { DocumentSchemas } from '../support/openapi-schemas.js';
import {
  apiGet,
  connectDevice,
  eventually,
  publishAcked,
  tempDataDir,
  testDevice,
} from './local-platform-support.js';

/**
 * The contract test: every GET route of the OpenAPI document, called on the local runtime with valid parameters,
 * answers 2xx with a body the document's schema accepts, and answers 400 problem+json naming the parameter when
 * one parameter is not valid. Routes are read from the document, not listed here, so a new route is tested as
 * soon as it has a spec. Path parameters are filled with real ids (a device that has reported, a job, an alert)
 * and required query parameters from their schemas; the platform has seen real readings over MQTT, a
 * quarantined message and a few workflow events (a collection job, a flood alert), so lists are not empty.
 */
const SPEED = 3600;
const DOCUMENT = cityApiDocument();
const GET_ROUTES = Object.entries(DOCUMENT.paths).flatMap(([path, operations]) =>
  operations.get ? [{ path, operation: operations.get }] : [],
);
const ROUTES_WITH_PARAMETERS = GET_ROUTES.filter(({ operation }) => (operation.parameters ?? []).length > 0);

/** Lists that must hold something once the platform has seen the setup's readings (so their items are checked). */
const LISTS_THAT_HOLD_ITEMS = [
  '/devices',
  '/jobs',
  '/alerts',
  '/quarantine',
  '/devices/{id}/telemetry',
  '/parking/sites',
  '/air-quality/sites',
  '/traffic/counters',
  '/flood/gauges',
];

/** Values the tests may use for a parameter, by the collection its path names (`/jobs/{id}` -> jobs). */
interface KnownIds {
  readonly devices: string[];
  readonly jobs: string[];
  readonly alerts: string[];
}

interface Answer {
  readonly status: number;
  readonly mediaType: string;
  readonly text: string;
}

describe('local platform: the API answers as its OpenAPI document says', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let served: OpenApiDocument;
  const schemas = new DocumentSchemas(DOCUMENT);
  const clients: MqttClient[] = [];
  const stored = new Set<string>();
  const quarantined: string[] = [];
  const known: KnownIds = { devices: [], jobs: [], alerts: [] };

  const call = async (pathAndQuery: string): Promise<Answer> => {
    const response = await fetch(`${platform.apiUrl}${pathAndQuery}`, {
      headers: { authorization: `Bearer ${platform.token}`, 'x-api-key': platform.apiKey },
    });
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    return { status: response.status, mediaType, text: await response.text() };
  };

  beforeAll(async () => {
    dataDir = await tempDataDir('contract');
    platform = await startLocalPlatform({
      dataDir,
      apiPort: 0,
      mqttPort: 0,
      simulator: false,
      speed: SPEED,
      serviceScheduleMs: 100,
      ingest: { batchingWindowMs: 10, visibilityTimeoutMs: 500 },
      log: () => undefined,
    });
    platform.ingestMeter.on('stored', (points) => {
      for (const point of points) stored.add(point.messageId);
    });
    platform.ingestMeter.on('quarantined', (entries) => {
      for (const entry of entries) quarantined.push(entry.reason);
    });

    const now = new Date().toISOString();
    const devices: Device[] = [
      { ...testDevice('api-bin-1', 'waste-container'), site: 'Contract street', registeredAt: now },
      {
        ...testDevice('api-gauge-1', 'water-level'),
        site: 'Contract brook',
        settings: { warningLevel: 1, severeLevel: 2 },
        registeredAt: now,
      },
      { ...testDevice('api-aq-1', 'air-quality'), site: 'Contract square', registeredAt: now },
      {
        ...testDevice('api-counter-1', 'traffic-flow'),
        site: 'Contract road',
        settings: { freeFlowSpeedKmh: 48 },
        registeredAt: now,
      },
      { ...testDevice('api-bay-1', 'parking-spot'), site: 'Contract car park', registeredAt: now },
      { ...testDevice('api-bay-2', 'parking-spot'), site: 'Contract car park', registeredAt: now },
    ];
    const bundles = await platform.provisionDevices(devices);
    const byId = new Map<string, { bundle: DeviceBundle; client: MqttClient }>();
    for (const bundle of bundles) {
      const client = await connectDevice(platform.mqttUrl, platform.caPem, bundle, bundle.deviceId);
      clients.push(client);
      byId.set(bundle.deviceId, { bundle, client });
    }
    let sequence = 0;
    const send = async (deviceId: string, readings: Readings) => {
      const { bundle, client } = byId.get(deviceId) as { bundle: DeviceBundle; client: MqttClient };
      sequence += 1;
      const messageId = `contract-${sequence}`;
      const envelope = { messageId, observedAt: new Date().toISOString(), readings };
      expect(await publishAcked(client, bundle.topic, JSON.stringify(envelope))).toBe(true);
      await eventually(() => stored.has(messageId), 10_000, `${deviceId}'s reading ${messageId} stored`);
    };

    // A bin filling up (a collection job), a gauge over its warning level (a flood alert), a sensor's reading,
    // a congested road (three slow, busy periods) and two parking bays: readings of every kind, and the
    // workflow events they cause.
    for (const fillingLevel of [0.4, 0.85, 0.92]) await send('api-bin-1', { fillingLevel, status: 'ok' });
    for (const waterLevel of [0.5, 1.2]) await send('api-gauge-1', { waterLevel });
    await send('api-aq-1', { no2: 120, pm25: 8 });
    const slow = { intensity: 20, averageVehicleSpeed: 12, occupancy: 0.6, periodSeconds: 60 };
    for (let i = 0; i < 3; i++) await send('api-counter-1', slow);
    await send('api-bay-1', { status: 'occupied' });
    await send('api-bay-2', { status: 'free' });
    // And a message that is not JSON: quarantined, so the quarantine list has an entry.
    const bin = byId.get('api-bin-1') as { bundle: DeviceBundle; client: MqttClient };
    expect(await publishAcked(bin.client, bin.bundle.topic, '{ not json')).toBe(true);
    await eventually(
      () => quarantined.includes('MALFORMED_JSON'),
      10_000,
      'the malformed message quarantined',
    );

    const list = async (path: string) =>
      (await apiGet<{ items: { id?: string; incidentId?: string }[] }>(platform.apiUrl, platform.token, path))
        .body.items ?? [];
    await eventually(async () => (await list('/jobs?service=waste')).length > 0, 10_000, 'a collection job');
    await eventually(async () => (await list('/alerts?service=flood')).length > 0, 10_000, 'a flood alert');
    await eventually(async () => (await list('/alerts?service=traffic')).length > 0, 10_000, 'a congestion');
    known.devices.push('api-bin-1', ...devices.map((d) => d.deviceId).filter((id) => id !== 'api-bin-1'));
    known.jobs.push(...(await list('/jobs')).flatMap((job) => (job.id ? [job.id] : [])));
    known.alerts.push(
      ...(await list('/alerts')).flatMap((alert) => (alert.incidentId ? [alert.incidentId] : [])),
    );

    const document = await call('/openapi.json');
    expect(document.status).toBe(200);
    served = JSON.parse(document.text) as OpenApiDocument;
  });

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the document the contract is read from', () => {
    expect(served).toEqual(DOCUMENT);
    expect(GET_ROUTES.length).toBeGreaterThan(10);
  });

  it.each(GET_ROUTES.map((route) => [route.path, route] as const))(
    'GET %s answers as documented',
    async (_path, { path, operation }) => {
      const request = requestWith(path, operation, known, schemas);
      const answer = await call(request);
      expect(answer.status, `GET ${request}: ${answer.text.slice(0, 500)}`).toBe(successStatus(operation));
      const content = documentedContent(operation, answer.status);
      expect(Object.keys(content), `GET ${request} answered ${answer.mediaType}`).toContain(answer.mediaType);
      const schema = content[answer.mediaType]?.schema;
      expect(schema, `GET ${path}: the document gives no schema for ${answer.mediaType}`).toBeDefined();
      const body = isJson(answer.mediaType) ? JSON.parse(answer.text) : answer.text;
      expect(schemas.errors(schema as JsonObject, body), `GET ${request}`).toEqual([]);
    },
  );

  it.each(ROUTES_WITH_PARAMETERS.map((route) => [route.path, route] as const))(
    'GET %s answers 400 problem+json naming a parameter that is not valid',
    async (_path, { path, operation }) => {
      const { request, parameter } = invalidRequest(path, operation, known, schemas);
      const answer = await call(request);
      expect(answer.status, `GET ${request}: ${answer.text.slice(0, 500)}`).toBe(400);
      expect(answer.mediaType).toBe(PROBLEM_CONTENT_TYPE);
      const problem = JSON.parse(answer.text);
      const problemSchema = documentedContent(operation, 400)[PROBLEM_CONTENT_TYPE]?.schema as JsonObject;
      expect(schemas.errors(problemSchema, problem)).toEqual([]);
      expect(problem).toMatchObject({ status: 400, parameter });
    },
  );

  it('checks lists that hold items, not only empty ones', async () => {
    for (const path of LISTS_THAT_HOLD_ITEMS.filter((p) => DOCUMENT.paths[p]?.get)) {
      const answer = await call(
        requestWith(path, DOCUMENT.paths[path]?.get as OpenApiOperation, known, schemas),
      );
      expect(answer.status, path).toBe(200);
      expect((JSON.parse(answer.text) as { items?: unknown[] }).items?.length ?? 0, path).toBeGreaterThan(0);
    }
  });
});

function successStatus(operation: OpenApiOperation): number {
  const status = Object.keys(operation.responses).find((s) => s.startsWith('2'));
  return Number(status);
}

/** The documented content of an answer, following a shared response's `$ref`. */
function documentedContent(
  operation: OpenApiOperation,
  status: number,
): Record<string, { schema?: unknown }> {
  let response = operation.responses[String(status)] as JsonObject | undefined;
  const ref = response?.$ref;
  if (typeof ref === 'string') {
    response = DOCUMENT.components.responses[ref.replace('#/components/responses/', '')];
  }
  return (response?.content ?? {}) as Record<string, { schema?: unknown }>;
}

function isJson(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json');
}

const ISO_HOUR_AGO = () => new Date(Date.now() - 3_600_000).toISOString();

/**
 * A value for a parameter: a real id where the path names a collection we know ids of, else the first known
 * value (any id, an enum member, a time, the minimum) or one made from a simple pattern that the parameter's
 * schema accepts.
 */
function validValue(
  path: string,
  parameter: OpenApiParameter,
  known: KnownIds,
  schemas: DocumentSchemas,
  timesBefore: number,
): string | undefined {
  const accepts = (value: string) =>
    schemas.errors(parameter.schema, typed(value, parameter.schema)).length === 0;
  const schema = parameter.schema;
  if (parameter.in === 'path') {
    // The segment before the parameter names what it identifies: /devices/{id}, /jobs/{id}, /alerts/{id}/ack.
    const segments = path.split('/');
    const collection = segments[segments.indexOf(`{${parameter.name}}`) - 1] ?? '';
    const preferred = Object.hasOwn(known, collection) ? known[collection as keyof KnownIds] : [];
    const all = [...preferred, ...known.devices, ...known.jobs, ...known.alerts];
    const found = all.find(accepts);
    if (found) return found;
  }
  const candidates = [
    ...((schema.enum as unknown[] | undefined) ?? []).map(String),
    ...(schema.format === 'date-time' ? [timesBefore === 0 ? ISO_HOUR_AGO() : new Date().toISOString()] : []),
    ...(typeof schema.minimum === 'number' ? [String(schema.minimum)] : []),
    ...(typeof schema.pattern === 'string'
      ? [exampleOf(schema.pattern)].filter((v): v is string => !!v)
      : []),
    '1',
    'x',
  ];
  return candidates.find(accepts);
}

/**
 * An example of a simple pattern: anchors, literal characters (escaped or not) and groups of literal
 * alternatives (`^(waste-container|parking-spot)\.(csv|geojson)$` -> `waste-container.csv`); undefined for
 * anything richer (classes, quantifiers), which the known ids cover.
 */
function exampleOf(pattern: string): string | undefined {
  const body = pattern.replace(/^\^/, '').replace(/\$$/, '');
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const char = body[i] as string;
    if (char === '\\') {
      const next = body[i + 1];
      if (!next || /[A-Za-z0-9]/.test(next)) return undefined;
      out += next;
      i++;
    } else if (char === '(') {
      const close = body.indexOf(')', i);
      if (close < 0) return undefined;
      const first =
        body
          .slice(i + 1, close)
          .replace(/^\?:/, '')
          .split('|')[0] ?? '';
      if (/[\\[\]().*+?{}^$]/.test(first)) return undefined;
      out += first;
      i = close;
    } else if (/[[\]().*+?{}|^$]/.test(char)) return undefined;
    else out += char;
  }
  return out;
}

/** A query value as the API reads it: numbers for numeric parameters (query strings are text on the wire). */
function typed(value: string, schema: JsonObject): unknown {
  const numeric = schema.type === 'integer' || schema.type === 'number';
  return numeric && value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : value;
}

/**
 * The route's path and query: every path parameter and every required query parameter with a valid value, and
 * `override` (a value that is not valid) in place of one of them, or added when it is an optional one.
 */
function requestWith(
  path: string,
  operation: OpenApiOperation,
  known: KnownIds,
  schemas: DocumentSchemas,
  override?: { readonly name: string; readonly value: string },
): string {
  let url = path;
  const query = new URLSearchParams();
  // Times in order: the first an hour ago, later ones now (from before to).
  let times = 0;
  for (const parameter of operation.parameters ?? []) {
    const overridden = override?.name === parameter.name;
    if (!overridden && !parameter.required) continue;
    const value = overridden ? override.value : validValue(path, parameter, known, schemas, times);
    if (value === undefined) {
      throw new Error(`GET ${path}: no valid value known for ${parameter.in} parameter '${parameter.name}'`);
    }
    if (parameter.schema.format === 'date-time') times += 1;
    if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, encodeURIComponent(value));
    else query.set(parameter.name, value);
  }
  const search = query.toString();
  return search ? `${url}?${search}` : url;
}

/** Values that break most schemas: not a member, not a number, not a time, too long, out of range. */
const JUNK = ['!not valid!', '-1', '0', '99999999', 'x'.repeat(3000)];

/**
 * The same request with one parameter not valid: the first query parameter (else path parameter) for which
 * one of the junk values breaks its schema.
 */
function invalidRequest(
  path: string,
  operation: OpenApiOperation,
  known: KnownIds,
  schemas: DocumentSchemas,
): { readonly request: string; readonly parameter: string } {
  const parameters = [...(operation.parameters ?? [])].sort((a, b) =>
    a.in === b.in ? 0 : a.in === 'query' ? -1 : 1,
  );
  for (const parameter of parameters) {
    const junk = JUNK.find(
      (value) => schemas.errors(parameter.schema, typed(value, parameter.schema)).length > 0,
    );
    if (junk !== undefined) {
      return {
        request: requestWith(path, operation, known, schemas, { name: parameter.name, value: junk }),
        parameter: parameter.name,
      };
    }
  }
  throw new Error(`GET ${path}: no parameter whose schema refuses any of the junk values`);
}
