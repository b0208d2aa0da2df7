import type { DeviceType } from '../contracts/device-types.js';
import { InvalidRequestError, NotFoundError } from './city-queries.js';
import {
  type BoundingBox,
  type Device,
  type DeviceDirectory,
  type DeviceFilter,
  type DeviceRegistry,
  type DeviceStatus,
  isDeviceRegistry,
  MAX_DEVICE_SETTINGS,
  revisionOf,
} from './device.js';
import { ConflictError } from './service-queries.js';
import type { Page } from './telemetry.js';

/** Attempts at a conditional write before telling the caller someone else is changing the same device. */
const MAX_ATTEMPTS = 3;

/** The registry behind the API's directory; a platform whose directory cannot list or change devices is misbuilt. */
export function asDeviceRegistry(directory: DeviceDirectory): DeviceRegistry {
  if (!isDeviceRegistry(directory)) {
    throw new Error('the device directory on this platform cannot list or change devices');
  }
  return directory;
}

/** True when a device is inside a bounding box (edges included). */
export function isInside(location: Device['location'], bbox: BoundingBox): boolean {
  return (
    location.lon >= bbox.minLon &&
    location.lon <= bbox.maxLon &&
    location.lat >= bbox.minLat &&
    location.lat <= bbox.maxLat
  );
}

/**
 * A bounding box as config, the stack output and messages write it: `west,south,east,north` (that is
 * `minLon,minLat,maxLon,maxLat`, the order of the `bbox` query parameter) in decimal degrees.
 */
export function boundingBoxText(bbox: BoundingBox): string {
  return `${bbox.minLon},${bbox.minLat},${bbox.maxLon},${bbox.maxLat}`;
}

/**
 * Refuses a device's location outside the council's area (config `councilArea`), edges included, so a slip in a
 * coordinate (a dropped minus, lat and lon swapped) is a clear 400 instead of a bin in the sea that no crew can
 * find. Pure; nothing is read or written. No area (`undefined`): any location is accepted.
 * @throws InvalidRequestError naming the device, the field (`location`) and the area
 */
export function requireInsideCouncilArea(
  deviceId: string,
  location: Device['location'],
  councilArea: BoundingBox | undefined,
): void {
  if (councilArea === undefined || isInside(location, councilArea)) return;
  throw new InvalidRequestError(
    `device '${deviceId}': location ${location.lat},${location.lon} (lat,lon) is outside the council area ` +
      `${boundingBoxText(councilArea)} (west,south,east,north)`,
    'location',
  );
}

/** What a registry listing keeps: every field of the filter that is given must hold. */
export function matchesDeviceFilter(device: Device, filter: DeviceFilter): boolean {
  return (
    (filter.deviceType === undefined || device.deviceType === filter.deviceType) &&
    (filter.ward === undefined || device.ward === filter.ward) &&
    (filter.status === undefined || device.status === filter.status) &&
    (filter.bbox === undefined || isInside(device.location, filter.bbox))
  );
}

/** A device as the registry routes answer with it: the revision always present, so a client can send it back. */
function withRevision(device: Device): Device {
  return { ...device, revision: revisionOf(device) };
}

/**
 * A page cursor carries the filter it belongs to around the store's own position, so a cursor from one listing
 * cannot be replayed against another (it would resume at a position that means nothing there).
 */
interface RegistryCursor {
  readonly filter: string;
  readonly position: string;
}

/** One string per distinct filter; equal filters (however their numbers were written) give the same string. */
function filterKey(filter: DeviceFilter): string {
  const { bbox } = filter;
  return JSON.stringify([
    'devices',
    filter.deviceType ?? null,
    filter.ward ?? null,
    filter.status ?? null,
    bbox ? [bbox.minLon, bbox.minLat, bbox.maxLon, bbox.maxLat] : null,
  ]);
}

