import { INGEST_SETTINGS } from '../contracts/ingest-settings.js';
import { type Lane, ORDINARY_LANE } from '../contracts/topics.js';

/**
 * The spending ladder. Each step is taken on month-to-date spend as a share of the council's ceiling:
 * ok < warn (50% and 80%: a notice) < degrade (90%: ordinary telemetry sampled, open data narrowed) <
 * stop (100%: the ordinary lane's rule disabled and its consumer paused, so accepted data waits in the queue).
 * The essential lane is never touched.
 */
export const SPENDING_TIERS = ['ok', 'warn', 'degrade', 'stop'] as const;
export type SpendingTier = (typeof SPENDING_TIERS)[number];

/** Share of the ceiling at which each step starts, lowest first. */
export const LADDER = [
  { share: 0.5, tier: 'warn' },
  { share: 0.8, tier: 'warn' },
  { share: 0.9, tier: 'degrade' },
  { share: 1.0, tier: 'stop' },
] as const satisfies readonly { share: number; tier: SpendingTier }[];

/** After an administrator restores service, the guard steps up again only past this further share of the ceiling. */
export const RESTORE_GRACE_SHARE = 0.1;

/** Share of ordinary readings kept while degraded. */
export const DEGRADED_SAMPLE_RATE = 0.25;

export interface LadderPosition {
  readonly tier: SpendingTier;
  /** The highest ladder threshold reached (0 when below the first). */
  readonly threshold: number;
}

function rank(tier: SpendingTier): number {
  return SPENDING_TIERS.indexOf(tier);
}

/** Where month-to-date spend stands on the ladder. A ceiling of zero or less stops everything ordinary. */
export function ladderPosition(monthToDateUsd: number, ceilingUsd: number): LadderPosition {
  const share = ceilingUsd > 0 ? monthToDateUsd / ceilingUsd : Number.POSITIVE_INFINITY;
  let position: LadderPosition = { tier: 'ok', threshold: 0 };
  for (const step of LADDER) if (share >= step.share) position = { tier: step.tier, threshold: step.share };
  return position;
}

/** What the guard has done, as kept between runs. */
export interface GuardState {
  /** Month the state is about, `YYYY-MM` (UTC). */
  readonly month: string;
  readonly tier: SpendingTier;
  /** Highest threshold already announced this month, so each notice goes out once. */
  readonly announcedThreshold: number;
  /** Whether the month's forecast passing the ceiling has been announced. */
  readonly forecastAnnounced: boolean;
  /** Set by a manual restore: month-to-date spend at that moment. */
  readonly restoredAtUsd?: number;
}

export function initialGuardState(month: string): GuardState {
  return { month, tier: 'ok', announcedThreshold: 0, forecastAnnounced: false };
}

export type GuardAction =
  | {
      readonly kind: 'notify';
      /** The ladder threshold reached, or 'forecast' when the month's forecast passes the ceiling. */
      readonly threshold: number | 'forecast';
      readonly tier: SpendingTier;
      readonly message: string;
    }
  | { readonly kind: 'sample-lane'; readonly lane: Lane; readonly sampleRate: number }
  | { readonly kind: 'narrow-open-data'; readonly narrowed: boolean }
  | { readonly kind: 'disable-rule'; readonly lane: Lane }
  | { readonly kind: 'enable-rule'; readonly lane: Lane }
  | { readonly kind: 'pause-consumer'; readonly lane: Lane }
  | { readonly kind: 'resume-consumer'; readonly lane: Lane }
  /** Wait until every enrichment function has re-read the settings, so a backlog is not sampled on its way out. */
  | { readonly kind: 'settle'; readonly seconds: number };

export interface GuardReading {
  readonly month: string;
  readonly monthToDateUsd: number;
  readonly forecastUsd: number;
  readonly ceilingUsd: number;
}

export interface GuardDecision {
  readonly state: GuardState;
  readonly actions: readonly GuardAction[];
}

/** The lanes the guard may act on: every lane but the essential one. */

