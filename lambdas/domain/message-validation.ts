import type { z } from 'zod';
import { type DeviceType, isDeviceType, READINGS_SCHEMAS, type Readings } from '../contracts/device-types.js';
import { type Envelope, envelopeSchema, MESSAGE_LIMITS } from '../contracts/envelope.js';
import type { ReasonCode } from '../contracts/reason-codes.js';
import { type IngestEnvelope, isDeviceId } from '../contracts/topics.js';
import type { Device } from './device.js';
import type { QuarantineEntry } from './quarantine.js';
import type { TelemetryPoint } from './telemetry.js';

/** A message as it arrives from the lane's queue. */
export interface QueuedMessage {
  /** The queue's id for this delivery; what a partial batch failure names. */
  readonly queueMessageId: string;
  /** The queue message body: the IoT rule's output ({@link IngestEnvelope}) as JSON. */
  readonly body: string;
}

export interface Rejection {
  readonly reason: ReasonCode;
  readonly detail: string;
}

/** A message that passed every check that needs no registry: ready for the device lookup. */
export interface DecodedMessage {
  readonly queueMessageId: string;
  readonly ingest: IngestEnvelope;
  readonly deviceType: DeviceType;
  readonly envelope: Envelope;
  readonly raw: Buffer;
}

export type DecodeResult =
  | { readonly ok: true; readonly message: DecodedMessage }
  | {
      readonly ok: false;
      readonly rejection: Rejection;
      readonly ingest?: IngestEnvelope;
      readonly raw?: Buffer;
    };

export interface ValidationLimits {
  readonly retentionDays: number;
  readonly maxFutureSkewSeconds: number;
}

