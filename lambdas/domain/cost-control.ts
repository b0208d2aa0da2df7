import type { DeviceType } from '../contracts/device-types.js';
import { isReconciliationRun } from '../contracts/metered-resources.js';
import type { RegionPrices } from '../contracts/prices.js';
import type { Lane } from '../contracts/topics.js';
import { type DeviceCertificates, judgeRunaways, type RateLimitedDevices } from './runaway-devices.js';
import {
  decideGuard,
  type GuardAction,
  type GuardDecision,
  type GuardState,
  initialGuardState,
  manualRestore,
  type SpendingTier,
} from './spending-guard.js';
import {
  correctClosedMonth,
  type FixedAccrual,
  type MeteredCost,
  monthOf,
  priceUsage,
  recordInterval,
  type SpendingLedger,
  type UsageSample,
} from './usage-meter.js';

/** What a run asks of the usage source beyond its interval. */
export interface UsageReadOptions {
  /**
   * Reconcile: measure the slow usage (DynamoDB units, log bytes, the workflow lanes) over [reconcileFrom, end)
   * instead of estimating it for [start, end). A source that measures everything every run may ignore it.
   */
  readonly reconcileFrom?: Date;
}

/** Port: where usage comes from (CloudWatch metrics on AWS, the runtime's counters locally). */
export interface UsageSource {
  /** Usage in [start, end); see {@link UsageSample.slowUsage} for how the slow usage was obtained. */
  read(start: Date, end: Date, options?: UsageReadOptions): Promise<UsageSample>;
}

/** Port: switches that change what the platform takes in. Only ever called for the ordinary lane. */
export interface LaneControls {
  disableRule(lane: Lane): Promise<void>;
  enableRule(lane: Lane): Promise<void>;
  pauseConsumer(lane: Lane): Promise<void>;
  resumeConsumer(lane: Lane): Promise<void>;
}

/** Settings that other parts of the platform read to degrade gracefully. */
export interface DegradeSettings {
  /** Share of readings kept per lane (1 = all). */
  readonly sampleRates: Readonly<Partial<Record<Lane, number>>>;
  /** Open-data routes answer only their essential fields. */
  readonly openDataNarrowed: boolean;
}

export const FULL_SERVICE: DegradeSettings = { sampleRates: {}, openDataNarrowed: false };

/** One line of the audit log: what was done, when, and the reading that caused it. */
export interface AuditEntry {
  readonly at: string;
  readonly action:
    | GuardAction
    | { readonly kind: 'manual-restore'; readonly by: string }
    | { readonly kind: 'budget-notice'; readonly subject: string; readonly message: string }
    | {
        readonly kind: 'deactivate-device' | 'report-runaway-device';
        readonly deviceId: string;
        readonly refusals: number;
        readonly certificates?: number;
      };
  readonly reading: {
    readonly monthToDateUsd: number;
    readonly forecastUsd: number;
    readonly ceilingUsd: number;
    readonly tier: SpendingTier;
  };
  readonly outcome: 'done' | 'failed';
  readonly error?: string;
}

/** Port: the cost guard's own records. */
export interface CostRecords {
  loadLedger(): Promise<SpendingLedger | undefined>;
  saveLedger(ledger: SpendingLedger): Promise<void>;
  loadGuardState(): Promise<GuardState | undefined>;
  saveGuardState(state: GuardState): Promise<void>;
  loadDegradeSettings(): Promise<DegradeSettings>;
  saveDegradeSettings(settings: DegradeSettings): Promise<void>;
  appendAudit(entries: readonly AuditEntry[]): Promise<void>;
  recentAudit(limit: number): Promise<readonly AuditEntry[]>;
}

/** Port: tells people (SNS on AWS, the log locally). */
export interface Notifier {
  notify(subject: string, message: string): Promise<void>;
}

