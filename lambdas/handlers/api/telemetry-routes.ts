import { devicePathSchema, telemetryQuerySchema } from '../../contracts/api.js';
import { getTelemetryHistory } from '../../domain/city-queries.js';
import { jsonResponse } from '../http/problem-details.js';
import { path, query, type Route } from './route.js';

/** Time series: history with aggregation. */
export const telemetryRouteHandlers: Record<string, Route> = {
  // Raw readings a page at a time, or one measure in 5-minute, hourly or daily buckets in one answer.
  'GET /devices/{id}/telemetry': async (event, { ports, now }) => {
    const { id } = devicePathSchema.parse(path(event));
    const history = await getTelemetryHistory(
      ports,
      { deviceId: id, ...telemetryQuerySchema.parse(query(event)) },
      now,
    );
    return jsonResponse({ deviceId: id, ...history });
  },
};