function sealCursor(filter: string, position: string): string {
  const cursor: RegistryCursor = { filter, position };
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function openCursor(cursor: string, filter: string): string {
  let frame: Partial<RegistryCursor> | null;
  try {
    frame = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    frame = null;
  }
  if (typeof frame?.filter !== 'string' || typeof frame.position !== 'string') {
    throw new InvalidRequestError('cursor is not one this API issued', 'cursor');
  }
  if (frame.filter !== filter) {
    throw new InvalidRequestError(
      'cursor belongs to a query with other filters; start again without it',
      'cursor',
    );
  }
  return frame.position;
}

export interface DeviceListRequest extends DeviceFilter {
  readonly limit: number;
  readonly cursor?: string;
}

/**
 * Registered devices matching the filters (type, ward, status, bounding box, combined), a page at a time. A page
 * may be short, or even empty, with a `nextCursor`: the store stops a sparse filter after a bounded amount of
 * reading, and the caller reads on.
 */
export async function listDevices(
  registry: DeviceRegistry,
  request: DeviceListRequest,
): Promise<Page<Device>> {
  const filter: DeviceFilter = {
    ...(request.deviceType ? { deviceType: request.deviceType } : {}),
    ...(request.ward !== undefined ? { ward: request.ward } : {}),
    ...(request.status ? { status: request.status } : {}),
    ...(request.bbox ? { bbox: request.bbox } : {}),
  };
  const key = filterKey(filter);
  const after = request.cursor === undefined ? undefined : openCursor(request.cursor, key);
  const page = await registry.list({ filter, limit: request.limit, ...(after ? { after } : {}) });
  return {
    items: page.items.map(withRevision),
    ...(page.next ? { nextCursor: sealCursor(key, page.next) } : {}),
  };
}

/** What an administrator gives to register a device. */
export interface DeviceRegistration {
  readonly deviceId: string;
  readonly deviceType: DeviceType;
  readonly location: { readonly lat: number; readonly lon: number };
  readonly ward?: string;
  readonly site?: string;
  readonly expectedIntervalSeconds?: number;
  readonly settings?: Readonly<Record<string, number>>;
}

/** The council's rules {@link registerDevice} and {@link updateDevice} apply beyond a device's own fields. */
export interface DeviceRegistryOptions {
  /**
   * The council's area (config `councilArea`): a device is registered or moved only inside it, edges included.
   * @default - none: any location is accepted
   */
  readonly councilArea?: BoundingBox;
}

/**
 * Adds a device to the registry, in service from now. Only the registry entry: on AWS the device's IoT thing and
 * certificate are device provisioning's (issue 7). An id already registered is a conflict, whatever its status:
 * a decommissioned device keeps its id, so its history is never mixed with a newcomer's. A location outside the
 * council's area is refused before anything is written.
 */
export async function registerDevice(
  registry: DeviceRegistry,
  registration: DeviceRegistration,
  now: Date,
  options: DeviceRegistryOptions = {},
): Promise<Device> {
  requireInsideCouncilArea(registration.deviceId, registration.location, options.councilArea);
  const device: Device = {
    deviceId: registration.deviceId,
    deviceType: registration.deviceType,
    status: 'active',
    location: { lat: registration.location.lat, lon: registration.location.lon },
    ...(registration.ward !== undefined ? { ward: registration.ward } : {}),
    ...(registration.site !== undefined ? { site: registration.site } : {}),
    ...(registration.expectedIntervalSeconds !== undefined
      ? { expectedIntervalSeconds: registration.expectedIntervalSeconds }
      : {}),
    ...(registration.settings !== undefined ? { settings: { ...registration.settings } } : {}),
    registeredAt: now.toISOString(),
    revision: 1,
  };
  if (await registry.add(device)) return device;
  throw new ConflictError(
    `device '${device.deviceId}' is already registered (a decommissioned device keeps its id); ` +
      `change it with PATCH /devices/${device.deviceId}`,
  );
}

/**
 * What an administrator may change about a device: where it is and how the services treat it. Not its id, type or
 * registration time (those are its identity; a device that changes them is a new device). `null` removes an
 * optional field; `settings` are merged by name, a `null` value removing that setting.
 */
export interface DeviceChange {
  readonly location?: { readonly lat: number; readonly lon: number };
  readonly ward?: string | null;
  readonly site?: string | null;
  readonly expectedIntervalSeconds?: number | null;
  readonly settings?: Readonly<Record<string, number | null>>;
  /** The revision the change is based on; when given, a device changed since then is a conflict. */
  readonly revision?: number;
}

function applyChange(device: Device, change: DeviceChange, now: Date): Device {
  const next: Record<string, unknown> = { ...device };
  if (change.location) next.location = { lat: change.location.lat, lon: change.location.lon };
  for (const field of ['ward', 'site', 'expectedIntervalSeconds'] as const) {
    const value = change[field];
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  }
  if (change.settings) {
    const settings: Record<string, number> = { ...device.settings };
    for (const [name, value] of Object.entries(change.settings)) {
      if (value === null) delete settings[name];
      else settings[name] = value;
    }
    if (Object.keys(settings).length > MAX_DEVICE_SETTINGS) {
      throw new InvalidRequestError(
        `a device may carry at most ${MAX_DEVICE_SETTINGS} settings; this change would leave ${Object.keys(settings).length}`,
        'settings',
      );
    }
    if (Object.keys(settings).length > 0) next.settings = settings;
    else delete next.settings;
  }
  next.updatedAt = now.toISOString();
  next.revision = revisionOf(device) + 1;
  return next as unknown as Device;
}

async function requireEntry(registry: DeviceRegistry, deviceId: string): Promise<Device> {
  const device = await registry.get(deviceId);
  if (!device) throw new NotFoundError(`device '${deviceId}' is not registered`);
  return device;
}

/**
 * Changes a device's location, ward, site, reporting interval or settings. A decommissioned device's entry is
 * history and is not changed. The write is conditional on the revision read, so a concurrent change is never
 * overwritten: without a `revision` from the caller the change is re-applied to the newer entry (a few times),
 * with one it is refused as soon as the entry is not at that revision. A move outside the council's area is
 * refused before the entry is read.
 */
export async function updateDevice(
  registry: DeviceRegistry,
  deviceId: string,
  change: DeviceChange,
  now: Date,
  options: DeviceRegistryOptions = {},
): Promise<Device> {
  if (change.location) requireInsideCouncilArea(deviceId, change.location, options.councilArea);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const device = await requireEntry(registry, deviceId);
    if (device.status === 'decommissioned') {
      throw new ConflictError(
        `device '${deviceId}' was decommissioned${device.decommissionedAt ? ` at ${device.decommissionedAt}` : ''}; its entry is kept as history and cannot be changed`,
      );
    }
    if (change.revision !== undefined && change.revision !== revisionOf(device)) {
      throw new ConflictError(
        `device '${deviceId}' is at revision ${revisionOf(device)}, not ${change.revision}: it has changed since it was read; read it again`,
      );
    }
    const changed = applyChange(device, change, now);
    if (await registry.replace(changed, revisionOf(device))) return changed;
  }
  throw new ConflictError(`device '${deviceId}' is being changed by someone else; read it again and retry`);
}

