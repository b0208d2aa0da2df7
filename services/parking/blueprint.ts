import { z } from 'zod';
import { timestampSchema } from '../../lambdas/contracts/api.js';
import type { ServiceBlueprint, ServiceCostProfile } from '../shared/blueprint.js';
import { parkingDetector, SPOT_CHANGED } from './detector.js';
import type { ParkingSiteStatus } from './rules.js';
import { carParkView, parkingWorkflow } from './workflow.js';

/** Readings per bay per day: bay sensors send a heartbeat with their status every 2 minutes (the demo city's). */
const READINGS_PER_DAY = 86_400 / 120;
/**
 * Status changes per bay per day: about five stays of one to two and a half hours over a town-centre day (the
 * demo city's turnover), each an arrival and a departure.
 */
const CHANGES_PER_DAY = 5 * 2;

/**
 * What parking adds to the bill per bay. Each change rewrites its car park's record whole, spot map included:
 * about 70 bytes a bay, so a 40-bay car park's record is about 3 KB (the workflow test measures it). A 400-bay
 * multi-storey's is about 28 KB, and each change then costs 28 write units: size the estimate to the car parks.
 */
export const PARKING_COST: ServiceCostProfile = {
  watches: ['parking-spot'],
  // One state write per status change: 10 of 720 readings a day, ~0.014.
  stateWritesPerReading: CHANGES_PER_DAY / READINGS_PER_DAY,
  // The detector compares with the last status only.
  historyReadUnitsPerReading: 0,
  // One `parking.spot-changed` per status change.
  eventsPerDevicePerDay: CHANGES_PER_DAY,
  // The car park's record, up to 4 KB for 40 bays (billed per KB rounded up), no indexes on the sites table.
  writeUnitsPerEvent: 4,
  // One strongly consistent GetItem of a record under 4 KB (the optimistic save needs the latest version).
  readUnitsPerEvent: 1,
  // Parking runs no schedule.
  readUnitsPerDevicePerScheduledRun: 0,
};

const spaces = z.number().int().min(0);

/** One car park as `GET /parking/sites` serves it (`carParkView`). */
export const carParkViewSchema = z.object({
  site: z.string(),
  ward: z.string().nullable(),
  free: spaces,
  occupied: spaces,
  closed: spaces,
  unknown: spaces,
  total: spaces,
  occupancy: z.number().min(0).max(1),
  status: z.enum({
    spacesAvailable: 'spacesAvailable',
    almostFull: 'almostFull',
    full: 'full',
    closed: 'closed',
    unknown: 'unknown',
  } satisfies { [S in ParkingSiteStatus]: S }),
  updatedAt: timestampSchema,
});

/** Parking availability: free and occupied spaces per car park and its DATEX II status, as open data. */
export const parkingBlueprint: ServiceBlueprint = {
  name: 'parking',
  title: 'Parking availability',
  summary: 'Drivers see how many spaces each car park has free before they set off.',
  essential: false,
  eventTypes: [SPOT_CHANGED],
  detector: parkingDetector,
  workflow: parkingWorkflow,
  openData: {
    path: 'parking/sites',
    description:
      'Each car park: free, occupied, closed and unknown spaces, total, occupancy (0..1) and its DATEX II ' +
      'status (spacesAvailable, almostFull, full, closed, unknown).',
    view: carParkView,
    schema: carParkViewSchema,
  },
  cost: PARKING_COST,
};
