import type { EntityForm } from '../contracts/api-standards.js';
import type { DeviceType, ReadingValue } from '../contracts/device-types.js';
import {
  deviceTypeOf,
  type EntityType,
  modelOf,
  PARKING_SITE_TYPE,
  PARKING_SPOT_CATEGORY,
  SMART_DATA_MODELS,
  type SmartDataModel,
} from '../contracts/smart-data-models.js';
import { InvalidRequestError } from './city-queries.js';
import type { Device, DeviceRegistry } from './device.js';
import type { LatestStateStore, TelemetryPoint } from './telemetry.js';

/**
 * The NGSI-LD view: each device as a FIWARE Smart Data Models entity, from its registry entry and latest reading.
 * Open data, so only public fields: the device id (in the entity id), where it is, its ward and site, and what
 * it measured when. Never the battery (a maintenance signal, not city data), message ids, receive times,
 * per-device settings (alert thresholds) or registry bookkeeping.
 */

export interface GeoJsonPoint {
  readonly type: 'Point';
  /** [longitude, latitude], as GeoJSON orders them. */
  readonly coordinates: readonly [number, number];
}

/**
 * One attribute of an entity before it is written in either form: the mapping is worked out once and the two
 * forms only differ in how they spell it.
 */
export type EntityAttribute =
  | {
      readonly kind: 'Property';
      readonly name: string;
      readonly value: string | number | readonly string[];
      readonly unitCode?: string;
      readonly observedAt?: string;
    }
  | { readonly kind: 'DateTime'; readonly name: string; readonly value: string }
  | { readonly kind: 'GeoProperty'; readonly name: string; readonly value: GeoJsonPoint }
  | { readonly kind: 'Relationship'; readonly name: string; readonly object: string };

/** An entity as served: `id`, `type` and its attributes in the asked form. */
export type NgsiLdEntity = { readonly id: string; readonly type: EntityType } & Record<string, unknown>;

/** `urn:ngsi-ld:<Type>:<id>`. Device ids are letters, digits, `_` and `-`, all legal in a URN as they are. */
export function entityId(entityType: string, id: string): string {
  return `urn:ngsi-ld:${entityType}:${id}`;
}

/**
 * The car park a parking spot belongs to, as the id of its OffStreetParking entity. Site names are free text
 * ("Queens Road car park"), so they are percent-encoded: spaces are not legal in a URN, and encoding (unlike a
 * slug) keeps two differently written names apart.
 */
export function parkingSiteId(site: string): string {
  return entityId(PARKING_SITE_TYPE, encodeURIComponent(site));
}

export function pointOf(location: { readonly lat: number; readonly lon: number }): GeoJsonPoint {
  return { type: 'Point', coordinates: [location.lon, location.lat] };
}

/**
 * What one reading says, as the model's attributes: each known reading under the model's name with its unit, and
 * a traffic count's period as the start of the observation period. Readings the model has no place for are left
 * out (the readings schemas admit none today; a test holds the two lists together).
 */
export function observationAttributes(
  model: SmartDataModel,
  readings: Readonly<Record<string, ReadingValue>>,
  observedAt: string,
): EntityAttribute[] {
  const attributes: EntityAttribute[] = [];
  for (const mapping of model.attributes) {
    const value = readings[mapping.reading];
    if (value === undefined) continue;
    if (mapping.periodStart) {
      if (typeof value !== 'number') continue;
      const start = new Date(Date.parse(observedAt) - value * 1000).toISOString();
      attributes.push({ kind: 'DateTime', name: mapping.attribute, value: start });
      continue;
    }
    attributes.push({
      kind: 'Property',
      name: mapping.attribute,
      value,
      observedAt,
      ...(mapping.unitCode ? { unitCode: mapping.unitCode } : {}),
    });
  }
  return attributes;
}

/**
 * A device and its latest reading as its model's attributes, or undefined when the model needs an observation
 * (AirQualityObserved, TrafficFlowObserved require `dateObserved`) and the device has not reported yet.
 *
 * - `location`: the registry's (where the device is now), as a GeoJSON Point.
 * - `areaServed`: the ward. `name`: the site (the monitoring site, the bin's street), except for parking spots,
 *   whose site is the car park they belong to: `refParkingSite`, with `category` `offStreet`.
 * - A parking spot that has not reported is `status: unknown` (the model requires a status).
 * - The observation time under the model's own name (see `SmartDataModel.observationTime`).
 */
export function entityAttributes(
  device: Device,
  latest: TelemetryPoint | undefined,
): EntityAttribute[] | undefined {
  const model = modelOf(device.deviceType);
  if (model.needsObservation && !latest) return undefined;
  const attributes: EntityAttribute[] = [
    { kind: 'GeoProperty', name: 'location', value: pointOf(device.location) },
  ];
  if (device.ward) attributes.push({ kind: 'Property', name: 'areaServed', value: device.ward });
  if (device.deviceType === 'parking-spot') {
    attributes.push({ kind: 'Property', name: 'category', value: [PARKING_SPOT_CATEGORY] });
    if (device.site) {
      attributes.push({ kind: 'Relationship', name: 'refParkingSite', object: parkingSiteId(device.site) });
    }
  } else if (device.site) {
    attributes.push({ kind: 'Property', name: 'name', value: device.site });
  }
  if (latest) {
    attributes.push({ kind: 'DateTime', name: model.observationTime, value: latest.observedAt });
    attributes.push(...observationAttributes(model, latest.readings, latest.observedAt));
  }
  if (device.deviceType === 'parking-spot' && !attributes.some((a) => a.name === 'status')) {
    attributes.push({ kind: 'Property', name: 'status', value: 'unknown' });
  }
  return attributes;
}

