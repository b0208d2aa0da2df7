import { type ExportFormat, STANDARDS_LIMITS } from '../contracts/api-standards.js';
import type { DeviceType } from '../contracts/device-types.js';
import { modelOf } from '../contracts/smart-data-models.js';
import { DEVICE_ID_PATTERN } from '../contracts/topics.js';
import { InvalidRequestError, resolveRange, type TimeRange } from './city-queries.js';
import type { Device, DeviceRegistry } from './device.js';
import {
  type EntityAttribute,
  type GeoJsonPoint,
  observationAttributes,
  openFrame,
  pointOf,
  sealFrame,
} from './ngsi-ld.js';
import type { TelemetryPoint, TelemetryStore } from './telemetry.js';

/**
 * Open-data exports: every reading of every device of one type over a bounded range, as CSV or GeoJSON, one page
 * per request. Rows use the Smart Data Models attribute names and units of the NGSI-LD view, and the same public
 * fields (never the battery, message ids or receive times).
 */

/** One reading as exported: who, when, where, and the model's attributes. */
export interface ExportRow {
  readonly deviceId: string;
  readonly dateObserved: string;
  readonly location: GeoJsonPoint;
  readonly areaServed?: string;
  readonly name?: string;
  readonly attributes: readonly EntityAttribute[];
}

/**
 * A stored reading with its device. Ward and site come from the reading (as they were when it was observed,
 * stamped at ingest), falling back to the registry; the location is the registry's, because stored points do
 * not repeat it (a device moved since is shown where it is now).
 */
export function exportRow(device: Device, point: TelemetryPoint): ExportRow {
  const model = modelOf(device.deviceType);
  const areaServed = point.ward ?? device.ward;
  const name = point.site ?? device.site;
  return {
    deviceId: device.deviceId,
    dateObserved: point.observedAt,
    location: pointOf(point.location ?? device.location),
    ...(areaServed ? { areaServed } : {}),
    ...(name ? { name } : {}),
    attributes: observationAttributes(model, point.readings, point.observedAt),
  };
}

/** The UN/CEFACT unit code of each numeric attribute of a type's exports. */
export function unitCodesOf(deviceType: DeviceType): Record<string, string> {
  const units: Record<string, string> = {};
  for (const mapping of modelOf(deviceType).attributes) {
    if (mapping.unitCode) units[mapping.attribute] = mapping.unitCode;
  }
  return units;
}

const FIXED_COLUMNS = ['deviceId', 'dateObserved', 'longitude', 'latitude', 'areaServed', 'name'] as const;

/**
 * A type's CSV columns: the fixed ones, then the model's attributes; a numeric attribute is headed with its unit,
 * `no2 (GQ)`, because a CSV has nowhere else to say it.
 */
export function csvColumns(deviceType: DeviceType): string[] {
  return [
    ...FIXED_COLUMNS,
    ...modelOf(deviceType).attributes.map((m) =>
      m.unitCode ? `${m.attribute} (${m.unitCode})` : m.attribute,
    ),
  ];
}

/**
 * One CSV field per RFC 4180: quoted when it holds a comma, a double quote, CR or LF, with double quotes doubled.
 * Numbers are written as JavaScript writes them (`0.25`, `-1.5`); an absent value is an empty field.
 */
