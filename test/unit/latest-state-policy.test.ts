import { describe, expect, it } from 'vitest';
import { WriteOnChangeLatestState } from '../../lambdas/adapters/dynamodb-latest-state.js';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { needsLatestStateWrite, stateFingerprint } from '../../lambdas/domain/latest-state-policy.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 27, 12, minute)).toISOString();
const previous = { observedAt: at(0), fingerprint: stateFingerprint({ readings: { status: 'occupied' } }) };

describe('needsLatestStateWrite', () => {
  it.each([
    ['nothing written yet', undefined, { status: 'occupied' }, at(1), true],
    ['same readings within the refresh period', previous, { status: 'occupied' }, at(9), false],
    [
      'same readings one second short of the refresh period',
      previous,
      { status: 'occupied' },
      new Date(Date.UTC(2026, 10, 27, 12, 9, 59)).toISOString(),
      false,
    ],
    ['same readings exactly at the refresh period', previous, { status: 'occupied' }, at(10), true],
    ['changed readings', previous, { status: 'free' }, at(1), true],
    [
      'an older observation',
      previous,
      { status: 'free' },
      new Date(Date.UTC(2026, 10, 27, 11, 59)).toISOString(),
      false,
    ],
  ] as const)('%s', (_name, written, readings, observedAt, expected) => {
    expect(needsLatestStateWrite(written, { readings, observedAt }, 600)).toBe(expected);
  });

  it('compares readings regardless of key order, and notices a battery change', () => {
    expect(stateFingerprint({ readings: { a: 1, b: 2 } })).toBe(
      stateFingerprint({ readings: { b: 2, a: 1 } }),
    );
    expect(stateFingerprint({ readings: { a: 1 }, battery: 0.5 })).not.toBe(
      stateFingerprint({ readings: { a: 1 }, battery: 0.4 }),
    );
  });
});

describe('WriteOnChangeLatestState', () => {
  const point = (minute: number, status: string): TelemetryPoint => ({
    deviceId: 'bay-1',
    deviceType: 'parking-spot',
    messageId: `m${minute}`,
    observedAt: at(minute),
    receivedAt: at(minute),
    readings: { status },
  });

  it('writes a bay that stays occupied once per refresh period, and every change at once', async () => {
    const ports = new InMemoryPorts();
    const latest = new WriteOnChangeLatestState(ports.latestState, 600);
    for (const minute of [0, 5, 10, 15]) await latest.putIfNewer([point(minute, 'occupied')]);
    expect(ports.counts.latestStateWrites).toBe(2);
    await latest.putIfNewer([point(16, 'free')]);
    expect(ports.counts.latestStateWrites).toBe(3);
    expect((await latest.get('bay-1'))?.readings).toEqual({ status: 'free' });
  });

  it('forgets a failed write so the retry writes again', async () => {
    const ports = new InMemoryPorts();
    let fail = true;
    const flaky = {
      ...ports.latestState,
      putIfNewer: async (p: readonly TelemetryPoint[]) =>
        fail ? p.map((_, i) => i) : ports.latestState.putIfNewer(p),
    };
    const latest = new WriteOnChangeLatestState(flaky, 600);
    expect(await latest.putIfNewer([point(0, 'occupied')])).toEqual([0]);
    fail = false;
    expect(await latest.putIfNewer([point(0, 'occupied')])).toEqual([]);
    expect((await latest.get('bay-1'))?.observedAt).toBe(at(0));
  });

  it('decides against the stored state, so two consumer instances never leave a stale one', async () => {
    const ports = new InMemoryPorts();
    const instanceA = new WriteOnChangeLatestState(ports.latestState, 600);
    const instanceB = new WriteOnChangeLatestState(ports.latestState, 600);
    await instanceA.putIfNewer([point(0, 'occupied')]);
    await instanceB.putIfNewer([point(1, 'free')]);
    await instanceA.putIfNewer([point(2, 'occupied')]);
    expect((await ports.latestState.get('bay-1'))?.readings).toEqual({ status: 'occupied' });
  });
});
