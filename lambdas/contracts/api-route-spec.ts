import type { z } from 'zod';
import type { OpenDataView, ServiceBlueprint } from '../../services/shared/blueprint.js';
import { openDataResponseSchema, STAFF_GROUPS, type StaffGroup } from './api.js';

/**
 * Who may call a route. Every route has exactly one decision, and the CDK construct, the handler, the local
 * API server, the OpenAPI document and the tests all read it from here.
 *
 * - `public`: no credentials (liveness, the API description).
 * - `open-data`: an API key identifies the caller for attribution and usage plans; it is not a security boundary,
 *   so these routes serve only public fields.
 * - `staff`: a Cognito user in one of `groups`; 401 without a token, 403 with a group that is not listed.
 */
export type RouteAccess =
  | { readonly kind: 'public' }
  | { readonly kind: 'open-data' }
  | { readonly kind: 'staff'; readonly groups: readonly StaffGroup[] };

export const PUBLIC: RouteAccess = { kind: 'public' };
export const OPEN_DATA: RouteAccess = { kind: 'open-data' };
export const ANY_STAFF: RouteAccess = { kind: 'staff', groups: STAFF_GROUPS };
export const OPERATORS: RouteAccess = { kind: 'staff', groups: ['admin', 'operator'] };
export const ADMINS: RouteAccess = { kind: 'staff', groups: ['admin'] };

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** One route of the city API: its address, who may call it and the shapes of what it takes and gives. */
export interface RouteSpec {
  readonly method: HttpMethod;
  /** The API Gateway resource path, with `{name}` path parameters: `/devices/{id}`. */
  readonly path: string;
  /** One line for the API reference. */
  readonly summary: string;
  /** The group of routes it belongs to in the reference (`devices`, `telemetry`, `services` ...). */
  readonly tag: string;
  readonly access: RouteAccess;
  readonly pathParams?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** The 2xx response body. @default - undocumented JSON */
  readonly response?: z.ZodType;
  /** The status of a successful answer (201 for something created). @default 200 */
  readonly successStatus?: 200 | 201 | 202;
  /**
   * The 2xx body by media type, for routes that answer other than plain JSON or in several forms (an export as
   * `text/csv` or `application/geo+json`); used instead of `response`. @default - `response` as application/json
   */
  readonly responseContent?: Readonly<Record<string, z.ZodType>>;
}

/** `GET /devices/{id}`: how routes are keyed everywhere (as API Gateway names a method). */
export function routeKey(route: Pick<RouteSpec, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}

/**
 * A service's open-data route (`GET /parking/sites`), from its blueprint's `openData`: the service's name and its
 * sites' public views (`item` describes one, when the blueprint declares it).
 */
export function openDataRoute(path: string, description: string, item?: z.ZodType): RouteSpec {
  return {
    method: 'GET',
    path: `/${path}`,
    summary: description,
    tag: 'open data',
    access: OPEN_DATA,
    ...(item ? { response: openDataResponseSchema(item) } : {}),
  };
}

/** The open-data routes of these services, in their order: what each enabled blueprint adds to the API. */
export function openDataRoutes(blueprints: readonly Pick<ServiceBlueprint, 'openData'>[]): RouteSpec[] {
  return blueprints.flatMap(({ openData }) => (openData ? [openDataRouteOf(openData)] : []));
}

function openDataRouteOf(view: OpenDataView): RouteSpec {
  return openDataRoute(view.path, view.description, view.schema);
}
