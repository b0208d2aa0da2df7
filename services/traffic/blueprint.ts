import { z } from 'zod';
import { locationSchema, timestampSchema } from '../../lambdas/contracts/api.js';
import type { ServiceBlueprint } from '../shared/blueprint.js';
import { trafficDetector } from './detector.js';
import { TRAFFIC_SERVICE, type TrafficCounter, trafficWorkflow } from './workflow.js';

const hourlyFlowSchema = z.object({
  hour: timestampSchema.describe('Start of the hour'),
  vehicles: z.number().int().min(0),
  periods: z.number().int().min(0),
  complete: z.boolean().describe('false when a period is missing: the count is then a lower bound'),
});

/** One counter as `GET /traffic/counters` serves it. */
export const trafficCounterViewSchema = z.object({
  deviceId: z.string(),
  site: z.string(),
  ward: z.string().optional(),
  location: locationSchema.optional(),
  congested: z.boolean(),
  since: timestampSchema.nullable().describe('When the current congestion began; null while traffic flows'),
  lastHour: hourlyFlowSchema.nullable(),
  recentHours: z.array(hourlyFlowSchema).describe('The last 24 hourly counts, oldest first'),
});

/** Traffic: hourly flow per counter, and a congestion incident when traffic is slow and dense. */
export const trafficBlueprint: ServiceBlueprint = {
  name: TRAFFIC_SERVICE,
  title: 'Traffic',
  summary: 'Hourly traffic counts per counter, and an alert when a road is congested for several periods.',
  essential: false,
  eventTypes: ['traffic.congestion-started', 'traffic.congestion-cleared', 'traffic.hour-counted'],
  detector: trafficDetector,
  workflow: trafficWorkflow,
  openData: {
    path: 'traffic/counters',
    description:
      'Each traffic counter: whether its road is congested and since when, its last hourly count and the ' +
      'counts of the last 24 hours.',
    view(record) {
      const counter = record.data as Partial<TrafficCounter>;
      if (counter.congested === undefined) return undefined;
      const hourly = counter.hourly ?? [];
      return {
        deviceId: record.site,
        site: counter.site,
        ...(record.ward === undefined ? {} : { ward: record.ward }),
        ...(record.location === undefined ? {} : { location: record.location }),
        congested: counter.congested,
        since: counter.since,
        lastHour: hourly.at(-1) ?? null,
        recentHours: hourly,
      };
    },
    schema: trafficCounterViewSchema,
  },
  cost: {
    watches: ['traffic-flow'],
    // The congestion run and the current hour's count move with every period: one small state write (~0.2 KB,
    // 1 write unit) per reading.
    stateWritesPerReading: 1,
    // No history: the hour is counted in the state as periods arrive.
    historyReadUnitsPerReading: 0,
    // 24 hour-counted events, plus two congestion incidents a day on a busy road (a start and a clear each).
    eventsPerDevicePerDay: 28,
    // The counter's record holds 24 hourly flows (~2.5 KB: 3 write units) and is saved on every event; the 4
    // congestion events also write the alert (1 unit each, 4/28 per event on average): about 3.2.
    writeUnitsPerEvent: 3.2,
    // The registry entry (0.5, eventually consistent GetItem), the record (1, under 4 KB, strongly consistent)
    // and, for the 4 congestion events of 28, the alert (1): about 1.7.
    readUnitsPerEvent: 1.7,
    // The schedule's tick reads the service's active alerts: one Query for the whole service (~0.5 read units
    // per run), nothing per device.
    readUnitsPerDevicePerScheduledRun: 0,
  },
};
