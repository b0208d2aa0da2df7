import type { Route } from './route.js';

/** NGSI-LD entities and exports. */
export const standardsRouteHandlers: Record<string, Route> = {};
