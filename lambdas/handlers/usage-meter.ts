import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { costControlFromEnvironment } from '../adapters/cost-ports-from-environment.js';
import { meterAndGuard } from '../domain/cost-control.js';
import { type CostGuardHandlerOptions, logRun } from './guard-run-log.js';
import { createLogger } from './logger.js';

/**
 * The usage meter (EventBridge Scheduler, every 5 minutes): prices what the platform used since the last run,
 * adds it to the month and steps the spending ladder. A failed action is audited and retried next run.
 */
export function createUsageMeterHandler(options: CostGuardHandlerOptions) {
  const logger = options.logger ?? createLogger('usage-meter');
  let guard: ReturnType<CostGuardHandlerOptions['guard']> | undefined;
  return middy(async (): Promise<void> => {
    guard ??= options.guard();
    const result = await meterAndGuard(
      guard.ports,
      guard.settings,
      options.now?.() ?? new Date(),
      guard.defaultIntervalSeconds,
    );
    logRun(logger, 'usage metered', result);
  }).use(injectLambdaContext(logger));
}

export const handler = createUsageMeterHandler({ guard: () => costControlFromEnvironment() });
