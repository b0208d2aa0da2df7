import { BLUEPRINTS } from '../../../services/catalogue.js';
import { openDataRoutes, ROUTE_SPECS } from '../../contracts/api-routes.js';
import { type OpenApiDocument, openApiDocument } from '../../contracts/openapi.js';
import { jsonResponse } from '../http/problem-details.js';
import type { Route } from './route.js';

/**
 * Every route the platform can serve: its own and every blueprint's open data. The document describes them all,
 * whichever services a deployment enables (a service that is not enabled answers 404), so it is one document:
 * the one `npm run openapi` writes to docs/openapi.json and this route serves.
 */
export const DOCUMENTED_ROUTES = [...ROUTE_SPECS, ...openDataRoutes(BLUEPRINTS)];

let document: OpenApiDocument | undefined;

/** The API's OpenAPI 3.1 document, built once per process from the route specs' schemas. */
export function cityApiDocument(): OpenApiDocument {
  document ??= openApiDocument(DOCUMENTED_ROUTES);
  return document;
}

/** The API describing itself. */
export const docsRouteHandlers: Record<string, Route> = {
  'GET /openapi.json': async () => jsonResponse(cityApiDocument()),
};
