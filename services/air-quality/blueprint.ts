import { z } from 'zod';
import { locationSchema, timestampSchema } from '../../lambdas/contracts/api.js';
import type { ServiceBlueprint } from '../shared/blueprint.js';
import { airQualityDetector } from './detector.js';
import { DAQI_POLLUTANTS, type DaqiBand } from './rules.js';
import { AIR_QUALITY_SERVICE, type AirQualitySite, airQualityWorkflow } from './workflow.js';

const daqiIndex = z.number().int().min(1).max(10);
const pollutant = z.enum(DAQI_POLLUTANTS);

/** One site as `GET /air-quality/sites` serves it. */
export const airQualitySiteViewSchema = z.object({
  site: z.string(),
  ward: z.string().optional(),
  location: locationSchema.optional(),
  index: daqiIndex.describe('Daily Air Quality Index, 1 to 10'),
  band: z.enum({
    Low: 'Low',
    Moderate: 'Moderate',
    High: 'High',
    'Very High': 'Very High',
  } satisfies { [B in DaqiBand]: B }),
  pollutant: pollutant.describe('The pollutant that set the index'),
  perPollutant: z.partialRecord(pollutant, daqiIndex).describe('The index of each pollutant measured'),
  observedAt: timestampSchema,
});

/**
 * Air quality: each site's UK Daily Air Quality Index for residents, and an alert when a site reaches High.
 * Essential: air-quality sensors travel on the essential lane, so the cost guard never holds them back.
 */
export const airQualityBlueprint: ServiceBlueprint = {
  name: AIR_QUALITY_SERVICE,
  title: 'Air quality',
  summary:
    "Each monitoring site's Daily Air Quality Index, with an alert when a site reaches High (7) or above.",
  essential: true,
  eventTypes: ['air-quality.band-changed'],
  detector: airQualityDetector,
  workflow: airQualityWorkflow,
  openData: {
    path: 'air-quality/sites',
    description:
      "Each air-quality site's current Daily Air Quality Index (1-10), its band, the pollutant that set it and " +
      'the index of each pollutant measured.',
    view(record) {
      const site = record.data as Partial<AirQualitySite>;
      if (site.index === undefined) return undefined;
      return {
        site: record.site,
        ...(record.ward === undefined ? {} : { ward: record.ward }),
        ...(record.location === undefined ? {} : { location: record.location }),
        index: site.index,
        band: site.band,
        pollutant: site.pollutant,
        perPollutant: site.perPollutant,
        observedAt: site.observedAt,
      };
    },
    schema: airQualitySiteViewSchema,
  },
  cost: {
    watches: ['air-quality'],
    // The detector keeps the sensor's hour slots (sum and count per pollutant and clock hour) in its state, so
    // the slots change with every reading: one state write per reading. The state is at most 57 slots (24 + 24
    // for the PM means, 8 for O3, 1 for NO2), ~0.6 KB for whole or tenth-unit readings and under 0.9 KB at worst
    // (tested), so each write is 1 write unit, and it shares the device's 4 KB state read with other services.
    stateWritesPerReading: 1,
    // No history: the means come from the slots in the state, never from the telemetry store (a 24-hour Query on
    // every reading cost 4 read units on DynamoDB and a 4-TCU query on Timestream).
    historyReadUnitsPerReading: 0,
    // One band-changed event per index change: the index moves a few times a day (NO2's hourly mean crosses a
    // band edge around each rush hour). The demo town's 8 sensors averaged 6 a day over two simulated weeks at
    // 5-minute readings; budgeted at 8.
    eventsPerDevicePerDay: 8,
    // The site record (~1 KB per sensor at the site: 1 write unit for a one-sensor site) on every event; an
    // alert write only while the site is at or near High (a few events a month): about 0.2 on average.
    writeUnitsPerEvent: 1.2,
    // The device's registry entry (0.5, eventually consistent GetItem), the site record (1, strongly
    // consistent for the version check) and the site's current alert (1).
    readUnitsPerEvent: 2.5,
    // The schedule's tick reads the service's active alerts: one Query for the whole service (~0.5 read units
    // per run, usually empty), nothing per device.
    readUnitsPerDevicePerScheduledRun: 0,
  },
};
