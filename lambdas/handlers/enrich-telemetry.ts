import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  type ChangeDetectionOptions,
  enrichTelemetryPortsFromEnvironment,
  retentionDays,
} from '../adapters/ports-from-environment.js';
import { MESSAGE_LIMITS } from '../contracts/envelope.js';
import { type EnrichTelemetryPorts, enrichTelemetryBatch } from '../domain/enrich-telemetry.js';
import type { ValidationLimits } from '../domain/message-validation.js';
import { createLogger } from './logger.js';

export interface EnrichTelemetryHandlerOptions {
  /** Built on first use, so a cold start that never receives a message costs nothing. */
  readonly ports: () => EnrichTelemetryPorts;
  readonly limits: () => ValidationLimits;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

/**
 * SQS consumer for one ingest lane: hands the whole batch to the enrichment use case and reports the messages
 * that must be retried as partial batch failures (the event source mapping has ReportBatchItemFailures on).
 */
export function createEnrichTelemetryHandler(options: EnrichTelemetryHandlerOptions) {
  const logger = options.logger ?? createLogger('enrich-telemetry');
  let ports: EnrichTelemetryPorts | undefined;
  let limits: ValidationLimits | undefined;

  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    ports ??= options.ports();
    limits ??= options.limits();
    const result = await enrichTelemetryBatch(
      event.Records.map((record) => ({ queueMessageId: record.messageId, body: record.body })),
      ports,
      options.now?.() ?? new Date(),
      limits,
    );
    for (const failure of result.errors) {
      logger.error('step failed; messages returned to the queue', {
        step: failure.step,
        messages: failure.messages,
        error: failure.error as Error,
      });
    }
    const byReason: Record<string, number> = {};
    for (const entry of result.quarantined) byReason[entry.reason] = (byReason[entry.reason] ?? 0) + 1;
    // A batch that left readings out (sampled while degraded) or refused some is worth a warning: at the default
    // WARN level that line is what records it; an ordinary batch is INFO.
    const notable = result.sampledOut > 0 || result.quarantined.length > 0;
    (notable ? logger.warn : logger.info).call(logger, 'batch enriched', {
      received: event.Records.length,
      stored: result.stored,
      duplicates: result.duplicates,
      // Readings left out while the cost guard samples this lane (tier degrade); not stored, not quarantined.
      sampledOut: result.sampledOut,
      quarantined: result.quarantined.length,
      quarantinedByReason: byReason,
      retried: result.retry.length,
      // Domain events published: only when a service's rules saw something change.
      events: result.events,
    });
    return { batchItemFailures: result.retry.map((itemIdentifier) => ({ itemIdentifier })) };
  }).use(injectLambdaContext(logger));
}

/**
 * The handler as deployed, wired from an environment: the Lambda's own, or a lane's environment in the local
 * runtime, which may wrap the ports (to count what is stored), give its own logger, and give change detection
 * its in-process bus, time scale and service settings (`changeDetection`; the enabled services still come from
 * ENABLED_SERVICES in `env`).
 */
export function enrichTelemetryHandlerFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger = createLogger('enrich-telemetry'),
  wrapPorts: (ports: EnrichTelemetryPorts) => EnrichTelemetryPorts = (ports) => ports,
  changeDetection: ChangeDetectionOptions = {},
) {
  return createEnrichTelemetryHandler({
    logger,
    ports: () =>
      wrapPorts(
        enrichTelemetryPortsFromEnvironment(
          env,
          (error) =>
            logger.warn('cost guard settings unreadable; keeping every reading', { error: error as Error }),
          {
            // The messages concerned are retried and the step failure logged by the handler; this says why.
            onError: (error) =>
              logger.warn('service state write or event send failed; retrying', { error: error as Error }),
            ...changeDetection,
          },
        ),
      ),
    limits: () => ({
      retentionDays: retentionDays(env),
      maxFutureSkewSeconds: MESSAGE_LIMITS.maxFutureSkewSeconds,
    }),
  });
}

export const handler = enrichTelemetryHandlerFromEnvironment(process.env);
