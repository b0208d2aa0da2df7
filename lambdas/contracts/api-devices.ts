import { z } from 'zod';
import { type BoundingBox, DEVICE_STATUSES, MAX_DEVICE_SETTINGS } from '../domain/device.js';
import {
  cursorParam,
  deviceIdParam,
  devicePathSchema,
  deviceSchema,
  pageSchema,
  pageSizeParam,
} from './api.js';
import { ADMINS, ANY_STAFF, type RouteSpec } from './api-route-spec.js';
import { deviceTypeSchema } from './device-types.js';
import { INGEST_SETTINGS } from './ingest-settings.js';

const pageSize = pageSizeParam('Devices');
const cursor = cursorParam('the same query (same filters)');

/** A plain decimal, as people write coordinates (no exponents, hex or blanks that `Number` would accept). */
const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * Reads `minLon,minLat,maxLon,maxLat` (WGS 84 degrees): four decimals, longitudes within ±180, latitudes within
 * ±90, each minimum below its maximum. Returns what is wrong as a sentence when it is not one.
 */
export function parseBoundingBox(text: string): BoundingBox | string {
  const parts = text.split(',');
  if (parts.length !== 4 || parts.some((part) => !DECIMAL.test(part.trim()))) {
    return 'four numbers are needed, minLon,minLat,maxLon,maxLat (e.g. -1.05,51.42,-0.92,51.49)';
  }
  const [minLon, minLat, maxLon, maxLat] = parts.map(Number) as [number, number, number, number];
  if ([minLon, maxLon].some((lon) => lon < -180 || lon > 180)) return 'longitudes must be within -180..180';
  if ([minLat, maxLat].some((lat) => lat < -90 || lat > 90)) return 'latitudes must be within -90..90';
  if (minLon >= maxLon) return `minLon (${minLon}) must be less than maxLon (${maxLon})`;
  if (minLat >= maxLat) return `minLat (${minLat}) must be less than maxLat (${maxLat})`;
  return { minLon, minLat, maxLon, maxLat };
}

/** `bbox` as a query parameter: the text is kept (the JSON Schema stays a string); the handler parses it. */
const boundingBoxParam = z
  .string()
  .max(200)
  .superRefine((text, context) => {
    const parsed = parseBoundingBox(text);
    if (typeof parsed === 'string') context.addIssue({ code: 'custom', message: parsed });
  })
  .describe('minLon,minLat,maxLon,maxLat in WGS 84 degrees (edges included)');

const wardName = z.string().trim().min(1).max(100);
const siteName = z.string().trim().min(1).max(200);
const location = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});
/** From a device that reports every second (the store still caps it) to one that reports weekly. */
const reportingInterval = z
  .number()
  .int()
  .min(1)
  .max(7 * 86_400);
const settingName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9]{0,62}$/, 'a setting name such as fullThreshold or warningLevel');
const atMostSettings = (settings: Record<string, unknown>) =>
  Object.keys(settings).length <= MAX_DEVICE_SETTINGS;
const settingsMessage = `at most ${MAX_DEVICE_SETTINGS} settings`;

/** GET /devices: the filters combine (all that are given must hold). */
export const deviceListQuerySchema = z.strictObject({
  type: deviceTypeSchema.optional(),
  ward: wardName.optional(),
  status: z.enum(DEVICE_STATUSES).optional(),
  bbox: boundingBoxParam.optional(),
  limit: pageSize,
  cursor,
});

/** POST /devices: a new registry entry. */
export const deviceRegistrationSchema = z.strictObject({
  deviceId: deviceIdParam,
  deviceType: deviceTypeSchema,
  location,
  ward: wardName.optional(),
  site: siteName.optional(),
  expectedIntervalSeconds: reportingInterval.optional(),
  settings: z.record(settingName, z.number().finite()).refine(atMostSettings, settingsMessage).optional(),
});

/** A field PATCH refuses by name, with what to do instead, rather than as an unknown key. */
const unchangeable = (message: string) => z.never({ error: message }).optional();

/**
 * PATCH /devices/{id}: what may change. `null` removes ward, site or the reporting interval; settings are merged
 * by name and a `null` value removes that setting.
 */
export const deviceChangeSchema = z
  .strictObject({
    location: location.optional(),
    ward: wardName.nullable().optional(),
    site: siteName.nullable().optional(),
    expectedIntervalSeconds: reportingInterval.nullable().optional(),
    settings: z
      .record(settingName, z.number().finite().nullable())
      .refine(atMostSettings, settingsMessage)
      .optional(),
    revision: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('the revision the change is based on; 409 if the device has changed since'),
    deviceId: unchangeable('deviceId cannot change: register the new device and decommission this one'),
    deviceType: unchangeable('deviceType cannot change: register the new device and decommission this one'),
    registeredAt: unchangeable('registeredAt is set by the registry and cannot change'),
    status: unchangeable('status cannot be set: DELETE /devices/{id} decommissions a device'),
  })
  .refine(
    (change) =>
      ['location', 'ward', 'site', 'expectedIntervalSeconds', 'settings'].some(
        (field) => change[field as keyof typeof change] !== undefined,
      ),
    'nothing to change: give at least one of location, ward, site, expectedIntervalSeconds, settings',
  );

/**
 * One page of devices (each as `deviceSchema`, the registry entry every device route answers with); `nextCursor`
 * is absent on the last page, and a page may be short, even empty, and still have one.
 */
export const devicePageSchema = pageSchema(deviceSchema);

const registryCacheMinutes = INGEST_SETTINGS.registryCacheSeconds / 60;

/** The device registry: list, register, update, decommission. */
export const DEVICE_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/devices',
    summary:
      'Registered devices, filtered by type, ward, status and bounding box (combined), a page at a time; ' +
      'ordered by id when a type is given',
    tag: 'devices',
    access: ANY_STAFF,
    query: deviceListQuerySchema,
    response: devicePageSchema,
  },
  {
    method: 'POST',
    path: '/devices',
    summary:
      'Register a device (201; 409 if its id is registered). The registry entry only: on AWS its IoT thing ' +
      'and certificate come from device provisioning (issue 7)',
    tag: 'devices',
    access: ADMINS,
    body: deviceRegistrationSchema,
    response: deviceSchema,
    successStatus: 201,
  },
  {
    method: 'PATCH',
    path: '/devices/{id}',
    summary:
      "Change a device's location, ward, site, reporting interval or settings (409 if decommissioned, or " +
      'changed since the given revision)',
    tag: 'devices',
    access: ADMINS,
    pathParams: devicePathSchema,
    body: deviceChangeSchema,
    response: deviceSchema,
  },
  {
    method: 'DELETE',
    path: '/devices/{id}',
    summary:
      'Decommission a device for good: every certificate of it is revoked first (on AWS, IoT Core disconnects it ' +
      'within minutes), then its entry is marked decommissioned; its entry and data are kept, and its messages ' +
      'still in flight are quarantined as DEVICE_DECOMMISSIONED within the registry cache period ' +
      `(${registryCacheMinutes} minutes). A device never given a certificate has none to revoke. If revoking ` +
      'fails the answer is 500 and the entry stays active. Repeating it revokes again and answers the same record',
    tag: 'devices',
    access: ADMINS,
    pathParams: devicePathSchema,
    response: deviceSchema,
  },
];
