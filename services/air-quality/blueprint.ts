import type { ServiceBlueprint } from '../shared/blueprint.js';
import { airQualityDetector } from './detector.js';
import { AIR_QUALITY_SERVICE, type AirQualitySite, airQualityWorkflow } from './workflow.js';

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
  },
  cost: {
    watches: ['air-quality'],
    // The index moves a few times a day (NO2's hourly mean crosses a band edge around each rush hour): about
    // 8 changes over 288 five-minute readings, so about 0.03 state writes per reading.
    stateWritesPerReading: 0.03,
    // Every reading reads 24 hours of the sensor's history: a DynamoDB Query over the telemetry table's hourly
    // bucket items, eventually consistent (0.5 read units per 4 KB). At one reading every 5 minutes that is
    // 288 readings in about 29 items of ~1 KB (10 readings each): 29 KB -> 8 x 4 KB -> 4 read units per reading
    // (1/80 read unit per reading held in the window, rounded up per Query).
    historyReadUnitsPerReading: 4,
    // One band-changed event per index change (see stateWritesPerReading).
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
