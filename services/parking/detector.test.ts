import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../shared/domain-events.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { parkingDetector, type SpotState } from './detector.js';

const context = { timeScale: 1, settings: {} };

function run(statuses: readonly string[]) {
  let state: SpotState | undefined;
  const events: DomainEvent[] = [];
  let writes = 0;
  statuses.forEach((status, i) => {
    const step = parkingDetector.step({
      state,
      point: point('parking-spot', { status }, at(i * 120), {
        deviceId: 'bay-1',
        site: 'Queens Road car park',
      }),
      device: undefined,
      history: [],
      context,
    });
    if (step.state !== state) writes += 1;
    state = step.state;
    events.push(...step.events);
  });
  return { state, events, writes };
}

describe('parkingDetector', () => {
  it.each<[string, string[], [string | null, string][], number]>([
    ['a first reading tells the car park the spot exists', ['free'], [[null, 'free']], 1],
    ['heartbeats with the same status', ['free', 'free', 'free'], [[null, 'free']], 1],
    [
      'a car arrives',
      ['free', 'occupied'],
      [
        [null, 'free'],
        ['free', 'occupied'],
      ],
      2,
    ],
    [
      'arrives, stays, leaves',
      ['free', 'occupied', 'occupied', 'occupied', 'free'],
      [
        [null, 'free'],
        ['free', 'occupied'],
        ['occupied', 'free'],
      ],
      3,
    ],
    [
      'closed for works',
      ['occupied', 'closed'],
      [
        [null, 'occupied'],
        ['occupied', 'closed'],
      ],
      2,
    ],
    [
      'sensor fault',
      ['free', 'unknown', 'unknown'],
      [
        [null, 'free'],
        ['free', 'unknown'],
      ],
      2,
    ],
  ])('%s', (_name, statuses, changes, writes) => {
    const result = run(statuses);
    expect(result.events.map((e) => e.type)).toEqual(changes.map(() => 'parking.spot-changed'));
    expect(result.events.map((e) => [e.detail.previousStatus, e.detail.status])).toEqual(changes);
    expect(result.writes).toBe(writes);
    expect(result.state).toEqual({ status: statuses.at(-1) });
  });

  it('returns the very same state object when the status is unchanged', () => {
    const state: SpotState = { status: 'occupied' };
    const step = parkingDetector.step({
      state,
      point: point('parking-spot', { status: 'occupied' }, at(120)),
      device: undefined,
      history: [],
      context,
    });
    expect(step.state).toBe(state);
    expect(step.events).toEqual([]);
  });

  it('carries the spot, its car park and the reading that caused the change', () => {
    const [, event] = run(['free', 'occupied']).events;
    expect(event).toMatchObject({
      type: 'parking.spot-changed',
      deviceId: 'bay-1',
      deviceType: 'parking-spot',
      site: 'Queens Road car park',
      readings: { status: 'occupied' },
      observedAt: at(120),
    });
  });

  it('is deterministic: the same input gives the same event id', () => {
    const input = {
      state: { status: 'free' } as const,
      point: point('parking-spot', { status: 'occupied' }, at(60)),
      device: undefined,
      history: [],
      context,
    };
    expect(parkingDetector.step(input)).toEqual(parkingDetector.step(input));
    // Different changes at the same moment never share an id.
    const other = parkingDetector.step({
      ...input,
      point: point('parking-spot', { status: 'closed' }, at(60)),
    });
    expect(other.events[0]?.id).not.toBe(parkingDetector.step(input).events[0]?.id);
  });

  it('leaves a status the schema does not know alone and writes nothing', () => {
    const step = parkingDetector.step({
      state: undefined,
      point: point('parking-spot', { status: 'towed' }, at(0)),
      device: undefined,
      history: [],
      context,
    });
    expect(step).toEqual({ state: undefined, events: [] });
  });

  it('watches parking spots and needs no history', () => {
    expect(parkingDetector.deviceTypes).toEqual(['parking-spot']);
    expect(parkingDetector.historySeconds(context)).toBe(0);
  });
});
