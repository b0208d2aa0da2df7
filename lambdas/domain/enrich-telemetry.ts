import { type ChangeDetectionPorts, detectChanges } from './change-detection.js';
import { keepWhenSampled } from './cost-control.js';
import type { Device, DeviceDirectory } from './device.js';
import {
  type DecodedMessage,
  decodeMessage,
  enrichMessage,
  type QueuedMessage,
  quarantineEntry,
  type ValidationLimits,
} from './message-validation.js';
import type { QuarantineEntry, QuarantineStore } from './quarantine.js';
import { hourlyAllowance } from './rate-policy.js';
import {
  type LatestStateStore,
  messageKey,
  type ProcessedMessages,
  type TelemetryPoint,
  type TelemetryStore,
} from './telemetry.js';

export interface EnrichTelemetryPorts {
  readonly devices: DeviceDirectory;
  readonly telemetry: TelemetryStore;
  readonly latestState: LatestStateStore;
  readonly quarantine: QuarantineStore;
  /** Needed only when the telemetry store cannot detect duplicates itself. */
  readonly processed?: ProcessedMessages;
  /** While the cost guard has degraded service: how many of this lane's readings to keep. @default keep all */
  readonly sampling?: ReadingSampling;
  /**
   * The enabled services' change detection: their detectors run over every stored point and the domain events
   * they emit go to the bus. Absent when no enabled service has a detector: nothing is detected or published.
   */
  readonly changes?: ChangeDetectionPorts;
}

/**
 * Port: the share of readings to keep while the cost guard has degraded service. The enrichment function of each
 * lane gets the rate for its own lane; the guard never sets one for the essential lane, so that lane keeps all.
 */
export interface ReadingSampling {
  /** Share to keep, 0..1 (1 keeps all). Read once per batch; implementations fail open (return 1), never throw. */
  keepRate(): Promise<number>;
}

/**
 * What happened to a batch. Every input message is in exactly one of stored, duplicates, sampledOut, quarantined,
 * retry.
 */
export interface EnrichTelemetryResult {
  readonly stored: number;
  readonly duplicates: number;
  /**
   * Valid readings not stored because the lane is being sampled (cost guard tier degrade): counted and logged,
   * neither stored nor quarantined. The choice is deterministic per device and message id, so a redelivery gets
   * the same answer.
   */
  readonly sampledOut: number;
  readonly quarantined: QuarantineEntry[];
  /** Queue message ids to hand back to the queue (partial batch failure); they are retried, then dead-lettered. */
  readonly retry: string[];
  /** Domain events the bus accepted (only when something changed, never one per reading). */
  readonly events: number;
  /** Why whole steps failed, for the handler to log. */
  readonly errors: { readonly step: string; readonly error: unknown; readonly messages: number }[];
  /** Points newly stored in this batch, in input order. */
  readonly storedPoints: TelemetryPoint[];
}

/** Keeps, per device, only the point observed last: latest state needs one conditional write per device. */
function newestPerDevice(points: readonly TelemetryPoint[]): TelemetryPoint[] {
  const newest = new Map<string, TelemetryPoint>();
  for (const point of points) {
    const current = newest.get(point.deviceId);
    if (!current || current.observedAt < point.observedAt) newest.set(point.deviceId, point);
  }
  return [...newest.values()];
}

/**
 * Enrich a batch of device messages: validate, look devices up once per batch, drop duplicates, store the time
 * series, advance latest state, quarantine the rest. Nothing is dropped silently: a message that cannot be
 * finished now is returned in `retry`, and the queue redelivers it (and dead-letters it after the limit).
 *
 * Redelivery is safe: the DynamoDB store appends a reading only if its message id is not already in that
 * device-hour's bucket items, latest state only moves forward, and where the store cannot tell a duplicate itself
 * (Timestream), the message is marked processed only after both writes, so a crash in between only repeats
 * idempotent writes.
 *
 * With `changes`, the enabled services' detectors then run over the stored points (new ones and ones the store
 * already held: a message redelivered after detection failed is a duplicate to the store but not yet detected),
 * before the message counts as done, so a device whose detection failed has its messages retried. Detection
 * skips what it has already seen, so running it again on a redelivery emits nothing new.
 */
