import type { Route } from './route.js';

/** The device registry. */
export const deviceRouteHandlers: Record<string, Route> = {};
