import { IoTClient, ListThingPrincipalsCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor, InvalidCursorError } from '../../lambdas/adapters/dynamodb-batches.js';
import { DynamoDbDeviceDirectory } from '../../lambdas/adapters/dynamodb-device-directory.js';
import { IotDeviceCertificates } from '../../lambdas/adapters/iot-device-certificates.js';
import { cityQueryPortsFromEnvironment } from '../../lambdas/adapters/ports-from-environment.js';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import { InvalidRequestError } from '../../lambdas/domain/city-queries.js';
import type { Device, DeviceFilter } from '../../lambdas/domain/device.js';
import {
  decommissionDevice,
  listDevices,
  registerDevice,
  updateDevice,
} from '../../lambdas/domain/device-registry.js';
import { ConflictError } from '../../lambdas/domain/service-queries.js';
import { createCityApiHandler } from '../../lambdas/handlers/city-api.js';
import { startDynamo } from '../support/dynalite.js';
import { device, NOW } from '../support/messages.js';

const TYPES: DeviceType[] = ['waste-container', 'parking-spot', 'air-quality'];

/**
 * 24 devices on a diagonal across Reading: types in turn, wards alternating, every fifth decommissioned. Device i
 * sits at lat 51.400 + 0.005 i, lon -1.000 + 0.005 i, so a box picks a run of consecutive ids.
 */
const FLEET: Device[] = Array.from({ length: 24 }, (_, i) =>
  device(`dev-${String(i).padStart(2, '0')}`, TYPES[i % 3] as DeviceType, {
    ward: i % 2 === 0 ? 'Katesgrove' : 'Abbey',
    status: i % 5 === 0 ? 'decommissioned' : 'active',
    location: { lat: Number((51.4 + i * 0.005).toFixed(3)), lon: Number((-1 + i * 0.005).toFixed(3)) },
  }),
);
const indexOf = (d: Device) => Number(d.deviceId.slice(4));

let listing: Awaited<ReturnType<typeof startDynamo>>;
let changes: Awaited<ReturnType<typeof startDynamo>>;

beforeAll(async () => {
  [listing, changes] = await Promise.all([startDynamo('listing'), startDynamo('changes')]);
  const registry = new DynamoDbDeviceDirectory(listing.client, listing.names.devices);
  for (const d of FLEET) await registry.put(d);
});
afterAll(async () => {
  await Promise.all([listing.stop(), changes.stop()]);
});

