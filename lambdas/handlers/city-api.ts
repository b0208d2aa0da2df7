import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { costApiFromEnvironment } from '../adapters/cost-ports-from-environment.js';
import { cityQueryPortsFromEnvironment } from '../adapters/ports-from-environment.js';
import {
  devicePathSchema,
  quarantineQuerySchema,
  STAFF_GROUPS,
  type StaffGroup,
  telemetryQuerySchema,
} from '../contracts/api.js';
import {
  type CityQueryPorts,
  getDevice,
  getLatestReading,
  getTelemetryHistory,
  listQuarantine,
  NotFoundError,
} from '../domain/city-queries.js';
import {
  type CostControlSettings,
  costReport,
  type GuardActionPorts,
  restoreService,
} from '../domain/cost-control.js';
import {
  ForbiddenError,
  jsonResponse,
  problemDetails,
  problemResponse,
  UnauthorizedError,
} from './http/problem-details.js';
import { createLogger } from './logger.js';

/** The cost guard as the API sees it: its records, the lane switches (for restore) and its settings. */
export interface CostApi {
  readonly ports: GuardActionPorts;
  readonly settings: CostControlSettings;
}

type Route = (
  event: APIGatewayProxyEvent,
  ports: CityQueryPorts,
  now: Date,
  cost: () => CostApi,
) => Promise<APIGatewayProxyResult>;

interface RouteDefinition {
  /** Which staff groups may call it; undefined = public. */
  readonly groups?: readonly StaffGroup[];
  readonly run: Route;
}

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

function authorize(event: APIGatewayProxyEvent, allowed: readonly StaffGroup[]): void {
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

const query = (event: APIGatewayProxyEvent) => event.queryStringParameters ?? {};
const path = (event: APIGatewayProxyEvent) => event.pathParameters ?? {};

/** Every route the read API serves, keyed `METHOD resource` exactly as API Gateway names the resource. */
export const ROUTES: Record<string, RouteDefinition> = {
  'GET /health': { run: async () => jsonResponse({ status: 'ok' }) },
  'GET /devices/{id}': {
    groups: STAFF_GROUPS,
    run: async (event, ports) => jsonResponse(await getDevice(ports, devicePathSchema.parse(path(event)).id)),
  },
  'GET /devices/{id}/latest': {
    groups: STAFF_GROUPS,
    run: async (event, ports) =>
      jsonResponse(await getLatestReading(ports, devicePathSchema.parse(path(event)).id)),
  },
  'GET /devices/{id}/telemetry': {
    groups: STAFF_GROUPS,
    run: async (event, ports, now) => {
      const { id } = devicePathSchema.parse(path(event));
      const page = await getTelemetryHistory(
        ports,
        { deviceId: id, ...telemetryQuerySchema.parse(query(event)) },
        now,
      );
      return jsonResponse({ deviceId: id, ...page });
    },
  },
  'GET /quarantine': {
    groups: STAFF_GROUPS,
    run: async (event, ports, now) =>
      jsonResponse(await listQuarantine(ports, quarantineQuerySchema.parse(query(event)), now)),
  },
  // Month to date, forecast, ceiling (null when none is set), tier, degrade settings and recent guard actions.
  'GET /cost': {
    groups: STAFF_GROUPS,
    run: async (_event, _ports, now, cost) => {
      const { ports, settings } = cost();
      return jsonResponse(await costReport(ports, settings.ceilingUsd, now));
    },
  },
  // Full service now: the ordinary lane's consumer resumed, its rule enabled, sampling off; audited with the caller.
  'POST /cost/restore': {
    groups: ['admin'],
    run: async (event, _ports, now, cost) => {
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
  },
};

export interface CityApiHandlerOptions {
  readonly ports: () => CityQueryPorts;
  /** The cost guard's records and switches. @default - none: the cost routes answer 404 */
  readonly cost?: () => CostApi;
  readonly now?: () => Date;
  readonly logger?: Logger;
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
  return middy(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const route = ROUTES[`${event.httpMethod} ${event.resource}`];
    if (!route)
      return problemResponse(404, `no route ${event.httpMethod} ${event.path}`, undefined, event.path);
    if (route.groups) authorize(event, route.groups);
    ports ??= options.ports();
    return route.run(event, ports, options.now?.() ?? new Date(), cost);
  })
    .use(injectLambdaContext(logger))
    .use(problemDetails(logger));
}

const logger = createLogger('city-api');

export const handler = createCityApiHandler({
  logger,
  ports: () => cityQueryPortsFromEnvironment(),
  cost: () =>
    costApiFromEnvironment(process.env, (subject, message) =>
      logger.warn('cost guard notice', { subject, message }),
    ),
});