function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${[prefix, ...issue.path.map(String)].filter(Boolean).join('.')}: ${issue.message}`)
    .join('; ');
}

function parseIngestEnvelope(body: string): IngestEnvelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.payload !== 'string' || typeof v.receivedAt !== 'number') return undefined;
  return {
    payload: v.payload,
    deviceType: typeof v.deviceType === 'string' ? v.deviceType : '',
    deviceId: typeof v.deviceId === 'string' ? v.deviceId : '',
    clientId: typeof v.clientId === 'string' ? v.clientId : '',
    receivedAt: v.receivedAt,
  };
}

/**
 * Checks everything about a message that needs no lookup: the rule's envelope, the topic against the publisher,
 * size, JSON and the envelope schema. Order matters: the cheapest and most telling checks come first, so the
 * reason recorded is the most useful one.
 */
export function decodeMessage(message: QueuedMessage): DecodeResult {
  const ingest = parseIngestEnvelope(message.body);
  if (!ingest) {
    return {
      ok: false,
      rejection: { reason: 'MALFORMED_JSON', detail: 'queue message is not an ingest envelope' },
    };
  }
  const raw = Buffer.from(ingest.payload, 'base64');
  if (raw.length > MESSAGE_LIMITS.maxPayloadBytes) {
    return {
      ok: false,
      ingest,
      raw,
      rejection: {
        reason: 'PAYLOAD_TOO_LARGE',
        detail: `payload is ${raw.length} bytes; the limit is ${MESSAGE_LIMITS.maxPayloadBytes}`,
      },
    };
  }
  if (!isDeviceId(ingest.deviceId) || !isDeviceType(ingest.deviceType)) {
    return {
      ok: false,
      ingest,
      raw,
      rejection: {
        reason: 'SCHEMA_VIOLATION',
        detail: `topic names device type '${ingest.deviceType}' and device '${ingest.deviceId}', which are not valid`,
      },
    };
  }
  if (ingest.clientId !== ingest.deviceId) {
    return {
      ok: false,
      ingest,
      raw,
      rejection: {
        reason: 'TOPIC_DEVICE_MISMATCH',
        detail: `client '${ingest.clientId}' published on the topic of device '${ingest.deviceId}'`,
      },
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    return {
      ok: false,
      ingest,
      raw,
      rejection: { reason: 'MALFORMED_JSON', detail: `payload is not JSON: ${(error as Error).message}` },
    };
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      ingest,
      raw,
      rejection: { reason: 'SCHEMA_VIOLATION', detail: describeIssues(parsed.error, '') },
    };
  }
  return {
    ok: true,
    message: {
      queueMessageId: message.queueMessageId,
      ingest,
      deviceType: ingest.deviceType,
      envelope: parsed.data,
      raw,
    },
  };
}

export type EnrichResult =
  | { readonly ok: true; readonly point: TelemetryPoint }
  | { readonly ok: false; readonly rejection: Rejection };

/** Checks a decoded message against its registry entry and the clock, and builds the enriched point. */
export function enrichMessage(
  message: DecodedMessage,
  device: Device | undefined,
  now: Date,
  limits: ValidationLimits,
): EnrichResult {
  const { ingest, envelope } = message;
  if (!device) {
    return {
      ok: false,
      rejection: { reason: 'UNKNOWN_DEVICE', detail: `device '${ingest.deviceId}' is not registered` },
    };
  }
  if (device.status === 'decommissioned') {
    return {
      ok: false,
      rejection: { reason: 'DEVICE_DECOMMISSIONED', detail: `device '${device.deviceId}' is decommissioned` },
    };
  }
  if (device.deviceType !== message.deviceType) {
    return {
      ok: false,
      rejection: {
        reason: 'DEVICE_TYPE_MISMATCH',
        detail: `device '${device.deviceId}' is registered as '${device.deviceType}' but published as '${message.deviceType}'`,
      },
    };
  }
  const readings = READINGS_SCHEMAS[device.deviceType].safeParse(envelope.readings);
  if (!readings.success) {
    return {
      ok: false,
      rejection: { reason: 'SCHEMA_VIOLATION', detail: describeIssues(readings.error, 'readings') },
    };
  }
  const observed = new Date(envelope.observedAt);
  const skewMs = observed.getTime() - now.getTime();
  if (skewMs > limits.maxFutureSkewSeconds * 1000) {
    return {
      ok: false,
      rejection: {
        reason: 'TIMESTAMP_IN_FUTURE',
        detail: `observedAt ${envelope.observedAt} is ${Math.round(skewMs / 1000)} s ahead; at most ${limits.maxFutureSkewSeconds} s is tolerated`,
      },
    };
  }
  const oldest = now.getTime() - limits.retentionDays * 86_400_000;
  if (observed.getTime() < oldest) {
    return {
      ok: false,
      rejection: {
        reason: 'TIMESTAMP_TOO_OLD',
        detail: `observedAt ${envelope.observedAt} is older than the ${limits.retentionDays}-day retention`,
      },
    };
  }
  return {
    ok: true,
    point: {
      deviceId: device.deviceId,
      deviceType: device.deviceType,
      messageId: envelope.messageId,
      observedAt: observed.toISOString(),
      receivedAt: new Date(ingest.receivedAt).toISOString(),
      readings: readings.data as Readings,
      ...(envelope.battery === undefined ? {} : { battery: envelope.battery }),
      ...(device.ward === undefined ? {} : { ward: device.ward }),
      ...(device.site === undefined ? {} : { site: device.site }),
      location: device.location,
    },
  };
}

function isUtf8Text(raw: Buffer): boolean {
  return Buffer.from(raw.toString('utf8'), 'utf8').equals(raw);
}

/** Builds the quarantine record for a rejected message, keeping a bounded slice of the raw payload. */
export function quarantineEntry(
  queueMessageId: string,
  rejection: Rejection,
  ingest: IngestEnvelope | undefined,
  raw: Buffer | undefined,
  body: string,
  now: Date,
  messageId?: string,
): QuarantineEntry {
  const bytes = raw ?? Buffer.from(body, 'utf8');
  const kept = bytes.subarray(0, MESSAGE_LIMITS.maxQuarantinedPayloadBytes);
  const text = isUtf8Text(kept);
  return {
    reason: rejection.reason,
    detail: rejection.detail,
    deviceId: ingest?.deviceId || 'unknown',
    ...(ingest?.deviceType ? { deviceType: ingest.deviceType } : {}),
    ...(ingest?.clientId ? { clientId: ingest.clientId } : {}),
    ...(messageId ? { messageId } : {}),
    receivedAt: new Date(ingest?.receivedAt ?? now.getTime()).toISOString(),
    sourceId: queueMessageId,
    payload: text ? kept.toString('utf8') : kept.toString('base64'),
    payloadEncoding: text ? 'utf8' : 'base64',
    payloadBytes: bytes.length,
    payloadTruncated: kept.length < bytes.length,
  };
}