/** The client, counting what it sends by command name. */
function counting(client: DynamoDBDocumentClient) {
  const sent: string[] = [];
  const wrapped = {
    send: (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      return client.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { sent, client: wrapped };
}

/** Every page of a listing through the use case (cursors sealed to the filter), and the pages' sizes. */
async function readAll(registry: DynamoDbDeviceDirectory, filter: DeviceFilter, limit: number) {
  const ids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await listDevices(registry, { ...filter, limit, ...(cursor ? { cursor } : {}) });
    ids.push(...page.items.map((d) => d.deviceId));
    sizes.push(page.items.length);
    cursor = page.nextCursor;
  } while (cursor);
  return { ids, sizes };
}

const idsWhere = (keep: (d: Device, i: number) => boolean) =>
  FLEET.filter((d) => keep(d, indexOf(d)))
    .map((d) => d.deviceId)
    .sort();

describe('DynamoDbDeviceDirectory listing', () => {
  it('pages through the whole registry with a Scan, each device once', async () => {
    const { sent, client } = counting(listing.client);
    const registry = new DynamoDbDeviceDirectory(client, listing.names.devices);
    const { ids, sizes } = await readAll(registry, {}, 5);
    expect([...ids].sort()).toEqual(idsWhere(() => true));
    expect(new Set(ids).size).toBe(FLEET.length);
    expect(sizes.slice(0, 4)).toEqual([5, 5, 5, 5]);
    expect(new Set(sent)).toEqual(new Set(['ScanCommand']));
  });

  it('answers a type from the byType index, in id order, across pages', async () => {
    const { sent, client } = counting(listing.client);
    const registry = new DynamoDbDeviceDirectory(client, listing.names.devices);
    const { ids } = await readAll(registry, { deviceType: 'parking-spot' }, 3);
    expect(ids).toEqual(idsWhere((d) => d.deviceType === 'parking-spot'));
    expect(new Set(sent)).toEqual(new Set(['QueryCommand']));
  });

  it('combines ward and status on a Scan', async () => {
    const registry = new DynamoDbDeviceDirectory(listing.client, listing.names.devices);
    const { ids } = await readAll(registry, { ward: 'Abbey', status: 'active' }, 4);
    expect([...ids].sort()).toEqual(idsWhere((_, i) => i % 2 === 1 && i % 5 !== 0));
  });

  it('keeps a bounding box, edges included', async () => {
    const registry = new DynamoDbDeviceDirectory(listing.client, listing.names.devices);
    // Device 10 is exactly on the south-west corner, device 20 on the north-east one.
    const bbox = { minLon: -0.95, minLat: 51.45, maxLon: -0.9, maxLat: 51.5 };
    const { ids } = await readAll(registry, { bbox }, 100);
    expect([...ids].sort()).toEqual(idsWhere((_, i) => i >= 10 && i <= 20));
  });

  it('combines a type with ward, status and a bounding box on the index', async () => {
    const registry = new DynamoDbDeviceDirectory(listing.client, listing.names.devices);
    const bbox = { minLon: -1, minLat: 51.4, maxLon: -0.92, maxLat: 51.48 };
    const { ids } = await readAll(
      registry,
      { deviceType: 'waste-container', ward: 'Katesgrove', status: 'active', bbox },
      1,
    );
    // Waste containers are i % 3 == 0; Katesgrove is even; active is not a multiple of 5; the box is i <= 16.
    expect(ids).toEqual(idsWhere((_, i) => i % 3 === 0 && i % 2 === 0 && i % 5 !== 0 && i <= 16));
    expect(ids).toEqual(['dev-06', 'dev-12']);
  });

  it('stops a sparse filter after the bounded number of requests, with a cursor to read on', async () => {
    const { sent, client } = counting(listing.client);
    const registry = new DynamoDbDeviceDirectory(client, listing.names.devices, {
      maxRequestsPerPage: 2,
      filteredReadSize: 3,
    });
    const first = await listDevices(registry, { ward: 'Nowhere', limit: 10 });
    expect(first.items).toEqual([]);
    expect(first.nextCursor).toBeDefined();
    expect(sent).toHaveLength(2);
    // Reading on ends, after 24 devices read 3 at a time (the last request finds the end).
    const { ids, sizes } = await readAll(registry, { ward: 'Nowhere' }, 10);
    expect(ids).toEqual([]);
    expect(sizes.length).toBeGreaterThan(1);
    expect(sent.length).toBeLessThanOrEqual(2 + 2 * sizes.length);
  });

  it('fills a page from several requests when a filter is sparse, and resumes after its last device', async () => {
    const { sent, client } = counting(listing.client);
    const registry = new DynamoDbDeviceDirectory(client, listing.names.devices, {
      maxRequestsPerPage: 10,
      filteredReadSize: 3,
    });
    // Active air-quality sensors are 2, 8, 11, 14, 17 and 23. Reading 3 at a time, the first request finds 2 and 8,
    // the second 11, 14 and 17: the page takes 11 and the next one must start at 14, not after 17.
    const first = await listDevices(registry, { deviceType: 'air-quality', status: 'active', limit: 3 });
    expect(first.items.map((d) => d.deviceId)).toEqual(['dev-02', 'dev-08', 'dev-11']);
    expect(sent).toHaveLength(2);
    const { ids } = await readAll(registry, { deviceType: 'air-quality', status: 'active' }, 3);
    expect(ids).toEqual(idsWhere((d, i) => d.deviceType === 'air-quality' && i % 5 !== 0));
    expect(ids).toEqual(['dev-02', 'dev-08', 'dev-11', 'dev-14', 'dev-17', 'dev-23']);
  });

  it('refuses a cursor from a listing with other filters', async () => {
    const registry = new DynamoDbDeviceDirectory(listing.client, listing.names.devices);
    const page = await listDevices(registry, { deviceType: 'parking-spot', limit: 2 });
    expect(page.nextCursor).toBeDefined();
    const replayed = listDevices(registry, {
      deviceType: 'air-quality',
      limit: 2,
      cursor: page.nextCursor as string,
    });
    await expect(replayed).rejects.toThrow(InvalidRequestError);
    await expect(replayed).rejects.toMatchObject({ parameter: 'cursor', message: /other filters/ });
    await expect(
      listDevices(registry, { deviceType: 'parking-spot', ward: 'Abbey', limit: 2, cursor: page.nextCursor }),
    ).rejects.toThrow(/other filters/);
  });

  it('refuses a position it did not issue before it reaches DynamoDB', async () => {
    const registry = new DynamoDbDeviceDirectory(listing.client, listing.names.devices);
    const list = (after: string, filter: DeviceFilter = {}) => registry.list({ filter, limit: 5, after });
    await expect(list('not base64 json')).rejects.toThrow(InvalidCursorError);
    await expect(list(encodeCursor({ deviceId: 7 }) as string)).rejects.toThrow(InvalidCursorError);
    await expect(list(encodeCursor({ deviceId: 'dev-01', extra: 'x' }) as string)).rejects.toThrow(
      InvalidCursorError,
    );
    // A position in another type's index partition.
    await expect(
      list(encodeCursor({ deviceId: 'dev-01', deviceType: 'parking-spot' }) as string, {
        deviceType: 'air-quality',
      }),
    ).rejects.toThrow(InvalidCursorError);
    // A well-formed position is accepted.
    const page = await list(encodeCursor({ deviceId: 'dev-01', deviceType: 'parking-spot' }) as string, {
      deviceType: 'parking-spot',
    });
    expect(page.items[0]?.deviceId).toBe('dev-04');
  });
});

describe('DynamoDbDeviceDirectory changes', () => {
  const registry = () => new DynamoDbDeviceDirectory(changes.client, changes.names.devices);

  it('adds a device once; the second add of the same id is refused', async () => {
    const bin = device('add-1', 'waste-container', { revision: 1 });
    expect(await registry().add(bin)).toBe(true);
    expect(await registry().add({ ...bin, site: 'elsewhere' })).toBe(false);
    expect((await registry().get('add-1'))?.site).toBe('Broad Street');
  });

  it('replaces only at the expected revision, an entry without one being revision 0, and never creates', async () => {
    const legacy = device('rep-1', 'water-level');
    await registry().put(legacy);
    expect(await registry().replace({ ...legacy, site: 'stale', revision: 3 }, 2)).toBe(false);
    expect(await registry().replace({ ...legacy, site: 'Caversham', revision: 1 }, 0)).toBe(true);
    expect(await registry().replace({ ...legacy, site: 'again', revision: 1 }, 0)).toBe(false);
    expect(await registry().replace({ ...legacy, site: 'Tilehurst', revision: 2 }, 1)).toBe(true);
    expect(await registry().get('rep-1')).toMatchObject({ site: 'Tilehurst', revision: 2 });
    expect(await registry().replace(device('ghost', 'water-level', { revision: 1 }), 0)).toBe(false);
    expect(await registry().get('ghost')).toBeUndefined();
  });

  it('registers, changes and decommissions through the use cases, keeping the record', async () => {
    const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000);
    const registered = await registerDevice(
      registry(),
      {
        deviceId: 'gauge-9',
        deviceType: 'water-level',
        location: { lat: 51.46, lon: -0.97 },
        ward: 'Abbey',
        settings: { warningLevel: 1.2, severeLevel: 1.8 },
      },
      NOW,
    );
    await expect(
      registerDevice(registry(), { ...registered, location: registered.location }, NOW),
    ).rejects.toThrow(ConflictError);
    const changed = await updateDevice(
      registry(),
      'gauge-9',
      { site: 'Vastern Road', settings: { warningLevel: 1.1, severeLevel: null }, revision: 1 },
      at(1),
    );
    expect(changed).toMatchObject({ site: 'Vastern Road', settings: { warningLevel: 1.1 }, revision: 2 });
    await expect(updateDevice(registry(), 'gauge-9', { ward: 'Battle', revision: 1 }, at(2))).rejects.toThrow(
      /revision 2, not 1/,
    );
    const retired = await decommissionDevice(registry(), 'gauge-9', at(3));
    expect(await decommissionDevice(registry(), 'gauge-9', at(4))).toEqual(retired);
    expect(await registry().get('gauge-9')).toEqual({
      deviceId: 'gauge-9',
      deviceType: 'water-level',
      status: 'decommissioned',
      location: { lat: 51.46, lon: -0.97 },
      ward: 'Abbey',
      site: 'Vastern Road',
      settings: { warningLevel: 1.1 },
      registeredAt: NOW.toISOString(),
      updatedAt: at(3).toISOString(),
      decommissionedAt: at(3).toISOString(),
      revision: 3,
    });
  });
});

