import { z } from 'zod';
import { type AggregateInterval, INTERVAL_MS } from '../domain/telemetry-aggregation.js';
import {
  API_LIMITS,
  devicePathSchema,
  rangedPageSchema,
  TELEMETRY_STATS,
  telemetryPointSchema,
  telemetryQuerySchema,
  timestampSchema,
} from './api.js';
import { ANY_STAFF, type RouteSpec } from './api-route-spec.js';

/** The most buckets one aggregated answer can hold: the longest range at the finest interval, cut at both ends. */
export const MAX_AGGREGATE_BUCKETS = Math.max(
  ...(Object.keys(INTERVAL_MS) as AggregateInterval[]).map(
    (interval) =>
      Math.ceil((API_LIMITS.maxAggregateRangeDays[interval] * 86_400_000) / INTERVAL_MS[interval]) + 1,
  ),
);

/** `interval=raw`: a page of readings in time order. */
export const rawTelemetryHistorySchema = rangedPageSchema(telemetryPointSchema)
  .extend({ deviceId: z.string(), interval: z.literal('raw') })
  .meta({ id: 'TelemetryPage', description: "A page of a device's readings in time order" });

/** One bucket of an aggregated answer: its clock start, its readings' count and the stat. */
export const telemetryBucketSchema = z
  .object({
    start: timestampSchema.describe(
      'Where the bucket starts on the UTC clock; the first and last may reach outside the range, but hold only readings inside it',
    ),
    count: z.number().int().min(0).describe('Readings of the measure in the bucket'),
    value: z
      .number()
      .nullable()
      .describe('The stat over those readings; for an empty bucket null (0 for the count stat)'),
  })
  .meta({ id: 'TelemetryBucket', description: 'One bucket of an aggregated history' });

/** `interval=5m|1h|1d`: every bucket of the range, empty ones included, in one answer. */
export const aggregatedTelemetryHistorySchema = z
  .object({
    deviceId: z.string(),
    interval: z.enum(['5m', '1h', '1d']),
    stat: z.enum(TELEMETRY_STATS),
    measure: z.string(),
    from: timestampSchema.describe('Inclusive'),
    to: timestampSchema.describe('Exclusive'),
    buckets: z.array(telemetryBucketSchema).max(MAX_AGGREGATE_BUCKETS),
  })
  .meta({
    id: 'TelemetryAggregate',
    description: 'One measure of a device in buckets, with no cursor: the range limit keeps it to one page',
  });

/** What `GET /devices/{id}/telemetry` answers: a page of readings, or buckets, told apart by `interval`. */
export const telemetryHistorySchema = z.discriminatedUnion('interval', [
  rawTelemetryHistorySchema,
  aggregatedTelemetryHistorySchema,
]);

/** Time series: history with aggregation. */
export const TELEMETRY_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/devices/{id}/telemetry',
    summary: "A device's readings over a time range, raw or in buckets (avg, min, max or count)",
    tag: 'telemetry',
    access: ANY_STAFF,
    pathParams: devicePathSchema,
    query: telemetryQuerySchema,
    response: telemetryHistorySchema,
  },
];