/** Actions that bring the ordinary lane from `from` to `to`, in the order they must run. */
export function transitionActions(from: SpendingTier, to: SpendingTier): GuardAction[] {
  const actions: GuardAction[] = [];
  const up = rank(to) > rank(from);
  const crosses = (tier: SpendingTier) =>
    up
      ? rank(from) < rank(tier) && rank(to) >= rank(tier)
      : rank(from) >= rank(tier) && rank(to) < rank(tier);
  if (up) {
    if (crosses('degrade')) {
      actions.push({ kind: 'sample-lane', lane: ORDINARY_LANE, sampleRate: DEGRADED_SAMPLE_RATE });
      actions.push({ kind: 'narrow-open-data', narrowed: true });
    }
    if (crosses('stop')) {
      // Rule first: stop taking new readings in, then pause the consumer; what is queued stays queued.
      actions.push({ kind: 'disable-rule', lane: ORDINARY_LANE });
      actions.push({ kind: 'pause-consumer', lane: ORDINARY_LANE });
    }
  } else {
    // Full sampling first, and time for the functions' cached settings to expire, so that the readings that
    // waited in the queue are all kept when the consumer resumes.
    if (crosses('degrade')) {
      actions.push({ kind: 'sample-lane', lane: ORDINARY_LANE, sampleRate: 1 });
      actions.push({ kind: 'narrow-open-data', narrowed: false });
      if (crosses('stop'))
        actions.push({ kind: 'settle', seconds: INGEST_SETTINGS.degradeSettingsCacheSeconds + 2 });
    }
    if (crosses('stop')) {
      // Consumer before rule, so the backlog drains before new readings arrive.
      actions.push({ kind: 'resume-consumer', lane: ORDINARY_LANE });
      actions.push({ kind: 'enable-rule', lane: ORDINARY_LANE });
    }
  }
  return actions;
}

/** Dollars with cents, or with more places when the amount is under a dollar (a test ceiling of a few cents). */
function dollars(amount: number): string {
  return amount >= 1 || amount === 0 ? amount.toFixed(2) : amount.toPrecision(2);
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/**
 * One run of the guard: from the state it left last time and the meter's reading, the new state and the actions
 * to take. Pure, so every boundary is testable. A new month starts from ok (automatic restore). After a manual
 * restore the guard holds at most at warn until spend grows a further {@link RESTORE_GRACE_SHARE} of the ceiling.
 */
export function decideGuard(previous: GuardState, reading: GuardReading): GuardDecision {
  const actions: GuardAction[] = [];
  let state = previous;
  if (reading.month !== previous.month) {
    actions.push(...transitionActions(previous.tier, 'ok'));
    state = initialGuardState(reading.month);
  }
  let position = ladderPosition(reading.monthToDateUsd, reading.ceilingUsd);
  if (state.restoredAtUsd !== undefined) {
    const grace = state.restoredAtUsd + RESTORE_GRACE_SHARE * reading.ceilingUsd;
    if (reading.monthToDateUsd < grace && rank(position.tier) > rank('warn'))
      position = { tier: 'warn', threshold: position.threshold };
  }
  const target = position.tier;
  if (target !== state.tier) actions.push(...transitionActions(state.tier, target));
  if (position.threshold > state.announcedThreshold) {
    actions.unshift({
      kind: 'notify',
      threshold: position.threshold,
      tier: target,
      message:
        `Spending has reached ${percent(position.threshold)} of the ${dollars(reading.ceilingUsd)} USD monthly ceiling ` +
        `(${dollars(reading.monthToDateUsd)} USD so far, forecast ${dollars(reading.forecastUsd)} USD). Tier: ${target}.`,
    });
  }
  const forecastOver = reading.ceilingUsd > 0 && reading.forecastUsd >= reading.ceilingUsd;
  if (forecastOver && !state.forecastAnnounced && target !== 'stop') {
    actions.push({
      kind: 'notify',
      threshold: 'forecast',
      tier: target,
      message:
        `At the current rate this month will cost ${dollars(reading.forecastUsd)} USD, over the ` +
        `${dollars(reading.ceilingUsd)} USD ceiling (${dollars(reading.monthToDateUsd)} USD so far).`,
    });
  }
  return {
    state: {
      ...state,
      tier: target,
      announcedThreshold: Math.max(state.announcedThreshold, position.threshold),
      forecastAnnounced: state.forecastAnnounced || forecastOver,
    },
    actions,
  };
}

/** An administrator's restore: back to ok now, with the grace band recorded. */
export function manualRestore(previous: GuardState, monthToDateUsd: number): GuardDecision {
  return {
    state: { ...previous, tier: 'ok', restoredAtUsd: monthToDateUsd },
    actions: transitionActions(previous.tier, 'ok'),
  };
}
