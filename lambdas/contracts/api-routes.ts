import {
  alertPathSchema,
  alertSchema,
  alertsQuerySchema,
  costReportSchema,
  devicePathSchema,
  deviceSchema,
  healthSchema,
  jobChangeSchema,
  jobPathSchema,
  jobSchema,
  jobsQuerySchema,
  pageSchema,
  quarantineEntrySchema,
  quarantineQuerySchema,
  rangedPageSchema,
  restoreResultSchema,
  telemetryPointSchema,
} from './api.js';
import { DEVICE_ROUTE_SPECS } from './api-devices.js';
import { DOCS_ROUTE_SPECS } from './api-docs.js';
import { ADMINS, ANY_STAFF, OPERATORS, PUBLIC, type RouteSpec } from './api-route-spec.js';
import { STANDARDS_ROUTE_SPECS } from './api-standards.js';
import { TELEMETRY_ROUTE_SPECS } from './api-telemetry.js';

export * from './api-route-spec.js';

/** The platform's own routes, outside the areas below. */
const PLATFORM_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/health',
    summary: 'Liveness',
    tag: 'platform',
    access: PUBLIC,
    response: healthSchema,
  },
  {
    method: 'GET',
    path: '/devices/{id}',
    summary: 'A registered device',
    tag: 'devices',
    access: ANY_STAFF,
    pathParams: devicePathSchema,
    response: deviceSchema,
  },
  {
    method: 'GET',
    path: '/devices/{id}/latest',
    summary: "A device's newest reading",
    tag: 'devices',
    access: ANY_STAFF,
    pathParams: devicePathSchema,
    response: telemetryPointSchema,
  },
  {
    method: 'GET',
    path: '/quarantine',
    summary: 'Messages that were not stored, with the reason',
    tag: 'telemetry',
    access: ANY_STAFF,
    query: quarantineQuerySchema,
    response: rangedPageSchema(quarantineEntrySchema),
  },
  {
    method: 'GET',
    path: '/cost',
    summary: 'Month to date, forecast, ceiling, tier and recent guard actions',
    tag: 'cost',
    access: ANY_STAFF,
    response: costReportSchema,
  },
  {
    method: 'POST',
    path: '/cost/restore',
    summary: 'Full service now (audited)',
    tag: 'cost',
    access: ADMINS,
    response: restoreResultSchema,
  },
  {
    method: 'GET',
    path: '/jobs',
    summary: 'Work orders, newest first',
    tag: 'services',
    access: ANY_STAFF,
    query: jobsQuerySchema,
    response: pageSchema(jobSchema),
  },
  {
    method: 'GET',
    path: '/jobs/{id}',
    summary: 'One work order',
    tag: 'services',
    access: ANY_STAFF,
    pathParams: jobPathSchema,
    response: jobSchema,
  },
  {
    method: 'PATCH',
    path: '/jobs/{id}',
    summary: 'Move a work order one step (open -> scheduled -> done) with a note',
    tag: 'services',
    access: OPERATORS,
    pathParams: jobPathSchema,
    body: jobChangeSchema,
    response: jobSchema,
  },
  {
    method: 'GET',
    path: '/alerts',
    summary: 'Alert incidents, newest first',
    tag: 'services',
    access: ANY_STAFF,
    query: alertsQuerySchema,
    response: pageSchema(alertSchema),
  },
  {
    method: 'POST',
    path: '/alerts/{id}/ack',
    summary: 'Acknowledge an alert',
    tag: 'services',
    access: OPERATORS,
    pathParams: alertPathSchema,
    response: alertSchema,
  },
];

/**
 * Every route of the city API (each enabled service adds its open-data route, see `openDataRoute`): the one list
 * the handler, the CDK construct, the local server, the OpenAPI document and the tests read.
 */
export const ROUTE_SPECS: readonly RouteSpec[] = [
  ...PLATFORM_ROUTE_SPECS,
  ...DOCS_ROUTE_SPECS,
  ...DEVICE_ROUTE_SPECS,
  ...TELEMETRY_ROUTE_SPECS,
  ...STANDARDS_ROUTE_SPECS,
];