export interface CostControlPorts {
  readonly usage: UsageSource;
  readonly lanes: LaneControls;
  readonly records: CostRecords;
  readonly notifier: Notifier;
  /** Rate policing's second step; without these ports runaway devices are only refused, not disconnected. */
  readonly runaways?: { readonly refused: RateLimitedDevices; readonly certificates: DeviceCertificates };
  /** Waits; a port so tests need not. @default setTimeout */
  readonly wait?: (milliseconds: number) => Promise<void>;
}

const sleep = (milliseconds: number) => new Promise<void>((resolve) => setTimeout(resolve, milliseconds));

export interface CostControlSettings {
  /**
   * Monthly ceiling in USD. `Infinity` when the council set none: the meter still prices usage and keeps the
   * ledger and forecast, and the ladder never moves (nothing is switched off).
   */
  readonly ceilingUsd: number;
  readonly prices: RegionPrices;
  readonly fixed: FixedAccrual;
  readonly councilName: string;
  /** Device types never disconnected by rate policing. @default none */
  readonly essentialDeviceTypes?: readonly DeviceType[];
}

function applyToSettings(settings: DegradeSettings, action: GuardAction): DegradeSettings {
  if (action.kind === 'sample-lane') {
    return { ...settings, sampleRates: { ...settings.sampleRates, [action.lane]: action.sampleRate } };
  }
  if (action.kind === 'narrow-open-data') return { ...settings, openDataNarrowed: action.narrowed };
  return settings;
}

/** The ports that act on the platform and keep the records: everything but the usage source. */
export type GuardActionPorts = Pick<CostControlPorts, 'lanes' | 'records' | 'notifier' | 'wait'>;

/** Carries out a guard decision, recording every action (done or failed) in the audit log. */
async function execute(
  ports: GuardActionPorts,
  settings: CostControlSettings,
  decision: GuardDecision,
  reading: AuditEntry['reading'],
  now: Date,
): Promise<AuditEntry[]> {
  const audit: AuditEntry[] = [];
  let degrade = await ports.records.loadDegradeSettings();
  for (const action of decision.actions) {
    try {
      switch (action.kind) {
        case 'settle':
          await (ports.wait ?? sleep)(action.seconds * 1000);
          break;
        case 'notify':
          await ports.notifier.notify(
            `${settings.councilName}: IoT platform spending ${action.tier}`,
            action.message,
          );
          break;
        case 'disable-rule':
          await ports.lanes.disableRule(action.lane);
          break;
        case 'enable-rule':
          await ports.lanes.enableRule(action.lane);
          break;
        case 'pause-consumer':
          await ports.lanes.pauseConsumer(action.lane);
          break;
        case 'resume-consumer':
          await ports.lanes.resumeConsumer(action.lane);
          break;
        case 'sample-lane':
        case 'narrow-open-data':
          degrade = applyToSettings(degrade, action);
          await ports.records.saveDegradeSettings(degrade);
          break;
      }
      audit.push({ at: now.toISOString(), action, reading, outcome: 'done' });
    } catch (error) {
      audit.push({
        at: now.toISOString(),
        action,
        reading,
        outcome: 'failed',
        error: (error as Error).message,
      });
    }
  }
  if (audit.length > 0) await ports.records.appendAudit(audit);
  return audit;
}

export interface MeterRunResult {
  readonly ledger: SpendingLedger;
  readonly tier: SpendingTier;
  readonly audit: readonly AuditEntry[];
}

/**
 * One run of the usage meter and guard (every 5 minutes): price what was used since the last run, add it to the
 * month, and step the ladder. A failed action is recorded and retried on the next run, because the state only
 * advances when every action of the step succeeded.
 */
