import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import { applyRuleSql, ruleTopic } from '../../lambdas/contracts/topics.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { QueuedMessage } from '../../lambdas/domain/message-validation.js';

export const NOW = new Date('2026-11-27T12:00:00.000Z');
export const LIMITS = { retentionDays: 400, maxFutureSkewSeconds: 300 };

export function device(deviceId: string, deviceType: DeviceType, overrides: Partial<Device> = {}): Device {
  return {
    deviceId,
    deviceType,
    status: 'active',
    location: { lat: 51.4545, lon: -0.9781 },
    ward: 'Abbey',
    site: 'Broad Street',
    registeredAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

let counter = 0;

export interface MessageOptions {
  readonly deviceId?: string;
  readonly deviceType?: string;
  readonly clientId?: string;
  readonly payload?: string | Buffer | object;
  readonly queueMessageId?: string;
  readonly receivedAt?: number;
}

/** A queue message exactly as the IoT rule would produce it for a device publish. */
export function queued(options: MessageOptions): QueuedMessage {
  const deviceId = options.deviceId ?? 'bin-001';
  const deviceType = options.deviceType ?? 'waste-container';
  const payload =
    typeof options.payload === 'string' || Buffer.isBuffer(options.payload)
      ? Buffer.from(options.payload)
      : Buffer.from(JSON.stringify(options.payload ?? {}));
  const envelope = applyRuleSql(
    payload,
    ruleTopic(deviceType as DeviceType, deviceId),
    options.clientId ?? deviceId,
    options.receivedAt ?? NOW.getTime(),
  );
  counter += 1;
  return { queueMessageId: options.queueMessageId ?? `sqs-${counter}`, body: JSON.stringify(envelope) };
}

export function reading(readings: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  counter += 1;
  return { messageId: `m-${counter}`, observedAt: '2026-11-27T11:59:00Z', readings, ...overrides };
}