/** keyValues: each attribute as its plain value (a Relationship as the target's id). */
function keyValue(attribute: EntityAttribute): unknown {
  switch (attribute.kind) {
    case 'Relationship':
      return attribute.object;
    default:
      return attribute.value;
  }
}

/**
 * normalized, as NGSI-LD writes it: Properties with `observedAt` and `unitCode` where known, DateTimes as
 * `{ "@type": "DateTime", "@value": ... }`, the location as a GeoProperty, references as Relationships.
 */
function normalizedValue(attribute: EntityAttribute): unknown {
  switch (attribute.kind) {
    case 'Property':
      return {
        type: 'Property',
        value: attribute.value,
        ...(attribute.observedAt ? { observedAt: attribute.observedAt } : {}),
        ...(attribute.unitCode ? { unitCode: attribute.unitCode } : {}),
      };
    case 'DateTime':
      return { type: 'Property', value: { '@type': 'DateTime', '@value': attribute.value } };
    case 'GeoProperty':
      return { type: 'GeoProperty', value: attribute.value };
    case 'Relationship':
      return { type: 'Relationship', object: attribute.object };
  }
}

/** A device as its Smart Data Models entity in the asked form; undefined as for {@link entityAttributes}. */
export function toEntity(
  device: Device,
  latest: TelemetryPoint | undefined,
  form: EntityForm,
): NgsiLdEntity | undefined {
  const attributes = entityAttributes(device, latest);
  if (!attributes) return undefined;
  const type = SMART_DATA_MODELS[device.deviceType].entityType;
  const entity: Record<string, unknown> = { id: entityId(type, device.deviceId), type };
  for (const attribute of attributes) {
    entity[attribute.name] = form === 'normalized' ? normalizedValue(attribute) : keyValue(attribute);
  }
  return entity as NgsiLdEntity;
}

/**
 * Port: what the standards views read. The registry's listing (devices of one type, a page at a time) and the
 * latest state of a page of devices in one batch.
 */
export interface StandardsPorts {
  readonly registry: Pick<DeviceRegistry, 'list'>;
  readonly latestState: Pick<LatestStateStore, 'getMany'>;
}

/** Frames a store position with the query it belongs to, so a cursor cannot be replayed against another one. */
export function sealFrame(frame: object): string {
  return Buffer.from(JSON.stringify(frame), 'utf8').toString('base64url');
}

/** The frame in a cursor, or a 400 naming the cursor when it is not one this API issued. */
export function openFrame(cursor: string): Record<string, unknown> {
  try {
    const frame: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (frame && typeof frame === 'object' && !Array.isArray(frame)) return frame as Record<string, unknown>;
  } catch {
    // falls through to the one message for every unreadable cursor
  }
  throw new InvalidRequestError('cursor is not one this API issued', 'cursor');
}

export interface EntityListRequest {
  readonly type: EntityType;
  readonly options: EntityForm;
  readonly limit: number;
  readonly cursor?: string;
}

export interface EntityPage {
  readonly entities: readonly NgsiLdEntity[];
  /** The JSON-LD context the entities are read with (the model's subject context, pinned). */
  readonly context: string;
  readonly nextCursor?: string;
}

function openEntityCursor(cursor: string, type: EntityType): string {
  const frame = openFrame(cursor);
  if (frame.type !== type) {
    throw new InvalidRequestError('cursor belongs to another entity type; start again without it', 'cursor');
  }
  if (typeof frame.after !== 'string')
    throw new InvalidRequestError('cursor is not one this API issued', 'cursor');
  return frame.after;
}

/**
 * One page of the entities of a type: devices in service (decommissioned ones are no longer part of the city's
 * current picture; their history stays in the exports), each with its latest reading: one registry listing and
 * one batched latest-state read per page. A page may hold fewer entities than `limit` (an observed
 * model skips devices that have not reported; the registry may stop early on a sparse filter) and still have a
 * next page.
 */
export async function listEntities(ports: StandardsPorts, request: EntityListRequest): Promise<EntityPage> {
  const deviceType: DeviceType = deviceTypeOf(request.type);
  const after = request.cursor ? openEntityCursor(request.cursor, request.type) : undefined;
  const page = await ports.registry.list({
    filter: { deviceType, status: 'active' },
    limit: request.limit,
    ...(after ? { after } : {}),
  });
  const devices = page.items.filter((d) => d.deviceType === deviceType && d.status === 'active');
  const latest =
    devices.length > 0
      ? await ports.latestState.getMany(devices.map((d) => d.deviceId))
      : new Map<string, TelemetryPoint>();
  const entities = devices.flatMap((d) => toEntity(d, latest.get(d.deviceId), request.options) ?? []);
  return {
    entities,
    context: SMART_DATA_MODELS[deviceType].context,
    ...(page.next ? { nextCursor: sealFrame({ type: request.type, after: page.next }) } : {}),
  };
}
