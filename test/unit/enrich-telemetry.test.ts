import { describe, expect, it } from 'vitest';
import { InMemoryPorts } from '../../lambdas/adapters/in-memory-ports.js';
import { keepWhenSampled } from '../../lambdas/domain/cost-control.js';
import { enrichTelemetryBatch } from '../../lambdas/domain/enrich-telemetry.js';
import { device, LIMITS, NOW, queued, reading } from '../support/messages.js';

function setup() {
  return new InMemoryPorts([
    device('bin-001', 'waste-container'),
    device('bin-002', 'waste-container'),
    device('river-1', 'water-level'),
  ]);
}

describe('enrichTelemetryBatch', () => {
  it('stores valid readings, quarantines the rest and accounts for every message', async () => {
    const ports = setup();
    const messages = [
      queued({ payload: reading({ fillingLevel: 0.4 }) }),
      queued({ deviceId: 'bin-002', payload: reading({ fillingLevel: 0.9 }) }),
      queued({ payload: 'garbage' }),
      queued({ deviceId: 'ghost', payload: reading({ fillingLevel: 0.1 }) }),
    ];
    const result = await enrichTelemetryBatch(messages, ports, NOW, LIMITS);
    expect(result.stored).toBe(2);
    expect(result.quarantined.map((q) => q.reason).sort()).toEqual(['MALFORMED_JSON', 'UNKNOWN_DEVICE']);
    expect(result.retry).toEqual([]);
    expect(ports.series).toHaveLength(2);
    expect(ports.quarantined).toHaveLength(2);
  });

  it('keeps the raw payload of a quarantined message', async () => {
    const ports = setup();
    await enrichTelemetryBatch([queued({ payload: '{"half": ' })], ports, NOW, LIMITS);
    expect(ports.quarantined[0]).toMatchObject({
      reason: 'MALFORMED_JSON',
      deviceId: 'bin-001',
      payload: '{"half": ',
      payloadEncoding: 'utf8',
    });
  });

  it('reads the registry once per batch, not once per message, and writes each point once', async () => {
    const ports = setup();
    const messages = Array.from({ length: 50 }, (_, i) =>
      queued({ deviceId: i % 2 ? 'bin-001' : 'bin-002', payload: reading({ fillingLevel: i / 100 }) }),
    );
    await enrichTelemetryBatch(messages, ports, NOW, LIMITS);
    expect(ports.counts.registryReads).toBe(1);
    expect(ports.counts.storeWrites).toBe(50);
  });

  it('drops a duplicate inside the batch and one already stored earlier', async () => {
    const ports = setup();
    const payload = reading({ fillingLevel: 0.3 });
    await enrichTelemetryBatch([queued({ payload })], ports, NOW, LIMITS);
    const again = await enrichTelemetryBatch([queued({ payload }), queued({ payload })], ports, NOW, LIMITS);
    expect(again).toMatchObject({ stored: 0, duplicates: 2 });
    expect(ports.series).toHaveLength(1);
  });

  it('writes latest state once per device per batch, with the newest observation', async () => {
    const ports = setup();
    const messages = ['2026-11-27T11:00:00Z', '2026-11-27T11:30:00Z', '2026-11-27T11:10:00Z'].map(
      (observedAt, i) => queued({ payload: reading({ fillingLevel: i / 10 }, { observedAt }) }),
    );
    await enrichTelemetryBatch(messages, ports, NOW, LIMITS);
    expect(ports.counts.latestStateWrites).toBe(1);
    expect(ports.latest.get('bin-001')?.observedAt).toBe('2026-11-27T11:30:00.000Z');
  });

  it('hands back only the messages whose store write must be retried, and stores them on redelivery', async () => {
    const ports = setup();
    const write = ports.telemetry.write;
    let failFirst = true;
    ports.telemetry.write = async (points) => {
      if (!failFirst) return write(points);
      failFirst = false;
      const outcome = await write(points.slice(1));
      return { ...outcome, retry: [0], duplicates: outcome.duplicates.map((i) => i + 1) };
    };
    const a = queued({ queueMessageId: 'a', payload: reading({ fillingLevel: 0.1 }) });
    const b = queued({ queueMessageId: 'b', deviceId: 'bin-002', payload: reading({ fillingLevel: 0.2 }) });
    const result = await enrichTelemetryBatch([a, b], ports, NOW, LIMITS);
    expect(result.retry).toEqual(['a']);
    expect(result.stored).toBe(1);
    const redelivered = await enrichTelemetryBatch([a], ports, NOW, LIMITS);
    expect(redelivered).toMatchObject({ stored: 1, duplicates: 0, retry: [] });
    expect(ports.series).toHaveLength(2);
  });

  it('applies latest state on redelivery when a stored point missed it the first time', async () => {
    const ports = setup();
    const putIfNewer = ports.latestState.putIfNewer;
    ports.latestState.putIfNewer = async (points) => points.map((_, i) => i);
    const message = queued({ queueMessageId: 'a', payload: reading({ fillingLevel: 0.7 }) });
    expect((await enrichTelemetryBatch([message], ports, NOW, LIMITS)).retry).toEqual(['a']);
    ports.latestState.putIfNewer = putIfNewer;
    const again = await enrichTelemetryBatch([message], ports, NOW, LIMITS);
    expect(again).toMatchObject({ stored: 0, duplicates: 1, retry: [] });
    expect(ports.latest.get('bin-001')?.readings).toEqual({ fillingLevel: 0.7 });
  });

  it('keeps idempotency records only when the store cannot detect duplicates', async () => {
    const ports = setup();
    const payload = reading({ fillingLevel: 0.3 });
    await enrichTelemetryBatch([queued({ payload })], ports, NOW, LIMITS);
    expect(ports.counts.dedupeReads + ports.counts.dedupeWrites).toBe(0);

    const blind = setup();
    const write = blind.telemetry.write;
    const timestreamLike = {
      ...blind,
      telemetry: {
        ...blind.telemetry,
        detectsDuplicates: false,
        write: async (p: Parameters<typeof write>[0]) => ({ ...(await write(p)), duplicates: [] }),
      },
      devices: blind.devices,
      latestState: blind.latestState,
      quarantine: blind.quarantine,
      processed: blind.processed,
    };
    await enrichTelemetryBatch([queued({ payload })], timestreamLike, NOW, LIMITS);
    const again = await enrichTelemetryBatch([queued({ payload })], timestreamLike, NOW, LIMITS);
    expect(again).toMatchObject({ stored: 0, duplicates: 1 });
    expect(blind.processedKeys.size).toBe(1);
  });

  it('refuses to run a store that cannot detect duplicates without idempotency records', async () => {
    const ports = setup();
    const wiring = {
      ...ports,
      telemetry: { ...ports.telemetry, detectsDuplicates: false },
      processed: undefined,
    };
    await expect(
      enrichTelemetryBatch([queued({ payload: reading({ fillingLevel: 0.1 }) })], wiring, NOW, LIMITS),
    ).rejects.toThrow(/ProcessedMessages/);
  });

  it('quarantines records the store rejects for good, with the store reason', async () => {
    const ports = setup();
    ports.telemetry.write = async () => ({
      duplicates: [],
      retry: [],
      rejected: [
        { index: 0, reason: 'STORE_REJECTED', detail: 'Timestream rejected the record: version conflict' },
      ],
    });
    const result = await enrichTelemetryBatch(
      [queued({ payload: reading({ fillingLevel: 0.1 }) })],
      ports,
      NOW,
      LIMITS,
    );
    expect(result.quarantined).toHaveLength(1);
    expect(result.quarantined[0]).toMatchObject({ reason: 'STORE_REJECTED', deviceId: 'bin-001' });
    expect(result.retry).toEqual([]);
  });

  it('retries everything when the registry cannot be read, and quarantines nothing by mistake', async () => {
    const ports = setup();
    ports.devices.findMany = async () => {
      throw new Error('throttled');
    };
    const result = await enrichTelemetryBatch(
      [
        queued({ queueMessageId: 'a', payload: reading({ fillingLevel: 0.1 }) }),
        queued({ queueMessageId: 'b', payload: 'x' }),
      ],
      ports,
      NOW,
      LIMITS,
    );
    expect(result.retry).toEqual(['a']);
    expect(result.quarantined.map((q) => q.reason)).toEqual(['MALFORMED_JSON']);
    expect(result.errors[0]?.step).toBe('registry');
  });

  it('retries a device whose latest-state write failed', async () => {
    const ports = setup();
    ports.latestState.putIfNewer = async (points) => points.map((_, i) => i);
    const result = await enrichTelemetryBatch(
      [queued({ queueMessageId: 'a', payload: reading({ fillingLevel: 0.1 }) })],
      ports,
      NOW,
      LIMITS,
    );
    expect(result).toMatchObject({ stored: 0, retry: ['a'] });
  });

  it('retries the quarantined messages when the quarantine cannot be written', async () => {
    const ports = setup();
    ports.quarantine.put = async () => {
      throw new Error('down');
    };
    const result = await enrichTelemetryBatch(
      [queued({ queueMessageId: 'q', payload: 'nope' })],
      ports,
      NOW,
      LIMITS,
    );
    expect(result.retry).toEqual(['q']);
    expect(result.quarantined).toEqual([]);
  });

  it('puts every message in exactly one outcome', async () => {
    const ports = setup();
    const payload = reading({ fillingLevel: 0.3 });
    const messages = [
      queued({ payload }),
      queued({ payload }),
      queued({ payload: 'bad' }),
      queued({ deviceId: 'river-1', deviceType: 'water-level', payload: reading({ waterLevel: 2 }) }),
    ];
    const result = await enrichTelemetryBatch(messages, ports, NOW, LIMITS);
    expect(
      result.stored + result.duplicates + result.sampledOut + result.quarantined.length + result.retry.length,
    ).toBe(messages.length);
  });

  it('puts every message in exactly one outcome while the lane is sampled', async () => {
    const ports = setup();
    const dup = reading({ fillingLevel: 0.3 });
    const messages = [
      ...Array.from({ length: 40 }, (_, i) =>
        queued({ deviceId: i % 2 ? 'bin-001' : 'bin-002', payload: reading({ fillingLevel: i / 100 }) }),
      ),
      queued({ payload: dup }),
      queued({ payload: dup }),
      queued({ payload: 'bad' }),
      queued({ deviceId: 'ghost', payload: reading({ fillingLevel: 0.1 }) }),
    ];
    const result = await enrichTelemetryBatch(
      messages,
      { ...ports, sampling: { keepRate: async () => 0.25 } },
      NOW,
      LIMITS,
    );
    expect(result.sampledOut).toBeGreaterThan(0);
    expect(result.quarantined).toHaveLength(2);
    expect(
      result.stored + result.duplicates + result.sampledOut + result.quarantined.length + result.retry.length,
    ).toBe(messages.length);
  });
});

