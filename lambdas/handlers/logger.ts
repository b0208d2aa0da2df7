import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One structured logger per function. Level comes from POWERTOOLS_LOG_LEVEL (the construct sets it); payloads
 * and tokens are never logged, only ids, counts and reason codes.
 */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}
