import type { Logger } from '@aws-lambda-powertools/logger';
import type { CostControlPorts, CostControlSettings, MeterRunResult } from '../domain/cost-control.js';

/** Options shared by the two functions that run the guard (usage meter, budget alert). */
export interface CostGuardHandlerOptions {
  /** Built on first use. */
  readonly guard: () => {
    readonly ports: CostControlPorts;
    readonly settings: CostControlSettings;
    readonly defaultIntervalSeconds: number;
  };
  readonly now?: () => Date;
  readonly logger?: Logger;
}

/** Logs a run's outcome: failed actions at error level (they are retried next run), the rest at info. */
export function logRun(logger: Logger, message: string, result: MeterRunResult): void {
  const failed = result.audit.filter((entry) => entry.outcome === 'failed');
  const summary = {
    month: result.ledger.month,
    monthToDateUsd: Number(result.ledger.monthToDateUsd.toFixed(4)),
    forecastUsd: Number(result.ledger.forecastUsd.toFixed(2)),
    burnRateUsdPerHour: Number(result.ledger.burnRateUsdPerHour.toFixed(4)),
    tier: result.tier,
    actions: result.audit.map((entry) => `${entry.action.kind}:${entry.outcome}`),
  };
  logger.info(message, summary);
  for (const entry of failed) {
    logger.error('guard action failed; the next run retries it', {
      action: entry.action.kind,
      error: entry.error,
    });
  }
}
