import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import {
  type ChangeDetectionPorts,
  DetectorFailure,
  detectChanges,
  HISTORY_PAGE_SIZE,
  type ServiceDetector,
  type ServiceStateStore,
  serviceDetectors,
  serviceStateKey,
} from '../../lambdas/domain/change-detection.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { TelemetryPoint, TelemetryQuery, TelemetryStore } from '../../lambdas/domain/telemetry.js';
import type { ChangeDetector } from '../../services/shared/blueprint.js';
import { domainEvent, numericReading } from '../../services/shared/domain-events.js';
import { at, point } from '../../services/shared/telemetry-fixtures.js';
import { device } from '../support/messages.js';

/** Test detector: a gauge is high at 2 m or more; one event when it becomes high, one when it is normal again. */
interface LevelState {
  readonly high: boolean;
}
const levelDetector: ChangeDetector<LevelState> = {
  deviceTypes: ['water-level'],
  historySeconds: () => 0,
  step({ state, point: p }) {
    const level = numericReading(p.readings, 'waterLevel');
    if (level === undefined) throw new Error(`no waterLevel in ${JSON.stringify(p.readings)}`);
    const high = level >= 2;
    if (state?.high === high) return { state, events: [] };
    if (state === undefined && !high) return { state: { high }, events: [] };
    return {
      state: { high },
      events: [domainEvent(high ? 'test.high' : 'test.normal', p, { level }, high ? 'high' : 'normal')],
    };
  },
};

/**
 * Test detector with history: alarms when the mean over `historySeconds` (600 s divided by the time scale) is
 * 2 m or more; records what history each step saw.
 */
function meanDetector(seen: { observedAt: string; history: string[] }[] = []): ChangeDetector<LevelState> {
  return {
    deviceTypes: ['water-level'],
    historySeconds: (context) => 600 / context.timeScale,
    step({ state, point: p, history }) {
      seen.push({ observedAt: p.observedAt, history: history.map((h) => h.observedAt) });
      const levels = history.flatMap((h) => numericReading(h.readings, 'waterLevel') ?? []);
      const mean = levels.reduce((a, b) => a + b, 0) / Math.max(1, levels.length);
      const high = mean >= 2;
      if ((state?.high ?? false) === high) return { state: state ?? { high }, events: [] };
      return { state: { high }, events: [domainEvent('test.mean-high', p, { mean }, String(high))] };
    },
  };
}

/** Test detector for another device type, to show each detector sees only the types it watches. */
const binDetector: ChangeDetector<{ readonly full: boolean }> = {
  deviceTypes: ['waste-container'],
  historySeconds: () => 0,
  step({ state, point: p }) {
    const full = (numericReading(p.readings, 'fillingLevel') ?? 0) >= 0.8;
    if ((state?.full ?? false) === full && state) return { state, events: [] };
    return {
      state: { full },
      events: full ? [domainEvent('test.full', p, {}, 'full')] : [],
    };
  },
};

const context = { timeScale: 1, settings: {} };
const gauge = (deviceId: string, level: number, seconds: number) =>
  point('water-level', { waterLevel: level }, at(seconds), { deviceId });
const bin = (deviceId: string, fill: number, seconds: number) =>
  point('waste-container', { fillingLevel: fill }, at(seconds), { deviceId });

const DEVICES: ReadonlyMap<string, Device> = new Map(
  ['g1', 'g2', 'g3'].map((id) => [id, device(id, 'water-level')] as const),
);

function setup(detectors: ServiceDetector[] = [{ service: 'test', detector: levelDetector, context }]) {
  const memory = new InMemoryPorts();
  const ports: ChangeDetectionPorts = {
    detectors,
    stateStore: memory.serviceState,
    publisher: memory.events,
    history: memory.telemetry,
  };
  return { memory, ports };
}

/** As enrichment calls it: the points are stored first. */
async function run(memory: InMemoryPorts, ports: ChangeDetectionPorts, points: TelemetryPoint[]) {
  await memory.telemetry.write(points);
  return detectChanges(points, DEVICES, ports);
}

