import { describe, expect, it } from 'vitest';
import type { Readings } from '../../lambdas/contracts/device-types.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { fillBand, type WasteDetectorState, wasteDetector } from './detector.js';

const context = { timeScale: 1, settings: {} };

function bin(settings?: Record<string, number>): Device {
  return {
    deviceId: 'bin-1',
    deviceType: 'waste-container',
    status: 'active',
    location: { lat: 51.4551, lon: -0.9734 },
    ward: 'E05000001',
    registeredAt: at(-86_400),
    ...(settings ? { settings } : {}),
  };
}

/** Feeds readings in order, as enrichment does, and counts the state writes (a new state object). */
function run(readings: readonly Readings[], device: Device | undefined = bin()) {
  let state: WasteDetectorState | undefined;
  const events: DomainEvent[] = [];
  let writes = 0;
  readings.forEach((r, i) => {
    const step = wasteDetector.step({
      state,
      point: point('waste-container', r, at(i * 900), { deviceId: 'bin-1' }),
      device,
      history: [],
      context,
    });
    if (step.state !== state) writes += 1;
    state = step.state;
    events.push(...step.events);
  });
  return { state, events, types: events.map((e) => e.type), writes };
}

describe('wasteDetector: fill level', () => {
  it.each<[string, number[], string[]]>([
    ['filling under the threshold', [0.3, 0.5, 0.79], []],
    ['reaching the threshold', [0.5, 0.8], ['waste.full']],
    ['staying full', [0.8, 0.9, 1], ['waste.full']],
    ['full, emptied, full again', [0.85, 0.02, 0.5, 0.81], ['waste.full', 'waste.emptied', 'waste.full']],
    ['half full, emptied', [0.5, 0.19], ['waste.emptied']],
    ['to exactly 0.2 is not emptied', [0.5, 0.2], []],
    ['a first reading already empty, then emptier', [0.1, 0.05], []],
    ['an empty bin filling and emptied again', [0.1, 0.3, 0.1], ['waste.emptied']],
    ['a dip under the threshold and back', [0.85, 0.79, 0.8], ['waste.full', 'waste.full']],
  ])('%s: %j', (_name, levels, types) => {
    expect(run(levels.map((fillingLevel) => ({ fillingLevel }))).types).toEqual(types);
  });

  it.each<[string, number | undefined, number, string[]]>([
    ['default 0.8: 0.85 is full', undefined, 0.85, ['waste.full']],
    ['container at 0.9: 0.85 is not', 0.9, 0.85, []],
    ['container at 0.9: 0.9 is', 0.9, 0.9, ['waste.full']],
    ['container at 0.6: 0.65 is', 0.6, 0.65, ['waste.full']],
  ])('per-container threshold (%s)', (_name, threshold, level, types) => {
    const device = bin(threshold === undefined ? undefined : { fullThreshold: threshold });
    expect(run([{ fillingLevel: 0.5 }, { fillingLevel: level }], device).types).toEqual(types);
  });

  it('carries the container threshold in the event', () => {
    const { events } = run([{ fillingLevel: 0.5 }, { fillingLevel: 0.95 }], bin({ fullThreshold: 0.9 }));
    expect(events[0]?.detail).toEqual({ fillingLevel: 0.95, threshold: 0.9 });
  });
});

