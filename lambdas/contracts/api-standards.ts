import type { RouteSpec } from './api-route-spec.js';

/** Standards views: NGSI-LD entities and exports. */
export const STANDARDS_ROUTE_SPECS: readonly RouteSpec[] = [];
