import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbServiceStateStore } from '../../lambdas/adapters/dynamodb-service-state.js';
import { InMemoryServiceStateStore } from '../../lambdas/adapters/in-memory-ports.js';
import { type ServiceStateStore, serviceStateKey } from '../../lambdas/domain/change-detection.js';
import { startDynamo } from '../support/dynalite.js';

let dynamo: Awaited<ReturnType<typeof startDynamo>>;

beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo.stop();
});

const T1 = '2026-11-27T10:00:00.000Z';
const T2 = '2026-11-27T10:05:00.000Z';
const T3 = '2026-11-27T10:10:00.000Z';

/** The same behaviour from the DynamoDB adapter and the in-memory one the unit tests use. */
const stores: [string, () => ServiceStateStore][] = [
  [
    'DynamoDbServiceStateStore',
    () => new DynamoDbServiceStateStore(dynamo.client, dynamo.names['service-state']),
  ],
  ['InMemoryServiceStateStore', () => new InMemoryServiceStateStore()],
];

describe.each(stores)('%s', (_, create) => {
  it('reads back what it saved, nested maps and all, keyed by device and service', async () => {
    const store = create();
    const state = { level: 'warning', risingFast: false, window: [1.5, 1.75], since: { at: T1 } };
    expect(
      await store.save([
        { deviceId: 'gauge-1', service: 'flood', state, at: T1 },
        { deviceId: 'gauge-1', service: 'offline', state: { silent: true }, at: T2 },
      ]),
    ).toEqual([]);
    const read = await store.getMany([
      { deviceId: 'gauge-1', service: 'flood' },
      { deviceId: 'gauge-1', service: 'offline' },
      { deviceId: 'gauge-2', service: 'flood' },
    ]);
    expect(read).toEqual(
      new Map([
        ['gauge-1#flood', { state, at: T1 }],
        ['gauge-1#offline', { state: { silent: true }, at: T2 }],
      ]),
    );
  });

  it('saves only over the state it read: a second first write and a stale update are refused', async () => {
    const store = create();
    const key = { deviceId: 'bin-7', service: 'waste' };
    expect(await store.save([{ ...key, state: { full: true }, at: T1 }])).toEqual([]);
    // Another consumer that also saw no state, and one that read the state before T1's write.
    expect(await store.save([{ ...key, state: { full: false }, at: T2 }])).toEqual([0]);
    expect(await store.save([{ ...key, state: { full: false }, at: T2, expectedAt: T2 }])).toEqual([0]);
    // The consumer that read T1's state wins.
    expect(
      await store.save([
        { deviceId: 'bin-8', service: 'waste', state: { full: true }, at: T3, expectedAt: T1 },
        { ...key, state: { full: false }, at: T3, expectedAt: T1 },
      ]),
    ).toEqual([0]);
    expect((await store.getMany([key])).get(serviceStateKey(key))).toEqual({
      state: { full: false },
      at: T3,
    });
  });

  it('reads a batch larger than one BatchGetItem, and names a key twice without complaint', async () => {
    const store = create();
    const keys = Array.from({ length: 130 }, (_, i) => ({ deviceId: `spot-${i}`, service: 'parking' }));
    const saved = await store.save(
      keys.map((key, i) => ({ ...key, state: { occupied: i % 2 === 0 }, at: T1 })),
    );
    expect(saved).toEqual([]);
    const read = await store.getMany([...keys, keys[0] as (typeof keys)[number]]);
    expect(read.size).toBe(130);
    expect(read.get('spot-129#parking')).toEqual({ state: { occupied: false }, at: T1 });
  });
});

describe('DynamoDbServiceStateStore failures', () => {
  it('hands back, and reports, an entry DynamoDB refuses for a reason other than a lost race', async () => {
    const errors: unknown[] = [];
    const store = new DynamoDbServiceStateStore(dynamo.client, 'no-such-table', (error) =>
      errors.push(error),
    );
    expect(await store.save([{ deviceId: 'x', service: 'waste', state: {}, at: T1 }])).toEqual([0]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).name).toBe('ResourceNotFoundException');
  });

  it('does not report a lost race as an error', async () => {
    const errors: unknown[] = [];
    const store = new DynamoDbServiceStateStore(dynamo.client, dynamo.names['service-state'], (error) =>
      errors.push(error),
    );
    const entry = { deviceId: 'race-1', service: 'waste', state: {}, at: T1 };
    await store.save([entry]);
    expect(await store.save([entry])).toEqual([0]);
    expect(errors).toEqual([]);
  });

  it('throws when the states cannot be read at all (the use case retries the batch)', async () => {
    const store = new DynamoDbServiceStateStore(dynamo.client, 'no-such-table');
    await expect(store.getMany([{ deviceId: 'x', service: 'waste' }])).rejects.toThrow();
  });
});