export function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV record ending in CRLF, so that pages concatenate into one file. */
function csvRecord(fields: readonly (string | number | undefined)[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

export function csvHeader(deviceType: DeviceType): string {
  return csvRecord(csvColumns(deviceType));
}

function attributeValue(attribute: EntityAttribute): string | number | undefined {
  if (attribute.kind === 'Property')
    return Array.isArray(attribute.value) ? attribute.value.join(';') : (attribute.value as string | number);
  if (attribute.kind === 'DateTime') return attribute.value;
  return undefined;
}

export function csvRow(deviceType: DeviceType, row: ExportRow): string {
  const byName = new Map(row.attributes.map((a) => [a.name, attributeValue(a)]));
  const [lon, lat] = row.location.coordinates;
  return csvRecord([
    row.deviceId,
    row.dateObserved,
    lon,
    lat,
    row.areaServed,
    row.name,
    ...modelOf(deviceType).attributes.map((m) => byName.get(m.attribute)),
  ]);
}

/** One reading as a GeoJSON Feature: a Point in [longitude, latitude] and the model's attributes as properties. */
export function geoJsonFeature(deviceType: DeviceType, row: ExportRow) {
  const properties: Record<string, string | number> = {
    deviceId: row.deviceId,
    type: modelOf(deviceType).entityType,
    dateObserved: row.dateObserved,
  };
  if (row.areaServed) properties.areaServed = row.areaServed;
  if (row.name) properties.name = row.name;
  for (const attribute of row.attributes) {
    const value = attributeValue(attribute);
    if (value !== undefined) properties[attribute.name] = value;
  }
  return { type: 'Feature' as const, geometry: row.location, properties };
}

/** How one format writes a page: its rows, and the body around them. */
interface PageWriter {
  row(row: ExportRow): string;
  body(rows: readonly string[], first: boolean, nextCursor: string | undefined): string;
}

function pageWriter(deviceType: DeviceType, format: ExportFormat): PageWriter {
  if (format === 'csv') {
    return {
      row: (row) => csvRow(deviceType, row),
      body: (rows, first) => (first ? csvHeader(deviceType) : '') + rows.join(''),
    };
  }
  const units = JSON.stringify(unitCodesOf(deviceType));
  return {
    row: (row) => JSON.stringify(geoJsonFeature(deviceType, row)),
    // Written by hand around the features already serialised one by one, so the page's size is what was counted.
    body: (rows, _first, next) =>
      `{"type":"FeatureCollection","unitCode":${units},"features":[${rows.join(',')}]` +
      `${next ? `,"next":${JSON.stringify(next)}` : ''}}`,
  };
}

/**
 * Bytes a text takes inside the Lambda proxy response, where the body travels as a JSON string: UTF-8, with
 * quotes, backslashes and line breaks escaped.
 */
export function responseBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), 'utf8') - 2;
}

/** Room kept in a page for what surrounds the rows: the CSV header, the FeatureCollection and its `next`. */
const PAGE_OVERHEAD_BYTES = 16 * 1024;

/**
 * Where an export continues: the registry position the current page of devices was listed from, the device to
 * go on with (`''`: that page's first), the store cursor its next batch of readings is read from, and how many
 * readings of that batch were already served (a page that fills up mid-batch).
 */
interface ExportPosition {
  readonly after?: string;
  readonly device: string;
  readonly series?: string;
  readonly skip: number;
}

interface ExportFrame extends ExportPosition, TimeRange {
  readonly type: DeviceType;
}

function openExportCursor(cursor: string, deviceType: DeviceType): ExportFrame {
  const frame = openFrame(cursor);
  const invalid = () => new InvalidRequestError('cursor is not one this API issued', 'cursor');
  if (frame.type !== deviceType) {
    throw new InvalidRequestError(
      'cursor belongs to an export of another type; start again without it',
      'cursor',
    );
  }
  const { from, to, after, device, series, skip } = frame;
  if (typeof from !== 'string' || typeof to !== 'string') throw invalid();
  const span = Date.parse(to) - Date.parse(from);
  // The range rides in the cursor, so it is checked again: a hand-made cursor must not lift the range limit.
  if (!(span >= 0 && span <= STANDARDS_LIMITS.maxExportRangeDays * 86_400_000)) throw invalid();
  if (typeof device !== 'string' || (device !== '' && !DEVICE_ID_PATTERN.test(device))) throw invalid();
  if (after !== undefined && typeof after !== 'string') throw invalid();
  if (series !== undefined && typeof series !== 'string') throw invalid();
  if (
    typeof skip !== 'number' ||
    !Number.isInteger(skip) ||
    skip < 0 ||
    skip >= STANDARDS_LIMITS.exportReadingsPerStoreRead
  ) {
    throw invalid();
  }
  return {
    type: deviceType,
    from,
    to,
    device,
    skip,
    ...(after ? { after } : {}),
    ...(series ? { series } : {}),
  };
}

/** Port: what exports read. The registry's listing and each device's stored readings. */
export interface ExportPorts {
  readonly registry: Pick<DeviceRegistry, 'list'>;
  readonly telemetry: Pick<TelemetryStore, 'query'>;
}

