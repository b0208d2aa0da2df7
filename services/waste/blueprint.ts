import type { ServiceBlueprint, ServiceCostProfile } from '../shared/blueprint.js';
import { wasteDetector } from './detector.js';
import { WASTE_EVENT_TYPES, wasteWorkflow } from './workflow.js';

/** Readings per bin per day: fill sensors report every 15 minutes (the demo city's bins; a few an hour is usual). */
const READINGS_PER_DAY = 86_400 / 900;
/** Collections per bin per week: town-centre bins 3, residential streets 1 (the demo city's mix); 2 as a middle. */
const COLLECTIONS_PER_WEEK = 2;
/** Each collection cycle crosses three bands (empty -> partial -> full -> empty): three state writes. */
const BAND_CHANGES_PER_COLLECTION = 3;
/**
 * Status changes per bin per day: the demo bins report `lidOpen` on 0.4% of readings, each an episode of two
 * changes (ok -> lidOpen -> ok). Hazards (fires, vandalism) are rare enough not to move the estimate.
 */
const STATUS_CHANGES_PER_DAY = 0.004 * READINGS_PER_DAY * 2;
/** Each collection cycle emits `waste.full` once and `waste.emptied` once. */
const EVENTS_PER_COLLECTION = 2;

/**
 * What the waste service adds to the bill per bin. The detector keeps the fill band, not the level, so a state
 * write happens only when a bin crosses a threshold or its status changes: about one reading in sixty.
 */
export const WASTE_COST: ServiceCostProfile = {
  watches: ['waste-container'],
  // (2/7 x 3 band changes + 0.77 status changes) per day over 96 readings a day: ~0.017.
  stateWritesPerReading:
    ((COLLECTIONS_PER_WEEK / 7) * BAND_CHANGES_PER_COLLECTION + STATUS_CHANGES_PER_DAY) / READINGS_PER_DAY,
  // The detector needs no history.
  historyReadUnitsPerReading: 0,
  // 2/7 x 2 = ~0.57 events per bin per day.
  eventsPerDevicePerDay: (COLLECTIONS_PER_WEEK / 7) * EVENTS_PER_COLLECTION,
  // `full` creates a job (1 unit + 1 per index: byDevice, byServiceStatus = 3); `emptied` replaces it (1 + 1 for
  // byDevice + 2 for byServiceStatus, whose key moves from open to done = 4). Half of each: 3.5. Job items stay
  // under 1 KB. The daily round adds a few units per ward per day, not per event.
  writeUnitsPerEvent: 3.5,
  // activeAt queries the byDevice index (eventually consistent, 0.5) and the registry lookup is an eventually
  // consistent BatchGetItem (0.5); `emptied` also reads the job it closes strongly consistent (1). Mean: 1.5.
  readUnitsPerEvent: 1.5,
  // Each scheduled run reads the active alerts and the round marker once for the whole service, and the open
  // jobs once a day: nothing per bin worth counting.
  readUnitsPerDevicePerScheduledRun: 0,
};

/**
 * Waste collection: full bins become collection jobs (one per bin), emptied bins close them, fires and vandalism
 * open an urgent job and a severe alert, and each ward gets a daily collection round.
 */
export const wasteBlueprint: ServiceBlueprint = {
  name: 'waste',
  title: 'Waste collection',
  summary:
    'Bins are collected when they are full, not on a fixed timetable, and fires or vandalism are dealt with at once.',
  essential: false,
  eventTypes: WASTE_EVENT_TYPES,
  detector: wasteDetector,
  workflow: wasteWorkflow,
  cost: WASTE_COST,
};
