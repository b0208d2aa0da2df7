import type { ServiceBlueprint } from '../shared/blueprint.js';
import { floodDetector } from './detector.js';
import { FLOOD_EVENT_TYPES, FLOOD_SERVICE, type FloodGauge, floodWorkflow } from './workflow.js';

/**
 * Flood warning: each gauge's level against its warning and severe levels, and an alarm when the water rises
 * fast. Essential: water-level gauges travel on the essential lane and flood alerts are never held back by the
 * cost guard.
 */
export const floodBlueprint: ServiceBlueprint = {
  name: FLOOD_SERVICE,
  title: 'Flood warning',
  summary: 'Alerts when a river or gully gauge reaches its warning or severe level, or the water rises fast.',
  essential: true,
  eventTypes: FLOOD_EVENT_TYPES,
  detector: floodDetector,
  workflow: floodWorkflow,
  openData: {
    path: 'flood/gauges',
    description:
      "Each water-level gauge's flood status (normal, warning, severe), its last level in metres above the " +
      'gauge datum, whether the water is rising fast, and its thresholds.',
    view(record) {
      const gauge = record.data as Partial<FloodGauge>;
      if (gauge.level === undefined) return undefined;
      return {
        deviceId: record.site,
        site: gauge.site,
        ...(record.ward === undefined ? {} : { ward: record.ward }),
        ...(record.location === undefined ? {} : { location: record.location }),
        level: gauge.level,
        waterLevel: gauge.waterLevel,
        risingFast: gauge.risingFast,
        warningLevel: gauge.warningLevel,
        severeLevel: gauge.severeLevel,
        observedAt: gauge.observedAt,
      };
    },
  },
  cost: {
    watches: ['water-level'],
    // The state changes only when the status or the rising flag changes: most days never, a wet day a handful
    // of times. Budgeted at 3 changes a day over 288 five-minute readings: 0.01 writes per reading.
    stateWritesPerReading: 0.01,
    // Every reading reads the rise window (60 minutes) of the gauge's history: a DynamoDB Query over the
    // telemetry table's hourly bucket items, eventually consistent (0.5 read units per 4 KB). At one reading
    // every 5 minutes that is 12 readings in 2 items of ~1 KB (10 readings each; the window straddles an hour):
    // under 4 KB, so 0.5 read units per reading.
    historyReadUnitsPerReading: 0.5,
    // One event per state change (see stateWritesPerReading).
    eventsPerDevicePerDay: 3,
    // The gauge's site record (~0.5 KB: 1 write unit) and its alert (1 write unit: every flood event is a
    // level or rise signal, and a clear with no alert open writes nothing, so this is an upper bound).
    writeUnitsPerEvent: 2,
    // The registry entry (0.5, eventually consistent GetItem), the site record (1) and the alert (1).
    readUnitsPerEvent: 2.5,
    // The schedule's tick reads the service's active alerts: one Query for the whole service (~0.5 read units
    // per run, usually empty), nothing per device.
    readUnitsPerDevicePerScheduledRun: 0,
  },
};
