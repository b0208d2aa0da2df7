import type { DeviceType } from './device-types.js';
import { isDeviceType } from './device-types.js';

/**
 * Ingest lanes. Each lane is one IoT topic rule (Basic Ingest uses the rule name in the topic) feeding its own
 * queue, so the cost guard can stop the ordinary lane and keep the essential one flowing.
 */
export const LANES = ['civic_ingest', 'civic_essential'] as const;
export type Lane = (typeof LANES)[number];
/** The lane of ordinary device types: the only one the cost guard may sample, stop and restore. */
export const ORDINARY_LANE = 'civic_ingest' satisfies Lane;
/** The lane of essential device types (flood, air quality): never touched by the cost guard. */
export const ESSENTIAL_LANE = 'civic_essential' satisfies Lane;

export const BASIC_INGEST_PREFIX = '$aws/rules/';
/** First topic level after the Basic Ingest prefix: namespaces the platform's topics. */
export const TOPIC_NAMESPACE = 'civic';
export const TELEMETRY_SUFFIX = 'telemetry';

/**
 * Device ids double as IoT thing names and MQTT client ids, so they take the intersection of what those allow
 * and nothing that is special in an MQTT topic (`/`, `+`, `#`) or an IoT policy (`*`, `$`).
 */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID_PATTERN.test(value);
}

export function laneFor(deviceType: DeviceType, essentialDeviceTypes: readonly DeviceType[]): Lane {
  return essentialDeviceTypes.includes(deviceType) ? 'civic_essential' : 'civic_ingest';
}

/** The topic after the Basic Ingest prefix, as the rule's SQL and `topic(n)` see it. */
export function ruleTopic(deviceType: DeviceType, deviceId: string): string {
  return `${TOPIC_NAMESPACE}/${deviceType}/${deviceId}/${TELEMETRY_SUFFIX}`;
}

/** The exact topic a device publishes to: `$aws/rules/{lane}/civic/{type}/{deviceId}/telemetry`. */
export function telemetryTopic(lane: Lane, deviceType: DeviceType, deviceId: string): string {
  return `${BASIC_INGEST_PREFIX}${lane}/${ruleTopic(deviceType, deviceId)}`;
}

export interface ParsedTelemetryTopic {
  readonly lane: Lane;
  readonly deviceType: DeviceType;
  readonly deviceId: string;
}

/** Parses a full Basic Ingest telemetry topic; returns undefined for anything that is not one. */
export function parseTelemetryTopic(topic: string): ParsedTelemetryTopic | undefined {
  if (!topic.startsWith(BASIC_INGEST_PREFIX)) return undefined;
  const [lane, namespace, deviceType, deviceId, suffix, ...rest] = topic
    .slice(BASIC_INGEST_PREFIX.length)
    .split('/');
  if (rest.length > 0 || namespace !== TOPIC_NAMESPACE || suffix !== TELEMETRY_SUFFIX) return undefined;
  if (!(LANES as readonly (string | undefined)[]).includes(lane)) return undefined;
  if (!isDeviceType(deviceType) || !isDeviceId(deviceId)) return undefined;
  return { lane: lane as Lane, deviceType, deviceId };
}

/**
 * The IoT rule SQL for a lane. The payload travels base64-encoded so that a message which is not JSON still
 * reaches the queue and is quarantined as MALFORMED_JSON instead of failing inside the rules engine.
 * With Basic Ingest the `$aws/rules/{lane}` prefix is not visible to `topic(n)`, so level 2 is the type.
 */
export function ruleSql(): string {
  return [
    "SELECT encode(*, 'base64') AS payload,",
    'topic(2) AS deviceType,',
    'topic(3) AS deviceId,',
    'clientid() AS clientId,',
    'timestamp() AS receivedAt',
    `FROM '${TOPIC_NAMESPACE}/+/+/${TELEMETRY_SUFFIX}'`,
  ].join(' ');
}

/** What the rule puts on the lane's queue for each device message (the output of {@link ruleSql}). */
export interface IngestEnvelope {
  /** Base64 of the raw MQTT payload, whatever it contained. */
  readonly payload: string;
  readonly deviceType: string;
  readonly deviceId: string;
  /** MQTT client id of the publisher; the IoT policy makes it equal to the thing name. */
  readonly clientId: string;
  /** Epoch milliseconds when IoT Core received the message. */
  readonly receivedAt: number;
}

/**
 * The same transformation the rule SQL performs, for the local runtime's rule step and for tests.
 * Keeping it next to {@link ruleSql} means a change to one is seen beside the other.
 */
export function applyRuleSql(
  payload: Buffer,
  topicAfterPrefix: string,
  clientId: string,
  receivedAt: number,
): IngestEnvelope {
  const levels = topicAfterPrefix.split('/');
  return {
    payload: payload.toString('base64'),
    deviceType: levels[1] ?? '',
    deviceId: levels[2] ?? '',
    clientId,
    receivedAt,
  };
}
