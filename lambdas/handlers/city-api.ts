import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { IoTClient } from '@aws-sdk/client-iot';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { blueprintsNamed } from '../../services/catalogue.js';
import type { ServiceBlueprint } from '../../services/shared/blueprint.js';
import { costApiFromEnvironment } from '../adapters/cost-ports-from-environment.js';
import { IotDeviceCertificates } from '../adapters/iot-device-certificates.js';
import {
  cityQueryPortsFromEnvironment,
  councilAreaFromEnvironment,
  enabledServices,
} from '../adapters/ports-from-environment.js';
import { serviceRecordsFromEnvironment } from '../adapters/workflow-ports-from-environment.js';
import {
  alertPathSchema,
  alertsQuerySchema,
  devicePathSchema,
  jobChangeSchema,
  jobPathSchema,
  jobsQuerySchema,
  quarantineQuerySchema,
  type StaffGroup,
} from '../contracts/api.js';
import {
  openDataRoutes,
  ROUTE_SPECS,
  type RouteAccess,
  type RouteSpec,
  routeKey,
} from '../contracts/api-routes.js';
import { ENV } from '../contracts/environment.js';
import {
  type CityQueryPorts,
  getDevice,
  getLatestReading,
  listQuarantine,
  NotFoundError,
} from '../domain/city-queries.js';
import { costReport, restoreService } from '../domain/cost-control.js';
import type { BoundingBox } from '../domain/device.js';
import type { CertificateRevocation } from '../domain/device-registry.js';
import {
  acknowledgeAlert,
  getJob,
  listAlerts,
  listJobs,
  moveJob,
  openDataOf,
  type ServiceQueryPorts,
} from '../domain/service-queries.js';
import { deviceRouteHandlers } from './api/device-routes.js';
import { docsRouteHandlers } from './api/docs-routes.js';
import { type CostApi, jsonBody, path, query, type Route } from './api/route.js';
import { standardsRouteHandlers } from './api/standards-routes.js';
import { telemetryRouteHandlers } from './api/telemetry-routes.js';
import { allowedOriginsOf, corsHeaders } from './http/cors-headers.js';
import {
  ForbiddenError,
  jsonResponse,
  problemDetails,
  problemResponse,
  UnauthorizedError,
} from './http/problem-details.js';
import { createLogger } from './logger.js';

export type { CostApi, Route, RouteContext } from './api/route.js';

/** Cognito puts groups in the token as a list; API Gateway hands them over as one string, "a,b" or "[a b]". */
export function groupsOf(event: APIGatewayProxyEvent): string[] | undefined {
  const claims = event.requestContext?.authorizer?.claims as Record<string, unknown> | undefined;
  if (!claims?.sub) return undefined;
  const raw = claims['cognito:groups'];
  if (Array.isArray(raw)) return raw.map(String);
  if (typeof raw !== 'string') return [];
  return raw
    .replace(/^\[|\]$/g, '')
    .split(/[,\s]+/)
    .filter(Boolean);
}

function authorize(event: APIGatewayProxyEvent, access: RouteAccess): void {
  // Open-data routes: API Gateway checks the API key (attribution, not security); public routes need nothing.
  if (access.kind !== 'staff') return;
  const allowed: readonly StaffGroup[] = access.groups;
  const groups = groupsOf(event);
  if (!groups) throw new UnauthorizedError('sign in to use this route');
  if (!groups.some((group) => (allowed as readonly string[]).includes(group))) {
    throw new ForbiddenError(`this route needs one of the groups: ${allowed.join(', ')}`);
  }
}

/** Who is calling, for the audit log: the Cognito user name and the stable subject id. */
export function callerOf(event: APIGatewayProxyEvent): string {
  const claims = (event.requestContext?.authorizer?.claims ?? {}) as Record<string, unknown>;
  const sub = String(claims.sub ?? 'unknown');
  const username = claims['cognito:username'] ?? claims.username;
  return username && username !== sub ? `${String(username)} (${sub})` : sub;
}

