import { ESSENTIAL_LANE, LANES, type Lane, ORDINARY_LANE } from '../lambdas/contracts/topics.js';
import {
  type CostControlPorts,
  type CostControlSettings,
  type LaneControls,
  type MeterRunResult,
  meterAndGuard,
  type Notifier,
} from '../lambdas/domain/cost-control.js';
import type { SpendingTier } from '../lambdas/domain/spending-guard.js';

/** The consumer side of a lane, as the switches need it. */
export interface SwitchableConsumer {
  start(): void;
  /** Stops taking batches and waits for the ones in flight. */
  stop(): Promise<void>;
}

/**
 * The cost guard's switches locally. Disabling a lane's rule makes the broker's rule step drop that lane's
 * publishes after acknowledging them (as IoT Core does for a disabled rule), counted as not collected; pausing its
 * consumer stops the local event source mapping, so what is queued stays in the durable queue until resumed.
 * The essential lane has no switch, as on AWS (it has no entry in the guard's targets).
 */
export class LocalLaneControls implements LaneControls {
  private readonly disabled = new Set<Lane>();
  private readonly paused = new Set<Lane>();
  private closed = false;

  private readonly resuming = new Map<Lane, Promise<void>>();

  constructor(
    private readonly consumers: Readonly<Record<Lane, SwitchableConsumer>>,
    /** Called just before a consumer is paused or resumed (the usage counters settle their idle polls). */
    private readonly beforeChange: () => void = () => {},
    /**
     * Resolves when a resumed lane's backlog may be handed to its handler; the consumer starts then. See
     * {@link resumeConsumer}. @default at once
     */
    private readonly readyToResume: (lane: Lane) => Promise<void> = async () => {},
  ) {}

  ruleEnabled(lane: Lane): boolean {
    return !this.disabled.has(lane);
  }

  consumerRunning(lane: Lane): boolean {
    return !this.closed && !this.paused.has(lane);
  }

  /** Consumers polling now. */
  get runningConsumers(): number {
    return LANES.filter((lane) => this.consumerRunning(lane)).length;
  }

  /**
   * At start: puts the switches where the guard left them (the guard's state says stop), then starts the consumers
   * that are not paused. The guard only acts on tier changes, so a restart must not quietly switch a lane back on.
   */
  startConsumers(guardTier: SpendingTier | undefined): void {
    if (guardTier === 'stop') {
      this.disabled.add(ORDINARY_LANE);
      this.paused.add(ORDINARY_LANE);
    }
    for (const each of LANES) if (this.consumerRunning(each)) this.consumers[each].start();
  }

  async disableRule(lane: Lane): Promise<void> {
    this.switchable(lane);
    this.disabled.add(lane);
  }

  async enableRule(lane: Lane): Promise<void> {
    this.switchable(lane);
    this.disabled.delete(lane);
  }

  async pauseConsumer(lane: Lane): Promise<void> {
    this.switchable(lane);
    this.beforeChange();
    this.paused.add(lane);
    await this.consumers[lane].stop();
  }

  /**
   * Resumes the lane's consumer, in the background: it starts once {@link readyToResume} says so. The guard
   * restores full sampling and waits out the handlers' settings cache before it resumes the consumer
   * (spending-guard.ts, transitionActions); the extra check here covers tests that shorten or lengthen that cache.
   */
  async resumeConsumer(lane: Lane): Promise<void> {
    this.switchable(lane);
    this.beforeChange();
    this.paused.delete(lane);
    if (this.resuming.has(lane)) return;
    const start = this.readyToResume(lane)
      .catch(() => undefined)
      .then(() => {
        if (this.consumerRunning(lane)) this.consumers[lane].start();
      })
      .finally(() => this.resuming.delete(lane));
    this.resuming.set(lane, start);
  }

  /** Waits for consumers being resumed to start (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.resuming.values()]);
  }

  /** Stops every consumer for shutdown; a restore arriving later switches nothing back on. */
  async close(): Promise<void> {
    this.beforeChange();
    this.closed = true;
    await this.settled();
    await Promise.all(LANES.map((lane) => this.consumers[lane].stop()));
  }

  private switchable(lane: Lane): void {
    if (lane === ESSENTIAL_LANE) throw new Error(`the ${lane} lane has no cost switch`);
  }
}

