import { devicePathSchema, telemetryQuerySchema } from './api.js';
import { ANY_STAFF, type RouteSpec } from './api-route-spec.js';

/** Time series: history with aggregation. */
export const TELEMETRY_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/devices/{id}/telemetry',
    summary: "A device's readings over a time range",
    tag: 'telemetry',
    access: ANY_STAFF,
    pathParams: devicePathSchema,
    query: telemetryQuerySchema,
  },
];
