import type { RouteSpec } from './api-route-spec.js';

/** The device registry: list, register, update, decommission. */
export const DEVICE_ROUTE_SPECS: readonly RouteSpec[] = [];