/**
 * Takes a device's registry entry out of service: status `decommissioned` with the time, the entry and all its data
 * kept. Ingestion quarantines its later messages as DEVICE_DECOMMISSIONED once its registry cache has expired.
 * Decommissioning again answers with the entry as it is (the first decommissioning's time is kept).
 *
 * The registry entry only: the caller revokes the device's certificates first, so the device never keeps a working
 * certificate behind a decommissioned entry ({@link revokeAndDecommission} does both; the CLI revokes through its
 * device identities).
 */
export async function decommissionDevice(
  registry: DeviceRegistry,
  deviceId: string,
  now: Date,
): Promise<Device> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const device = await requireEntry(registry, deviceId);
    if (device.status === 'decommissioned') return withRevision(device);
    const retired: Device = {
      ...device,
      status: 'decommissioned' satisfies DeviceStatus,
      decommissionedAt: now.toISOString(),
      updatedAt: now.toISOString(),
      revision: revisionOf(device) + 1,
    };
    if (await registry.replace(retired, revisionOf(device))) return retired;
  }
  throw new ConflictError(`device '${deviceId}' is being changed by someone else; try again`);
}

/**
 * Port: a device's certificates as decommissioning needs them (AWS IoT; the local runtime's identity register).
 * The device identities of onboarding (`DeviceIdentities` in device-onboarding.ts) have the same method.
 */
export interface CertificateRevocation {
  /**
   * Revokes every certificate of the device, so it can never connect again: REVOKED is final (unlike INACTIVE, no
   * one can reactivate it), as decommissioning is final for the device id. Idempotent. A device with no identity
   * (registered through `POST /devices` and never given a thing or certificate) has nothing to revoke: not an error.
   */
  revoke(deviceId: string): Promise<void>;
}

/**
 * Decommissions a device for good, as the admin API's `DELETE /devices/{id}` does: every certificate revoked first,
 * then the registry entry marked decommissioned ({@link decommissionDevice}). In that order, a failure halfway
 * leaves at worst an active entry whose certificates are revoked (the device can no longer connect) and the call
 * can be repeated; never a decommissioned entry with a working certificate. An id that is not registered is a 404
 * before anything is revoked. Repeating it revokes again (cheap, and it catches a certificate attached since, or
 * one left active by an older platform version) and answers the entry as it is.
 */
export async function revokeAndDecommission(
  registry: DeviceRegistry,
  certificates: CertificateRevocation,
  deviceId: string,
  now: Date,
): Promise<Device> {
  await requireEntry(registry, deviceId);
  await certificates.revoke(deviceId);
  return decommissionDevice(registry, deviceId, now);
}
