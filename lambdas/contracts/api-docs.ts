import type { RouteSpec } from './api-route-spec.js';

/** The API describing itself: GET /openapi.json. */
export const DOCS_ROUTE_SPECS: readonly RouteSpec[] = [];