describe('wasteDetector: state is written only on change', () => {
  it('returns the very same state object while the bin stays in its band', () => {
    const first = wasteDetector.step({
      state: undefined,
      point: point('waste-container', { fillingLevel: 0.3, status: 'ok' }, at(0)),
      device: bin(),
      history: [],
      context,
    });
    expect(first.state).toEqual({ fill: 'partial', status: 'ok' });
    for (const [s, readings] of [
      [900, { fillingLevel: 0.31, status: 'ok' }],
      [1800, { fillingLevel: 0.79, status: 'ok', temperature: 14 }],
      [2700, { temperature: 15 }],
      [3600, { fillingLevel: 0.2 }],
    ] as const) {
      const next = wasteDetector.step({
        state: first.state,
        point: point('waste-container', readings, at(s)),
        device: bin(),
        history: [],
        context,
      });
      expect(next.state).toBe(first.state);
      expect(next.events).toEqual([]);
    }
  });

  it.each<[string, Readings[], number]>([
    ['first reading', [{ fillingLevel: 0.4 }], 1],
    ['rising within a band', [{ fillingLevel: 0.4 }, { fillingLevel: 0.5 }, { fillingLevel: 0.6 }], 1],
    ['crossing into full', [{ fillingLevel: 0.4 }, { fillingLevel: 0.8 }], 2],
    ['a status change without an event (lid open)', [{ status: 'ok' }, { status: 'lidOpen' }], 2],
    ['the same status again', [{ status: 'ok' }, { status: 'ok' }], 1],
  ])('%s: %s write(s)', (_name, readings, writes) => {
    expect(run(readings).writes).toBe(writes);
  });

  it('a week of a bin filling every 15 minutes and emptied once costs a handful of writes, not 672', () => {
    // Four days filling from 0.05 to 1 (384 readings), emptied, then three days filling again.
    const filling = Array.from({ length: 384 }, (_, i) => ({
      fillingLevel: 0.05 + (0.95 * i) / 383,
      status: 'ok',
    }));
    const again = Array.from({ length: 288 }, (_, i) => ({
      fillingLevel: 0.01 + (0.6 * i) / 287,
      status: 'ok',
    }));
    const { types, writes } = run([...filling, ...again]);
    expect(types).toEqual(['waste.full', 'waste.emptied']);
    // empty (first), partial, full, empty, partial.
    expect(writes).toBe(5);
  });
});

describe('wasteDetector: status', () => {
  it.each<[string, string[], string[]]>([
    ['fire', ['ok', 'burning'], ['waste.hazard']],
    ['first reading already burning', ['burning'], ['waste.hazard']],
    ['fire put out', ['ok', 'burning', 'ok'], ['waste.hazard', 'waste.hazard-cleared']],
    ['fire then vandalism', ['burning', 'vandalized'], ['waste.hazard', 'waste.hazard']],
    ['lid open and closed', ['ok', 'lidOpen', 'ok'], []],
    ['still burning', ['burning', 'burning', 'burning'], ['waste.hazard']],
  ])('%s', (_name, statuses, types) => {
    expect(run(statuses.map((status) => ({ status }))).types).toEqual(types);
  });

  it('keeps the band through status-only readings and the status through level-only readings', () => {
    const { state, types } = run([{ fillingLevel: 0.9 }, { status: 'burning' }, { fillingLevel: 0.95 }]);
    expect(types).toEqual(['waste.full', 'waste.hazard']);
    expect(state).toEqual({ fill: 'full', status: 'burning' });
  });
});

describe('wasteDetector is deterministic', () => {
  it('gives equal state and events with equal ids for the same input', () => {
    const input = {
      state: { fill: 'partial', status: 'ok' } as const,
      point: point('waste-container', { fillingLevel: 0.9, status: 'burning' }, at(60)),
      device: bin(),
      history: [],
      context,
    };
    const a = wasteDetector.step(input);
    const b = wasteDetector.step(input);
    expect(a).toEqual(b);
    expect(a.events.map((e) => e.id)).toHaveLength(2);
  });

  it('asks for no history', () => {
    expect(wasteDetector.historySeconds(context)).toBe(0);
    expect(wasteDetector.deviceTypes).toEqual(['waste-container']);
  });
});

describe('fillBand', () => {
  it.each<[number, number, string]>([
    [0, 0.8, 'empty'],
    [0.1999, 0.8, 'empty'],
    [0.2, 0.8, 'partial'],
    [0.7999, 0.8, 'partial'],
    [0.8, 0.8, 'full'],
    [0.15, 0.1, 'full'],
  ])('level %s, threshold %s: %s', (level, threshold, band) => {
    expect(fillBand(level, threshold)).toBe(band);
  });
});
