import { InMemoryServiceStateStore } from '../lambdas/adapters/in-memory-ports.js';
import type { DeviceType } from '../lambdas/contracts/device-types.js';
import { INGEST_SETTINGS } from '../lambdas/contracts/ingest-settings.js';
import {
  type DomainEventPublisher,
  detectChanges,
  type ServiceDetector,
  type ServiceStateEntry,
  type ServiceStateKey,
  type ServiceStateStore,
  type StoredServiceState,
  serviceDetectors,
  serviceStateKey,
} from '../lambdas/domain/change-detection.js';
import type { Device } from '../lambdas/domain/device.js';
import type { Page, TelemetryPoint, TelemetryQuery, TelemetryStore } from '../lambdas/domain/telemetry.js';
import { DEVICE_PROFILES, demoCityDevices } from '../local/demo-city.js';
import { createDeviceModel, type DeviceModel } from '../local/device-models.js';
import { SeededRandom } from '../local/seeded-random.js';
import { BLUEPRINTS } from '../services/catalogue.js';
import type { ServiceBlueprint, ServiceCostProfile, WorkflowContext } from '../services/shared/blueprint.js';
import type { DomainEvent } from '../services/shared/domain-events.js';
import {
  type InMemoryWorkflowPorts,
  inMemoryWorkflowPorts,
} from '../services/shared/in-memory-workflow-ports.js';
import type { AlertBook, JobBook, SiteBoard, WorkflowPorts } from '../services/shared/workflow-ports.js';

/** What one design asked of the bus, the tables and the CPU for one service. */
export interface DesignTally {
  /** Entries put on the event bus; each is delivered to the service's workflow function (one invocation). */
  events: number;
  /** Detector state items written (conditional PutItem, one write unit for a state under 1 KB). */
  stateWrites: number;
  /** Detector state items read (strongly consistent). */
  stateReads: number;
  /** History queries on the telemetry store. */
  historyReads: number;
  /** Job creates and replaces, alert saves and site-view saves (each a conditional write, refused or not). */
  workflowWrites: number;
  /** Notifications sent (SNS publishes on AWS). */
  notices: number;
  /** Process CPU spent in detection and the workflow, ms. */
  cpuMs: number;
}

export interface ServiceChangeFigures {
  readonly service: string;
  /** Demo devices of the types the service watches. */
  readonly devices: number;
  readonly readings: number;
  readonly platform: DesignTally;
  readonly naive: DesignTally;
  /** What the blueprint's cost profile budgets, to set beside what was measured. */
  readonly profile: ServiceCostProfile;
  /** Largest detector state stored at the end of the run, bytes of JSON. */
  readonly largestStateBytes: number;
}

export interface ServiceChangeRun {
  readonly days: number;
  readonly start: string;
  readonly batchSize: number;
  readonly services: readonly ServiceChangeFigures[];
  /** Blueprints without a detector (driven by their schedule alone), left out of the comparison. */
  readonly scheduleOnly: readonly string[];
  /** True when both designs ended with the same jobs, alerts and site views: the same rules did the same work. */
  readonly sameOutcome: boolean;
}

const HOUR_MS = 3_600_000;

/**
 * A Monday at midnight (UK winter time = UTC), so a week holds every weekday's bin collections; the demo
 * story's storm, bin fire and broken-down lorry play in its first hours.
 */
export const SERVICE_BENCH_START = '2026-03-02T00:00:00.000Z';

const emptyTally = (): DesignTally => ({
  events: 0,
  stateWrites: 0,
  stateReads: 0,
  historyReads: 0,
  workflowWrites: 0,
  notices: 0,
  cpuMs: 0,
});

/** Detector states in memory (the same conditional semantics and copying as the platform's tests use), counted. */
class CountedStateStore implements ServiceStateStore {
  readonly inner = new InMemoryServiceStateStore();

  constructor(private readonly tally: DesignTally) {}

  getMany(keys: readonly ServiceStateKey[]): Promise<ReadonlyMap<string, StoredServiceState>> {
    this.tally.stateReads += keys.length;
    return this.inner.getMany(keys);
  }

  save(entries: readonly ServiceStateEntry[]): Promise<readonly number[]> {
    this.tally.stateWrites += entries.length;
    return this.inner.save(entries);
  }
}

/**
 * The stored readings of the devices whose detectors ask for history, by device in observation order, so a
 * window is found by binary search (the generic in-memory store scans every point, too slow for a week).
 */