export async function meterAndGuard(
  ports: CostControlPorts,
  settings: CostControlSettings,
  now: Date,
  defaultIntervalSeconds: number,
): Promise<MeterRunResult> {
  const previous = await ports.records.loadLedger();
  const start = previous
    ? new Date(previous.meteredUntil)
    : new Date(now.getTime() - defaultIntervalSeconds * 1000);
  const intervalSeconds = Math.max(0, (now.getTime() - start.getTime()) / 1000);
  const reconcileFrom = new Date(previous?.reconciledUntil ?? start.toISOString());
  const usage = await ports.usage.read(
    start,
    now,
    isReconciliationRun(start, now) ? { reconcileFrom } : undefined,
  );
  const cost = priceUsage({ ...usage, intervalSeconds }, settings.prices, settings.fixed);
  const ledger = await bookInterval(ports.records, previous, usage, cost, {
    end: now,
    intervalSeconds,
    reconcileFrom,
  });
  const state = (await ports.records.loadGuardState()) ?? initialGuardState(monthOf(now));
  const decision = decideGuard(state, {
    month: ledger.month,
    monthToDateUsd: ledger.monthToDateUsd,
    forecastUsd: ledger.forecastUsd,
    ceilingUsd: settings.ceilingUsd,
  });
  const reading = {
    monthToDateUsd: ledger.monthToDateUsd,
    forecastUsd: ledger.forecastUsd,
    ceilingUsd: settings.ceilingUsd,
    tier: decision.state.tier,
  };
  const audit = await execute(ports, settings, decision, reading, now);
  const failed = audit.some((entry) => entry.outcome === 'failed');
  // Keep the old tier when an action failed, so the next run tries the same step again.
  await ports.records.saveGuardState(failed ? { ...decision.state, tier: state.tier } : decision.state);
  const policed = await policeRunaways(ports, settings, start, now, reading);
  return { ledger, tier: failed ? state.tier : decision.state.tier, audit: [...audit, ...policed] };
}

/**
 * Books one priced interval in the ledger, keeping it consistent across reconciliations:
 * - slow usage measured for the interval (locally): booked as it is;
 * - estimated: booked, and remembered as provisional;
 * - reconciled (measured over the window since the last reconciliation, this interval included): the measured
 *   figure replaces the provisional estimates, i.e. the ledger adds measured minus provisional. The burn rate
 *   takes the measured slow usage at its hourly rate, not the correction, so a reconciliation never makes a
 *   5-minute spike in the forecast. On the first run of a month the correction belongs to the month that holds
 *   the estimates: that ledger is corrected and saved first (the last minutes of slow usage go with it, just as
 *   the new month's first interval takes the last minutes of the old month's fast usage).
 */
async function bookInterval(
  records: CostRecords,
  previous: SpendingLedger | undefined,
  usage: UsageSample,
  cost: MeteredCost,
  interval: { readonly end: Date; readonly intervalSeconds: number; readonly reconcileFrom: Date },
): Promise<SpendingLedger> {
  const { end: now, intervalSeconds } = interval;
  const provisional = previous?.provisionalUsd ?? 0;
  const slow = usage.slowUsage;
  let ledger: SpendingLedger;
  if (slow?.kind === 'estimated') {
    ledger = recordInterval(previous, cost.usd, now, intervalSeconds, {
      provisionalUsd: (previous && previous.month === monthOf(now) ? provisional : 0) + cost.slowUsd,
      reconciledUntil: interval.reconcileFrom,
    });
  } else if (slow?.kind === 'reconciled') {
    const windowSeconds = Math.max(intervalSeconds, (now.getTime() - Date.parse(slow.from)) / 1000);
    const rateUsd = cost.usd - cost.slowUsd + cost.slowUsd * (intervalSeconds / Math.max(1, windowSeconds));
    if (previous && previous.month !== monthOf(now)) {
      await records.saveLedger(correctClosedMonth(previous, cost.slowUsd - provisional, now));
      ledger = recordInterval(previous, cost.usd - cost.slowUsd, now, intervalSeconds, { rateUsd });
    } else {
      ledger = recordInterval(previous, cost.usd - provisional, now, intervalSeconds, { rateUsd });
    }
  } else {
    ledger = recordInterval(previous, cost.usd, now, intervalSeconds);
  }
  await records.saveLedger(ledger);
  return ledger;
}