describe('enrichTelemetryBatch while the cost guard samples the lane', () => {
  it('keeps exactly the readings keepWhenSampled keeps, and neither stores nor quarantines the rest', async () => {
    const ports = setup();
    const payloads = Array.from({ length: 60 }, (_, i) => reading({ fillingLevel: i / 100 }));
    const messages = payloads.map((payload) => queued({ payload }));
    const result = await enrichTelemetryBatch(
      messages,
      { ...ports, sampling: { keepRate: async () => 0.25 } },
      NOW,
      LIMITS,
    );
    const kept = payloads.filter((p) => keepWhenSampled('bin-001', p.messageId, 0.25));
    expect(result.stored).toBe(kept.length);
    expect(result.sampledOut).toBe(payloads.length - kept.length);
    expect(ports.series.map((p) => p.messageId).sort()).toEqual(kept.map((p) => p.messageId).sort());
    expect(ports.quarantined).toEqual([]);
    expect(result.retry).toEqual([]);
  });

  it('gives a redelivered message the same answer', async () => {
    const ports = setup();
    const sampling = { keepRate: async () => 0.5 };
    const messages = Array.from({ length: 20 }, () => queued({ payload: reading({ fillingLevel: 0.2 }) }));
    const first = await enrichTelemetryBatch(messages, { ...ports, sampling }, NOW, LIMITS);
    const again = await enrichTelemetryBatch(messages, { ...ports, sampling }, NOW, LIMITS);
    expect(again.sampledOut).toBe(first.sampledOut);
    expect(again).toMatchObject({ stored: 0, duplicates: first.stored });
  });

  it('keeps everything at rate 1, reads the rate once per batch, and not at all for an empty batch', async () => {
    const ports = setup();
    let reads = 0;
    const sampling = {
      keepRate: async () => {
        reads += 1;
        return 1;
      },
    };
    const messages = Array.from({ length: 10 }, () => queued({ payload: reading({ fillingLevel: 0.5 }) }));
    const result = await enrichTelemetryBatch(messages, { ...ports, sampling }, NOW, LIMITS);
    expect(result).toMatchObject({ stored: 10, sampledOut: 0 });
    await enrichTelemetryBatch([queued({ payload: 'not json' })], { ...ports, sampling }, NOW, LIMITS);
    expect(reads).toBe(1);
  });

  it('still quarantines bad input from a sampled lane', async () => {
    const ports = setup();
    const result = await enrichTelemetryBatch(
      [queued({ payload: 'garbage' }), queued({ deviceId: 'ghost', payload: reading({ fillingLevel: 1 }) })],
      { ...ports, sampling: { keepRate: async () => 0 } },
      NOW,
      LIMITS,
    );
    expect(result.quarantined.map((q) => q.reason).sort()).toEqual(['MALFORMED_JSON', 'UNKNOWN_DEVICE']);
    expect(result.sampledOut).toBe(0);
  });
});

