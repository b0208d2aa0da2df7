import type { DeviceType } from '../contracts/device-types.js';

/**
 * Rate policing's second step. The store already refuses a device's readings past its hourly allowance
 * (RATE_LIMITED); a device that keeps sending after that is broken or hostile and still costs IoT and queue
 * charges for every message. The guard then deactivates its certificate, which disconnects it within minutes.
 * Essential devices are reported, never disconnected: a flood gauge that misbehaves is still a flood gauge.
 */

/** RATE_LIMITED refusals in one meter interval (5 minutes) that mark a device as a runaway. */
export const RUNAWAY_REFUSALS_PER_INTERVAL = 30;

export interface RateLimitedDevice {
  readonly deviceId: string;
  readonly deviceType?: string;
  readonly refusals: number;
}

/** Port: devices refused as RATE_LIMITED in a time window, with how often. */
export interface RateLimitedDevices {
  between(start: Date, end: Date): Promise<readonly RateLimitedDevice[]>;
}

/** Port: a device's certificates. */
export interface DeviceCertificates {
  /** Sets every active certificate of the device to INACTIVE; returns how many it changed. */
  deactivate(deviceId: string): Promise<number>;
}

export type RunawayVerdict =
  | { readonly kind: 'deactivate'; readonly device: RateLimitedDevice }
  | { readonly kind: 'report-only'; readonly device: RateLimitedDevice };

/** Which refused devices to disconnect and which only to report. Pure. */
export function judgeRunaways(
  devices: readonly RateLimitedDevice[],
  essentialDeviceTypes: readonly DeviceType[],
  threshold = RUNAWAY_REFUSALS_PER_INTERVAL,
): RunawayVerdict[] {
  return devices
    .filter((device) => device.refusals >= threshold)
    .map((device) =>
      (essentialDeviceTypes as readonly string[]).includes(device.deviceType ?? '')
        ? { kind: 'report-only', device }
        : { kind: 'deactivate', device },
    );
}