/** Disconnects ordinary devices that kept sending past their allowance in the interval; reports essential ones. */
async function policeRunaways(
  ports: CostControlPorts,
  settings: CostControlSettings,
  start: Date,
  end: Date,
  reading: AuditEntry['reading'],
): Promise<AuditEntry[]> {
  if (!ports.runaways) return [];
  const verdicts = judgeRunaways(
    await ports.runaways.refused.between(start, end),
    settings.essentialDeviceTypes ?? [],
  );
  const audit: AuditEntry[] = [];
  const unsent: string[] = [];
  const minutes = Math.round((end.getTime() - start.getTime()) / 60_000);
  for (const verdict of verdicts) {
    const { deviceId, refusals } = verdict.device;
    const kind = verdict.kind === 'deactivate' ? 'deactivate-device' : 'report-runaway-device';
    // The action and the notice fail separately: a notice that cannot be sent must not read as a failed deactivation.
    let certificates: number | undefined;
    try {
      if (verdict.kind === 'deactivate')
        certificates = await ports.runaways.certificates.deactivate(deviceId);
    } catch (error) {
      audit.push({
        at: end.toISOString(),
        action: { kind, deviceId, refusals },
        reading,
        outcome: 'failed',
        error: (error as Error).message,
      });
      continue;
    }
    audit.push({
      at: end.toISOString(),
      action: { kind, deviceId, refusals, ...(certificates === undefined ? {} : { certificates }) },
      reading,
      outcome: 'done',
    });
    const [subject, message] =
      verdict.kind === 'deactivate'
        ? [
            `${settings.councilName}: device ${deviceId} disconnected`,
            `Device ${deviceId} sent ${refusals} readings past its hourly allowance in ${minutes} minutes; its ` +
              `${certificates} certificate(s) are now inactive. Check the device, then reactivate its certificate (or rotate it).`,
          ]
        : [
            `${settings.councilName}: essential device ${deviceId} is over its rate`,
            `Essential device ${deviceId} sent ${refusals} readings past its hourly allowance in ${minutes} minutes. It stays ` +
              'connected (essential devices are never disconnected automatically); its excess readings are refused.',
          ];
    await ports.notifier
      .notify(subject, message)
      .catch((error: Error) => unsent.push(`${deviceId}: ${error.message}`));
  }
  if (audit.length > 0) await ports.records.appendAudit(audit);
  // The actions are done and audited; a notice that could not be sent fails the run so it is logged and alarmed.
  if (unsent.length > 0) throw new Error(`runaway-device notices not sent: ${unsent.join('; ')}`);
  return audit;
}

/**
 * An administrator restores full service (POST /cost/restore); audited with who did it. When an action fails, the
 * guard keeps its old tier (with the restore's grace band recorded), so the next meter run retries the step down.
 */
export async function restoreService(
  ports: GuardActionPorts,
  settings: CostControlSettings,
  by: string,
  now: Date,
): Promise<MeterRunResult> {
  const ledger = (await ports.records.loadLedger()) ?? recordInterval(undefined, 0, now, 0);
  const state = (await ports.records.loadGuardState()) ?? initialGuardState(monthOf(now));
  const decision = manualRestore(state, ledger.monthToDateUsd);
  const reading = {
    monthToDateUsd: ledger.monthToDateUsd,
    forecastUsd: ledger.forecastUsd,
    ceilingUsd: settings.ceilingUsd,
    tier: 'ok' as const,
  };
  await ports.records.appendAudit([
    { at: now.toISOString(), action: { kind: 'manual-restore', by }, reading, outcome: 'done' },
  ]);
  const audit = await execute(ports, settings, decision, reading, now);
  // Saving 'ok' after a failed action would leave the lane switched off while the guard believed it on, and no
  // later run would switch it back (ok -> ok has no actions). Keep the old tier instead, as meterAndGuard does.
  const failed = audit.some((entry) => entry.outcome === 'failed');
  const saved = failed ? { ...decision.state, tier: state.tier } : decision.state;
  await ports.records.saveGuardState(saved);
  return { ledger, tier: saved.tier, audit };
}

