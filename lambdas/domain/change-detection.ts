import type { ChangeDetector, ServiceBlueprint, ServiceContext } from '../../services/shared/blueprint.js';
import type { DomainEvent, ServiceName } from '../../services/shared/domain-events.js';
import type { Device } from './device.js';
import { forEachLimited } from './for-each-limited.js';
import type { TelemetryPoint, TelemetryStore } from './telemetry.js';

/** Which detector state: one per device and service. */
export interface ServiceStateKey {
  readonly deviceId: string;
  readonly service: ServiceName;
}

/** A detector's stored state for one device, and the observation time of the point that last changed it. */
export interface StoredServiceState {
  readonly state: unknown;
  readonly at: string;
}

/** A state to write, with the `at` it replaces (undefined: there was none). */
export interface ServiceStateEntry extends ServiceStateKey, StoredServiceState {
  readonly expectedAt?: string;
}

/** The map key of a {@link ServiceStateStore.getMany} answer. Thing names cannot contain `#`. */
export function serviceStateKey(key: ServiceStateKey): string {
  return `${key.deviceId}#${key.service}`;
}

/**
 * Port: each enabled service detector's small state per device (the `service-state` table). Reads are strongly
 * consistent and writes conditional, so two consumers working on the same device at once never lose an update:
 * the one that loses the race hands its messages back to the queue and re-runs against the winner's state.
 */
export interface ServiceStateStore {
  /** The stored states of these keys, by {@link serviceStateKey}; absent keys have none yet. */
  getMany(keys: readonly ServiceStateKey[]): Promise<ReadonlyMap<string, StoredServiceState>>;
  /**
   * Writes each entry only if the stored item still has `at = expectedAt` (or does not exist, when `expectedAt`
   * is undefined). Never throws for one entry: returns the indexes that conflicted or failed, to retry.
   */
  save(entries: readonly ServiceStateEntry[]): Promise<readonly number[]>;
}

/**
 * Port: the event bus (EventBridge on AWS, the local runtime's in-process bus). Delivery downstream is at least
 * once; event ids are deterministic, so a re-published event is applied once by the workflows.
 */
export interface DomainEventPublisher {
  /** Publishes the events; returns the indexes the bus did not accept. Throws only when nothing was sent. */
  publish(events: readonly DomainEvent[]): Promise<readonly number[]>;
}

/** An enabled service's detector, with the context its rules see (the service's own settings). */
export interface ServiceDetector {
  readonly service: ServiceName;
  readonly detector: ChangeDetector;
  readonly context: ServiceContext;
}

/** Settings per service from config (`serviceSettings`), by service name then setting name. */
export type ServiceSettings = Readonly<Record<ServiceName, Readonly<Record<string, number>>>>;

/**
 * The detectors of the enabled blueprints (those that have one: the offline service works from the schedule
 * alone), each with its service's settings and the deployment's time scale (1 on AWS).
 */
export function serviceDetectors(
  blueprints: readonly Pick<ServiceBlueprint, 'name' | 'detector'>[],
  timeScale: number,
  settings: ServiceSettings = {},
): ServiceDetector[] {
  return blueprints.flatMap((blueprint) =>
    blueprint.detector
      ? [
          {
            service: blueprint.name,
            detector: blueprint.detector,
            context: { timeScale, settings: settings[blueprint.name] ?? {} },
          },
        ]
      : [],
  );
}

/** What change detection needs: the detectors, their state, the bus and the stored readings (history). */
export interface ChangeDetectionPorts {
  readonly detectors: readonly ServiceDetector[];
  readonly stateStore: ServiceStateStore;
  readonly publisher: DomainEventPublisher;
  readonly history: Pick<TelemetryStore, 'query'>;
}

/** The step of change detection that failed for some devices. */
export type ChangeDetectionStep =
  | 'service-state-read'
  | 'history'
  | 'detector'
  | 'publish'
  | 'service-state-save';

