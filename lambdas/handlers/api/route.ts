import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type CityQueryPorts, InvalidRequestError } from '../../domain/city-queries.js';
import type { CostControlSettings, GuardActionPorts } from '../../domain/cost-control.js';
import type { BoundingBox } from '../../domain/device.js';
import type { CertificateRevocation } from '../../domain/device-registry.js';
import type { ServiceQueryPorts } from '../../domain/service-queries.js';

/** The cost guard as the API sees it: its records, the lane switches (for restore) and its settings. */
export interface CostApi {
  readonly ports: GuardActionPorts;
  readonly settings: CostControlSettings;
}

/** What a route may use; each part is built on first use, so a route pays only for what it touches. */
export interface RouteContext {
  readonly ports: CityQueryPorts;
  readonly now: Date;
  readonly cost: () => CostApi;
  readonly services: () => ServiceQueryPorts;
  /** The devices' certificates, revoked when a device is decommissioned. */
  readonly deviceCertificates: () => CertificateRevocation;
  /** The council's area: devices are registered and moved only inside it. @default - none: any location */
  readonly councilArea?: BoundingBox;
}

export type Route = (event: APIGatewayProxyEvent, context: RouteContext) => Promise<APIGatewayProxyResult>;

/** Query string parameters, never null. */
export const query = (event: APIGatewayProxyEvent) => event.queryStringParameters ?? {};
/** Path parameters, never null. */
export const path = (event: APIGatewayProxyEvent) => event.pathParameters ?? {};

/** A request body as JSON; a body that is not JSON is the caller's mistake, said plainly. */
export function jsonBody(event: APIGatewayProxyEvent): unknown {
  if (!event.body) throw new InvalidRequestError('this route needs a JSON body');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidRequestError('the request body is not valid JSON');
  }
}