export async function enrichTelemetryBatch(
  messages: readonly QueuedMessage[],
  ports: EnrichTelemetryPorts,
  now: Date,
  limits: ValidationLimits,
): Promise<EnrichTelemetryResult> {
  if (!ports.telemetry.detectsDuplicates && !ports.processed) {
    // A wiring fault, not a message fault: fail before touching anything so the whole batch is retried.
    throw new Error('a telemetry store that cannot detect duplicates needs a ProcessedMessages port');
  }
  const result: { -readonly [K in keyof EnrichTelemetryResult]: EnrichTelemetryResult[K] } = {
    stored: 0,
    duplicates: 0,
    sampledOut: 0,
    quarantined: [],
    retry: [],
    events: 0,
    errors: [],
    storedPoints: [],
  };
  const bodies = new Map(messages.map((m) => [m.queueMessageId, m.body]));
  const toQuarantine: QuarantineEntry[] = [];

  const decoded: DecodedMessage[] = [];
  for (const message of messages) {
    const outcome = decodeMessage(message);
    if (outcome.ok) decoded.push(outcome.message);
    else
      toQuarantine.push(
        quarantineEntry(
          message.queueMessageId,
          outcome.rejection,
          outcome.ingest,
          outcome.raw,
          message.body,
          now,
        ),
      );
  }

  // One registry lookup for the whole batch; the adapter caches across invocations.
  let devices: ReadonlyMap<string, Device> = new Map();
  const deviceIds = [...new Set(decoded.map((m) => m.ingest.deviceId))];
  try {
    devices = deviceIds.length > 0 ? await ports.devices.findMany(deviceIds) : new Map();
  } catch (error) {
    result.errors.push({ step: 'registry', error, messages: decoded.length });
    result.retry.push(...decoded.map((m) => m.queueMessageId));
    decoded.length = 0;
  }

  // One settings read per batch (the adapter caches it); only asked when there is something to sample.
  const keepRate = ports.sampling && decoded.length > 0 ? await ports.sampling.keepRate() : 1;
  const candidates: { point: TelemetryPoint; queueMessageId: string; key: string }[] = [];
  const seenInBatch = new Set<string>();
  for (const message of decoded) {
    const enriched = enrichMessage(message, devices.get(message.ingest.deviceId), now, limits);
    if (!enriched.ok) {
      toQuarantine.push(
        quarantineEntry(
          message.queueMessageId,
          enriched.rejection,
          message.ingest,
          message.raw,
          bodies.get(message.queueMessageId) ?? '',
          now,
          message.envelope.messageId,
        ),
      );
      continue;
    }
    const key = messageKey(enriched.point.deviceId, enriched.point.messageId);
    if (seenInBatch.has(key)) {
      result.duplicates += 1;
      continue;
    }
    seenInBatch.add(key);
    if (!keepWhenSampled(enriched.point.deviceId, enriched.point.messageId, keepRate)) {
      result.sampledOut += 1;
      continue;
    }
    candidates.push({ point: enriched.point, queueMessageId: message.queueMessageId, key });
  }

  // Stores that detect duplicates on write (DynamoDB, by the append's condition on the message id) need no separate
  // idempotency record: that would double the write cost. Others (Timestream) keep one per message.
  const processed = ports.telemetry.detectsDuplicates ? undefined : ports.processed;
  let fresh = candidates;
  if (processed && candidates.length > 0) {
    try {
      const already = await processed.findProcessed(candidates.map((c) => c.key));
      fresh = candidates.filter((c) => !already.has(c.key));
      result.duplicates += candidates.length - fresh.length;
    } catch (error) {
      result.errors.push({ step: 'dedupe', error, messages: candidates.length });
      result.retry.push(...candidates.map((c) => c.queueMessageId));
      fresh = [];
    }
  }

  if (fresh.length > 0) {
    const failed = new Set<number>();
    const heldAlready = new Set<number>();
    try {
      // Rate policing: each device may store its declared rate times the policing factor per hour.
      const outcome = await ports.telemetry.write(
        fresh.map((c) => c.point),
        (point) => hourlyAllowance(devices.get(point.deviceId) ?? point),
      );
      for (const index of outcome.retry) failed.add(index);
      for (const index of outcome.duplicates) heldAlready.add(index);
      for (const rejected of outcome.rejected) {
        failed.add(rejected.index);
        const candidate = fresh[rejected.index];
        if (!candidate) continue;
        toQuarantine.push({
          ...quarantineEntry(
            candidate.queueMessageId,
            { reason: rejected.reason, detail: rejected.detail },
            undefined,
            undefined,
            JSON.stringify(candidate.point),
            now,
            candidate.point.messageId,
          ),
          deviceId: candidate.point.deviceId,
          deviceType: candidate.point.deviceType,
          receivedAt: candidate.point.receivedAt,
        });
      }
      for (const index of outcome.retry) {
        const candidate = fresh[index];
        if (candidate) result.retry.push(candidate.queueMessageId);
      }
    } catch (error) {
      result.errors.push({ step: 'telemetry', error, messages: fresh.length });
      result.retry.push(...fresh.map((c) => c.queueMessageId));
      fresh.forEach((_, index) => {
        failed.add(index);
      });
    }
    // Points the store already held still go through latest state: a previous delivery may have stored the
    // point and then failed before latest state was written. The conditional write makes that a no-op otherwise.
    const written = fresh.filter((_, index) => !failed.has(index));
    const duplicateKeys = new Set(fresh.filter((_, index) => heldAlready.has(index)).map((c) => c.key));

    const newest = newestPerDevice(written.map((c) => c.point));
    const retryDevices = new Set<string>();
    if (newest.length > 0) {
      try {
        const retry = await ports.latestState.putIfNewer(newest);
        for (const index of retry) {
          const point = newest[index];
          if (point) retryDevices.add(point.deviceId);
        }
      } catch (error) {
        result.errors.push({ step: 'latest-state', error, messages: written.length });
        for (const point of newest) retryDevices.add(point.deviceId);
      }
    }
    let completed = written.filter((c) => !retryDevices.has(c.point.deviceId));
    result.retry.push(
      ...written.filter((c) => retryDevices.has(c.point.deviceId)).map((c) => c.queueMessageId),
    );

    // Before the messages are marked processed: a message whose detection failed must come back.
    if (ports.changes && completed.length > 0) {
      const points = completed.map((c) => c.point);
      let retry: ReadonlySet<number>;
      try {
        const detection = await detectChanges(points, devices, ports.changes);
        result.events += detection.published;
        retry = new Set(detection.retry);
        for (const failure of detection.errors) {
          const deviceIds = new Set(failure.deviceIds);
          result.errors.push({
            step: failure.step,
            error: failure.error,
            messages: points.filter((p) => deviceIds.has(p.deviceId)).length,
          });
        }
      } catch (error) {
        // detectChanges reports device problems instead of throwing; this is a fault in it or its wiring.
        result.errors.push({ step: 'change-detection', error, messages: completed.length });
        retry = new Set(completed.keys());
      }
      result.retry.push(...completed.filter((_, index) => retry.has(index)).map((c) => c.queueMessageId));
      completed = completed.filter((_, index) => !retry.has(index));
    }

    if (completed.length > 0) {
      try {
        if (processed) await processed.markProcessed(completed.map((c) => c.key));
        const stored = completed.filter((c) => !duplicateKeys.has(c.key));
        result.stored += stored.length;
        result.duplicates += completed.length - stored.length;
        result.storedPoints.push(...stored.map((c) => c.point));
      } catch (error) {
        // Points are stored but not yet recorded as such; a retry rewrites the same keys, which is harmless.
        result.errors.push({ step: 'dedupe-mark', error, messages: completed.length });
        result.retry.push(...completed.map((c) => c.queueMessageId));
      }
    }
  }

  if (toQuarantine.length > 0) {
    try {
      const retry = new Set(await ports.quarantine.put(toQuarantine));
      toQuarantine.forEach((entry, index) => {
        if (retry.has(index)) result.retry.push(entry.sourceId);
        else result.quarantined.push(entry);
      });
    } catch (error) {
      result.errors.push({ step: 'quarantine', error, messages: toQuarantine.length });
      result.retry.push(...toQuarantine.map((e) => e.sourceId));
    }
  }

  return result;
}
