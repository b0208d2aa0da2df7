import type { z } from 'zod';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import type { Device } from '../../lambdas/domain/device.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { DomainEvent } from './domain-events.js';
import type { SiteRecord, WorkflowPorts } from './workflow-ports.js';

/**
 * A service blueprint: everything one council service needs, in one folder under `services/`, so another council
 * can enable it with one line of config or copy the folder. The platform runs a blueprint in two places:
 *
 * - its {@link ChangeDetector} inside telemetry enrichment, where each stored reading of a watched device type
 *   goes through the rules and domain events come out only when something changed;
 * - its {@link ServiceWorkflow} behind the event bus, where those events become jobs, alerts, site views and
 *   notifications, and on a schedule (alert cool-downs, offline sweeps, daily rounds).
 */
export interface ServiceBlueprint {
  /** The folder name and the config value that enables it, kebab-case (`waste`, `air-quality`). */
  readonly name: string;
  /** What a council officer calls it. */
  readonly title: string;
  /** One sentence: what it does for residents. */
  readonly summary: string;
  /**
   * Essential services (public safety) are never held back by the cost guard: their device types belong on the
   * essential lane and their alerts are always sent.
   */
  readonly essential: boolean;
  /** Every domain event type its rules emit, `<service>.<what>`; its EventBridge rule matches exactly these. */
  readonly eventTypes: readonly string[];
  /** Change detection inside enrichment; absent for services driven by the schedule alone (offline devices). */
  readonly detector?: ChangeDetector;
  readonly workflow: ServiceWorkflow;
  /**
   * The service's public view, served by the city API at `GET /<path>` (e.g. `parking/sites`) as open data: the
   * service's site records, each turned into what a resident's app needs (never internal bookkeeping).
   */
  readonly openData?: OpenDataView;
  /** What the service adds to the monthly bill, per watched device; the cost statement sums enabled services. */
  readonly cost: ServiceCostProfile;
}

export interface OpenDataView {
  /** Path under the API root, without a leading slash: `parking/sites`, `air-quality/sites`. */
  readonly path: string;
  /** One sentence for the API reference. */
  readonly description: string;
  /** A site record as served; undefined to leave it out (e.g. a site with no reading yet). */
  view(record: SiteRecord): Readonly<Record<string, unknown>> | undefined;
  /**
   * What `view` returns for one site, exactly: the OpenAPI document and the API's contract test read it, so a
   * field added to the view without it fails the contract test. @default - items undocumented
   */
  readonly schema?: z.ZodType;
}

/**
 * How the rules see time. On AWS one real second is one second (`timeScale` 1). The local runtime's `--speed N`
 * makes the simulated town's physics run N times faster while `observedAt` stays the real clock, so rules divide
 * their durations by `timeScale` (a 24-hour mean spans 24 minutes at `--speed 60`, a 15-minute cool-down 15 s).
 */
export interface ServiceContext {
  readonly timeScale: number;
  /**
   * The service's settings from config (`serviceSettings` -> this service's name), by name: e.g. the waste
   * depot's `depotLat`/`depotLon`, an alert cool-down. Each blueprint's README lists the names it reads and
   * their defaults; per-device settings come from the registry instead (`Device.settings`).
   */
  readonly settings: Readonly<Record<string, number>>;
}

/** A point as the rules see it. */
export type EventPoint = Pick<
  TelemetryPoint,
  'deviceId' | 'deviceType' | 'site' | 'ward' | 'readings' | 'observedAt'
>;

export interface DetectorInput<S> {
  /** The detector's state for this device, or undefined before its first reading. */
  readonly state: S | undefined;
  readonly point: TelemetryPoint;
  /** The registry entry: site, ward, location and per-device `settings` (e.g. a gauge's warning level). */
  readonly device: Device | undefined;
  /**
   * This device's stored readings from `historySeconds` before `point` up to and including it, oldest first.
   * Empty when the detector asks for no history.
   */
  readonly history: readonly TelemetryPoint[];
  readonly context: ServiceContext;
}

export interface DetectorStep<S> {
  /** The state after the point. Return the very same object when nothing changed: only changes are written. */
  readonly state: S;
  readonly events: readonly DomainEvent[];
}

/**
 * The rules that turn a device's readings into domain events. Pure: no I/O, no clock. The platform keeps one
 * small state per device and detector (written only when `step` returns a new object), reads `history` from the
 * telemetry store when asked for, feeds points in observation order, and skips points observed at or before the
 * state's last change (replays and late arrivals), so a redelivered reading emits nothing new.
 */
export interface ChangeDetector<S = unknown> {
  readonly deviceTypes: readonly DeviceType[];
  /** Seconds of recent readings the rules need (already divided by the time scale); 0 for none. */
  historySeconds(context: ServiceContext): number;
  step(input: DetectorInput<S>): DetectorStep<S>;
}

export interface WorkflowContext extends ServiceContext {
  readonly now: Date;
}

/**
 * What a service does with its events: open and close jobs, raise and clear alerts, keep site views, notify.
 * Every method must be idempotent: the bus delivers at least once, and a replayed event must find the jobs,
 * alerts and views as they are and change nothing.
 */
export interface ServiceWorkflow {
  onEvent(event: DomainEvent, ports: WorkflowPorts, context: WorkflowContext): Promise<void>;
  /** Every {@link WORKFLOW_SCHEDULE_SECONDS}: alert cool-downs, offline sweeps, the daily round. */
  onSchedule?(ports: WorkflowPorts, context: WorkflowContext): Promise<void>;
}

/** How often each workflow's `onSchedule` runs (real seconds; the local runtime divides by its speed). */
export const WORKFLOW_SCHEDULE_SECONDS = 300;

/**
 * A service's running costs per watched device, as counts the cost model prices. Estimates from the rules'
 * behaviour, stated so a council can check them: e.g. waste state changes only when a bin crosses a threshold.
 */
export interface ServiceCostProfile {
  /** Which device types it watches (offline: every type). */
  readonly watches: readonly DeviceType[] | 'all';
  /** Detector state writes per reading (0..1): how often the state changes. */
  readonly stateWritesPerReading: number;
  /** DynamoDB read units per reading spent on history (0 without history). */
  readonly historyReadUnitsPerReading: number;
  /** Domain events per watched device per day. */
  readonly eventsPerDevicePerDay: number;
  /** DynamoDB write units the workflow spends per event (jobs, alerts, site views). */
  readonly writeUnitsPerEvent: number;
  /** DynamoDB read units the workflow spends per event. */
  readonly readUnitsPerEvent: number;
  /** Read units per scheduled run, per watched device (the offline sweep reads every device's latest state). */
  readonly readUnitsPerDevicePerScheduledRun: number;
}

/** A service-level setting from config, or the default. */
export function serviceSetting(context: ServiceContext, name: string, fallback: number): number {
  const value = context.settings[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** Per-device rule settings from the registry (`Device.settings`), as a number, or the default. */
export function deviceSetting(device: Device | undefined, name: string, fallback: number): number {
  const value = device?.settings?.[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
