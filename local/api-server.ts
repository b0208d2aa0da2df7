import { randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { API_SETTINGS } from '../lambdas/contracts/api.js';
import type { RouteAccess } from '../lambdas/contracts/api-routes.js';
import { INVALID_API_KEY_DETAIL, problemResponse } from '../lambdas/handlers/http/problem-details.js';

/** An API Gateway (REST, proxy integration) Lambda handler, as the city API exports it. */
export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** One route as API Gateway knows it: method, resource template, and its access decision (from its spec). */
export interface ApiRoute {
  readonly method: string;
  /** Resource template, e.g. `/devices/{id}/telemetry`. */
  readonly resource: string;
  /** `staff`: the bearer token, as the Cognito authorizer; `open-data`: the API key, as the usage plan; `public`: nothing. */
  readonly access: RouteAccess['kind'];
}

/** Options for {@link startApiServer}. */
export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
  readonly routes: readonly ApiRoute[];
  readonly handler: ApiHandler;
  /** The local bearer token that stands in for a Cognito sign-in. */
  readonly token: string;
  /** The local API key that stands in for the open-data usage plan's key (`x-api-key`). */
  readonly apiKey: string;
  /** Cognito claims the authorizer would pass for the signed-in local user. */
  readonly claims: Readonly<Record<string, string>>;
  readonly region: string;
  readonly accountId: string;
  /** Requests served, by status class; for the status line. */
  readonly onResponse?: (status: number) => void;
}

/** A running API server. */
export interface ApiServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  close(): Promise<void>;
}

interface MatchedRoute {
  readonly route: ApiRoute;
  readonly pathParameters: Record<string, string> | null;
}

/** Matches a request path against resource templates: `{name}` matches one non-empty path segment. */
export function matchRoute(
  routes: readonly ApiRoute[],
  path: string,
): { readonly byMethod: Map<string, MatchedRoute> } | undefined {
  const segments = path.split('/').slice(1);
  const byMethod = new Map<string, MatchedRoute>();
  for (const route of routes) {
    const template = route.resource.split('/').slice(1);
    if (template.length !== segments.length) continue;
    const parameters: Record<string, string> = {};
    let matched = true;
    template.forEach((part, index) => {
      const segment = segments[index] ?? '';
      const name = /^\{(.+)\}$/.exec(part)?.[1];
      if (name) {
        if (segment.length === 0) matched = false;
        else {
          try {
            parameters[name] = decodeURIComponent(segment);
          } catch {
            matched = false;
          }
        }
      } else if (part !== segment) matched = false;
    });
    if (matched) {
      byMethod.set(route.method, {
        route,
        pathParameters: Object.keys(parameters).length > 0 ? parameters : null,
      });
    }
  }
  return byMethod.size > 0 ? { byMethod } : undefined;
}

function secretMatches(presented: string | undefined, secret: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearerMatches(header: string | undefined, token: string): boolean {
  return secretMatches(/^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1], token);
}

/** Node joins a repeated header into a list; API Gateway reads one key, so more than one is no key. */
function apiKeyMatches(header: string | string[] | undefined, apiKey: string): boolean {
  return typeof header === 'string' && secretMatches(header, apiKey);
}

