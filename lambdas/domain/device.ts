import type { DeviceType } from '../contracts/device-types.js';

export const DEVICE_STATUSES = ['active', 'decommissioned'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** A registered street device, as the registry knows it. */
export interface Device {
  readonly deviceId: string;
  readonly deviceType: DeviceType;
  readonly status: DeviceStatus;
  readonly location: { readonly lat: number; readonly lon: number };
  readonly ward?: string;
  readonly site?: string;
  /** How often the device is expected to report; drives offline detection and rate policing. */
  readonly expectedIntervalSeconds?: number;
  /**
   * Per-device settings the service rules read, by name (a bin's `fullThreshold`, a gauge's `warningLevel` and
   * `severeLevel` in metres, a counter's `freeFlowSpeedKmh`). Each blueprint's README lists the names it reads.
   */
  readonly settings?: Readonly<Record<string, number>>;
  readonly registeredAt: string;
}

/** Port: look devices up by id. Implementations batch the lookups; callers pass a whole batch's ids at once. */
export interface DeviceDirectory {
  findMany(deviceIds: readonly string[]): Promise<ReadonlyMap<string, Device>>;
}
