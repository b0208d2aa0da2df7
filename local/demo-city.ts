import type { DeviceType } from '../lambdas/contracts/device-types.js';
import type { Device } from '../lambdas/domain/device.js';
import { SeededRandom } from './seeded-random.js';

/**
 * How often each kind of simulated device reports, in simulated seconds. They live here, in the simulator, because
 * they describe the demo hardware, not a platform rule; they are also registered as `expectedIntervalSeconds`.
 */
export const DEVICE_PROFILES: Readonly<Record<DeviceType, { readonly intervalSeconds: number }>> = {
  // Ultrasonic fill sensors report a few times an hour to save battery.
  'waste-container': { intervalSeconds: 900 },
  // Bay sensors send a heartbeat with the current status.
  'parking-spot': { intervalSeconds: 120 },
  'air-quality': { intervalSeconds: 300 },
  // Counters aggregate over one-minute periods.
  'traffic-flow': { intervalSeconds: 60 },
  'water-level': { intervalSeconds: 300 },
};

/** Per-device facts the physical models need beyond the registry entry. */
export interface DemoDeviceTraits {
  /** Waste: weekdays (0 = Sunday) the bin is emptied, and its daily fill rate (fraction per day). */
  readonly collectionDays?: readonly number[];
  readonly fillPerDay?: number;
  /** Air quality: 1 at the kerb of a busy road, ~0.3 for urban background. */
  readonly roadside?: number;
  /** Traffic: lanes and free-flow speed of the counted road. */
  readonly lanes?: number;
  readonly freeFlowKmh?: number;
  /** Water: level in dry weather (m above datum) and how strongly the catchment answers rain. */
  readonly baseLevel?: number;
  readonly rainGain?: number;
  /** Parking: the car park's usual peak occupancy (0..1). */
  readonly peakOccupancy?: number;
}

/** A simulated device: its registry entry and what its model needs. */
export interface DemoDevice {
  readonly device: Device;
  readonly traits: DemoDeviceTraits;
}

/** Reading, Berkshire: the town centre the demo is set in (Broad Street). */
export const DEMO_TOWN = { name: 'Reading', lat: 51.4551, lon: -0.9734 } as const;

const WARDS = [
  'Abbey',
  'Battle',
  'Katesgrove',
  'Park',
  'Redlands',
  'Caversham',
  'Coley',
  'Southcote',
] as const;

const CAR_PARKS = [
  { site: 'Broad Street Mall car park', ward: 'Abbey', lat: 51.4553, lon: -0.9789, peakOccupancy: 0.92 },
  { site: 'Queens Road car park', ward: 'Abbey', lat: 51.4542, lon: -0.9655, peakOccupancy: 0.85 },
  { site: 'Garrard Street car park', ward: 'Abbey', lat: 51.4587, lon: -0.9733, peakOccupancy: 0.97 },
] as const;

const AIR_SITES = [
  { site: 'Oxford Road', ward: 'Battle', lat: 51.4575, lon: -0.9905, roadside: 1 },
  { site: 'Caversham Road', ward: 'Abbey', lat: 51.4614, lon: -0.9758, roadside: 0.9 },
  { site: 'Kings Road', ward: 'Park', lat: 51.4538, lon: -0.9588, roadside: 0.85 },
  { site: 'Cemetery Junction', ward: 'Park', lat: 51.4521, lon: -0.9482, roadside: 1 },
  { site: 'London Road', ward: 'Redlands', lat: 51.4509, lon: -0.9609, roadside: 0.8 },
  { site: 'Bath Road', ward: 'Coley', lat: 51.4488, lon: -0.9918, roadside: 0.7 },
  { site: 'Castle Hill (IDR)', ward: 'Katesgrove', lat: 51.451, lon: -0.979, roadside: 0.95 },
  { site: 'Forbury Gardens', ward: 'Abbey', lat: 51.4566, lon: -0.9679, roadside: 0.3 },
] as const;

const ROADS = [
  { site: 'IDR Castle Street', ward: 'Abbey', lat: 51.4532, lon: -0.9781, lanes: 2, freeFlowKmh: 48 },
  {
    site: 'IDR Southampton Street',
    ward: 'Katesgrove',
    lat: 51.4501,
    lon: -0.9728,
    lanes: 2,
    freeFlowKmh: 48,
  },
  { site: 'Oxford Road westbound', ward: 'Battle', lat: 51.4578, lon: -0.988, lanes: 1, freeFlowKmh: 40 },
  { site: 'Caversham Bridge', ward: 'Caversham', lat: 51.4657, lon: -0.9786, lanes: 2, freeFlowKmh: 48 },
  { site: 'Reading Bridge', ward: 'Caversham', lat: 51.4622, lon: -0.9623, lanes: 2, freeFlowKmh: 48 },
  { site: 'London Road eastbound', ward: 'Redlands', lat: 51.4506, lon: -0.9581, lanes: 1, freeFlowKmh: 48 },
  { site: 'Kings Road', ward: 'Park', lat: 51.454, lon: -0.956, lanes: 2, freeFlowKmh: 48 },
  { site: 'Bath Road', ward: 'Coley', lat: 51.4486, lon: -0.995, lanes: 1, freeFlowKmh: 48 },
  { site: 'Berkeley Avenue', ward: 'Coley', lat: 51.447, lon: -0.983, lanes: 1, freeFlowKmh: 48 },
  { site: 'Vastern Road', ward: 'Abbey', lat: 51.461, lon: -0.97, lanes: 2, freeFlowKmh: 48 },
] as const;