export interface ChangeDetectionResult {
  /** Domain events the bus accepted. */
  readonly published: number;
  /** Indexes into the input points to hand back to the queue: every point of a device whose detection failed. */
  readonly retry: readonly number[];
  /** Why, for the handler to log. */
  readonly errors: readonly {
    readonly step: ChangeDetectionStep;
    readonly error: unknown;
    readonly deviceIds: readonly string[];
  }[];
}

/** A detector that threw: names the service, the devices and (for one point) its observation time. */
export class DetectorFailure extends Error {
  constructor(
    readonly service: ServiceName,
    readonly deviceIds: readonly string[],
    readonly observedAt: string | undefined,
    cause: unknown,
  ) {
    super(
      `${service} detector failed on ${deviceIds.join(', ')}${observedAt ? ` at ${observedAt}` : ''}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = 'DetectorFailure';
  }
}

/** Points per history page: a few DynamoDB bucket items per request, a day of 5-minute readings in one. */
export const HISTORY_PAGE_SIZE = 500;
/** Devices whose history is read at once: a batch of 100 devices must not open 100 requests together. */
export const HISTORY_READ_CONCURRENCY = 10;

interface IndexedPoint {
  readonly point: TelemetryPoint;
  readonly index: number;
  readonly ms: number;
}

/** One detector's work on one device in this batch. */
interface Unit {
  readonly deviceId: string;
  readonly watcher: ServiceDetector;
  readonly points: readonly IndexedPoint[];
  stored?: StoredServiceState;
  state?: unknown;
  /** Observation time of the last point that changed the state in this batch; undefined while none did. */
  changedAt?: string;
  readonly events: DomainEvent[];
}

const NO_CHANGES: ChangeDetectionResult = { published: 0, retry: [], errors: [] };

/**
 * Runs the enabled services' detectors over stored points and publishes the domain events they emit.
 *
 * Per device, points go in observation order through each detector that watches the device's type, starting
 * from the detector's stored state and skipping points observed at or before the state's last change (replays,
 * late arrivals), so a redelivered message emits nothing new. Events are published first and states saved
 * after, and only states that changed: a crash in between re-emits the same events (same ids, applied once
 * downstream) rather than losing them. State saves are conditional on the state read, so a consumer racing
 * another on the same device retries instead of overwriting.
 *
 * Nothing here throws for a device's problem. A failed read, a detector that throws, an event the bus refused or
 * a save that lost a race puts that device's points in `retry`; other devices go on. A detector that throws keeps
 * the progress it made before the failing point (its events are published and its state saved up to there), so
 * a reading that trips a bug holds up only itself and what follows it on that device, and after the queue's
 * receive limit lands in the dead-letter queue to be redriven once the rule is fixed.
 */
export async function detectChanges(
  points: readonly TelemetryPoint[],
  devices: ReadonlyMap<string, Device>,
  ports: ChangeDetectionPorts,
): Promise<ChangeDetectionResult> {
  if (points.length === 0 || ports.detectors.length === 0) return NO_CHANGES;
  const errors: { step: ChangeDetectionStep; error: unknown; deviceIds: readonly string[] }[] = [];
  const failedDevices = new Set<string>();

  const byDevice = new Map<string, IndexedPoint[]>();
  points.forEach((point, index) => {
    const list = byDevice.get(point.deviceId) ?? [];
    list.push({ point, index, ms: Date.parse(point.observedAt) });
    byDevice.set(point.deviceId, list);
  });
  const units: Unit[] = [];
  for (const [deviceId, list] of byDevice) {
    // Stable sort: points observed at the same instant keep their queue order.
    list.sort((a, b) => a.ms - b.ms);
    for (const watcher of ports.detectors) {
      const watched = list.filter((p) => watcher.detector.deviceTypes.includes(p.point.deviceType));
      if (watched.length > 0) units.push({ deviceId, watcher, points: watched, events: [] });
    }
  }
  if (units.length === 0) return NO_CHANGES;

  const fail = (step: ChangeDetectionStep, error: unknown, failed: readonly Unit[]) => {
    const deviceIds = [...new Set(failed.map((u) => u.deviceId))];
    for (const deviceId of deviceIds) failedDevices.add(deviceId);
    errors.push({ step, error, deviceIds });
  };

  // One read for every device and detector of the batch.
  const keyOf = (unit: Unit) => serviceStateKey({ deviceId: unit.deviceId, service: unit.watcher.service });
  try {
    const stored = await ports.stateStore.getMany(
      units.map((u) => ({ deviceId: u.deviceId, service: u.watcher.service })),
    );
    for (const unit of units) {
      unit.stored = stored.get(keyOf(unit));
      unit.state = unit.stored?.state;
    }
  } catch (error) {
    fail('service-state-read', error, units);
    return { published: 0, retry: retryIndexes(points, failedDevices), errors };
  }

  // What each unit still has to fold: only points newer than its state's last change.
  const pending = new Map<Unit, IndexedPoint[]>();
  for (const unit of units) {
    // An unreadable `at` (a hand-edited item) bounds nothing: fold everything, and the save repairs it.
    const storedAt = unit.stored ? Date.parse(unit.stored.at) : Number.NaN;
    const since = Number.isNaN(storedAt) ? Number.NEGATIVE_INFINITY : storedAt;
    const fresh = unit.points.filter((p) => p.ms > since);
    if (fresh.length > 0) pending.set(unit, fresh);
  }

  // How much history each detector asks for, asked once per batch; a detector that cannot say has failed.
  const historyMs = new Map<ServiceDetector, number>();
  for (const watcher of ports.detectors) {
    try {
      const seconds = watcher.detector.historySeconds(watcher.context);
      if (!Number.isFinite(seconds) || seconds < 0) {
        throw new Error(`historySeconds returned ${seconds}; expected a number of seconds >= 0`);
      }
      historyMs.set(watcher, seconds * 1000);
    } catch (error) {
      const affected = [...pending.keys()].filter((u) => u.watcher === watcher);
      for (const unit of affected) pending.delete(unit);
      const deviceIds = affected.map((u) => u.deviceId);
      if (affected.length > 0)
        fail('detector', new DetectorFailure(watcher.service, deviceIds, undefined, error), affected);
    }
  }

  // History: one windowed read per device (all pages), shared by its detectors that ask for any.
  const history = new Map<string, readonly IndexedPoint[]>();
  const needsHistory = [...byDevice.keys()].filter((deviceId) =>
    [...pending.keys()].some((u) => u.deviceId === deviceId && (historyMs.get(u.watcher) ?? 0) > 0),
  );
  await forEachLimited(needsHistory, HISTORY_READ_CONCURRENCY, async (deviceId) => {
    const asking = [...pending.entries()].filter(
      ([u]) => u.deviceId === deviceId && (historyMs.get(u.watcher) ?? 0) > 0,
    );
    const from = Math.min(
      ...asking.map(([u, fresh]) => (fresh[0]?.ms ?? 0) - (historyMs.get(u.watcher) ?? 0)),
    );
    const to = Math.max(...asking.map(([, fresh]) => fresh.at(-1)?.ms ?? 0));
    try {
      const read = await readWindow(ports.history, deviceId, from, to);
      history.set(deviceId, withBatchPoints(read, byDevice.get(deviceId) ?? []));
    } catch (error) {
      for (const [unit] of asking) pending.delete(unit);
      fail(
        'history',
        error,
        asking.map(([u]) => u),
      );
    }
  });

  // Fold: each point through the rules, in observation order.
  for (const [unit, fresh] of pending) {
    const span = historyMs.get(unit.watcher) ?? 0;
    const past = span > 0 ? (history.get(unit.deviceId) ?? []) : [];
    let lo = 0;
    let hi = 0;
    for (const { point, ms } of fresh) {
      while (lo < past.length && (past[lo]?.ms ?? 0) < ms - span) lo += 1;
      while (hi < past.length && (past[hi]?.ms ?? 0) <= ms) hi += 1;
      try {
        const step = unit.watcher.detector.step({
          state: unit.state,
          point,
          device: devices.get(unit.deviceId),
          history: past.slice(lo, hi).map((p) => p.point),
          context: unit.watcher.context,
        });
        if (step.state !== unit.state) {
          unit.state = step.state;
          unit.changedAt = point.observedAt;
        }
        unit.events.push(...step.events);
      } catch (error) {
        // Keep what came before (published and saved below); this point and the rest go back to the queue.
        fail(
          'detector',
          new DetectorFailure(unit.watcher.service, [unit.deviceId], point.observedAt, error),
          [unit],
        );
        break;
      }
    }
  }

  // Publish first: a state is saved only once the events of its change are on the bus.
  const sent = units.flatMap((unit) => unit.events.map((event) => ({ event, unit })));
  let published = 0;
  const unpublished = new Set<Unit>();
  if (sent.length > 0) {
    let refused: ReadonlySet<number>;
    let failure: unknown;
    try {
      const answer = await ports.publisher.publish(sent.map((s) => s.event));
      refused = new Set(answer.filter((index) => index >= 0 && index < sent.length));
      if (refused.size > 0)
        failure = new Error(`the event bus refused ${refused.size} of ${sent.length} events`);
    } catch (error) {
      refused = new Set(sent.keys());
      failure = error;
    }
    published = sent.length - refused.size;
    for (const index of refused) {
      const unit = sent[index]?.unit;
      if (unit) unpublished.add(unit);
    }
    if (failure !== undefined) fail('publish', failure, [...unpublished]);
  }

  const toSave = units.filter((unit) => unit.changedAt !== undefined && !unpublished.has(unit));
  if (toSave.length > 0) {
    const entries: ServiceStateEntry[] = toSave.map((unit) => ({
      deviceId: unit.deviceId,
      service: unit.watcher.service,
      state: unit.state,
      at: unit.changedAt as string,
      ...(unit.stored ? { expectedAt: unit.stored.at } : {}),
    }));
    let unsaved: Unit[];
    try {
      unsaved = (await ports.stateStore.save(entries)).flatMap((index) => {
        const unit = toSave[index];
        return unit ? [unit] : [];
      });
      if (unsaved.length > 0) {
        fail(
          'service-state-save',
          new Error(
            `${unsaved.length} service state(s) changed since they were read (another consumer) or could not be ` +
              `written: ${unsaved.map((u) => `${u.watcher.service}/${u.deviceId}`).join(', ')}`,
          ),
          unsaved,
        );
      }
    } catch (error) {
      fail('service-state-save', error, toSave);
    }
  }

  return { published, retry: retryIndexes(points, failedDevices), errors };
}

function retryIndexes(points: readonly TelemetryPoint[], failedDevices: ReadonlySet<string>): number[] {
  return points.flatMap((point, index) => (failedDevices.has(point.deviceId) ? [index] : []));
}

/** Every stored point of a device from `fromMs` to `toMs` inclusive, all pages. */
async function readWindow(
  store: Pick<TelemetryStore, 'query'>,
  deviceId: string,
  fromMs: number,
  toMs: number,
): Promise<TelemetryPoint[]> {
  const found: TelemetryPoint[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query({
      deviceId,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      limit: HISTORY_PAGE_SIZE,
      ...(cursor ? { cursor } : {}),
    });
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return found;
}

/**
 * The stored history plus this batch's own points, oldest first. The batch's points are stored by now, but a
 * store's reads may lag its writes (DynamoDB queries are eventually consistent, Timestream too), and the contract
 * promises the point itself is in its history.
 */
function withBatchPoints(read: readonly TelemetryPoint[], batch: readonly IndexedPoint[]): IndexedPoint[] {
  const inBatch = new Set(batch.map((p) => p.point.messageId));
  const merged: IndexedPoint[] = read
    .filter((point) => !inBatch.has(point.messageId))
    .map((point) => ({ point, index: -1, ms: Date.parse(point.observedAt) }));
  merged.push(...batch);
  return merged.sort((a, b) => a.ms - b.ms);
}