/** A notice the guard sent, as kept for the status line and tests. */
export interface LocalNotice {
  readonly at: string;
  readonly subject: string;
  readonly message: string;
}

/** The guard's notices locally: written to the runtime's log and kept (the last {@link KEPT_NOTICES}). */
export class LocalNotifier implements Notifier {
  static readonly KEPT_NOTICES = 20;
  readonly notices: LocalNotice[] = [];

  constructor(private readonly log: (line: string) => void) {}

  async notify(subject: string, message: string): Promise<void> {
    this.notices.push({ at: new Date().toISOString(), subject, message });
    if (this.notices.length > LocalNotifier.KEPT_NOTICES) this.notices.shift();
    this.log(`cost guard notice: ${subject}: ${message}`);
  }
}

/** Where the guard stands, for the status line. */
export interface CostGuardStatus {
  readonly tier: SpendingTier;
  readonly monthToDateUsd: number;
  readonly forecastUsd: number;
  readonly ceilingUsd: number;
}

export interface LocalCostGuardOptions {
  readonly ports: CostControlPorts;
  readonly settings: CostControlSettings;
  /** How often the meter runs, in milliseconds (5 minutes on AWS). */
  readonly intervalMs: number;
  readonly log: (line: string) => void;
  readonly now?: () => Date;
}

function usd(value: number): string {
  if (!Number.isFinite(value)) return 'none';
  return `$${value >= 1 ? value.toFixed(2) : value.toFixed(4)}`;
}

/**
 * The usage meter and guard on a timer: the same {@link meterAndGuard} the scheduled Lambda runs, over the local
 * ports. Runs never overlap (a run asked for while one is going waits for it), like the one-at-a-time schedule.
 */
export class LocalCostGuard {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private last: MeterRunResult | undefined;

  constructor(private readonly options: LocalCostGuardOptions) {}

  /** Starts the timer; the first run is one interval from now (the first window covers one interval). */
  start(): void {
    this.timer ??= setInterval(() => {
      this.meterNow().catch(() => undefined);
    }, this.options.intervalMs);
  }

  /** One meter-and-guard run now (after any run in progress). Failures are logged and rethrown. */
  meterNow(): Promise<MeterRunResult> {
    const run = this.running.then(() => this.run());
    this.running = run.catch(() => undefined);
    return run;
  }

  /** What the last run found; undefined before the first. */
  get status(): CostGuardStatus | undefined {
    if (!this.last) return undefined;
    return {
      tier: this.last.tier,
      monthToDateUsd: this.last.ledger.monthToDateUsd,
      forecastUsd: this.last.ledger.forecastUsd,
      ceilingUsd: this.options.settings.ceilingUsd,
    };
  }

  /** ` | tier warn: $0.0312 of $0.0500 this month (62%)`, for the status line. */
  statusText(): string {
    const status = this.status;
    const ceiling = this.options.settings.ceilingUsd;
    if (!status) return ` | tier - (meter not run yet; ceiling ${usd(ceiling)})`;
    const share =
      Number.isFinite(ceiling) && ceiling > 0
        ? ` (${Math.round((status.monthToDateUsd / ceiling) * 100)}%)`
        : '';
    return ` | tier ${status.tier}: ${usd(status.monthToDateUsd)} of ${usd(ceiling)} this month${share}`;
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async run(): Promise<MeterRunResult> {
    const { ports, settings, intervalMs, log } = this.options;
    const now = this.options.now?.() ?? new Date();
    try {
      const previousTier = this.last?.tier;
      const result = await meterAndGuard(ports, settings, now, intervalMs / 1000);
      this.last = result;
      if (result.audit.length > 0 || (previousTier !== undefined && previousTier !== result.tier)) {
        const actions = result.audit.map(
          (entry) => `${entry.action.kind}${entry.outcome === 'failed' ? ` FAILED (${entry.error})` : ''}`,
        );
        log(
          `cost guard: tier ${result.tier}, ${usd(result.ledger.monthToDateUsd)} of ${usd(settings.ceilingUsd)} this month ` +
            `(forecast ${usd(result.ledger.forecastUsd)})${actions.length > 0 ? `: ${actions.join(', ')}` : ''}`,
        );
      }
      return result;
    } catch (error) {
      log(`cost guard: meter run failed, the next run covers its interval: ${(error as Error).message}`);
      throw error;
    }
  }
}