/**
 * What each route does, keyed as API Gateway names a method (`GET /devices/{id}`). Who may call it, and the shapes
 * it takes and gives, are its spec in lambdas/contracts/api-routes.ts; a test holds the two lists to each other.
 */
export const ROUTE_HANDLERS: Record<string, Route> = {
  ...docsRouteHandlers,
  ...deviceRouteHandlers,
  ...telemetryRouteHandlers,
  ...standardsRouteHandlers,
  'GET /health': async () => jsonResponse({ status: 'ok' }),
  'GET /devices/{id}': async (event, { ports }) =>
    jsonResponse(await getDevice(ports, devicePathSchema.parse(path(event)).id)),
  'GET /devices/{id}/latest': async (event, { ports }) =>
    jsonResponse(await getLatestReading(ports, devicePathSchema.parse(path(event)).id)),
  'GET /quarantine': async (event, { ports, now }) =>
    jsonResponse(await listQuarantine(ports, quarantineQuerySchema.parse(query(event)), now)),
  // Month to date, forecast, ceiling (null when none is set), tier, degrade settings and recent guard actions.
  'GET /cost': async (_event, { now, cost }) => {
    const { ports, settings } = cost();
    return jsonResponse(await costReport(ports, settings.ceilingUsd, now));
  },
  // Full service now: the ordinary lane's consumer resumed, its rule enabled, sampling off; audited with the caller.
  'POST /cost/restore': async (event, { now, cost }) => {
    const { ports, settings } = cost();
    const result = await restoreService(ports, settings, callerOf(event), now);
    const complete = result.audit.every((entry) => entry.outcome === 'done');
    return jsonResponse({
      tier: result.tier,
      complete,
      ...(complete
        ? {}
        : { detail: 'some actions failed; the usage meter retries them every 5 minutes (see actions)' }),
      monthToDateUsd: result.ledger.monthToDateUsd,
      forecastUsd: result.ledger.forecastUsd,
      actions: result.audit,
    });
  },
  'GET /jobs': async (event, { services }) =>
    jsonResponse(await listJobs(services(), jobsQuerySchema.parse(query(event)))),
  'GET /jobs/{id}': async (event, { services }) =>
    jsonResponse(await getJob(services(), jobPathSchema.parse(path(event)).id)),
  // Crews move jobs; viewers may only look.
  'PATCH /jobs/{id}': async (event, { services, now }) => {
    const { id } = jobPathSchema.parse(path(event));
    const change = jobChangeSchema.parse(jsonBody(event));
    return jsonResponse(await moveJob(services(), id, change, callerOf(event), now));
  },
  'GET /alerts': async (event, { services }) =>
    jsonResponse(await listAlerts(services(), alertsQuerySchema.parse(query(event)))),
  'POST /alerts/{id}/ack': async (event, { services, now }) => {
    const { id } = alertPathSchema.parse(path(event));
    return jsonResponse(await acknowledgeAlert(services(), id, callerOf(event), now));
  },
};

/** Each enabled service's open data (`GET /parking/sites` ...): declared by the blueprint, so a service brings its route. */
function openDataHandler(blueprint: ServiceBlueprint): Route {
  return async (_event, { services }) => jsonResponse(await openDataOf(services(), blueprint));
}

/** Every route this deployment serves: the platform's own and the enabled services' open data. */
export function routeSpecsFor(enabled: readonly ServiceBlueprint[]): RouteSpec[] {
  return [...ROUTE_SPECS, ...openDataRoutes(enabled)];
}

