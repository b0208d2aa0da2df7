import type { Route } from './route.js';

/** The API describing itself. */
export const docsRouteHandlers: Record<string, Route> = {};
