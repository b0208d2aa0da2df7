import type { InMemoryPorts } from '../lambdas/adapters/in-memory-ports.js';
import {
  decodeMessage,
  enrichMessage,
  type QueuedMessage,
  quarantineEntry,
  type ValidationLimits,
} from '../lambdas/domain/message-validation.js';

/**
 * The design this platform avoids, for comparison only: the rule invokes the function once per message, which
 * reads the registry, writes the point and the latest state, one request each, per message. It uses the same
 * validation so the difference measured is the I/O shape alone.
 */
export async function naiveEnrichOne(
  message: QueuedMessage,
  ports: InMemoryPorts,
  now: Date,
  limits: ValidationLimits,
) {
  const decoded = decodeMessage(message);
  if (!decoded.ok) {
    await ports.quarantine.put([
      quarantineEntry(
        message.queueMessageId,
        decoded.rejection,
        decoded.ingest,
        decoded.raw,
        message.body,
        now,
      ),
    ]);
    return;
  }
  const found = await ports.devices.findMany([decoded.message.ingest.deviceId]);
  const enriched = enrichMessage(decoded.message, found.get(decoded.message.ingest.deviceId), now, limits);
  if (!enriched.ok) {
    await ports.quarantine.put([
      quarantineEntry(
        message.queueMessageId,
        enriched.rejection,
        decoded.message.ingest,
        decoded.message.raw,
        message.body,
        now,
      ),
    ]);
    return;
  }
  await ports.telemetry.write([enriched.point]);
  await ports.latestState.putIfNewer([enriched.point]);
}