export interface CityApiHandlerOptions {
  readonly ports: () => CityQueryPorts;
  /** The cost guard's records and switches. @default - none: the cost routes answer 404 */
  readonly cost?: () => CostApi;
  /** Jobs, alerts and open data of the enabled services. @default - none: those routes answer 404 */
  readonly services?: () => ServiceQueryPorts;
  /**
   * The devices' certificates: `DELETE /devices/{id}` revokes them before it decommissions the entry.
   * @default - none: `DELETE /devices/{id}` answers 500 and changes nothing, since decommissioning without revoking
   * would leave the device a working certificate
   */
  readonly deviceCertificates?: () => CertificateRevocation;
  /** The enabled blueprints, for their open-data routes. @default none */
  readonly enabledServices?: readonly ServiceBlueprint[];
  readonly now?: () => Date;
  readonly logger?: Logger;
  /** Origins browser apps may call from (`*` for any): CORS headers on every answer. @default - none, no CORS headers */
  readonly corsAllowOrigins?: readonly string[];
  /**
   * The council's area: `POST /devices` and `PATCH /devices/{id}` refuse a location outside it (400, naming the
   * device and `location`). @default - none: any location is accepted
   */
  readonly councilArea?: BoundingBox;
}

/** The city's read API: one function behind every route, each route one use-case call. */
export function createCityApiHandler(options: CityApiHandlerOptions) {
  const logger = options.logger ?? createLogger('city-api');
  let ports: CityQueryPorts | undefined;
  let costApi: CostApi | undefined;
  const cost = (): CostApi => {
    if (!options.cost) throw new NotFoundError('the cost guard is not configured on this platform');
    costApi ??= options.cost();
    return costApi;
  };
  let servicePorts: ServiceQueryPorts | undefined;
  const services = (): ServiceQueryPorts => {
    if (!options.services) throw new NotFoundError('no service workflows are enabled on this platform');
    servicePorts ??= options.services();
    return servicePorts;
  };
  let certificates: CertificateRevocation | undefined;
  const deviceCertificates = (): CertificateRevocation => {
    if (!options.deviceCertificates) {
      throw new Error('this platform cannot revoke device certificates, so it does not decommission devices');
    }
    certificates ??= options.deviceCertificates();
    return certificates;
  };
  const enabled = options.enabledServices ?? [];
  const routes = new Map<string, { spec: RouteSpec; run: Route }>();
  for (const spec of routeSpecsFor(enabled)) {
    const key = routeKey(spec);
    const blueprint = enabled.find((b) => b.openData && `/${b.openData.path}` === spec.path);
    const run = ROUTE_HANDLERS[key] ?? (blueprint ? openDataHandler(blueprint) : undefined);
    if (!run) throw new Error(`route ${key} has a spec but no handler`);
    routes.set(key, { spec, run });
  }
  // CORS before problemDetails: middy runs onError in reverse order, so the headers land on problems too.
  return middy(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const route = routes.get(`${event.httpMethod} ${event.resource}`);
    if (!route)
      return problemResponse(404, `no route ${event.httpMethod} ${event.path}`, undefined, event.path);
    authorize(event, route.spec.access);
    ports ??= options.ports();
    return route.run(event, {
      ports,
      now: options.now?.() ?? new Date(),
      cost,
      services,
      deviceCertificates,
      councilArea: options.councilArea,
    });
  })
    .use(injectLambdaContext(logger))
    .use(corsHeaders(options.corsAllowOrigins ?? []))
    .use(problemDetails(logger));
}

const logger = createLogger('city-api');

/** The services this deployment runs (ENABLED_SERVICES): their jobs, alerts and open-data routes. */
const enabled = blueprintsNamed(enabledServices(process.env));

export const handler = createCityApiHandler({
  logger,
  ports: () => cityQueryPortsFromEnvironment(),
  enabledServices: enabled,
  corsAllowOrigins: allowedOriginsOf(process.env[ENV.corsAllowOrigins]),
  councilArea: councilAreaFromEnvironment(process.env),
  // The function's role may list a thing's principals and update certificates, nothing more (CityApi).
  deviceCertificates: () => new IotDeviceCertificates(new IoTClient({ maxAttempts: 3 })),
  services: () => ({
    ...serviceRecordsFromEnvironment(
      process.env,
      enabled.map((b) => b.name),
    ),
    enabled,
  }),
  cost: () =>
    costApiFromEnvironment(process.env, (subject, message) =>
      logger.warn('cost guard notice', { subject, message }),
    ),
});