/**
 * The local stand-in for API Gateway in front of the city API: it matches the path to the same resource templates,
 * checks the local bearer token where API Gateway would run the Cognito authorizer and the local API key where it
 * would check the usage plan's, builds a REST proxy event (with the local user's claims) and writes back what the
 * handler returns. Errors it produces itself (401, 403, 404, 405, 502) are RFC 9457 problem+json, like the
 * handler's own and API Gateway's.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const send = (res: http.ServerResponse, result: APIGatewayProxyResult) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
    for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
      headers[name] = values.map(String);
    const body = result.isBase64Encoded
      ? Buffer.from(result.body, 'base64')
      : Buffer.from(result.body ?? '', 'utf8');
    headers['content-length'] = String(body.length);
    res.writeHead(result.statusCode, headers);
    res.end(body);
    options.onResponse?.(result.statusCode);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // API Gateway's payload limit is 10 MB; the read API takes no bodies, so much less is plenty.
      if (size <= 1024 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      void handle(req, res, size > 1024 * 1024 ? undefined : Buffer.concat(chunks)).catch((error: Error) => {
        send(res, problemResponse(502, `the handler failed: ${error.message}`));
      });
    });
  });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer | undefined) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/$/, '') : url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const matched = matchRoute(options.routes, path);
    if (!matched) return send(res, problemResponse(404, `no route ${method} ${path}`, undefined, path));
    const hit = matched.byMethod.get(method);
    if (!hit) {
      const result = problemResponse(
        405,
        `${path} supports ${[...matched.byMethod.keys()].join(', ')}`,
        undefined,
        path,
      );
      return send(res, {
        ...result,
        headers: { ...result.headers, allow: [...matched.byMethod.keys()].join(', ') },
      });
    }
    if (body === undefined) return send(res, problemResponse(400, 'request body too large', undefined, path));
    if (hit.route.access === 'staff' && !bearerMatches(req.headers.authorization, options.token)) {
      const result = problemResponse(
        401,
        'send Authorization: Bearer <token> (see local.json)',
        undefined,
        path,
      );
      return send(res, {
        ...result,
        headers: { ...result.headers, 'www-authenticate': 'Bearer realm="civic-local"' },
      });
    }
    if (hit.route.access === 'open-data' && !apiKeyMatches(req.headers['x-api-key'], options.apiKey)) {
      // As API Gateway's INVALID_API_KEY response, which has no instance.
      return send(res, problemResponse(403, INVALID_API_KEY_DETAIL));
    }

    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      const values = Array.isArray(value) ? value : [value];
      headers[name] = values[values.length - 1] as string;
      multiValueHeaders[name] = values;
    }
    const query: Record<string, string> = {};
    const multiQuery: Record<string, string[]> = {};
    for (const [name, value] of url.searchParams) {
      // API Gateway's single-value map keeps the last value of a repeated parameter.
      query[name] = value;
      multiQuery[name] = [...(multiQuery[name] ?? []), value];
    }
    const hasQuery = Object.keys(query).length > 0;
    const now = Date.now();
    const requestId = randomUUID();
    const event: APIGatewayProxyEvent = {
      resource: hit.route.resource,
      path,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters: hasQuery ? query : null,
      multiValueQueryStringParameters: hasQuery ? multiQuery : null,
      pathParameters: hit.pathParameters,
      stageVariables: null,
      body: body.length > 0 ? body.toString('utf8') : null,
      isBase64Encoded: false,
      requestContext: {
        accountId: options.accountId,
        apiId: 'local',
        // Only staff routes have the authorizer on AWS, so only they carry claims.
        authorizer: hit.route.access === 'staff' ? { claims: { ...options.claims } } : null,
        protocol: `HTTP/${req.httpVersion}`,
        httpMethod: method,
        identity: {
          accessKey: null,
          accountId: null,
          // API Gateway passes the key that passed its usage plan check to open-data routes.
          apiKey: hit.route.access === 'open-data' ? options.apiKey : null,
          apiKeyId: hit.route.access === 'open-data' ? 'local' : null,
          caller: null,
          clientCert: null,
          cognitoAuthenticationProvider: null,
          cognitoAuthenticationType: null,
          cognitoIdentityId: null,
          cognitoIdentityPoolId: null,
          principalOrgId: null,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          user: null,
          userAgent: req.headers['user-agent'] ?? null,
          userArn: null,
        },
        path: `/local${path}`,
        stage: 'local',
        requestId,
        requestTimeEpoch: now,
        resourceId: 'local',
        resourcePath: hit.route.resource,
      },
    };
    const context: Context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: 'city-api',
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${options.region}:${options.accountId}:function:city-api`,
      memoryLimitInMB: String(API_SETTINGS.functionMemoryMb),
      awsRequestId: requestId,
      logGroupName: '/aws/lambda/city-api',
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, now + 29_000 - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    send(res, await options.handler(event, context));
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