class DeviceHistory implements Pick<TelemetryStore, 'query'> {
  private readonly byDevice = new Map<string, TelemetryPoint[]>();

  add(point: TelemetryPoint): void {
    const list = this.byDevice.get(point.deviceId) ?? [];
    list.push(point);
    this.byDevice.set(point.deviceId, list);
  }

  async query(query: TelemetryQuery): Promise<Page<TelemetryPoint>> {
    const list = this.byDevice.get(query.deviceId) ?? [];
    // ISO-8601 UTC times with milliseconds sort as text.
    const first = lowerBound(list, query.from);
    const end = lowerBound(list, `${query.to}\uffff`);
    const start = first + (query.cursor ? Number(query.cursor) : 0);
    const stop = Math.min(end, start + query.limit);
    const items = list.slice(start, stop);
    return stop < end ? { items, nextCursor: String(stop - first) } : { items };
  }
}

function lowerBound(list: readonly TelemetryPoint[], observedAt: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as TelemetryPoint).observedAt < observedAt) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The workflow ports with every write and notification counted against the tally. */
function countedWorkflowPorts(inner: InMemoryWorkflowPorts, tally: DesignTally): WorkflowPorts {
  const jobs: JobBook = {
    create: (job) => {
      tally.workflowWrites += 1;
      return inner.jobs.create(job);
    },
    replace: (job, expectedUpdatedAt) => {
      tally.workflowWrites += 1;
      return inner.jobs.replace(job, expectedUpdatedAt);
    },
    get: (id) => inner.jobs.get(id),
    activeAt: (deviceId, at) => inner.jobs.activeAt(deviceId, at),
    list: (query) => inner.jobs.list(query),
  };
  const alerts: AlertBook = {
    current: (key) => inner.alerts.current(key),
    save: (alert, expected) => {
      tally.workflowWrites += 1;
      return inner.alerts.save(alert, expected);
    },
    byIncident: (id) => inner.alerts.byIncident(id),
    active: (service) => inner.alerts.active(service),
    list: (query) => inner.alerts.list(query),
  };
  const sites: SiteBoard = {
    get: (service, site) => inner.sites.get(service, site),
    save: (record) => {
      tally.workflowWrites += 1;
      return inner.sites.save(record);
    },
    list: (service) => inner.sites.list(service),
  };
  return {
    jobs,
    alerts,
    sites,
    notifier: {
      notify: (service, subject, message) => {
        tally.notices += 1;
        return inner.notifier.notify(service, subject, message);
      },
    },
    devices: inner.devices,
    fleet: inner.fleet,
  };
}

