import type { DomainEvent } from '../../services/shared/domain-events.js';
import { PUT_EVENTS_MAX_ENTRIES } from '../contracts/domain-event-bus.js';
import {
  type DomainEventPublisher,
  type ServiceStateEntry,
  type ServiceStateKey,
  type ServiceStateStore,
  type StoredServiceState,
  serviceStateKey,
} from '../domain/change-detection.js';
import {
  type Device,
  type DeviceListPage,
  type DeviceListQuery,
  type DeviceRegistry,
  revisionOf,
} from '../domain/device.js';
import { matchesDeviceFilter } from '../domain/device-registry.js';
import type { QuarantineEntry, QuarantineQuery, QuarantineStore } from '../domain/quarantine.js';
import type {
  LatestStateStore,
  Page,
  ProcessedMessages,
  TelemetryPoint,
  TelemetryQuery,
  TelemetryStore,
  WriteOutcome,
} from '../domain/telemetry.js';
import { readingSummary } from '../domain/telemetry-aggregation.js';
import { BATCH_GET_LIMIT, BATCH_WRITE_LIMIT, chunk } from './dynamodb-batches.js';

/**
 * What the in-memory adapters would have asked of DynamoDB, counted as the DynamoDB adapters issue them:
 * requests (one BatchGetItem per 100 keys, one BatchWriteItem per 25 items, one conditional PutItem per point)
 * and billed units (a write unit per item written or conditionally refused, half a read unit per item read).
 */
export interface RequestCounts {
  registryReads: number;
  storeWrites: number;
  latestStateWrites: number;
  latestStateReads: number;
  dedupeReads: number;
  dedupeWrites: number;
  quarantineWrites: number;
  /** Service detector states: BatchGetItem requests (strongly consistent) and conditional PutItems. */
  serviceStateReads: number;
  serviceStateWrites: number;
  /** PutEvents requests (10 events each at most). */
  eventPuts: number;
  writeUnits: number;
  readUnits: number;
}

export function emptyCounts(): RequestCounts {
  return {
    registryReads: 0,
    storeWrites: 0,
    latestStateWrites: 0,
    latestStateReads: 0,
    dedupeReads: 0,
    dedupeWrites: 0,
    quarantineWrites: 0,
    serviceStateReads: 0,
    serviceStateWrites: 0,
    eventPuts: 0,
    writeUnits: 0,
    readUnits: 0,
  };
}

/** In-memory ports with request counting, for tests, benchmarks and the simplest local demos. */
export class InMemoryPorts {
  readonly counts = emptyCounts();
  readonly devicesById = new Map<string, Device>();
  readonly series: TelemetryPoint[] = [];
  readonly latest = new Map<string, TelemetryPoint>();
  readonly quarantined: QuarantineEntry[] = [];
  readonly processedKeys = new Set<string>();
  /** Service detector states, with the same conditional writes as the DynamoDB table. */
  readonly serviceState = new InMemoryServiceStateStore(this.counts);
  /** Domain events as the bus received them. */
  readonly events = new RecordingEventPublisher(this.counts);
  private readonly seriesKeys = new Set<string>();

  constructor(devices: readonly Device[] = []) {
    for (const device of devices) this.devicesById.set(device.deviceId, device);
  }

  /** The registry: lookups batched as BatchGetItem would be, listing and conditional changes as in DynamoDB. */
  readonly devices = new InMemoryDeviceRegistry(this.devicesById, this.counts);

  /** Behaves like the DynamoDB store: one conditional put per point, duplicates reported. */
  readonly telemetry: TelemetryStore = {
    detectsDuplicates: true,
    write: async (points): Promise<WriteOutcome> => {
      this.counts.storeWrites += points.length;
      this.counts.writeUnits += points.length;
      const duplicates: number[] = [];
      points.forEach((point, index) => {
        const key = `${point.deviceId}|${point.observedAt}|${point.messageId}`;
        if (this.seriesKeys.has(key)) {
          duplicates.push(index);
          return;
        }
        this.seriesKeys.add(key);
        this.series.push(point);
      });
      return { retry: [], rejected: [], duplicates };
    },
    query: async (query: TelemetryQuery): Promise<Page<TelemetryPoint>> => {
      const items = this.series
        .filter(
          (p) => p.deviceId === query.deviceId && p.observedAt >= query.from && p.observedAt <= query.to,
        )
        .sort((a, b) => a.observedAt.localeCompare(b.observedAt));
      const start = query.cursor ? Number(query.cursor) : 0;
      const page = items.slice(start, start + query.limit);
      return start + query.limit < items.length
        ? { items: page, nextCursor: String(start + query.limit) }
        : { items: page };
    },
    // Every reading on its own: no rollups to keep in memory, and the same answer as a store that has them.
    aggregate: async (query) => {
      const fromMs = Date.parse(query.from);
      const toMs = Date.parse(query.to);
      return this.series.flatMap((point) => {
        const at = Date.parse(point.observedAt);
        const value = point.readings[query.measure];
        return point.deviceId === query.deviceId && typeof value === 'number' && at >= fromMs && at < toMs
          ? [readingSummary(at, value)]
          : [];
      });
    },
  };

  readonly latestState: LatestStateStore = {
    putIfNewer: async (points) => {
      this.counts.latestStateWrites += points.length;
      this.counts.writeUnits += points.length;
      for (const point of points) {
        const current = this.latest.get(point.deviceId);
        if (!current || current.observedAt < point.observedAt) this.latest.set(point.deviceId, point);
      }
      return [];
    },
    get: async (deviceId) => this.latest.get(deviceId),
    getMany: async (deviceIds) => {
      this.counts.latestStateReads += chunk(deviceIds, BATCH_GET_LIMIT).length;
      this.counts.readUnits += deviceIds.length;
      return new Map(
        deviceIds.flatMap((id) => (this.latest.has(id) ? [[id, this.latest.get(id) as TelemetryPoint]] : [])),
      );
    },
  };