const GAUGES = [
  {
    site: 'River Kennet at Blakes Lock',
    ward: 'Abbey',
    lat: 51.456,
    lon: -0.961,
    baseLevel: 0.85,
    rainGain: 0.05,
    warningLevel: 1.6,
    severeLevel: 2.1,
  },
  {
    site: 'River Thames at Caversham Bridge',
    ward: 'Caversham',
    lat: 51.4663,
    lon: -0.9785,
    baseLevel: 1.4,
    rainGain: 0.03,
    warningLevel: 2.2,
    severeLevel: 2.6,
  },
  {
    site: 'Holy Brook at Coley Park',
    ward: 'Coley',
    lat: 51.448,
    lon: -0.986,
    baseLevel: 0.35,
    rainGain: 0.09,
    warningLevel: 1.3,
    severeLevel: 2.0,
  },
  {
    site: 'Foudry Brook at Elgar Road',
    ward: 'Katesgrove',
    lat: 51.444,
    lon: -0.972,
    baseLevel: 0.25,
    rainGain: 0.11,
    warningLevel: 1.5,
    severeLevel: 2.4,
  },
  {
    site: 'Gully, Vastern Road underpass',
    ward: 'Abbey',
    lat: 51.4606,
    lon: -0.9714,
    baseLevel: 0.05,
    rainGain: 0.14,
    warningLevel: 0.8,
    severeLevel: 1.5,
  },
] as const;

/** Fixed so re-registering the demo city at every start does not change it. */
const REGISTERED_AT = '2025-04-01T08:00:00.000Z';

function jitter(random: SeededRandom, lat: number, lon: number, metres: number) {
  // ~111 km per degree of latitude; longitude degrees shrink by cos(latitude).
  const dLat = (random.between(-1, 1) * metres) / 111_000;
  const dLon = (random.between(-1, 1) * metres) / (111_000 * Math.cos((lat * Math.PI) / 180));
  return { lat: Math.round((lat + dLat) * 1e6) / 1e6, lon: Math.round((lon + dLon) * 1e6) / 1e6 };
}

function device(
  deviceId: string,
  deviceType: DeviceType,
  location: { lat: number; lon: number },
  ward: string,
  site?: string,
  settings?: Readonly<Record<string, number>>,
): Device {
  return {
    deviceId,
    deviceType,
    status: 'active',
    location,
    ward,
    ...(site ? { site } : {}),
    ...(settings ? { settings } : {}),
    expectedIntervalSeconds: DEVICE_PROFILES[deviceType].intervalSeconds,
    registeredAt: REGISTERED_AT,
  };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * The demo town: 40 waste containers across eight wards, 120 parking bays in three car parks, 8 air-quality
 * monitors, 10 traffic counters and 5 water-level gauges around Reading town centre. The same seed always gives
 * the same devices, places and traits.
 */
export function demoCityDevices(seed: string): DemoDevice[] {
  const random = SeededRandom.derive(seed, 'layout');
  const devices: DemoDevice[] = [];

  for (let i = 1; i <= 40; i++) {
    const ward = WARDS[(i - 1) % WARDS.length] as string;
    // Centre bins (Abbey) are emptied three times a week, the rest weekly on a ward's day.
    const centre = ward === 'Abbey';
    const weekly = 1 + (WARDS.indexOf(ward as (typeof WARDS)[number]) % 5);
    devices.push({
      device: device(
        `rdg-bin-${pad(i, 3)}`,
        'waste-container',
        jitter(random, DEMO_TOWN.lat, DEMO_TOWN.lon, 1800),
        ward,
      ),
      traits: {
        collectionDays: centre ? [1, 3, 5] : [weekly],
        fillPerDay: centre ? random.between(0.25, 0.4) : random.between(0.1, 0.16),
      },
    });
  }
  CAR_PARKS.forEach((park, p) => {
    for (let bay = 1; bay <= 40; bay++) {
      devices.push({
        device: device(
          `rdg-bay-${p + 1}-${pad(bay, 3)}`,
          'parking-spot',
          jitter(random, park.lat, park.lon, 40),
          park.ward,
          park.site,
        ),
        traits: { peakOccupancy: park.peakOccupancy },
      });
    }
  });
  AIR_SITES.forEach((site, i) => {
    devices.push({
      device: device(
        `rdg-aq-${pad(i + 1, 2)}`,
        'air-quality',
        { lat: site.lat, lon: site.lon },
        site.ward,
        site.site,
      ),
      traits: { roadside: site.roadside },
    });
  });
  ROADS.forEach((road, i) => {
    devices.push({
      device: device(
        `rdg-traffic-${pad(i + 1, 2)}`,
        'traffic-flow',
        { lat: road.lat, lon: road.lon },
        road.ward,
        road.site,
        // The congestion rule compares speeds with the road's own free-flow speed.
        { freeFlowSpeedKmh: road.freeFlowKmh },
      ),
      traits: { lanes: road.lanes, freeFlowKmh: road.freeFlowKmh },
    });
  });
  GAUGES.forEach((gauge, i) => {
    devices.push({
      device: device(
        `rdg-level-${pad(i + 1, 2)}`,
        'water-level',
        { lat: gauge.lat, lon: gauge.lon },
        gauge.ward,
        gauge.site,
        // Set per gauge from its channel, as the Environment Agency sets its own thresholds per station.
        { warningLevel: gauge.warningLevel, severeLevel: gauge.severeLevel },
      ),
      traits: { baseLevel: gauge.baseLevel, rainGain: gauge.rainGain },
    });
  });
  return devices;
}
