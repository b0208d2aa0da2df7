import { z } from 'zod';
import { API_LIMITS } from './api.js';
import { OPEN_DATA, type RouteSpec } from './api-route-spec.js';
import { DEVICE_TYPES, type DeviceType } from './device-types.js';
import { ENTITY_TYPES } from './smart-data-models.js';

/**
 * Bounds of the standards views; the cost statement reads them as hard caps.
 *
 * An export page is one Lambda proxy response, which API Gateway REST passes on whole and Lambda caps at 6 MB
 * (the JSON it returns, body included). A page stops at `maxExportRows` rows or when its body would pass
 * `maxExportPageBytes`, counted as the body's bytes once JSON-escaped inside that response (quotes and line
 * breaks grow there), whichever comes first; headers and the envelope take the rest, well under a kilobyte.
 */
export const STANDARDS_LIMITS = {
  defaultEntitiesPageSize: 20,
  maxEntitiesPageSize: API_LIMITS.maxPageSize,
  /** Longest range one export request (and every page of it) may cover. */
  maxExportRangeDays: 7,
  defaultExportRows: 1000,
  maxExportRows: 2000,
  maxExportPageBytes: 4 * 1024 * 1024,
  /**
   * Registry listings and store queries one export page may make: a type whose devices mostly have no readings in
   * the range gives short (even empty) pages with a next cursor, instead of one request reading every device.
   */
  maxExportReadsPerPage: 100,
  /** Devices read from the registry at a time while exporting. */
  exportDevicesPerRegistryRead: 100,
  /**
   * Readings asked of the store at a time. A page that fills up part-way through a batch resumes by reading that
   * batch again and skipping what it served, so this also bounds what a resumed page reads twice.
   */
  exportReadingsPerStoreRead: 500,
} as const;

/** How an NGSI-LD entity is written: `keyValues` (plain JSON, the default) or `normalized`. */
export const ENTITY_FORMS = ['keyValues', 'normalized'] as const;
export type EntityForm = (typeof ENTITY_FORMS)[number];

