import { z } from 'zod';

/**
 * The five kinds of street device the platform understands, with the readings each may send.
 * Field names and units follow the FIWARE Smart Data Models so that the NGSI-LD view and exports
 * need no renaming (see docs/contracts.md).
 */
export const DEVICE_TYPES = [
  'waste-container',
  'parking-spot',
  'air-quality',
  'traffic-flow',
  'water-level',
] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];
export const deviceTypeSchema = z.enum(DEVICE_TYPES);

export function isDeviceType(value: unknown): value is DeviceType {
  return typeof value === 'string' && (DEVICE_TYPES as readonly string[]).includes(value);
}

const fraction = z.number().min(0).max(1);
/** Concentrations in micrograms per cubic metre; 5000 is far above any ambient UK reading and catches unit mix-ups. */
const concentration = z.number().min(0).max(5000);

export const WASTE_CONTAINER_STATUSES = [
  'ok',
  'lidOpen',
  'dropped',
  'moved',
  'vandalized',
  'burning',
  'unknown',
] as const;
export const PARKING_SPOT_STATUSES = ['free', 'occupied', 'closed', 'unknown'] as const;

export const wasteContainerReadings = z
  .strictObject({
    fillingLevel: fraction.optional(),
    temperature: z.number().min(-50).max(150).optional(),
    status: z.enum(WASTE_CONTAINER_STATUSES).optional(),
  })
  .refine((r) => Object.keys(r).length > 0, { message: 'at least one reading is required' });

export const parkingSpotReadings = z.strictObject({ status: z.enum(PARKING_SPOT_STATUSES) });

export const airQualityReadings = z
  .strictObject({
    no2: concentration.optional(),
    pm25: concentration.optional(),
    pm10: concentration.optional(),
    o3: concentration.optional(),
  })
  .refine((r) => Object.keys(r).length > 0, { message: 'at least one of no2, pm25, pm10, o3 is required' });

export const trafficFlowReadings = z.strictObject({
  intensity: z.number().int().min(0).max(100_000),
  averageVehicleSpeed: z.number().min(0).max(300),
  occupancy: fraction,
  periodSeconds: z.number().int().min(1).max(86_400),
});

export const waterLevelReadings = z.strictObject({
  /** Metres above the gauge's datum; negative values are legal for gauges below datum. */
  waterLevel: z.number().min(-100).max(100),
});

/** Per-type readings schema, keyed by device type. */
export const READINGS_SCHEMAS = {
  'waste-container': wasteContainerReadings,
  'parking-spot': parkingSpotReadings,
  'air-quality': airQualityReadings,
  'traffic-flow': trafficFlowReadings,
  'water-level': waterLevelReadings,
} as const satisfies Record<DeviceType, z.ZodType>;

export type ReadingsOf<T extends DeviceType> = z.infer<(typeof READINGS_SCHEMAS)[T]>;
/** A reading value as stored: numbers for measures, strings for statuses. */
export type ReadingValue = number | string;
export type Readings = Record<string, ReadingValue>;

/** UN/CEFACT Rec 20 unit codes for each numeric measure (GQ = ug/m3, MTR = metres, KMH, CEL, SEC, C62 = one). */
export const MEASURE_UNITS: Record<string, string> = {
  fillingLevel: 'C62',
  temperature: 'CEL',
  no2: 'GQ',
  pm25: 'GQ',
  pm10: 'GQ',
  o3: 'GQ',
  intensity: 'C62',
  averageVehicleSpeed: 'KMH',
  occupancy: 'C62',
  periodSeconds: 'SEC',
  waterLevel: 'MTR',
};