export interface ExportRequest {
  readonly deviceType: DeviceType;
  readonly format: ExportFormat;
  readonly from?: string;
  readonly to?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export interface ExportPage extends TimeRange {
  /** The page as served: CSV rows (the header first on the first page only) or one FeatureCollection. */
  readonly body: string;
  readonly rows: number;
  /** Absent on the last page. */
  readonly nextCursor?: string;
}

const byDeviceId = (a: Device, b: Device) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);

/**
 * One page of an export: devices of the type in id order (decommissioned ones too: their history is still the
 * council's data), each device's readings in time order, until the page has `limit` rows, its body would pass
 * the size cap, or it has made `maxExportReadsPerPage` reads; then the next page's cursor says where to go on.
 * The range is the request's (default: the last 24 hours, at most `maxExportRangeDays`) and rides in the cursor.
 */
export async function exportReadings(
  ports: ExportPorts,
  request: ExportRequest,
  now: Date,
): Promise<ExportPage> {
  const { deviceType } = request;
  const resumed = request.cursor ? openExportCursor(request.cursor, deviceType) : undefined;
  const range: TimeRange = resumed
    ? { from: resumed.from, to: resumed.to }
    : resolveRange(request.from, request.to, now, STANDARDS_LIMITS.maxExportRangeDays);
  const writer = pageWriter(deviceType, request.format);
  const budget = STANDARDS_LIMITS.maxExportPageBytes - PAGE_OVERHEAD_BYTES;
  const rows: string[] = [];
  let bytes = 0;
  let reads = 0;
  const spent = () => rows.length >= request.limit || reads >= STANDARDS_LIMITS.maxExportReadsPerPage;

  const page = (next: ExportPosition | undefined): ExportPage => {
    const nextCursor = next ? sealFrame({ type: deviceType, ...range, ...next }) : undefined;
    return {
      ...range,
      body: writer.body(rows, !request.cursor, nextCursor),
      rows: rows.length,
      ...(nextCursor ? { nextCursor } : {}),
    };
  };

  let at: ExportPosition = resumed
    ? {
        device: resumed.device,
        skip: resumed.skip,
        ...(resumed.after ? { after: resumed.after } : {}),
        ...(resumed.series ? { series: resumed.series } : {}),
      }
    : { device: '', skip: 0 };

  for (;;) {
    if (spent()) return page(at);
    const after = at.after;
    const listing = await ports.registry.list({
      filter: { deviceType },
      limit: STANDARDS_LIMITS.exportDevicesPerRegistryRead,
      ...(after ? { after } : {}),
    });
    reads += 1;
    // Sorted here too, so resuming "from this device on" holds whatever order the registry lists in.
    const devices = listing.items
      .filter((d) => d.deviceType === deviceType && d.deviceId >= at.device)
      .sort(byDeviceId);
    for (const device of devices) {
      const resuming = device.deviceId === at.device;
      let series = resuming ? at.series : undefined;
      let skip = resuming ? at.skip : 0;
      for (;;) {
        at = { device: device.deviceId, skip, ...(after ? { after } : {}), ...(series ? { series } : {}) };
        if (spent()) return page(at);
        const batch = await ports.telemetry.query({
          deviceId: device.deviceId,
          ...range,
          // The rows still wanted, plus those of this batch already served by the previous page.
          limit: Math.min(STANDARDS_LIMITS.exportReadingsPerStoreRead, request.limit - rows.length + skip),
          ...(series ? { cursor: series } : {}),
        });
        reads += 1;
        for (let i = skip; i < batch.items.length; i += 1) {
          const text = writer.row(exportRow(device, batch.items[i] as TelemetryPoint));
          const size = responseBytes(text) + 1;
          if (rows.length > 0 && bytes + size > budget) return page({ ...at, skip: i });
          rows.push(text);
          bytes += size;
        }
        if (!batch.nextCursor) break;
        series = batch.nextCursor;
        skip = 0;
      }
    }
    if (!listing.next) return page(undefined);
    at = { after: listing.next, device: '', skip: 0 };
  }
}