describe('the registry routes on the deployed wiring', () => {
  const iot = mockClient(IoTClient);
  afterAll(() => iot.restore());

  it('lists, registers, changes and decommissions through the city API handler built from the environment', async () => {
    const env = {
      [ENV.dynamoEndpoint]: changes.endpoint,
      [ENV.tables.devices]: changes.names.devices,
      [ENV.tables['latest-state']]: changes.names['latest-state'],
      [ENV.tables.telemetry]: changes.names.telemetry,
      [ENV.tables.quarantine]: changes.names.quarantine,
    };
    // A device registered through the API has no IoT thing: decommissioning finds no certificate to revoke.
    iot
      .on(ListThingPrincipalsCommand)
      .rejects(Object.assign(new Error('thing api-bay-1 not found'), { name: 'ResourceNotFoundException' }));
    const handler = createCityApiHandler({
      ports: () => cityQueryPortsFromEnvironment(env),
      deviceCertificates: () => new IotDeviceCertificates(new IoTClient({ region: 'eu-west-2' })),
      now: () => NOW,
    });
    const call = async (
      httpMethod: string,
      resource: string,
      options: Partial<APIGatewayProxyEvent> = {},
    ) => {
      const response = await handler(
        {
          httpMethod,
          resource,
          path: resource,
          headers: {},
          queryStringParameters: null,
          pathParameters: null,
          body: null,
          isBase64Encoded: false,
          requestContext: { authorizer: { claims: { sub: 'u', 'cognito:groups': 'admin' } } },
          ...options,
        } as unknown as APIGatewayProxyEvent,
        { functionName: 'city-api', awsRequestId: 'r' } as Context,
      );
      return { status: response.statusCode, body: JSON.parse(response.body) };
    };
    const body = JSON.stringify({
      deviceId: 'api-bay-1',
      deviceType: 'parking-spot',
      location: { lat: 51.455, lon: -0.972 },
      ward: 'Abbey',
    });
    expect((await call('POST', '/devices', { body })).status).toBe(201);
    expect((await call('POST', '/devices', { body })).status).toBe(409);
    const id = { pathParameters: { id: 'api-bay-1' } };
    const changed = await call('PATCH', '/devices/{id}', {
      ...id,
      body: '{"site":"Broad Street","revision":1}',
    });
    expect(changed).toMatchObject({ status: 200, body: { site: 'Broad Street', revision: 2 } });
    expect((await call('DELETE', '/devices/{id}', id)).body).toMatchObject({ status: 'decommissioned' });
    expect(iot.commandCalls(ListThingPrincipalsCommand)[0]?.args[0].input).toEqual({
      thingName: 'api-bay-1',
    });
    expect(iot.commandCalls(UpdateCertificateCommand)).toHaveLength(0);
    const listed = await call('GET', '/devices', {
      queryStringParameters: { type: 'parking-spot', status: 'decommissioned', bbox: '-1,51.4,-0.9,51.5' },
    });
    expect(listed).toEqual({
      status: 200,
      body: { items: [expect.objectContaining({ deviceId: 'api-bay-1' })] },
    });
  });
});
