import type { DeviceType, Readings } from '../../lambdas/contracts/device-types.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';

/** Test fixtures for the blueprints' table-driven tests: a fixed day and a point builder. */
export const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

/** ISO time `seconds` after T0 (negative for before). */
export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

export function minutes(m: number): string {
  return at(m * 60);
}

export function point(
  deviceType: DeviceType,
  readings: Readings,
  observedAt: string = at(0),
  extra: Partial<Pick<TelemetryPoint, 'deviceId' | 'site' | 'ward' | 'location'>> = {},
): TelemetryPoint {
  return {
    deviceId: extra.deviceId ?? `${deviceType}-1`,
    deviceType,
    messageId: `m-${observedAt}`,
    observedAt,
    receivedAt: observedAt,
    readings,
    site: extra.site ?? 'site-1',
    ward: extra.ward ?? 'E05000001',
    ...(extra.location ? { location: extra.location } : {}),
  };
}