/** One service as the platform runs it and as the naive design would, each with its own stores. */
interface ServiceUnderTest {
  readonly blueprint: ServiceBlueprint;
  readonly watcher: ServiceDetector;
  readonly historyMs: number;
  readonly readings: { count: number };
  readonly platform: {
    readonly tally: DesignTally;
    readonly states: CountedStateStore;
    readonly ports: WorkflowPorts;
    readonly history: Pick<TelemetryStore, 'query'>;
    readonly outbox: DomainEvent[];
    readonly publisher: DomainEventPublisher;
  };
  readonly naive: {
    readonly tally: DesignTally;
    readonly states: CountedStateStore;
    readonly ports: WorkflowPorts;
    readonly history: Pick<TelemetryStore, 'query'>;
  };
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const workflowContext = (event: DomainEvent, watcher: ServiceDetector): WorkflowContext => ({
  ...watcher.context,
  // The bus delivers within moments of the reading; the bench's clock is the readings' own.
  now: new Date(event.observedAt),
});

/**
 * The platform: one enrichment batch (in arrival order) through change detection, as enrichment runs it, then
 * each published event through the service's workflow, as the bus rule delivers it.
 */
async function platformBatch(unit: ServiceUnderTest, batch: readonly TelemetryPoint[], devices: DeviceMap) {
  const { platform, watcher, blueprint } = unit;
  const started = process.cpuUsage();
  const result = await detectChanges(batch, devices, {
    detectors: [watcher],
    stateStore: platform.states,
    publisher: platform.publisher,
    history: platform.history,
  });
  if (result.errors.length > 0) {
    throw new Error(`${blueprint.name}: change detection failed: ${String(result.errors[0]?.error)}`);
  }
  for (const event of platform.outbox.splice(0)) {
    await blueprint.workflow.onEvent(event, platform.ports, workflowContext(event, watcher));
  }
  platform.tally.cpuMs += cpuSince(started);
}

/**
 * The naive design, "a rule per reading": every reading is put on the bus as an event and delivered to the
 * service's workflow function, which reads the device's state, reads history if the rules need it, runs the same
 * rules, writes the state back and applies what the rules decided. No comparison with the stored state, so every
 * reading costs an event, an invocation and a state write.
 */
async function naiveBatch(unit: ServiceUnderTest, batch: readonly TelemetryPoint[], devices: DeviceMap) {
  const { naive, watcher, blueprint, historyMs } = unit;
  const started = process.cpuUsage();
  for (const point of batch) {
    naive.tally.events += 1;
    const key = { deviceId: point.deviceId, service: watcher.service };
    const stored = (await naive.states.getMany([key])).get(serviceStateKey(key));
    let past: readonly TelemetryPoint[] = [];
    if (historyMs > 0) {
      // One page: the windows the blueprints ask for hold far fewer readings than this.
      const page = await naive.history.query({
        deviceId: point.deviceId,
        from: new Date(Date.parse(point.observedAt) - historyMs).toISOString(),
        to: point.observedAt,
        limit: 10_000,
      });
      past = page.items;
    }
    const step = watcher.detector.step({
      state: stored?.state,
      point,
      device: devices.get(point.deviceId),
      history: past,
      context: watcher.context,
    });
    await naive.states.save([
      { ...key, state: step.state, at: point.observedAt, ...(stored ? { expectedAt: stored.at } : {}) },
    ]);
    for (const event of step.events) {
      await blueprint.workflow.onEvent(event, naive.ports, workflowContext(event, watcher));
    }
  }
  naive.tally.cpuMs += cpuSince(started);
}

type DeviceMap = ReadonlyMap<string, Device>;

function countedHistory(store: DeviceHistory, tally: DesignTally): Pick<TelemetryStore, 'query'> {
  return {
    query: (query) => {
      tally.historyReads += 1;
      return store.query(query);
    },
  };
}

/** A demo device with its model and when it reports: on its profile's interval, from a seeded phase. */
interface Reporter {
  readonly device: Device;
  readonly model: DeviceModel;
  readonly firstMs: number;
  readonly intervalMs: number;
  next: number;
}

/** The readings observed in [fromMs, toMs), every device's in observation order, merged by time. */
function readingsBetween(reporters: readonly Reporter[], fromMs: number, toMs: number): TelemetryPoint[] {
  const points: { ms: number; point: TelemetryPoint }[] = [];
  for (const reporter of reporters) {
    const { device, model } = reporter;
    for (;;) {
      const ms = reporter.firstMs + reporter.next * reporter.intervalMs;
      if (ms >= toMs) break;
      reporter.next += 1;
      if (ms < fromMs) continue;
      const { readings, battery } = model.read(ms);
      const observedAt = new Date(ms).toISOString();
      points.push({
        ms,
        point: {
          deviceId: device.deviceId,
          deviceType: device.deviceType,
          messageId: `${device.deviceId}-${reporter.next}`,
          observedAt,
          receivedAt: new Date(ms + 1000).toISOString(),
          readings,
          battery,
          ...(device.ward === undefined ? {} : { ward: device.ward }),
          ...(device.site === undefined ? {} : { site: device.site }),
        },
      });
    }
  }
  // Stable: readings observed at the same instant keep the device order.
  return points.sort((a, b) => a.ms - b.ms).map((p) => p.point);
}

/** Jobs, alerts and site views of a design's stores, in a fixed order, to compare the designs' outcomes. */
function outcomeOf(ports: InMemoryWorkflowPorts): string {
  const sorted = <T>(items: Iterable<T>, key: (item: T) => string) =>
    [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return JSON.stringify({
    jobs: sorted(ports.jobs.jobs.values(), (j) => j.id),
    alerts: sorted(ports.alerts.incidents.values(), (a) => a.incidentId),
    sites: sorted(ports.sites.records.values(), (r) => `${r.service}/${r.site}`),
    notices: ports.notifier.sent.length,
  });
}

/**
 * Drives the demo town (`demoCityDevices(seed)`, its deterministic device models) through `days` simulated days
 * of readings, each device on its profile's interval, and runs every catalogue blueprint's detector and
 * workflow on them twice: as the platform does (change detection in enrichment batches of
 * `INGEST_SETTINGS.batchSize`, events only on change) and as the naive design would (an event, a workflow
 * invocation and a state write per reading). Both designs see the same readings in the same order.
 */
export async function measureServiceChangeDetection(
  options: { readonly days?: number; readonly seed?: string; readonly start?: string } = {},
): Promise<ServiceChangeRun> {
  const days = options.days ?? 7;
  const seed = options.seed ?? 'reading';
  const start = options.start ?? SERVICE_BENCH_START;
  const startMs = Date.parse(start);
  const demo = demoCityDevices(seed);
  const devices: DeviceMap = new Map(demo.map((d) => [d.device.deviceId, d.device]));
  const phases = SeededRandom.derive(seed, 'bench/phase');
  const reporters: Reporter[] = demo.map((d) => {
    const intervalMs = DEVICE_PROFILES[d.device.deviceType].intervalSeconds * 1000;
    // Devices switched on at different moments, so reports spread over each interval as in the field.
    return {
      device: d.device,
      model: createDeviceModel(d, seed, startMs),
      firstMs: startMs + Math.floor(phases.between(0, intervalMs)),
      intervalMs,
      next: 0,
    };
  });

  const platformStores = inMemoryWorkflowPorts([...devices.values()]);
  const naiveStores = inMemoryWorkflowPorts([...devices.values()]);
  const watchers = serviceDetectors(BLUEPRINTS, 1);
  const history = new DeviceHistory();
  const units: ServiceUnderTest[] = watchers.map((watcher) => {
    const blueprint = BLUEPRINTS.find((b) => b.name === watcher.service) as ServiceBlueprint;
    const platformTally = emptyTally();
    const naiveTally = emptyTally();
    const outbox: DomainEvent[] = [];
    return {
      blueprint,
      watcher,
      historyMs: watcher.detector.historySeconds(watcher.context) * 1000,
      readings: { count: 0 },
      platform: {
        tally: platformTally,
        states: new CountedStateStore(platformTally),
        ports: countedWorkflowPorts(platformStores, platformTally),
        history: countedHistory(history, platformTally),
        outbox,
        publisher: {
          publish: async (events) => {
            platformTally.events += events.length;
            outbox.push(...events);
            return [];
          },
        },
      },
      naive: {
        tally: naiveTally,
        states: new CountedStateStore(naiveTally),
        ports: countedWorkflowPorts(naiveStores, naiveTally),
        history: countedHistory(history, naiveTally),
      },
    };
  });
  const historyTypes = new Set<DeviceType>(
    units.filter((u) => u.historyMs > 0).flatMap((u) => u.watcher.detector.deviceTypes),
  );

  const runBatch = async (batch: readonly TelemetryPoint[]) => {
    for (const unit of units) {
      // Each service's detector sees the batch's points of its device types, as enrichment hands them over.
      const watched = batch.filter((p) => unit.watcher.detector.deviceTypes.includes(p.deviceType));
      if (watched.length === 0) continue;
      unit.readings.count += watched.length;
      await platformBatch(unit, watched, devices);
      await naiveBatch(unit, watched, devices);
    }
  };

  // An hour of readings at a time, so a week of the town never sits in memory at once.
  let pending: TelemetryPoint[] = [];
  const endMs = startMs + days * 24 * HOUR_MS;
  for (let from = startMs; from < endMs; from += HOUR_MS) {
    const hour = readingsBetween(reporters, from, Math.min(endMs, from + HOUR_MS));
    for (const point of hour) {
      // Stored before detection runs, as enrichment stores the batch first.
      if (historyTypes.has(point.deviceType)) history.add(point);
    }
    pending.push(...hour);
    while (pending.length >= INGEST_SETTINGS.batchSize) {
      await runBatch(pending.slice(0, INGEST_SETTINGS.batchSize));
      pending = pending.slice(INGEST_SETTINGS.batchSize);
    }
  }
  if (pending.length > 0) await runBatch(pending);

  return {
    days,
    start,
    batchSize: INGEST_SETTINGS.batchSize,
    services: units.map((unit) => ({
      service: unit.blueprint.name,
      devices: demo.filter((d) => unit.watcher.detector.deviceTypes.includes(d.device.deviceType)).length,
      readings: unit.readings.count,
      platform: unit.platform.tally,
      naive: unit.naive.tally,
      profile: unit.blueprint.cost,
      largestStateBytes: Math.max(
        0,
        ...[...unit.platform.states.inner.states.values()].map((s) => JSON.stringify(s.state ?? null).length),
      ),
    })),
    scheduleOnly: BLUEPRINTS.filter((b) => !b.detector).map((b) => b.name),
    sameOutcome: outcomeOf(platformStores) === outcomeOf(naiveStores),
  };
}
