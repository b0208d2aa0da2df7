import { describe, expect, it } from 'vitest';
import {
  decideGuard,
  type GuardAction,
  type GuardState,
  initialGuardState,
  ladderPosition,
  manualRestore,
  type SpendingTier,
  transitionActions,
} from '../../lambdas/domain/spending-guard.js';

const CEILING = 100;
const reading = (monthToDateUsd: number, forecastUsd = monthToDateUsd, month = '2026-11') => ({
  month,
  monthToDateUsd,
  forecastUsd,
  ceilingUsd: CEILING,
});
const kinds = (actions: readonly GuardAction[]) =>
  actions.map((a) => ('lane' in a ? `${a.kind}:${a.lane}` : a.kind));

describe('ladderPosition', () => {
  it.each([
    [0, 'ok', 0],
    [49.99, 'ok', 0],
    [50, 'warn', 0.5],
    [79.99, 'warn', 0.5],
    [80, 'warn', 0.8],
    [89.99, 'warn', 0.8],
    [90, 'degrade', 0.9],
    [99.99, 'degrade', 0.9],
    [100, 'stop', 1],
    [250, 'stop', 1],
  ] as const)('%d USD of a 100 USD ceiling is %s (threshold %d)', (spend, tier, threshold) => {
    expect(ladderPosition(spend, CEILING)).toEqual({ tier, threshold });
  });

  it('treats a zero ceiling as already spent', () => {
    expect(ladderPosition(0, 0).tier).toBe('stop');
  });
});

describe('transitionActions', () => {
  it.each([
    ['ok', 'warn', []],
    ['ok', 'degrade', ['sample-lane:civic_ingest', 'narrow-open-data']],
    [
      'warn',
      'stop',
      [
        'sample-lane:civic_ingest',
        'narrow-open-data',
        'disable-rule:civic_ingest',
        'pause-consumer:civic_ingest',
      ],
    ],
    ['degrade', 'stop', ['disable-rule:civic_ingest', 'pause-consumer:civic_ingest']],
    ['stop', 'degrade', ['resume-consumer:civic_ingest', 'enable-rule:civic_ingest']],
    [
      'stop',
      'ok',
      [
        'sample-lane:civic_ingest',
        'narrow-open-data',
        'settle',
        'resume-consumer:civic_ingest',
        'enable-rule:civic_ingest',
      ],
    ],
    ['degrade', 'warn', ['sample-lane:civic_ingest', 'narrow-open-data']],
    ['warn', 'ok', []],
  ] as const)('%s -> %s', (from, to, expected) => {
    expect(kinds(transitionActions(from as SpendingTier, to as SpendingTier))).toEqual(expected);
  });

  it('never acts on the essential lane', () => {
    const tiers: SpendingTier[] = ['ok', 'warn', 'degrade', 'stop'];
    for (const from of tiers) {
      for (const to of tiers) {
        for (const action of transitionActions(from, to)) {
          if ('lane' in action) expect(action.lane).toBe('civic_ingest');
        }
      }
    }
  });
});

describe('decideGuard', () => {
  it('walks up the ladder, announcing each threshold once', () => {
    let state: GuardState = initialGuardState('2026-11');
    const seen: string[][] = [];
    for (const spend of [10, 50, 55, 80, 90, 95, 100, 120]) {
      const decision = decideGuard(state, reading(spend));
      state = decision.state;
      seen.push([state.tier, ...kinds(decision.actions)]);
    }
    expect(seen).toEqual([
      ['ok'],
      ['warn', 'notify'],
      ['warn'],
      ['warn', 'notify'],
      ['degrade', 'notify', 'sample-lane:civic_ingest', 'narrow-open-data'],
      ['degrade'],
      ['stop', 'notify', 'disable-rule:civic_ingest', 'pause-consumer:civic_ingest'],
      ['stop'],
    ]);
  });

  it('names the ceiling, the spend and the forecast in the notice', () => {
    const decision = decideGuard(initialGuardState('2026-11'), reading(80.5, 140));
    const notice = decision.actions.find((a) => a.kind === 'notify');
    expect(notice && 'message' in notice ? notice.message : '').toMatch(
      /80% of the 100.00 USD monthly ceiling \(80.50 USD so far, forecast 140.00 USD\)/,
    );
  });

  it('warns once when the forecast passes the ceiling before the spend does', () => {
    const first = decideGuard(initialGuardState('2026-11'), reading(20, 130));
    expect(first.actions).toEqual([expect.objectContaining({ kind: 'notify', threshold: 'forecast' })]);
    expect(decideGuard(first.state, reading(21, 131)).actions).toEqual([]);
  });

  it('restores everything automatically when a new month starts', () => {
    const stopped = decideGuard(initialGuardState('2026-11'), reading(150)).state;
    const decision = decideGuard(stopped, reading(0.4, 0.4, '2026-12'));
    expect(decision.state).toMatchObject({ month: '2026-12', tier: 'ok', announcedThreshold: 0 });
    expect(kinds(decision.actions)).toEqual([
      'sample-lane:civic_ingest',
      'narrow-open-data',
      'settle',
      'resume-consumer:civic_ingest',
      'enable-rule:civic_ingest',
    ]);
  });

  it('after a manual restore, holds at warn until spend grows another 10% of the ceiling', () => {
    const stopped = decideGuard(initialGuardState('2026-11'), reading(101)).state;
    const restored = manualRestore(stopped, 101);
    expect(kinds(restored.actions)).toContain('enable-rule:civic_ingest');
    const within = decideGuard(restored.state, reading(110.99));
    expect(within.state.tier).toBe('warn');
    expect(kinds(within.actions)).toEqual([]);
    const beyond = decideGuard(within.state, reading(111));
    expect(beyond.state.tier).toBe('stop');
    expect(kinds(beyond.actions)).toContain('disable-rule:civic_ingest');
  });
});