export const EXPORT_FORMATS = ['csv', 'geojson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const isoTime = z.iso.datetime({ offset: true });
const cursor = z.string().max(2048).optional();

export const entitiesQuerySchema = z.strictObject({
  type: z.enum(ENTITY_TYPES, { error: `an entity type, one of ${ENTITY_TYPES.join(', ')}` }),
  options: z.enum(ENTITY_FORMS, { error: `one of ${ENTITY_FORMS.join(', ')}` }).default('keyValues'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(STANDARDS_LIMITS.maxEntitiesPageSize)
    .default(STANDARDS_LIMITS.defaultEntitiesPageSize),
  cursor,
});

const EXPORT_FILE_PATTERN = new RegExp(`^(${DEVICE_TYPES.join('|')})\\.(${EXPORT_FORMATS.join('|')})$`);

export const exportPathSchema = z.strictObject({
  file: z
    .string()
    .regex(
      EXPORT_FILE_PATTERN,
      `<device type>.csv or <device type>.geojson, the device type one of ${DEVICE_TYPES.join(', ')}`,
    ),
});

/** `waste-container.csv` -> the device type and the format (the path schema has already checked the name). */
export function exportFileOf(file: string): { deviceType: DeviceType; format: ExportFormat } {
  const match = EXPORT_FILE_PATTERN.exec(file);
  if (!match) throw new Error(`'${file}' is not an export file name`);
  return { deviceType: match[1] as DeviceType, format: match[2] as ExportFormat };
}

export const exportQuerySchema = z.strictObject({
  from: isoTime.optional(),
  to: isoTime.optional(),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(STANDARDS_LIMITS.maxExportRows)
    .default(STANDARDS_LIMITS.defaultExportRows),
  cursor,
});

const longitude = z.number().min(-180).max(180);
const latitude = z.number().min(-90).max(90);

/** A GeoJSON Point (RFC 7946): coordinates in [longitude, latitude] order. */
export const geoJsonPointSchema = z.strictObject({
  type: z.literal('Point'),
  coordinates: z.tuple([longitude, latitude]),
});

const entityIdSchema = z.string().regex(/^urn:ngsi-ld:[A-Za-z]+:\S+$/, 'urn:ngsi-ld:<Type>:<id>');
const keyValue = z.union([z.string(), z.number(), z.array(z.string()), geoJsonPointSchema]);

/** An entity in keyValues form: attributes as plain values, references as entity ids. */
export const keyValuesEntitySchema = z
  .object({ id: entityIdSchema, type: z.enum(ENTITY_TYPES), location: geoJsonPointSchema })
  .catchall(keyValue);

const propertySchema = z.strictObject({
  type: z.literal('Property'),
  value: z.union([
    z.string(),
    z.number(),
    z.array(z.string()),
    z.strictObject({ '@type': z.literal('DateTime'), '@value': isoTime }),
  ]),
  observedAt: isoTime.optional(),
  unitCode: z
    .string()
    .regex(/^[A-Z0-9]{2,3}$/, 'a UN/CEFACT Rec 20 code')
    .optional(),
});
const geoPropertySchema = z.strictObject({ type: z.literal('GeoProperty'), value: geoJsonPointSchema });
const relationshipSchema = z.strictObject({ type: z.literal('Relationship'), object: entityIdSchema });

/** An entity in normalized form: NGSI-LD Property, GeoProperty and Relationship objects. */
export const normalizedEntitySchema = z
  .object({ id: entityIdSchema, type: z.enum(ENTITY_TYPES), location: geoPropertySchema })
  .catchall(z.union([propertySchema, geoPropertySchema, relationshipSchema]));

export const entitiesResponseSchema = z
  .array(z.union([keyValuesEntitySchema, normalizedEntitySchema]))
  .describe(
    'application/json with the model context in a Link header (rel="http://www.w3.org/ns/json-ld#context"), ' +
      'and the next page, when there is one, as a Link with rel="next"',
  );

/** One reading of one device as a GeoJSON Feature; properties are the model's attribute names. */
export const exportFeatureSchema = z.strictObject({
  type: z.literal('Feature'),
  geometry: geoJsonPointSchema,
  properties: z.record(z.string(), z.union([z.string(), z.number()])),
});

export const exportFeatureCollectionSchema = z.strictObject({
  type: z.literal('FeatureCollection'),
  features: z.array(exportFeatureSchema),
  /** The UN/CEFACT unit code of each numeric property. */
  unitCode: z.record(z.string(), z.string()),
  /** The next page's cursor, also in the Link header; absent on the last page. */
  next: z.string().optional(),
});

/** `.csv`: RFC 4180 rows (CRLF), the header row on the first page only, so pages concatenate into one file. */
export const exportCsvSchema = z
  .string()
  .describe(
    'text/csv; charset=utf-8 (RFC 4180). Columns: deviceId, dateObserved, longitude, latitude, areaServed, ' +
      'name, then the model attributes with numeric ones headed "<attribute> (<UN/CEFACT unit code>)". The ' +
      'header row is on the first page only; the next page is in the Link header (rel="next").',
  );

/** Standards views: NGSI-LD entities and exports. */
export const STANDARDS_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/ngsi-ld/v1/entities',
    summary:
      'Devices of one type as FIWARE Smart Data Models entities (keyValues, or normalized with unitCode), ' +
      'public fields only',
    tag: 'open data',
    access: OPEN_DATA,
    query: entitiesQuerySchema,
    response: entitiesResponseSchema,
  },
  {
    method: 'GET',
    path: '/export/{file}',
    summary: `Readings of every device of a type over at most ${STANDARDS_LIMITS.maxExportRangeDays} days, as CSV or GeoJSON, one page per request`,
    tag: 'open data',
    access: OPEN_DATA,
    pathParams: exportPathSchema,
    query: exportQuerySchema,
    responseContent: { 'text/csv': exportCsvSchema, 'application/geo+json': exportFeatureCollectionSchema },
  },
];