describe('rate policing in enrichment', () => {
  it('quarantines the readings a device sends past its hourly allowance as RATE_LIMITED', async () => {
    const ports = new InMemoryPorts([device('gauge-9', 'water-level', { expectedIntervalSeconds: 900 })]);
    let allowance = 0;
    const write = ports.telemetry.write;
    ports.telemetry.write = async (points, hourlyAllowance) => {
      allowance = hourlyAllowance?.(points[0] as (typeof points)[number]) ?? 0;
      const outcome = await write(points);
      return {
        ...outcome,
        rejected: points
          .slice(allowance)
          .map((_, i) => ({ index: allowance + i, reason: 'RATE_LIMITED' as const, detail: 'over' })),
      };
    };
    const messages = Array.from({ length: 14 }, (_, i) =>
      queued({
        deviceId: 'gauge-9',
        deviceType: 'water-level',
        payload: reading(
          { waterLevel: 1 },
          { observedAt: new Date(NOW.getTime() - (i + 1) * 1000).toISOString() },
        ),
      }),
    );
    const result = await enrichTelemetryBatch(messages, ports, NOW, LIMITS);
    // Declared every 900 s: 4 an hour, times 3 = 12, the minimum allowance.
    expect(allowance).toBe(12);
    expect(result.quarantined.map((q) => q.reason)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
  });
});
