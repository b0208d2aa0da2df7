import { z } from 'zod';
import { locationSchema, timestampSchema } from '../../lambdas/contracts/api.js';
import type { ServiceBlueprint } from '../shared/blueprint.js';
import { floodDetector } from './detector.js';
import type { FloodLevel } from './rules.js';
import { FLOOD_EVENT_TYPES, FLOOD_SERVICE, type FloodGauge, floodWorkflow } from './workflow.js';

const metres = z.number();

/** One gauge as `GET /flood/gauges` serves it. */
export const floodGaugeViewSchema = z.object({
  deviceId: z.string(),
  site: z.string(),
  ward: z.string().optional(),
  location: locationSchema.optional(),
  level: z.enum({ normal: 'normal', warning: 'warning', severe: 'severe' } satisfies {
    [L in FloodLevel]: L;
  }),
  waterLevel: metres.describe('Metres above the gauge datum'),
  risingFast: z.boolean(),
  warningLevel: metres.nullable(),
  severeLevel: metres.nullable(),
  observedAt: timestampSchema,
});

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
    schema: floodGaugeViewSchema,
  },
  cost: {
    watches: ['water-level'],
    // The detector keeps the gauge's readings within the rise window (at most 24 time/level pairs, ~0.3 KB at one
    // reading every 5 minutes, ~0.6 KB at most) beside its level and rising flag, so the state changes with every
    // reading: one state write (1 write unit) per reading.
    stateWritesPerReading: 1,
    // No history: the rise rate comes from the readings in the state, never from the telemetry store (a 60-minute
    // Query on every reading cost 0.5 read units on DynamoDB and a 4-TCU query on Timestream).
    historyReadUnitsPerReading: 0,
    // One event per change of status or rising flag: most days none, a wet day a handful. The demo town's 5
    // gauges averaged 0.7 a day over two simulated weeks (storm included); budgeted at 3.
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