/** A notification from AWS Budgets (the slow backstop), as its SNS message carries it. */
export interface BudgetNotice {
  readonly subject: string;
  readonly message: string;
}

/** Budget notices are kept in the audit log at most this long (they can quote the whole budget). */
const BUDGET_NOTICE_MAX_CHARS = 2000;

/**
 * AWS Budgets says a threshold was crossed: hours late, so it is only a backstop. Run the meter and guard now
 * (the same path as the schedule), record the notice in the audit log with the reading it led to, and pass it on
 * to the people who receive the guard's notices.
 */
export async function onBudgetNotice(
  ports: CostControlPorts,
  settings: CostControlSettings,
  notice: BudgetNotice,
  now: Date,
  defaultIntervalSeconds: number,
): Promise<MeterRunResult> {
  const result = await meterAndGuard(ports, settings, now, defaultIntervalSeconds);
  const message = notice.message.slice(0, BUDGET_NOTICE_MAX_CHARS);
  let outcome: Pick<AuditEntry, 'outcome' | 'error'> = { outcome: 'done' };
  try {
    await ports.notifier.notify(`${settings.councilName}: AWS Budgets notice`, message);
  } catch (error) {
    outcome = { outcome: 'failed', error: (error as Error).message };
  }
  const entry: AuditEntry = {
    at: now.toISOString(),
    action: { kind: 'budget-notice', subject: notice.subject.slice(0, 200), message },
    reading: {
      monthToDateUsd: result.ledger.monthToDateUsd,
      forecastUsd: result.ledger.forecastUsd,
      ceilingUsd: settings.ceilingUsd,
      tier: result.tier,
    },
    ...outcome,
  };
  await ports.records.appendAudit([entry]);
  return { ...result, audit: [...result.audit, entry] };
}

export interface CostReport {
  readonly month: string;
  readonly monthToDateUsd: number;
  readonly forecastUsd: number;
  readonly burnRateUsdPerHour: number;
  readonly ceilingUsd: number;
  readonly tier: SpendingTier;
  readonly meteredUntil?: string;
  readonly degrade: DegradeSettings;
  readonly recentActions: readonly AuditEntry[];
}

/** What `GET /cost` answers. */
export async function costReport(
  ports: Pick<CostControlPorts, 'records'>,
  ceilingUsd: number,
  now: Date,
): Promise<CostReport> {
  const [ledger, state, degrade, recentActions] = await Promise.all([
    ports.records.loadLedger(),
    ports.records.loadGuardState(),
    ports.records.loadDegradeSettings(),
    ports.records.recentAudit(20),
  ]);
  const current = ledger && ledger.month === monthOf(now) ? ledger : undefined;
  return {
    month: monthOf(now),
    monthToDateUsd: current?.monthToDateUsd ?? 0,
    forecastUsd: current?.forecastUsd ?? 0,
    burnRateUsdPerHour: current?.burnRateUsdPerHour ?? 0,
    ceilingUsd,
    tier: state && state.month === monthOf(now) ? state.tier : 'ok',
    ...(current ? { meteredUntil: current.meteredUntil } : {}),
    degrade,
    recentActions,
  };
}

/**
 * Deterministic sampling while degraded: a reading is kept when a hash of its device and message id falls under
 * the rate, so a redelivered message gets the same answer and each device keeps a steady share of its readings.
 */
export function keepWhenSampled(deviceId: string, messageId: string, sampleRate: number): boolean {
  if (sampleRate >= 1) return true;
  if (sampleRate <= 0) return false;
  let hash = 2166136261;
  for (const char of `${deviceId}#${messageId}`) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 16777619);
  }
  return ((hash >>> 0) % 10_000) / 10_000 < sampleRate;
}
