import { IoTClient, ListThingPrincipalsCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { IotDeviceCertificates } from '../../lambdas/adapters/iot-device-certificates.js';
import { councilAreaFromEnvironment } from '../../lambdas/adapters/ports-from-environment.js';
import { deviceSchema, PROBLEM_CONTENT_TYPE } from '../../lambdas/contracts/api.js';
import { DEVICE_ROUTE_SPECS, devicePageSchema } from '../../lambdas/contracts/api-devices.js';
import { routeKey } from '../../lambdas/contracts/api-routes.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import type { BoundingBox } from '../../lambdas/domain/device.js';
import {
  type CityApiHandlerOptions,
  createCityApiHandler,
  ROUTE_HANDLERS,
} from '../../lambdas/handlers/city-api.js';
import { device, NOW } from '../support/messages.js';

const context = { functionName: 'city-api', awsRequestId: 'r' } as Context;

/** AWS IoT as the deployed API function sees it: by default every thing exists with no certificate attached. */
const iot = mockClient(IoTClient);
beforeEach(() => {
  iot.reset();
  iot.on(ListThingPrincipalsCommand).resolves({ principals: [] });
  iot.on(UpdateCertificateCommand).resolves({});
});

interface Call {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly resource: '/devices' | '/devices/{id}';
  readonly id?: string;
  readonly query?: Record<string, string>;
  readonly body?: unknown;
  /** The caller's Cognito groups; null for no token. @default 'admin' */
  readonly groups?: string | null;
}

function event(call: Call): APIGatewayProxyEvent {
  const groups = call.groups === undefined ? 'admin' : call.groups;
  const path = call.id === undefined ? '/devices' : `/devices/${call.id}`;
  return {
    resource: call.resource,
    path,
    httpMethod: call.method,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: call.query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: call.id === undefined ? null : { id: call.id },
    stageVariables: null,
    body:
      call.body === undefined ? null : typeof call.body === 'string' ? call.body : JSON.stringify(call.body),
    isBase64Encoded: false,
    requestContext: {
      authorizer: groups === null ? undefined : { claims: { sub: 'user-1', 'cognito:groups': groups } },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

function setup(options: Pick<CityApiHandlerOptions, 'councilArea' | 'deviceCertificates'> = {}) {
  const ports = new InMemoryPorts([
    device('bin-1', 'waste-container', { ward: 'Abbey', location: { lat: 51.455, lon: -0.97 } }),
    device('bin-2', 'waste-container', { ward: 'Katesgrove', location: { lat: 51.44, lon: -0.96 } }),
    device('bay-1', 'parking-spot', { ward: 'Abbey', location: { lat: 51.457, lon: -0.972 } }),
  ]);
  const handler = createCityApiHandler({
    ports: () => ports,
    now: () => NOW,
    // The deployed wiring: the IoT adapter, on the mocked client.
    deviceCertificates: () => new IotDeviceCertificates(new IoTClient({ region: 'eu-west-2' })),
    ...options,
  });
  const send = async (call: Call) => {
    const response = await handler(event(call), context);
    return { ...response, json: JSON.parse(response.body) as Record<string, unknown> };
  };
  return { ports, send };
}

const registration = {
  deviceId: 'gauge-1',
  deviceType: 'water-level',
  location: { lat: 51.4612, lon: -0.9695 },
  ward: 'Abbey',
  site: 'Vastern Road',
  expectedIntervalSeconds: 300,
  settings: { warningLevel: 1.2, severeLevel: 1.8 },
};

const list = (query: Record<string, string>, groups?: string | null): Call => ({
  method: 'GET',
  resource: '/devices',
  query,
  ...(groups === undefined ? {} : { groups }),
});
const register = (body: unknown, groups?: string | null): Call => ({
  method: 'POST',
  resource: '/devices',
  body,
  ...(groups === undefined ? {} : { groups }),
});
const change = (id: string, body: unknown, groups?: string | null): Call => ({
  method: 'PATCH',
  resource: '/devices/{id}',
  id,
  body,
  ...(groups === undefined ? {} : { groups }),
});
const retire = (id: string, groups?: string | null): Call => ({
  method: 'DELETE',
  resource: '/devices/{id}',
  id,
  ...(groups === undefined ? {} : { groups }),
});

/** Expects an RFC 9457 answer with this status, naming the parameter when one is given. */
function expectProblem(
  response: { statusCode: number; headers?: Record<string, unknown>; json: Record<string, unknown> },
  status: number,
  parameter?: string,
) {
  expect(response.statusCode).toBe(status);
  expect(response.headers?.['content-type']).toBe(PROBLEM_CONTENT_TYPE);
  expect(response.json).toMatchObject({ status, type: expect.stringMatching(/^urn:civic-iot:problem:/) });
  if (parameter) expect(response.json.parameter).toBe(parameter);
  expect(JSON.stringify(response.json)).not.toMatch(/ZodError|at .*\.ts|Error:/);
}

describe('device registry routes', () => {
  it('every device route spec has a handler and a response schema', () => {
    for (const spec of DEVICE_ROUTE_SPECS) {
      expect(ROUTE_HANDLERS[routeKey(spec)], routeKey(spec)).toBeDefined();
      expect(spec.response, routeKey(spec)).toBeDefined();
    }
    expect(DEVICE_ROUTE_SPECS.map(routeKey).sort()).toEqual(
      ['DELETE /devices/{id}', 'GET /devices', 'PATCH /devices/{id}', 'POST /devices'].sort(),
    );
  });

  it('says in the summaries what registering and decommissioning do not do at once', () => {
    const summary = (key: string) => DEVICE_ROUTE_SPECS.find((s) => routeKey(s) === key)?.summary;
    expect(summary('POST /devices')).toMatch(/registry entry only.*provisioning \(issue 7\)/);
    expect(summary('DELETE /devices/{id}')).toMatch(/within the registry cache period \(15 minutes\)/);
    expect(summary('DELETE /devices/{id}')).toMatch(/every certificate of it is revoked first/);
  });

  describe('who may call them', () => {
    it('answers 401 without a token on every device route', async () => {
      const { send } = setup();
      for (const call of [
        list({}, null),
        register(registration, null),
        change('bin-1', {}, null),
        retire('bin-1', null),
      ]) {
        expectProblem(await send(call), 401);
      }
    });

    it('lets a viewer or operator list but not register, change or decommission', async () => {
      const { send, ports } = setup();
      for (const group of ['viewer', 'operator']) {
        expect((await send(list({}, group))).statusCode).toBe(200);
        for (const call of [
          register(registration, group),
          change('bin-1', { ward: 'Battle' }, group),
          retire('bin-1', group),
        ]) {
          const response = await send(call);
          expectProblem(response, 403);
          expect(response.json.detail).toMatch(/admin/);
        }
      }
      expect(ports.devicesById.has('gauge-1')).toBe(false);
      expect(ports.devicesById.get('bin-1')).toMatchObject({ ward: 'Abbey', status: 'active' });
    });

    it('lets an admin do all four', async () => {
      const { send } = setup();
      expect((await send(list({}))).statusCode).toBe(200);
      expect((await send(register(registration))).statusCode).toBe(201);
      expect((await send(change('gauge-1', { ward: 'Battle' }))).statusCode).toBe(200);
      expect((await send(retire('gauge-1'))).statusCode).toBe(200);
    });
  });

  describe('GET /devices', () => {
    it('answers a page in the documented shape, filters combined', async () => {
      const { send } = setup();
      const response = await send(
        list(
          { type: 'waste-container', ward: 'Abbey', status: 'active', bbox: '-1,51.45,-0.9,51.46' },
          'viewer',
        ),
      );
      expect(response.statusCode).toBe(200);
      const page = devicePageSchema.parse(response.json);
      expect(page.items.map((d) => d.deviceId)).toEqual(['bin-1']);
      expect(page.nextCursor).toBeUndefined();
    });

    it('pages with a cursor, and refuses that cursor with other filters', async () => {
      const { send } = setup();
      const first = await send(list({ limit: '2' }));
      const page = devicePageSchema.parse(first.json);
      expect(page.items.map((d) => d.deviceId)).toEqual(['bay-1', 'bin-1']);
      const second = devicePageSchema.parse(
        (await send(list({ limit: '2', cursor: page.nextCursor as string }))).json,
      );
      expect(second.items.map((d) => d.deviceId)).toEqual(['bin-2']);
      expectProblem(await send(list({ ward: 'Abbey', cursor: page.nextCursor as string })), 400, 'cursor');
    });

    it.each([
      ['type', 'an unknown type', { type: 'lamp-post' }],
      ['ward', 'an empty ward', { ward: '' }],
      ['status', 'an unknown status', { status: 'retired' }],
      ['limit', 'zero', { limit: '0' }],
      ['limit', 'more than the maximum page', { limit: '1001' }],
      ['limit', 'a word', { limit: 'ten' }],
      ['cursor', 'a cursor it did not issue', { cursor: 'not-a-cursor' }],
      ['cursor', 'an overlong cursor', { cursor: 'x'.repeat(2049) }],
    ])('answers 400 naming %s for %s', async (parameter, _, query) => {
      const { send } = setup();
      expectProblem(await send(list(query, 'viewer')), 400, parameter);
    });

    it.each([
      ['three numbers', '-1,51.4,-0.9', /four numbers/],
      ['five numbers', '-1,51.4,-0.9,51.5,3', /four numbers/],
      ['a word', '-1,51.4,east,51.5', /four numbers/],
      ['an empty part', '-1,,-0.9,51.5', /four numbers/],
      ['a longitude out of range', '-181,51.4,-0.9,51.5', /longitudes/],
      ['a latitude out of range', '-1,51.4,-0.9,90.5', /latitudes/],
      ['west not west of east', '-0.9,51.4,-1,51.5', /minLon \(-0.9\) must be less than maxLon \(-1\)/],
      ['south equal to north', '-1,51.5,-0.9,51.5', /minLat \(51.5\) must be less than maxLat/],
    ])('answers 400 naming bbox for %s', async (_, bbox, detail) => {
      const { send } = setup();
      const response = await send(list({ bbox }, 'viewer'));
      expectProblem(response, 400, 'bbox');
      expect(response.json.detail).toMatch(detail);
    });

    it('answers 400 for a query parameter it does not know', async () => {
      const { send } = setup();
      const response = await send(list({ town: 'Reading' }, 'viewer'));
      expectProblem(response, 400);
      expect(response.json.detail).toMatch(/town/);
    });
  });

  describe('POST /devices', () => {
    it('registers a device: 201 with the entry, which GET /devices/{id} then answers', async () => {
      const { send, ports } = setup();
      const response = await send(register(registration));
      expect(response.statusCode).toBe(201);
      expect(deviceSchema.parse(response.json)).toEqual({
        ...registration,
        status: 'active',
        registeredAt: NOW.toISOString(),
        revision: 1,
      });
      expect(ports.devicesById.get('gauge-1')).toEqual(response.json);
    });

    it('answers 409 for an id already registered and leaves the entry alone', async () => {
      const { send, ports } = setup();
      const response = await send(register({ ...registration, deviceId: 'bin-1' }));
      expectProblem(response, 409);
      expect(response.json.detail).toMatch(/bin-1.*already registered/);
      expect(ports.devicesById.get('bin-1')?.deviceType).toBe('waste-container');
    });

    it.each([
      ['deviceId', { ...registration, deviceId: 'has spaces' }],
      ['deviceId', { ...registration, deviceId: undefined }],
      ['deviceType', { ...registration, deviceType: 'lamp-post' }],
      ['location', { ...registration, location: undefined }],
      ['location.lat', { ...registration, location: { lat: 91, lon: 0 } }],
      ['location.lon', { ...registration, location: { lat: 51, lon: 'west' } }],
      ['ward', { ...registration, ward: ' ' }],
      ['expectedIntervalSeconds', { ...registration, expectedIntervalSeconds: 0.5 }],
      ['settings.warningLevel', { ...registration, settings: { warningLevel: 'high' } }],
      ['settings.not a name', { ...registration, settings: { 'not a name': 1 } }],
    ])('answers 400 naming %s', async (parameter, body) => {
      const { send } = setup();
      expectProblem(await send(register(body)), 400, parameter);
    });

    it('answers 400 for a missing body, a body that is not JSON, and a field it does not know', async () => {
      const { send } = setup();
      const none = await send({ method: 'POST', resource: '/devices' });
      expectProblem(none, 400);
      expect(none.json.detail).toMatch(/JSON body/);
      const broken = await send(register('{"deviceId": '));
      expectProblem(broken, 400);
      expect(broken.json.detail).toMatch(/not valid JSON/);
      const extra = await send(register({ ...registration, status: 'active' }));
      expectProblem(extra, 400);
      expect(extra.json.detail).toMatch(/status/);
    });
  });

  describe('PATCH /devices/{id}', () => {
    it('changes the device and answers the new entry', async () => {
      const { send } = setup();
      await send(register(registration));
      const response = await send(
        change('gauge-1', { site: null, settings: { warningLevel: 1.1, severeLevel: null }, revision: 1 }),
      );
      expect(response.statusCode).toBe(200);
      const changed = deviceSchema.parse(response.json);
      expect(changed).toMatchObject({ ward: 'Abbey', settings: { warningLevel: 1.1 }, revision: 2 });
      expect(changed).not.toHaveProperty('site');
      expect(changed.updatedAt).toBe(NOW.toISOString());
    });

    it('answers 404 for a device never registered', async () => {
      const { send } = setup();
      const response = await send(change('ghost', { ward: 'Battle' }));
      expectProblem(response, 404);
      expect(response.json.detail).toMatch(/ghost/);
    });

    it('answers 409 for a stale revision and for a decommissioned device', async () => {
      const { send } = setup();
      await send(register(registration));
      await send(change('gauge-1', { ward: 'Battle' }));
      const stale = await send(change('gauge-1', { ward: 'Caversham', revision: 1 }));
      expectProblem(stale, 409);
      expect(stale.json.detail).toMatch(/revision 2, not 1/);
      await send(retire('gauge-1'));
      expectProblem(await send(change('gauge-1', { ward: 'Caversham' })), 409);
    });

    it.each([
      ['deviceId', { deviceId: 'other' }, /register the new device/],
      ['deviceType', { deviceType: 'air-quality' }, /register the new device/],
      ['registeredAt', { registeredAt: '2020-01-01T00:00:00Z' }, /set by the registry/],
      ['status', { status: 'decommissioned' }, /DELETE/],
      ['location.lon', { location: { lat: 51.4, lon: 200 } }, /200|180/],
      ['expectedIntervalSeconds', { expectedIntervalSeconds: -5 }, /./],
      ['revision', { ward: 'Battle', revision: 'latest' }, /./],
      ['settings.fullThreshold', { settings: { fullThreshold: 'full' } }, /./],
    ])('answers 400 naming %s', async (parameter, body, detail) => {
      const { send } = setup();
      const response = await send(change('bin-1', body));
      expectProblem(response, 400, parameter);
      expect(response.json.detail).toMatch(detail);
    });

    it('answers 400 when there is nothing to change, or the id is not a device id', async () => {
      const { send } = setup();
      const empty = await send(change('bin-1', { revision: 0 }));
      expectProblem(empty, 400);
      expect(empty.json.detail).toMatch(/nothing to change/);
      expectProblem(await send(change('bad id!', { ward: 'Battle' })), 400, 'id');
    });
  });

  describe('DELETE /devices/{id}', () => {
    it('decommissions, keeping the entry; a second call answers 200 with the same record', async () => {
      const { send, ports } = setup();
      const first = await send(retire('bin-1'));
      expect(first.statusCode).toBe(200);
      const retired = deviceSchema.parse(first.json);
      expect(retired).toMatchObject({
        deviceId: 'bin-1',
        status: 'decommissioned',
        decommissionedAt: NOW.toISOString(),
        ward: 'Abbey',
      });
      const second = await send(retire('bin-1'));
      expect(second.statusCode).toBe(200);
      expect(second.json).toEqual(first.json);
      expect(ports.devicesById.get('bin-1')?.status).toBe('decommissioned');
      const listed = devicePageSchema.parse((await send(list({ status: 'decommissioned' }))).json);
      expect(listed.items.map((d) => d.deviceId)).toEqual(['bin-1']);
    });

    it('answers 404 for a device never registered and 400 for an id that is not one, touching no certificate', async () => {
      const { send } = setup();
      expectProblem(await send(retire('ghost')), 404);
      expectProblem(await send(retire('bad id!')), 400, 'id');
      expect(iot.calls()).toHaveLength(0);
    });

    it("revokes every certificate of the device's thing first, then decommissions the entry", async () => {
      const { send, ports } = setup();
      const arn = (n: number) => `arn:aws:iot:eu-west-2:111122223333:cert/${String(n).repeat(64)}`;
      iot.on(ListThingPrincipalsCommand, { thingName: 'bin-1' }).resolves({ principals: [arn(1), arn(2)] });
      const statusWhenRevoked: (string | undefined)[] = [];
      iot.on(UpdateCertificateCommand).callsFake(async () => {
        statusWhenRevoked.push(ports.devicesById.get('bin-1')?.status);
        return {};
      });
      const response = await send(retire('bin-1'));
      expect(response.statusCode).toBe(200);
      expect(response.json).toMatchObject({ deviceId: 'bin-1', status: 'decommissioned' });
      expect(iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input)).toEqual([
        { certificateId: '1'.repeat(64), newStatus: 'REVOKED' },
        { certificateId: '2'.repeat(64), newStatus: 'REVOKED' },
      ]);
      // Both certificates were revoked while the entry was still active.
      expect(statusWhenRevoked).toEqual(['active', 'active']);
    });

    it('decommissions a device that never had an IoT thing: no certificate to revoke', async () => {
      const { send, ports } = setup();
      await send(register(registration));
      iot
        .on(ListThingPrincipalsCommand, { thingName: 'gauge-1' })
        .rejects(Object.assign(new Error('thing gauge-1 not found'), { name: 'ResourceNotFoundException' }));
      const response = await send(retire('gauge-1'));
      expect(response.statusCode).toBe(200);
      expect(ports.devicesById.get('gauge-1')?.status).toBe('decommissioned');
      expect(iot.commandCalls(UpdateCertificateCommand)).toHaveLength(0);
    });

    it.each([
      ['listing the principals is refused', 'list', 'AccessDeniedException'],
      ['a certificate cannot be revoked', 'revoke', 'ThrottlingException'],
    ] as const)('answers 500 problem+json and leaves the entry active when %s', async (_, step, name) => {
      const { send, ports } = setup();
      const before = ports.devicesById.get('bin-1');
      const principals = [`arn:aws:iot:eu-west-2:111122223333:cert/${'a'.repeat(64)}`];
      const failure = Object.assign(new Error(`${name}: secret detail`), { name });
      if (step === 'list') iot.on(ListThingPrincipalsCommand).rejects(failure);
      else {
        iot.on(ListThingPrincipalsCommand).resolves({ principals });
        iot.on(UpdateCertificateCommand).rejects(failure);
      }
      const response = await send(retire('bin-1'));
      expectProblem(response, 500);
      expect(JSON.stringify(response.json)).not.toContain('secret detail');
      expect(ports.devicesById.get('bin-1')).toEqual(before);
      // Once IoT answers again, repeating the request completes it.
      iot.on(ListThingPrincipalsCommand).resolves({ principals });
      iot.on(UpdateCertificateCommand).resolves({});
      expect((await send(retire('bin-1'))).json).toMatchObject({ status: 'decommissioned' });
    });

    it('revokes again on a repeat, so a decommissioned device left with a working certificate is put right', async () => {
      const { send } = setup();
      const first = await send(retire('bin-1'));
      iot
        .on(ListThingPrincipalsCommand, { thingName: 'bin-1' })
        .resolves({ principals: [`arn:aws:iot:eu-west-2:111122223333:cert/${'b'.repeat(64)}`] });
      const second = await send(retire('bin-1'));
      expect(second.json).toEqual(first.json);
      expect(iot.commandCalls(UpdateCertificateCommand).map((c) => c.args[0].input)).toEqual([
        { certificateId: 'b'.repeat(64), newStatus: 'REVOKED' },
      ]);
    });

    it('refuses with 500, changing nothing, on a platform that cannot revoke certificates', async () => {
      const { send, ports } = setup({ deviceCertificates: undefined });
      expectProblem(await send(retire('bin-1')), 500);
      expect(ports.devicesById.get('bin-1')?.status).toBe('active');
    });
  });
});

describe('the council area on the device routes', () => {
  /** cdk.json's area: roughly the Borough of Reading with a margin. */
  const councilArea: BoundingBox = { minLon: -1.07, minLat: 51.39, maxLon: -0.91, maxLat: 51.51 };

  it('refuses POST /devices outside the area with 400 naming the device and location; nothing is registered', async () => {
    const { ports, send } = setup({ councilArea });
    const response = await send(register({ ...registration, location: { lat: 52.1, lon: -1.3 } }));
    expectProblem(response, 400, 'location');
    expect(response.json.detail).toBe(
      "device 'gauge-1': location 52.1,-1.3 (lat,lon) is outside the council area " +
        '-1.07,51.39,-0.91,51.51 (west,south,east,north)',
    );
    expect(ports.devicesById.has('gauge-1')).toBe(false);
  });

  it('registers inside the area and on its edge', async () => {
    const { send } = setup({ councilArea });
    expect((await send(register(registration))).statusCode).toBe(201);
    const onEdge = { ...registration, deviceId: 'gauge-2', location: { lat: 51.51, lon: -1.07 } };
    expect((await send(register(onEdge))).statusCode).toBe(201);
  });

  it('refuses PATCH /devices/{id} moving a device outside with 400 naming location; the entry is unchanged', async () => {
    const { ports, send } = setup({ councilArea });
    const before = ports.devicesById.get('bin-1');
    const response = await send(change('bin-1', { location: { lat: 51.455, lon: 0.97 } }));
    expectProblem(response, 400, 'location');
    expect(response.json.detail).toContain("device 'bin-1': location 51.455,0.97 (lat,lon) is outside");
    expect(ports.devicesById.get('bin-1')).toEqual(before);
    expect((await send(change('bin-1', { location: { lat: 51.46, lon: -0.98 } }))).statusCode).toBe(200);
  });

  it('accepts any location when the platform has no area', async () => {
    const { send } = setup();
    const far = { ...registration, location: { lat: 52.1, lon: -1.3 } };
    expect((await send(register(far))).statusCode).toBe(201);
  });

  it(`reads the area from ${ENV.councilArea}, none when unset, and refuses a malformed one`, () => {
    expect(councilAreaFromEnvironment({ [ENV.councilArea]: '-1.07,51.39,-0.91,51.51' })).toEqual(councilArea);
    expect(councilAreaFromEnvironment({})).toBeUndefined();
    expect(councilAreaFromEnvironment({ [ENV.councilArea]: '' })).toBeUndefined();
    expect(() => councilAreaFromEnvironment({ [ENV.councilArea]: '-0.91,51.39,-1.07,51.51' })).toThrow(
      /COUNCIL_AREA.*minLon \(-0\.91\) must be less than maxLon/,
    );
  });
});
