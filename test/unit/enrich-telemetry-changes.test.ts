import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import type { ServiceDetector } from '../../lambdas/domain/change-detection.js';
import { type EnrichTelemetryPorts, enrichTelemetryBatch } from '../../lambdas/domain/enrich-telemetry.js';
import { messageKey } from '../../lambdas/domain/telemetry.js';
import type { ChangeDetector } from '../../services/shared/blueprint.js';
import { domainEvent, numericReading } from '../../services/shared/domain-events.js';
import { device, LIMITS, NOW, queued, reading } from '../support/messages.js';

/** Stands in for a bug in the rules: while set, the test detector throws. */
let rulesBroken = false;

/** Test detector: a river is high at 2 m or more; one event each time it becomes high. */
const riverDetector: ChangeDetector<{ readonly high: boolean }> = {
  deviceTypes: ['water-level'],
  historySeconds: () => 0,
  step({ state, point }) {
    if (rulesBroken) throw new Error('rules cannot handle this level');
    const level = numericReading(point.readings, 'waterLevel') ?? 0;
    const high = level >= 2;
    if (state?.high === high) return { state, events: [] };
    return { state: { high }, events: high ? [domainEvent('test.high', point, { level }, 'high')] : [] };
  },
};

function setup(
  detectors: ServiceDetector[] = [
    { service: 'test', detector: riverDetector, context: { timeScale: 1, settings: {} } },
  ],
) {
  const memory = new InMemoryPorts([
    device('river-1', 'water-level'),
    device('river-2', 'water-level'),
    device('bin-001', 'waste-container'),
  ]);
  const ports: EnrichTelemetryPorts = {
    devices: memory.devices,
    telemetry: memory.telemetry,
    latestState: memory.latestState,
    quarantine: memory.quarantine,
    changes: {
      detectors,
      stateStore: memory.serviceState,
      publisher: memory.events,
      history: memory.telemetry,
    },
  };
  return { memory, ports };
}

const river = (
  deviceId: string,
  waterLevel: number,
  observedAt = '2026-11-27T11:59:00Z',
  queueMessageId?: string,
) =>
  queued({
    deviceId,
    deviceType: 'water-level',
    payload: reading({ waterLevel }, { observedAt }),
    ...(queueMessageId ? { queueMessageId } : {}),
  });

describe('enrichTelemetryBatch with change detection', () => {
  it('publishes the events of stored readings and counts them', async () => {
    const { memory, ports } = setup();
    const result = await enrichTelemetryBatch(
      [river('river-1', 2.5), river('river-2', 1), queued({ payload: reading({ fillingLevel: 0.9 }) })],
      ports,
      NOW,
      LIMITS,
    );
    expect(result).toMatchObject({ stored: 3, events: 1, retry: [], errors: [] });
    expect(memory.events.published.map((e) => [e.type, e.deviceId, e.readings])).toEqual([
      ['test.high', 'river-1', { waterLevel: 2.5 }],
    ]);
  });

  it('publishes nothing again when a stored, detected message is redelivered', async () => {
    const { memory, ports } = setup();
    const message = river('river-1', 2.5);
    await enrichTelemetryBatch([message], ports, NOW, LIMITS);
    const again = await enrichTelemetryBatch([message], ports, NOW, LIMITS);
    expect(again).toMatchObject({ stored: 0, duplicates: 1, events: 0, retry: [] });
    expect(memory.events.published).toHaveLength(1);
  });

  it('retries the messages of a device whose detection failed, and detects them when they come back as duplicates', async () => {
    const { memory, ports } = setup();
    const first = river('river-1', 2.5, '2026-11-27T11:58:00Z', 'a');
    const second = river('river-1', 1, '2026-11-27T11:59:00Z', 'b');
    const other = river('river-2', 3, '2026-11-27T11:59:00Z', 'c');
    memory.events.refuse = (event) => event.deviceId === 'river-1';
    const result = await enrichTelemetryBatch([first, second, other], ports, NOW, LIMITS);
    expect(result).toMatchObject({
      stored: 1,
      events: 1,
      retry: ['a', 'b'],
      storedPoints: [{ deviceId: 'river-2' }],
    });
    expect(result.errors).toEqual([{ step: 'publish', error: expect.any(Error), messages: 2 }]);
    // Both readings are stored all the same: only their detection is outstanding.
    expect(memory.series.filter((p) => p.deviceId === 'river-1')).toHaveLength(2);

    memory.events.refuse = () => false;
    const redelivered = await enrichTelemetryBatch([first, second], ports, NOW, LIMITS);
    expect(redelivered).toMatchObject({ stored: 0, duplicates: 2, events: 1, retry: [] });
    expect(memory.events.published.map((e) => e.deviceId)).toEqual(['river-2', 'river-1']);
  });

  it('marks a message processed only after its detection succeeded, where the store cannot detect duplicates', async () => {
    const { memory, ports } = setup();
    const write = memory.telemetry.write;
    const timestreamLike: EnrichTelemetryPorts = {
      ...ports,
      telemetry: {
        ...memory.telemetry,
        detectsDuplicates: false,
        write: async (points) => ({ ...(await write(points)), duplicates: [] }),
      },
      processed: memory.processed,
    };
    const message = river('river-1', 5, '2026-11-27T11:59:00Z', 'x');
    rulesBroken = true;
    const result = await enrichTelemetryBatch([message], timestreamLike, NOW, LIMITS);
    expect(result).toMatchObject({ stored: 0, events: 0, retry: ['x'] });
    expect(result.errors.map((e) => [e.step, (e.error as Error).message])).toEqual([
      [
        'detector',
        'test detector failed on river-1 at 2026-11-27T11:59:00.000Z: rules cannot handle this level',
      ],
    ]);
    expect(memory.processedKeys.size).toBe(0);

    rulesBroken = false;
    const again = await enrichTelemetryBatch([message], timestreamLike, NOW, LIMITS);
    expect(again).toMatchObject({ events: 1, retry: [] });
    expect([...memory.processedKeys]).toEqual([messageKey('river-1', memory.series[0]?.messageId ?? '')]);
  });

  it('runs no detection for a device whose latest state must be retried first', async () => {
    const { memory, ports } = setup();
    const result = await enrichTelemetryBatch(
      [river('river-1', 2.5, undefined, 'r')],
      { ...ports, latestState: { ...memory.latestState, putIfNewer: async () => [0] } },
      NOW,
      LIMITS,
    );
    expect(result).toMatchObject({ events: 0, retry: ['r'] });
    expect(memory.counts.serviceStateReads).toBe(0);
  });

  it('retries every detected message when detection itself breaks, and still quarantines what it must', async () => {
    const broken = {
      service: 'broken',
      detector: {} as ChangeDetector,
      context: { timeScale: 1, settings: {} },
    };
    const { memory, ports } = setup([broken]);
    const result = await enrichTelemetryBatch(
      [river('river-1', 2.5, undefined, 'r'), queued({ payload: 'not json', queueMessageId: 'q' })],
      ports,
      NOW,
      LIMITS,
    );
    expect(result).toMatchObject({ retry: ['r'], quarantined: [{ reason: 'MALFORMED_JSON' }] });
    expect(result.errors.map((e) => e.step)).toEqual(['change-detection']);
    expect(memory.quarantined).toHaveLength(1);
  });
});
