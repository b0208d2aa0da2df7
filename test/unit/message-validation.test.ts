import { describe, expect, it } from 'vitest';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import { MESSAGE_LIMITS } from '../../lambdas/contracts/envelope.js';
import { REASON_CODES, type ReasonCode } from '../../lambdas/contracts/reason-codes.js';
import type { Device } from '../../lambdas/domain/device.js';
import { decodeMessage, enrichMessage, type QueuedMessage } from '../../lambdas/domain/message-validation.js';
import { device, LIMITS, NOW, queued, reading } from '../support/messages.js';

/** Runs both validation stages the way the use case does; returns the reason code or 'ok'. */
function verdict(message: QueuedMessage, registered: Device | undefined): ReasonCode | 'ok' {
  const decoded = decodeMessage(message);
  if (!decoded.ok) return decoded.rejection.reason;
  const enriched = enrichMessage(decoded.message, registered, NOW, LIMITS);
  return enriched.ok ? 'ok' : enriched.rejection.reason;
}

const cases: {
  type: DeviceType;
  readings: Record<string, unknown>;
  expected: 'ok' | ReasonCode;
  name: string;
}[] = [
  {
    name: 'full bin',
    type: 'waste-container',
    readings: { fillingLevel: 0.85, temperature: 12 },
    expected: 'ok',
  },
  { name: 'empty bin (0)', type: 'waste-container', readings: { fillingLevel: 0 }, expected: 'ok' },
  { name: 'brim-full bin (1)', type: 'waste-container', readings: { fillingLevel: 1 }, expected: 'ok' },
  {
    name: 'bin over 1',
    type: 'waste-container',
    readings: { fillingLevel: 1.01 },
    expected: 'SCHEMA_VIOLATION',
  },
  {
    name: 'bin below 0',
    type: 'waste-container',
    readings: { fillingLevel: -0.01 },
    expected: 'SCHEMA_VIOLATION',
  },
  { name: 'bin burning status', type: 'waste-container', readings: { status: 'burning' }, expected: 'ok' },
  {
    name: 'bin unknown status',
    type: 'waste-container',
    readings: { status: 'onFire' },
    expected: 'SCHEMA_VIOLATION',
  },
  {
    name: 'bin percent string',
    type: 'waste-container',
    readings: { fillingLevel: '80%' },
    expected: 'SCHEMA_VIOLATION',
  },
  { name: 'bin no readings', type: 'waste-container', readings: {}, expected: 'SCHEMA_VIOLATION' },
  { name: 'spot free', type: 'parking-spot', readings: { status: 'free' }, expected: 'ok' },
  { name: 'spot closed', type: 'parking-spot', readings: { status: 'closed' }, expected: 'ok' },
  { name: 'spot boolean', type: 'parking-spot', readings: { status: true }, expected: 'SCHEMA_VIOLATION' },
  {
    name: 'spot extra field',
    type: 'parking-spot',
    readings: { status: 'free', colour: 'red' },
    expected: 'SCHEMA_VIOLATION',
  },
  {
    name: 'aq all four',
    type: 'air-quality',
    readings: { no2: 40, pm25: 12, pm10: 20, o3: 60 },
    expected: 'ok',
  },
  { name: 'aq subset', type: 'air-quality', readings: { no2: 0 }, expected: 'ok' },
  { name: 'aq at upper bound', type: 'air-quality', readings: { pm10: 5000 }, expected: 'ok' },
  { name: 'aq above bound', type: 'air-quality', readings: { pm10: 5000.1 }, expected: 'SCHEMA_VIOLATION' },
  { name: 'aq negative', type: 'air-quality', readings: { no2: -1 }, expected: 'SCHEMA_VIOLATION' },
  { name: 'aq none', type: 'air-quality', readings: {}, expected: 'SCHEMA_VIOLATION' },
  {
    name: 'traffic period',
    type: 'traffic-flow',
    readings: { intensity: 120, averageVehicleSpeed: 32.5, occupancy: 0.3, periodSeconds: 300 },
    expected: 'ok',
  },
  {
    name: 'traffic fractional count',
    type: 'traffic-flow',
    readings: { intensity: 12.5, averageVehicleSpeed: 32.5, occupancy: 0.3, periodSeconds: 300 },
    expected: 'SCHEMA_VIOLATION',
  },
  {
    name: 'traffic missing speed',
    type: 'traffic-flow',
    readings: { intensity: 12, occupancy: 0.3, periodSeconds: 300 },
    expected: 'SCHEMA_VIOLATION',
  },
  {
    name: 'traffic zero period',
    type: 'traffic-flow',
    readings: { intensity: 12, averageVehicleSpeed: 30, occupancy: 0.3, periodSeconds: 0 },
    expected: 'SCHEMA_VIOLATION',
  },
  { name: 'river level', type: 'water-level', readings: { waterLevel: 1.42 }, expected: 'ok' },
  { name: 'river below datum', type: 'water-level', readings: { waterLevel: -0.3 }, expected: 'ok' },
  {
    name: 'river level as text',
    type: 'water-level',
    readings: { waterLevel: 'high' },
    expected: 'SCHEMA_VIOLATION',
  },
];

describe('readings per device type', () => {
  it.each(cases)('$type: $name -> $expected', ({ type, readings, expected }) => {
    const id = `dev-${type}`;
    const message = queued({ deviceId: id, deviceType: type, payload: reading(readings) });
    expect(verdict(message, device(id, type))).toBe(expected);
  });
});

