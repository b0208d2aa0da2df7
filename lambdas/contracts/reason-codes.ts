/**
 * Why a message was not stored. Stable: dashboards, alarms and councils' own reports key on these.
 * `STORE_REJECTED` covers a record the telemetry store itself refused for a reason our validation could
 * not see (for example a Timestream record with the same time and a different value).
 */
export const REASON_CODES = [
  'MALFORMED_JSON',
  'SCHEMA_VIOLATION',
  'UNKNOWN_DEVICE',
  'DEVICE_TYPE_MISMATCH',
  'TOPIC_DEVICE_MISMATCH',
  'PAYLOAD_TOO_LARGE',
  'TIMESTAMP_IN_FUTURE',
  'TIMESTAMP_TOO_OLD',
  'DEVICE_DECOMMISSIONED',
  'RATE_LIMITED',
  'STORE_REJECTED',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export function isReasonCode(value: unknown): value is ReasonCode {
  return typeof value === 'string' && (REASON_CODES as readonly string[]).includes(value);
}
