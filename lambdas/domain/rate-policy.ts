import type { DeviceType } from '../contracts/device-types.js';
import type { Device } from './device.js';

/**
 * How often each kind of device is expected to report when its registry entry does not say: typical council
 * hardware (bins hourly-ish, bays on change with a heartbeat, environment sensors every few minutes).
 */
export const DEFAULT_REPORTING_SECONDS: Readonly<Record<DeviceType, number>> = {
  'waste-container': 900,
  'parking-spot': 120,
  'air-quality': 300,
  'traffic-flow': 60,
  'water-level': 300,
};

/** A device may send this many times its declared rate before its readings are refused as RATE_LIMITED. */
export const RATE_POLICING_FACTOR = 3;

/**
 * The most readings any one device may store in an hour (one every 12 seconds), whatever it declares: the
 * ceiling on what a single device can cost, and what the store's hourly bucket items are sized for.
 */
export const MAX_READINGS_PER_HOUR = 300;

/** Even a device that reports hourly may send a few readings close together (a retry, a status change). */
const MINIMUM_HOURLY_ALLOWANCE = 12;

/**
 * Readings a device may send in one hour: its declared rate times {@link RATE_POLICING_FACTOR}, at most
 * {@link MAX_READINGS_PER_HOUR}. Past that, the
 * store refuses its readings as RATE_LIMITED, so one faulty device cannot run up the bill or drown the others.
 */
export function hourlyAllowance(
  device: Pick<Device, 'deviceType' | 'expectedIntervalSeconds'>,
  factor = RATE_POLICING_FACTOR,
): number {
  const interval = device.expectedIntervalSeconds ?? DEFAULT_REPORTING_SECONDS[device.deviceType];
  return Math.min(
    MAX_READINGS_PER_HOUR,
    Math.max(MINIMUM_HOURLY_ALLOWANCE, Math.ceil((3600 / interval) * factor)),
  );
}
