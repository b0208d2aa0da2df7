import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SNSEvent } from 'aws-lambda';
import { costControlFromEnvironment } from '../adapters/cost-ports-from-environment.js';
import { onBudgetNotice } from '../domain/cost-control.js';
import { type CostGuardHandlerOptions, logRun } from './guard-run-log.js';
import { createLogger } from './logger.js';

/**
 * AWS Budgets -> SNS -> here: the slow backstop (Budgets data is 8 to 24 hours late). Each notice runs the same
 * meter-and-guard path as the schedule and is recorded in the audit log. A run that fails (for example because
 * the scheduled run saved the ledger at the same moment) throws, so Lambda retries the asynchronous event.
 */
export function createBudgetAlertHandler(options: CostGuardHandlerOptions) {
  const logger = options.logger ?? createLogger('budget-alert');
  let guard: ReturnType<CostGuardHandlerOptions['guard']> | undefined;
  return middy(async (event: SNSEvent): Promise<void> => {
    guard ??= options.guard();
    for (const record of event.Records) {
      const result = await onBudgetNotice(
        guard.ports,
        guard.settings,
        { subject: record.Sns.Subject ?? 'AWS Budgets notification', message: record.Sns.Message },
        options.now?.() ?? new Date(),
        guard.defaultIntervalSeconds,
      );
      logRun(logger, 'budget notice handled', result);
    }
  }).use(injectLambdaContext(logger));
}

export const handler = createBudgetAlertHandler({ guard: () => costControlFromEnvironment() });
