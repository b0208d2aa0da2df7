import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
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
} from '../domain/city-queries.js';
import {
  ForbiddenError,
  jsonResponse,
  problemDetails,
  problemResponse,
  UnauthorizedError,
} from './http/problem-details.js';
import { createLogger } from './logger.js';

type Route = (
  event: APIGatewayProxyEvent,
  ports: CityQueryPorts,
  now: Date,
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
};

export interface CityApiHandlerOptions {
  readonly ports: () => CityQueryPorts;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

/** The city's read API: one function behind every route, each route one use-case call. */
export function createCityApiHandler(options: CityApiHandlerOptions) {
  const logger = options.logger ?? createLogger('city-api');
  let ports: CityQueryPorts | undefined;
  return middy(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    const route = ROUTES[`${event.httpMethod} ${event.resource}`];
    if (!route)
      return problemResponse(404, `no route ${event.httpMethod} ${event.path}`, undefined, event.path);
    if (route.groups) authorize(event, route.groups);
    ports ??= options.ports();
    return route.run(event, ports, options.now?.() ?? new Date());
  })
    .use(injectLambdaContext(logger))
    .use(problemDetails(logger));
}

export const handler = createCityApiHandler({ ports: () => cityQueryPortsFromEnvironment() });