describe('every reason code', () => {
  const bin = device('bin-001', 'waste-container');
  const valid = () => reading({ fillingLevel: 0.5 });

  const reasonCases: {
    reason: ReasonCode | 'ok';
    name: string;
    message: () => QueuedMessage;
    registered?: Device;
  }[] = [
    {
      reason: 'MALFORMED_JSON',
      name: 'payload is not JSON',
      message: () => queued({ payload: '{"messageId": ' }),
    },
    {
      reason: 'MALFORMED_JSON',
      name: 'queue body is not an ingest envelope',
      message: () => ({ queueMessageId: 'x', body: 'not json' }),
    },
    {
      reason: 'SCHEMA_VIOLATION',
      name: 'envelope without messageId',
      message: () => queued({ payload: { observedAt: NOW.toISOString(), readings: {} } }),
    },
    {
      reason: 'SCHEMA_VIOLATION',
      name: 'observedAt without zone',
      message: () => queued({ payload: reading({ fillingLevel: 0.5 }, { observedAt: '2026-11-27 11:00' }) }),
    },
    {
      reason: 'SCHEMA_VIOLATION',
      name: 'battery over 1',
      message: () => queued({ payload: reading({ fillingLevel: 0.5 }, { battery: 1.2 }) }),
    },
    {
      reason: 'UNKNOWN_DEVICE',
      name: 'not registered',
      message: () => queued({ payload: valid() }),
      registered: undefined,
    },
    {
      reason: 'DEVICE_TYPE_MISMATCH',
      name: 'registered as another type',
      message: () => queued({ deviceType: 'water-level', payload: reading({ waterLevel: 1 }) }),
    },
    {
      reason: 'TOPIC_DEVICE_MISMATCH',
      name: 'client publishes on another device topic',
      message: () => queued({ clientId: 'bin-002', payload: valid() }),
    },
    {
      reason: 'PAYLOAD_TOO_LARGE',
      name: 'one byte over the limit',
      message: () => queued({ payload: Buffer.alloc(MESSAGE_LIMITS.maxPayloadBytes + 1, 0x20) }),
    },
    {
      reason: 'TIMESTAMP_IN_FUTURE',
      name: 'one second past the tolerated skew',
      message: () =>
        queued({
          payload: reading(
            { fillingLevel: 0.5 },
            { observedAt: new Date(NOW.getTime() + 301_000).toISOString() },
          ),
        }),
    },
    {
      reason: 'ok',
      name: 'exactly at the tolerated skew',
      message: () =>
        queued({
          payload: reading(
            { fillingLevel: 0.5 },
            { observedAt: new Date(NOW.getTime() + 300_000).toISOString() },
          ),
        }),
    },
    {
      reason: 'TIMESTAMP_TOO_OLD',
      name: 'older than retention',
      message: () =>
        queued({
          payload: reading(
            { fillingLevel: 0.5 },
            { observedAt: new Date(NOW.getTime() - 400 * 86_400_000 - 1000).toISOString() },
          ),
        }),
    },
    {
      reason: 'DEVICE_DECOMMISSIONED',
      name: 'decommissioned device',
      message: () => queued({ payload: valid() }),
      registered: device('bin-001', 'waste-container', { status: 'decommissioned' }),
    },
  ];

  it.each(reasonCases)('$reason: $name', ({ reason, message, registered, name }) => {
    const registry = name === 'not registered' ? undefined : (registered ?? bin);
    expect(verdict(message(), registry)).toBe(reason);
  });

  it('covers every reason code the validation can produce', () => {
    // RATE_LIMITED comes from rate policing and STORE_REJECTED from the store itself; both are tested elsewhere.
    const produced = new Set(reasonCases.map((c) => c.reason));
    const expected = REASON_CODES.filter((r) => r !== 'RATE_LIMITED' && r !== 'STORE_REJECTED');
    expect(expected.filter((r) => !produced.has(r))).toEqual([]);
  });

  it('names the field and the rule in a schema violation', () => {
    const decoded = decodeMessage(queued({ payload: reading({ fillingLevel: 2 }) }));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    const enriched = enrichMessage(decoded.message, bin, NOW, LIMITS);
    expect(enriched.ok).toBe(false);
    if (enriched.ok) return;
    expect(enriched.rejection.detail).toMatch(/readings\.fillingLevel/);
    expect(enriched.rejection.detail).toMatch(/1/);
  });

  it('enriches a valid reading with the registry location, ward and site and a normalised time', () => {
    const decoded = decodeMessage(
      queued({ payload: reading({ fillingLevel: 0.5 }, { observedAt: '2026-11-27T11:59:00+01:00' }) }),
    );
    if (!decoded.ok) throw new Error('expected decode to succeed');
    const enriched = enrichMessage(decoded.message, bin, NOW, LIMITS);
    if (!enriched.ok) throw new Error(enriched.rejection.detail);
    expect(enriched.point).toMatchObject({
      deviceId: 'bin-001',
      deviceType: 'waste-container',
      observedAt: '2026-11-27T10:59:00.000Z',
      ward: 'Abbey',
      site: 'Broad Street',
      location: { lat: 51.4545, lon: -0.9781 },
      readings: { fillingLevel: 0.5 },
    });
  });
});
