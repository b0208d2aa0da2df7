import type { ServiceBlueprint, ServiceCostProfile } from '../shared/blueprint.js';
import { OFFLINE_EVENT_TYPES, offlineWorkflow } from './workflow.js';

/**
 * Silences per device per month: an assumption, not a measurement (no field data yet): a battery, a lost
 * signal or a damaged sensor about once a month, each one `device.offline` and one `device.online`.
 */
const SILENCES_PER_MONTH = 1;

/** What offline detection adds to the bill per device (every device type). */
export const OFFLINE_COST: ServiceCostProfile = {
  watches: 'all',
  // No detector: the sweep reads latest state, which ingestion keeps anyway.
  stateWritesPerReading: 0,
  historyReadUnitsPerReading: 0,
  // One offline and one online per silence: 2 / 30 = ~0.067 a day.
  eventsPerDevicePerDay: (SILENCES_PER_MONTH * 2) / 30,
  // `device.offline` creates a job (1 unit + 1 per index: byDevice, byServiceStatus = 3); `device.online`
  // replaces it (1 + 1 for byDevice + 2 for byServiceStatus, whose key moves to done = 4). Mean 3.5.
  writeUnitsPerEvent: 3.5,
  // From the sweep the active jobs come from one query per run, so only closing reads its job (1, strongly
  // consistent): a mean of 0.5. Events from the bus add an index query and a registry lookup (1).
  readUnitsPerEvent: 0.5,
  // The sweep scans the registry (entries about 0.5 KB) and the latest-state table (items about 0.6 KB),
  // eventually consistent, billed half a unit per 4 KB read: 0.5 x (0.5 + 0.6) / 4 = ~0.14 per device.
  readUnitsPerDevicePerScheduledRun: (0.5 * (0.5 + 0.6)) / 4,
};

/** Offline devices: a device not heard from for too long gets a maintenance job; hearing it again closes it. */
export const offlineBlueprint: ServiceBlueprint = {
  name: 'offline',
  title: 'Offline devices',
  summary: 'Street sensors that stop reporting are found and fixed, so the other services keep their eyes.',
  essential: false,
  eventTypes: OFFLINE_EVENT_TYPES,
  workflow: offlineWorkflow,
  cost: OFFLINE_COST,
};
