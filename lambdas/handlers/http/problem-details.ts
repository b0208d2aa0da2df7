import type { Logger } from '@aws-lambda-powertools/logger';
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ZodError } from 'zod';
import { InvalidCursorError } from '../../adapters/dynamodb-batches.js';
import { PROBLEM_CONTENT_TYPE, type Problem, problemKind } from '../../contracts/api.js';
import { InvalidRequestError, NotFoundError } from '../../domain/city-queries.js';
import { ConflictError } from '../../domain/service-queries.js';

/** The caller is not signed in (no or invalid token). */
export class UnauthorizedError extends Error {
  override readonly name = 'UnauthorizedError';
}

/** The caller is signed in but their group may not use this route. */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
}

/**
 * The refusal of an open-data route without a valid `x-api-key`: API Gateway's (its INVALID_API_KEY response) and
 * the local server's say the same, so a client sees one answer wherever it runs.
 */
export const INVALID_API_KEY_DETAIL =
  'open-data routes need an API key in the x-api-key header; ask the council for one';

export function problemResponse(
  status: number,
  detail: string,
  parameter?: string,
  instance?: string,
): APIGatewayProxyResult {
  const problem: Problem = {
    ...problemKind(status),
    status,
    detail,
    ...(parameter ? { parameter } : {}),
    ...(instance ? { instance } : {}),
  };
  return {
    statusCode: status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store' },
    body: JSON.stringify(problem),
  };
}

export function jsonResponse(body: unknown, status = 200): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/** Turns what a route threw into an RFC 9457 problem; anything unexpected becomes a 500 that leaks nothing. */
export function errorToProblem(error: unknown, path: string, logger: Logger): APIGatewayProxyResult {
  if (error instanceof ZodError) {
    const issue = error.issues[0];
    const parameter = issue?.path.map(String).join('.') || undefined;
    const detail = issue ? `${parameter ? `'${parameter}': ` : ''}${issue.message}` : 'invalid request';
    return problemResponse(400, detail, parameter, path);
  }
  if (error instanceof InvalidRequestError) return problemResponse(400, error.message, error.parameter, path);
  if (error instanceof InvalidCursorError) return problemResponse(400, error.message, 'cursor', path);
  if (error instanceof NotFoundError) return problemResponse(404, error.message, undefined, path);
  if (error instanceof ConflictError) return problemResponse(409, error.message, undefined, path);
  if (error instanceof UnauthorizedError) return problemResponse(401, error.message, undefined, path);
  if (error instanceof ForbiddenError) return problemResponse(403, error.message, undefined, path);
  logger.error('unhandled error', { error: error as Error, path });
  return problemResponse(500, 'the request could not be completed; it has been logged', undefined, path);
}

/** Middy middleware: the one place API errors are mapped, so routes stay free of try/catch. */
export function problemDetails(
  logger: Logger,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: async (request) => {
      request.response = errorToProblem(request.error, request.event.path, logger);
    },
  };
}