describe('detectChanges', () => {
  it('emits events only when the state changes, and saves the state once, as of its last change', async () => {
    const { memory, ports } = setup();
    const result = await run(memory, ports, [
      gauge('g1', 1, 0),
      gauge('g1', 2.5, 60),
      gauge('g1', 2.6, 120),
      gauge('g1', 1.2, 180),
      gauge('g1', 1.1, 240),
    ]);
    expect(memory.events.published.map((e) => [e.type, e.observedAt])).toEqual([
      ['test.high', at(60)],
      ['test.normal', at(180)],
    ]);
    expect(result).toEqual({ published: 2, retry: [], errors: [] });
    expect(memory.counts.serviceStateWrites).toBe(1);
    expect(memory.serviceState.states.get(serviceStateKey({ deviceId: 'g1', service: 'test' }))).toEqual({
      state: { high: false },
      at: at(180),
    });
  });

  it('folds each device in observation order, whatever the queue order', async () => {
    const { memory, ports } = setup();
    await run(memory, ports, [gauge('g1', 1, 180), gauge('g1', 2.5, 60), gauge('g1', 1, 0)]);
    expect(memory.events.published.map((e) => [e.type, e.observedAt])).toEqual([
      ['test.high', at(60)],
      ['test.normal', at(180)],
    ]);
  });

  it('keeps one state per device and service and runs a detector only on the types it watches', async () => {
    const { memory, ports } = setup([
      { service: 'test', detector: levelDetector, context },
      { service: 'bins', detector: binDetector, context },
    ]);
    await run(memory, ports, [gauge('g1', 3, 0), gauge('g2', 1, 0), bin('b1', 0.9, 0)]);
    expect(memory.events.published.map((e) => `${e.type}@${e.deviceId}`).sort()).toEqual([
      'test.full@b1',
      'test.high@g1',
    ]);
    expect([...memory.serviceState.states.keys()].sort()).toEqual(['b1#bins', 'g1#test', 'g2#test']);
    // One read for all of them.
    expect(memory.counts.serviceStateReads).toBe(1);
  });

  it('emits nothing new when the same points are detected again, and skips a late point older than the state', async () => {
    const { memory, ports } = setup();
    const points = [gauge('g1', 1, 0), gauge('g1', 2.5, 60)];
    await run(memory, ports, points);
    const again = await run(memory, ports, points);
    expect(again).toEqual({ published: 0, retry: [], errors: [] });
    // Observed before the state's last change (60 s): a late arrival the state already moved past.
    const late = await run(memory, ports, [gauge('g1', 1, 30)]);
    expect(late.published).toBe(0);
    // Observed at the very instant of the last change: seen already (a replay of it with other readings).
    expect((await run(memory, ports, [gauge('g1', 1, 60)])).published).toBe(0);
    expect(memory.events.published).toHaveLength(1);
    expect(memory.counts.serviceStateWrites).toBe(1);
  });

  it('passes each point the history from historySeconds before it up to and including it', async () => {
    const seen: { observedAt: string; history: string[] }[] = [];
    const { memory, ports } = setup([{ service: 'mean', detector: meanDetector(seen), context }]);
    // Stored earlier: readings every 5 minutes.
    await memory.telemetry.write([
      gauge('g1', 1, -1200),
      gauge('g1', 1, -900),
      gauge('g1', 1, -600),
      gauge('g1', 1, -300),
    ]);
    await run(memory, ports, [gauge('g1', 3, 0), gauge('g1', 3, 300)]);
    expect(seen).toEqual([
      { observedAt: at(0), history: [at(-600), at(-300), at(0)] },
      { observedAt: at(300), history: [at(-300), at(0), at(300)] },
    ]);
    expect(memory.events.published.map((e) => e.observedAt)).toEqual([at(300)]);
  });

  it('divides the history window by the time scale and gives each service its own settings', async () => {
    const seen: { observedAt: string; history: string[] }[] = [];
    const detectors = serviceDetectors(
      [
        { name: 'mean', detector: meanDetector(seen) },
        { name: 'offline' },
        { name: 'test', detector: levelDetector },
      ],
      60,
      { mean: { window: 5 } },
    );
    expect(detectors.map((d) => [d.service, d.context])).toEqual([
      ['mean', { timeScale: 60, settings: { window: 5 } }],
      ['test', { timeScale: 60, settings: {} }],
    ]);
    const { memory, ports } = setup(detectors);
    await memory.telemetry.write([gauge('g1', 1, -20), gauge('g1', 1, -5)]);
    await run(memory, ports, [gauge('g1', 1, 0)]);
    // 600 s at speed 60: the last 10 s.
    expect(seen).toEqual([{ observedAt: at(0), history: [at(-5), at(0)] }]);
  });

  it('reads history once per device, all pages of the window, and not at all when every point was seen', async () => {
    const seen: { observedAt: string; history: string[] }[] = [];
    const { memory, ports } = setup([{ service: 'mean', detector: meanDetector(seen), context }]);
    const queries: TelemetryQuery[] = [];
    // A store that answers two points a page, whatever the limit asked for.
    const paged: Pick<TelemetryStore, 'query'> = {
      query: async (query) => {
        queries.push(query);
        const all = await memory.telemetry.query({ ...query, limit: 10_000, cursor: undefined });
        const start = Number(query.cursor ?? 0);
        const items = all.items.slice(start, start + 2);
        return start + 2 < all.items.length ? { items, nextCursor: String(start + 2) } : { items };
      },
    };
    const history = Array.from({ length: 5 }, (_, i) => gauge('g1', 1, -500 + i * 100));
    await memory.telemetry.write(history);
    const batch = [gauge('g1', 3, 0), gauge('g1', 3, 60), gauge('g1', 3, 120)];
    await run(memory, { ...ports, history: paged }, batch);
    expect(queries.map((q) => [q.from, q.to, q.cursor, q.limit])).toEqual([
      [at(-600), at(120), undefined, HISTORY_PAGE_SIZE],
      [at(-600), at(120), '2', HISTORY_PAGE_SIZE],
      [at(-600), at(120), '4', HISTORY_PAGE_SIZE],
      [at(-600), at(120), '6', HISTORY_PAGE_SIZE],
    ]);
    expect(seen.at(-1)?.history).toEqual([
      ...[-400, -300, -200, -100].map((s) => at(s)),
      at(0),
      at(60),
      at(120),
    ]);
    // A redelivery of points the state has moved past reads no history.
    queries.length = 0;
    await run(memory, { ...ports, history: paged }, [gauge('g1', 3, 0)]);
    expect(queries).toEqual([]);
  });

  it("includes the batch's own points in history even when the store's reads lag its writes", async () => {
    const seen: { observedAt: string; history: string[] }[] = [];
    const { ports } = setup([{ service: 'mean', detector: meanDetector(seen), context }]);
    const lagging: Pick<TelemetryStore, 'query'> = { query: async () => ({ items: [] }) };
    await detectChanges([gauge('g1', 3, 0), gauge('g1', 3, 60)], DEVICES, { ...ports, history: lagging });
    expect(seen.map((s) => s.history)).toEqual([[at(0)], [at(0), at(60)]]);
  });

  it('hands back only the devices whose events the bus refused, saves only the others, and re-emits the same ids', async () => {
    const { memory, ports } = setup();
    const refusedIds: string[] = [];
    memory.events.refuse = (event) => {
      if (event.deviceId === 'g2') refusedIds.push(event.id);
      return event.deviceId === 'g2';
    };
    const points = [gauge('g1', 3, 0), gauge('g2', 3, 0), gauge('g2', 3, 60), gauge('g3', 3, 0)];
    const first = await run(memory, ports, points);
    expect(first.published).toBe(2);
    expect(first.retry).toEqual([1, 2]);
    expect(first.errors).toEqual([{ step: 'publish', error: expect.any(Error), deviceIds: ['g2'] }]);
    expect([...memory.serviceState.states.keys()].sort()).toEqual(['g1#test', 'g3#test']);

    // The bus recovers; the redelivery emits g2's event, with the id it had, and nothing for the others.
    memory.events.refuse = () => false;
    const again = await run(memory, ports, points);
    expect(again).toEqual({ published: 1, retry: [], errors: [] });
    expect(memory.events.published.map((e) => e.deviceId)).toEqual(['g1', 'g3', 'g2']);
    expect(memory.events.published.at(-1)?.id).toBe(refusedIds[0]);
    expect(refusedIds).toHaveLength(1);
  });

  it('hands back every device with events when the bus call fails as a whole, and saves nothing', async () => {
    const { memory, ports } = setup();
    const down = new Error('bus unreachable');
    const result = await run(memory, { ...ports, publisher: { publish: async () => Promise.reject(down) } }, [
      gauge('g1', 3, 0),
      gauge('g2', 1, 0),
    ]);
    expect(result.published).toBe(0);
    // g2 had no event; its first state (normal) is saved.
    expect(result.retry).toEqual([0]);
    expect(result.errors).toEqual([{ step: 'publish', error: down, deviceIds: ['g1'] }]);
    expect([...memory.serviceState.states.keys()]).toEqual(['g2#test']);
  });

  it('loses no update when another consumer saved the state meanwhile: the device is retried against it', async () => {
    const { memory, ports } = setup();
    await run(memory, ports, [gauge('g1', 1, 0)]);
    // Another consumer folds a later point between this one's read and its save.
    const racing: ServiceStateStore = {
      getMany: async (keys) => {
        const read = await memory.serviceState.getMany(keys);
        await memory.serviceState.save([
          { deviceId: 'g1', service: 'test', state: { high: true }, at: at(120), expectedAt: at(0) },
        ]);
        return read;
      },
      save: (entries) => memory.serviceState.save(entries),
    };
    const result = await run(memory, { ...ports, stateStore: racing }, [
      gauge('g1', 3, 60),
      gauge('g2', 3, 0),
    ]);
    expect(result.retry).toEqual([0]);
    expect(result.errors).toEqual([
      { step: 'service-state-save', error: expect.any(Error), deviceIds: ['g1'] },
    ]);
    expect(memory.serviceState.states.get('g1#test')).toEqual({ state: { high: true }, at: at(120) });
    expect(memory.serviceState.states.get('g2#test')?.at).toBe(at(0));
    // The redelivery sees the winner's state, which is past the point: nothing to do.
    expect(await run(memory, ports, [gauge('g1', 3, 60)])).toEqual({ published: 0, retry: [], errors: [] });
  });

  it("keeps a throwing detector's progress before the bad point and retries only that device", async () => {
    const { memory, ports } = setup();
    const bad = point('water-level', { status: 'garbled' }, at(120), { deviceId: 'g1' });
    const result = await run(memory, ports, [gauge('g1', 3, 0), bad, gauge('g1', 1, 180), gauge('g2', 3, 0)]);
    expect(result.retry).toEqual([0, 1, 2]);
    expect(result.errors).toHaveLength(1);
    const failure = result.errors[0]?.error as DetectorFailure;
    expect(failure).toBeInstanceOf(DetectorFailure);
    expect(failure.message).toBe(
      `test detector failed on g1 at ${at(120)}: no waterLevel in {"status":"garbled"}`,
    );
    expect(memory.events.published.map((e) => `${e.type}@${e.deviceId}`)).toEqual([
      'test.high@g1',
      'test.high@g2',
    ]);
    // g1's state is saved as of the last good point, so the redelivery resumes at the bad one.
    expect(memory.serviceState.states.get('g1#test')).toEqual({ state: { high: true }, at: at(0) });
    const again = await run(memory, ports, [gauge('g1', 3, 0), bad, gauge('g1', 1, 180)]);
    expect(again.retry).toEqual([0, 1, 2]);
    expect(again.published).toBe(0);
  });

  it('fails only the devices of a detector whose historySeconds throws', async () => {
    const broken: ChangeDetector = {
      ...meanDetector(),
      historySeconds: () => {
        throw new Error('no window');
      },
    };
    const { memory, ports } = setup([
      { service: 'broken', detector: broken, context },
      { service: 'bins', detector: binDetector, context },
    ]);
    const result = await run(memory, ports, [gauge('g1', 3, 0), bin('b1', 0.9, 0)]);
    expect(result.retry).toEqual([0]);
    expect(result.errors.map((e) => [e.step, e.deviceIds, (e.error as Error).message])).toEqual([
      ['detector', ['g1'], 'broken detector failed on g1: no window'],
    ]);
    expect(result.published).toBe(1);
  });

  it('retries only the device whose history could not be read', async () => {
    const { memory, ports } = setup([{ service: 'mean', detector: meanDetector(), context }]);
    const flaky: Pick<TelemetryStore, 'query'> = {
      query: async (query) => {
        if (query.deviceId === 'g2') throw new Error('throttled');
        return memory.telemetry.query(query);
      },
    };
    const result = await run(memory, { ...ports, history: flaky }, [gauge('g1', 3, 0), gauge('g2', 3, 0)]);
    expect(result.retry).toEqual([1]);
    expect(result.errors).toEqual([{ step: 'history', error: new Error('throttled'), deviceIds: ['g2'] }]);
    expect(memory.events.published.map((e) => e.deviceId)).toEqual(['g1']);
  });

  it('retries the whole batch, publishing nothing, when the states cannot be read', async () => {
    const { memory, ports } = setup();
    const result = await run(
      memory,
      { ...ports, stateStore: { getMany: () => Promise.reject(new Error('down')), save: async () => [] } },
      [gauge('g1', 3, 0), gauge('g2', 3, 0), bin('b1', 1, 0)],
    );
    // b1 is watched by no detector: nothing to retry for it.
    expect(result).toEqual({
      published: 0,
      retry: [0, 1],
      errors: [{ step: 'service-state-read', error: new Error('down'), deviceIds: ['g1', 'g2'] }],
    });
    expect(memory.events.published).toEqual([]);
  });

  it('asks nothing of the stores when no detector watches the batch', async () => {
    const { memory, ports } = setup();
    expect(await run(memory, ports, [bin('b1', 0.9, 0)])).toEqual({ published: 0, retry: [], errors: [] });
    expect(memory.counts.serviceStateReads).toBe(0);
    expect(memory.counts.eventPuts).toBe(0);
  });
});
