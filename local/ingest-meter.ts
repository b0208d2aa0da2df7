import { EventEmitter } from 'node:events';
import type { EnrichTelemetryPorts } from '../lambdas/domain/enrich-telemetry.js';
import type { QuarantineEntry, QuarantineStore } from '../lambdas/domain/quarantine.js';
import type { TelemetryPoint, TelemetryStore } from '../lambdas/domain/telemetry.js';

/** Events the meter emits, each after the store confirmed the write. */
export interface IngestMeterEvents {
  /** Points newly written to the telemetry store (not retries, duplicates or rate-limited ones). */
  stored: [points: readonly TelemetryPoint[]];
  /** Entries written to the quarantine. */
  quarantined: [entries: readonly QuarantineEntry[]];
}

/**
 * Watches what the enrichment handler stores, by decorating its ports (the domain's own interfaces), so the local
 * runtime can count and time the pipeline without changing the handler that is deployed to AWS. Everything else
 * about the ports (for example a store's `detectsDuplicates` flag) passes through untouched.
 */
export class IngestMeter extends EventEmitter<IngestMeterEvents> {
  /** The same ports, with telemetry writes and quarantine puts reported. */
  wrap(ports: EnrichTelemetryPorts): EnrichTelemetryPorts {
    const meter = this;
    const telemetry = new Proxy(ports.telemetry, {
      get(target, property, receiver) {
        if (property !== 'write') return Reflect.get(target, property, receiver);
        // Everything the caller passes goes through (the hourly allowance too: dropping it would turn rate
        // policing off locally).
        return async (...args: Parameters<TelemetryStore['write']>) => {
          const [points] = args;
          const outcome = await target.write(...args);
          const notStored = new Set<number>([
            ...outcome.retry,
            ...outcome.rejected.map((r) => r.index),
            ...(outcome.duplicates ?? []),
          ]);
          const stored = points.filter((_, index) => !notStored.has(index));
          if (stored.length > 0) meter.emit('stored', stored);
          return outcome;
        };
      },
    }) satisfies TelemetryStore;
    const quarantine = new Proxy(ports.quarantine, {
      get(target, property, receiver) {
        if (property !== 'put') return Reflect.get(target, property, receiver);
        return async (entries: readonly QuarantineEntry[]) => {
          const retry = await target.put(entries);
          const failed = new Set(retry);
          const written = entries.filter((_, index) => !failed.has(index));
          if (written.length > 0) meter.emit('quarantined', written);
          return retry;
        };
      },
    }) satisfies QuarantineStore;
    return { ...ports, telemetry, quarantine };
  }
}
