import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/** The response headers a browser app on another origin needs to read: the next page of a list is in `Link`. */
export const CORS_EXPOSED_HEADERS = ['Link'] as const;

/** The origins from the function's environment (`CORS_ALLOW_ORIGINS`, comma-separated); unset or empty: none. */
export function allowedOriginsOf(value: string | undefined): readonly string[] {
  return (value ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin.length > 0);
}

/** A header's value whatever its case (API Gateway passes headers as the client sent them). */
function headerOf(event: APIGatewayProxyEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/**
 * The CORS headers of an answer to `event`: `*` when any origin may call, the caller's own `Origin` when it is in
 * the list (with `Vary: Origin`, so a cache does not hand one origin's answer to another), nothing otherwise.
 */
export function corsHeadersFor(
  allowedOrigins: readonly string[],
  event: APIGatewayProxyEvent,
): Record<string, string> {
  if (allowedOrigins.length === 0) return {};
  const expose = { 'access-control-expose-headers': CORS_EXPOSED_HEADERS.join(', ') };
  if (allowedOrigins.includes('*')) return { 'access-control-allow-origin': '*', ...expose };
  const origin = headerOf(event, 'origin');
  if (origin === undefined || !allowedOrigins.includes(origin)) return { vary: 'Origin' };
  return { 'access-control-allow-origin': origin, vary: 'Origin', ...expose };
}

/**
 * Middy middleware: the configured CORS headers on every answer of the function, successes and problems alike,
 * so a browser app reads a 400 or 404 as the problem it is rather than an opaque CORS failure. API Gateway answers
 * the preflight (OPTIONS) and its own refusals itself. Use it before `problemDetails`: middy runs `onError` in
 * reverse order, so this one then sees the problem response.
 */
export function corsHeaders(
  allowedOrigins: readonly string[],
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const addHeaders = async (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>) => {
    if (!request.response) return;
    const headers = corsHeadersFor(allowedOrigins, request.event);
    if (Object.keys(headers).length === 0) return;
    request.response = { ...request.response, headers: { ...request.response.headers, ...headers } };
  };
  return { after: addHeaders, onError: addHeaders };
}