  readonly quarantine: QuarantineStore = {
    put: async (entries) => {
      this.counts.quarantineWrites += chunk(entries, BATCH_WRITE_LIMIT).length;
      this.counts.writeUnits += entries.length;
      this.quarantined.push(...entries);
      return [];
    },
    list: async (query: QuarantineQuery): Promise<Page<QuarantineEntry>> => ({
      items: this.quarantined
        .filter(
          (e) =>
            (!query.reason || e.reason === query.reason) &&
            e.receivedAt >= query.from &&
            e.receivedAt <= query.to,
        )
        .slice(0, query.limit),
    }),
  };

  readonly processed: ProcessedMessages = {
    findProcessed: async (keys) => {
      this.counts.dedupeReads += chunk(keys, BATCH_GET_LIMIT).length;
      this.counts.readUnits += keys.length / 2;
      return new Set(keys.filter((key) => this.processedKeys.has(key)));
    },
    markProcessed: async (keys) => {
      this.counts.dedupeWrites += chunk(keys, BATCH_WRITE_LIMIT).length;
      this.counts.writeUnits += keys.length;
      for (const key of keys) this.processedKeys.add(key);
    },
  };
}

/**
 * Service detector states in memory, with the DynamoDB adapter's semantics: a save succeeds only if the stored
 * `at` is still the expected one (or, without one, nothing is stored). States are copied in and out, as a round
 * trip through a table would, so a detector that changed its state object in place is caught by the tests.
 */
export class InMemoryServiceStateStore implements ServiceStateStore {
  readonly states = new Map<string, StoredServiceState>();

  constructor(private readonly counts: RequestCounts = emptyCounts()) {}

  async getMany(keys: readonly ServiceStateKey[]): Promise<ReadonlyMap<string, StoredServiceState>> {
    this.counts.serviceStateReads += chunk(keys, BATCH_GET_LIMIT).length;
    // Strongly consistent reads: a read unit per item.
    this.counts.readUnits += keys.length;
    const found = new Map<string, StoredServiceState>();
    for (const key of keys) {
      const stored = this.states.get(serviceStateKey(key));
      if (stored) found.set(serviceStateKey(key), structuredClone(stored));
    }
    return found;
  }

  async save(entries: readonly ServiceStateEntry[]): Promise<readonly number[]> {
    const conflicts: number[] = [];
    entries.forEach((entry, index) => {
      this.counts.serviceStateWrites += 1;
      // A refused conditional write is billed as a write too.
      this.counts.writeUnits += 1;
      const key = serviceStateKey(entry);
      if (this.states.get(key)?.at !== entry.expectedAt) {
        conflicts.push(index);
        return;
      }
      this.states.set(key, { state: structuredClone(entry.state), at: entry.at });
    });
    return conflicts;
  }
}

/**
 * A bus that records what it is given, for tests and benchmarks. `refuse` makes it refuse chosen events, as
 * PutEvents does entry by entry.
 */
export class RecordingEventPublisher implements DomainEventPublisher {
  readonly published: DomainEvent[] = [];
  refuse: (event: DomainEvent) => boolean = () => false;

  constructor(private readonly counts: RequestCounts = emptyCounts()) {}

  async publish(events: readonly DomainEvent[]): Promise<readonly number[]> {
    this.counts.eventPuts += chunk(events, PUT_EVENTS_MAX_ENTRIES).length;
    const refused: number[] = [];
    events.forEach((event, index) => {
      if (this.refuse(event)) refused.push(index);
      else this.published.push(event);
    });
    return refused;
  }
}

/**
 * The device registry in memory, with the DynamoDB adapter's semantics: conditional adds and replaces, and a
 * listing in id order whose position is the last id returned. Entries are copied in and out, as a round trip
 * through a table would, so a use case that changed a device object in place is caught by the tests.
 */
export class InMemoryDeviceRegistry implements DeviceRegistry {
  constructor(
    readonly devicesById: Map<string, Device> = new Map(),
    private readonly counts: RequestCounts = emptyCounts(),
  ) {}

  async findMany(ids: readonly string[]): Promise<ReadonlyMap<string, Device>> {
    this.counts.registryReads += chunk(ids, BATCH_GET_LIMIT).length;
    this.counts.readUnits += ids.length / 2;
    const found = new Map<string, Device>();
    for (const id of ids) {
      const device = this.devicesById.get(id);
      if (device) found.set(id, device);
    }
    return found;
  }

  async get(deviceId: string): Promise<Device | undefined> {
    const device = this.devicesById.get(deviceId);
    return device ? structuredClone(device) : undefined;
  }

  async list(query: DeviceListQuery): Promise<DeviceListPage> {
    const matching = [...this.devicesById.values()]
      .filter((device) => matchesDeviceFilter(device, query.filter))
      .sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    const rest = query.after
      ? matching.filter((device) => device.deviceId > (query.after as string))
      : matching;
    const items = rest.slice(0, query.limit).map((device) => structuredClone(device));
    const last = items.at(-1);
    return rest.length > query.limit && last ? { items, next: last.deviceId } : { items };
  }

  async add(device: Device): Promise<boolean> {
    if (this.devicesById.has(device.deviceId)) return false;
    this.devicesById.set(device.deviceId, structuredClone(device));
    return true;
  }

  async replace(device: Device, expectedRevision: number): Promise<boolean> {
    const stored = this.devicesById.get(device.deviceId);
    if (!stored || revisionOf(stored) !== expectedRevision) return false;
    this.devicesById.set(device.deviceId, structuredClone(device));
    return true;
  }
}
