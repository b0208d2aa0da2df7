import { DEVICE_TYPES, type DeviceType, MEASURE_UNITS } from './device-types.js';

/**
 * The FIWARE Smart Data Models the platform serves its devices as (NGSI-LD view, CSV and GeoJSON exports): for
 * each device type, the model, the JSON-LD context it is read with, and where each reading goes. The one place
 * these names live; the NGSI-LD mapping and the exports read it, and a test holds it to the readings schemas and
 * to the field names and units in the shared Smart Data Models reference.
 */

/** Where one platform reading goes in the model. */
export interface AttributeMapping {
  /** The reading's name on the device contract (`fillingLevel`, `waterLevel`). */
  readonly reading: string;
  /** The model's attribute name (`fillingLevel`, `currentLevel`). */
  readonly attribute: string;
  /**
   * UN/CEFACT Rec 20 unit code, always given for numeric measures (the reference asks for it even where the model
   * does not mandate one); absent for text values such as statuses.
   */
  readonly unitCode?: string;
  /**
   * The reading is the length in seconds of the period that ends at the observation (traffic counts): it becomes
   * the period's start time in `attribute` (a DateTime), not a number of its own, because the model has no
   * attribute for a period length.
   */
  readonly periodStart?: true;
}

/** When an entity's latest observation was made, in the attribute each model names for it. */
export type ObservationTimeAttribute = 'dateObserved' | 'observationDateTime' | 'dateModified';

export interface SmartDataModel {
  /** The NGSI-LD entity type: `WasteContainer`. */
  readonly entityType: string;
  /** The Smart Data Models subject repository: `dataModel.WasteManagement`. */
  readonly subject: string;
  /** `$schemaVersion` of the model's schema.json the mapping was made against. */
  readonly schemaVersion: string;
  /**
   * The subject's JSON-LD context, pinned to one commit of its repository so the meaning of every term is fixed
   * (the `master` URL the subject READMEs show would change under the council's consumers).
   */
  readonly context: string;
  /**
   * The attribute carrying the observation time. `dateObserved` where the model requires it (the `...Observed`
   * models), `observationDateTime` for FloodMonitoring (its own name), and `dateModified` (GSMA common) for the
   * asset models WasteContainer and ParkingSpot, which have no observation time: the entity last changed when its
   * latest reading was observed.
   */
  readonly observationTime: ObservationTimeAttribute;
  /**
   * True when the model requires an observation (`dateObserved` is required), so a device that has never reported
   * has no entity yet; asset models describe the device's place even before it reports.
   */
  readonly needsObservation: boolean;
  readonly attributes: readonly AttributeMapping[];
  /** The reference's one-line note on a choice a reviewer should see (a model picked among several). */
  readonly note?: string;
}

/** A JSON-LD context file in a Smart Data Models subject repository, at a fixed commit. */
function pinnedContext(subject: string, commit: string): string {
  return `https://raw.githubusercontent.com/smart-data-models/${subject}/${commit}/context.jsonld`;
}

function measure(reading: string, attribute = reading): AttributeMapping {
  const unitCode = MEASURE_UNITS[reading];
  if (!unitCode) throw new Error(`no unit code for the measure '${reading}' in MEASURE_UNITS`);
  return { reading, attribute, unitCode };
}

const text = (reading: string, attribute = reading): AttributeMapping => ({ reading, attribute });

export const SMART_DATA_MODELS = {
  'waste-container': {
    entityType: 'WasteContainer',
    subject: 'dataModel.WasteManagement',
    schemaVersion: '0.3.0',
    context: pinnedContext('dataModel.WasteManagement', '9ac5ca743c66a00b16b81d5699edbb009ca8ec93'),
    observationTime: 'dateModified',
    needsObservation: false,
    attributes: [measure('fillingLevel'), measure('temperature'), text('status')],
  },
  'parking-spot': {
    entityType: 'ParkingSpot',
    subject: 'dataModel.Parking',
    schemaVersion: '0.1.0',
    context: pinnedContext('dataModel.Parking', '199c1ffd15d26e064fb183b24ba228d215dc7ee5'),
    observationTime: 'dateModified',
    needsObservation: false,
    attributes: [text('status')],
  },
  'air-quality': {
    entityType: 'AirQualityObserved',
    subject: 'dataModel.Environment',
    schemaVersion: '0.1.4',
    context: pinnedContext('dataModel.Environment', 'b8a32f70d7e7f69f273448fa86c15697154e90a9'),
    observationTime: 'dateObserved',
    needsObservation: true,
    attributes: [measure('no2'), measure('pm25'), measure('pm10'), measure('o3')],
  },
  'traffic-flow': {
    entityType: 'TrafficFlowObserved',
    subject: 'dataModel.Transportation',
    schemaVersion: '0.0.1',
    context: pinnedContext('dataModel.Transportation', '32bbfdcc375467a42120ae54cb65d87a1e34c575'),
    observationTime: 'dateObserved',
    needsObservation: true,
    attributes: [
      measure('intensity'),
      measure('averageVehicleSpeed'),
      measure('occupancy'),
      { reading: 'periodSeconds', attribute: 'dateObservedFrom', periodStart: true },
    ],
  },
  'water-level': {
    entityType: 'FloodMonitoring',
    subject: 'dataModel.Environment',
    schemaVersion: '0.0.1',
    context: pinnedContext('dataModel.Environment', 'b8a32f70d7e7f69f273448fa86c15697154e90a9'),
    observationTime: 'observationDateTime',
    needsObservation: false,
    attributes: [measure('waterLevel', 'currentLevel')],
    note:
      'FloodMonitoring.currentLevel (level above the reference, no lower bound) rather than WaterObserved.height, ' +
      'whose schema sets minimum 0 while a gauge may read below its datum.',
  },
} as const satisfies Record<DeviceType, SmartDataModel>;

/** A device type's model, typed as any model (the table above keeps literal names for {@link EntityType}). */
export function modelOf(deviceType: DeviceType): SmartDataModel {
  return SMART_DATA_MODELS[deviceType];
}

/** The NGSI-LD entity types served, in device-type order. */
export const ENTITY_TYPES = DEVICE_TYPES.map((type) => SMART_DATA_MODELS[type].entityType) as [
  EntityType,
  ...EntityType[],
];
export type EntityType = (typeof SMART_DATA_MODELS)[DeviceType]['entityType'];

/** The device type an NGSI-LD entity type is served from. */
export function deviceTypeOf(entityType: EntityType): DeviceType {
  const type = DEVICE_TYPES.find((t) => SMART_DATA_MODELS[t].entityType === entityType);
  if (!type) throw new Error(`no device type serves the entity type ${entityType}`);
  return type;
}

/**
 * The model a parking spot's site points to. The council's parking sites are car parks (the parking service's
 * `GET /parking/sites`), which Smart Data Models calls OffStreetParking; hence also the spot's category.
 */
export const PARKING_SITE_TYPE = 'OffStreetParking';
export const PARKING_SPOT_CATEGORY = 'offStreet';
