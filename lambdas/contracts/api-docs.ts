import { z } from 'zod';
import { PUBLIC, type RouteSpec } from './api-route-spec.js';

/** The parts of the OpenAPI document a client looks at first; the rest is described by OpenAPI 3.1 itself. */
export const openApiDocumentSchema = z.looseObject({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.looseObject({})),
});

/** The API describing itself: GET /openapi.json, public so that tools can read it before anyone signs in. */
export const DOCS_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'GET',
    path: '/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document (the same as docs/openapi.json)',
    tag: 'platform',
    access: PUBLIC,
    response: openApiDocumentSchema,
  },
];
