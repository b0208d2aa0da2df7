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
  /** When the entry last changed through the registry (update, decommissioning). */
  readonly updatedAt?: string;
  /**
   * When the device was taken out of service. Its entry and data are kept: the council owns the history, and a
   * decommissioned device's later messages are quarantined as DEVICE_DECOMMISSIONED instead of counted as unknown.
   */
  readonly decommissionedAt?: string;
  /**
   * Counts changes made through the registry: 1 when registered, one more per change. Entries written another way
   * (the local demo's seeding, older versions) have none, which reads as 0. Changes are conditional on it, so
   * two officers editing the same device cannot silently overwrite each other.
   */
  readonly revision?: number;
}

/**
 * Most settings one device may carry: enough for any blueprint's thresholds, and a bound on the entry's size
 * (every ingest batch reads it).
 */
export const MAX_DEVICE_SETTINGS = 32;

/** A device's revision, 0 for an entry that never carried one. */
export function revisionOf(device: Pick<Device, 'revision'>): number {
  return device.revision ?? 0;
}

/** Port: look devices up by id. Implementations batch the lookups; callers pass a whole batch's ids at once. */
export interface DeviceDirectory {
  findMany(deviceIds: readonly string[]): Promise<ReadonlyMap<string, Device>>;
}

/** An area on the map in WGS 84 degrees; edges are inside. */
export interface BoundingBox {
  readonly minLon: number;
  readonly minLat: number;
  readonly maxLon: number;
  readonly maxLat: number;
}

/** What a registry listing keeps; every field given must hold (they combine with AND). */
export interface DeviceFilter {
  readonly deviceType?: DeviceType;
  readonly ward?: string;
  readonly status?: DeviceStatus;
  readonly bbox?: BoundingBox;
}

export interface DeviceListQuery {
  readonly filter: DeviceFilter;
  /** At most this many devices. */
  readonly limit: number;
  /** Where the previous page stopped: the store's own position, as it returned it in `next`. */
  readonly after?: string;
}

export interface DeviceListPage {
  readonly items: readonly Device[];
  /**
   * Where to continue, when there may be more. A page may hold fewer than `limit` devices (even none) and still
   * have a `next`: a sparse filter stops after a bounded amount of reading instead of reading the whole registry.
   */
  readonly next?: string;
}

/**
 * Port: the device registry as its owners (council administrators) see it. The directory lookups ingestion uses
 * plus listing and the changes the registry routes make; every change is conditional, so a write never clobbers
 * an entry it did not read.
 */
export interface DeviceRegistry extends DeviceDirectory {
  /** One device, read consistently (a change is based on what is stored now, not a replica's copy). */
  get(deviceId: string): Promise<Device | undefined>;
  /** Devices matching a filter, a page at a time. */
  list(query: DeviceListQuery): Promise<DeviceListPage>;
  /** Adds a device unless its id is already registered (whatever its status); false when it is. */
  add(device: Device): Promise<boolean>;
  /**
   * Replaces a device's entry if its stored revision is still `expectedRevision` (0: an entry without one);
   * false when it has changed since, or is not there. Never creates an entry.
   */
  replace(device: Device, expectedRevision: number): Promise<boolean>;
}

/** True when a directory is also a full registry (the DynamoDB and in-memory ones are). */
export function isDeviceRegistry(directory: DeviceDirectory): directory is DeviceRegistry {
  const candidate = directory as Partial<DeviceRegistry>;
  return (
    typeof candidate.get === 'function' &&
    typeof candidate.list === 'function' &&
    typeof candidate.add === 'function' &&
    typeof candidate.replace === 'function'
  );
}
