import { devicePathSchema, telemetryQuerySchema } from '../../contracts/api.js';
import { getTelemetryHistory } from '../../domain/city-queries.js';
import { jsonResponse } from '../http/problem-details.js';
import { path, query, type Route } from './route.js';

/** Time series: history with aggregation. */
export const telemetryRouteHandlers: Record<string, Route> = {
  'GET /devices/{id}/telemetry': async (event, { ports, now }) => {
    const { id } = devicePathSchema.parse(path(event));
    const page = await getTelemetryHistory(
      ports,
      { deviceId: id, ...telemetryQuerySchema.parse(query(event)) },
      now,
    );
    return jsonResponse({ deviceId: id, ...page });
  },
};
