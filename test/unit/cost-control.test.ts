import { describe, expect, it } from 'vitest';
import { pricesFor } from '../../lambdas/contracts/prices.js';
import type { Lane } from '../../lambdas/contracts/topics.js';
import {
  type AuditEntry,
  type CostControlPorts,
  type CostControlSettings,
  type CostRecords,
  type DegradeSettings,
  FULL_SERVICE,
  meterAndGuard,
  onBudgetNotice,
  restoreService,
} from '../../lambdas/domain/cost-control.js';
import type { GuardState } from '../../lambdas/domain/spending-guard.js';
import type { SpendingLedger, UsageSample } from '../../lambdas/domain/usage-meter.js';

const NOW = new Date('2026-11-27T12:00:00.000Z');
const IDLE: UsageSample = {
  intervalSeconds: 300,
  rulesTriggered: 0,
  brokerMessages: 0,
  connectedDevices: 0,
  sqsRequests: 0,
  lambdaInvocations: 0,
  lambdaGbSeconds: 0,
  dynamoWriteUnits: 0,
  dynamoReadUnits: 0,
  apiRequests: 0,
  logBytes: 0,
};
/** About $3.45 in five minutes in London: far past a $1 ceiling. */
const RUNAWAY: UsageSample = { ...IDLE, rulesTriggered: 10_000_000 };

class Records implements CostRecords {
  ledger: SpendingLedger | undefined;
  state: GuardState | undefined;
  degrade: DegradeSettings = FULL_SERVICE;
  audit: AuditEntry[] = [];
  async loadLedger() {
    return this.ledger;
  }
  async saveLedger(ledger: SpendingLedger) {
    this.ledger = ledger;
  }
  async loadGuardState() {
    return this.state;
  }
  async saveGuardState(state: GuardState) {
    this.state = state;
  }
  async loadDegradeSettings() {
    return this.degrade;
  }
  async saveDegradeSettings(settings: DegradeSettings) {
    this.degrade = settings;
  }
  async appendAudit(entries: readonly AuditEntry[]) {
    this.audit.push(...entries);
  }
  async recentAudit(limit: number) {
    return this.audit.slice(-limit).reverse();
  }
}

function setup(usage: UsageSample, ceilingUsd = 1) {
  const calls: string[] = [];
  const failing = new Set<string>();
  const lane =
    (name: string) =>
    async (l: Lane): Promise<void> => {
      if (failing.has(name)) throw new Error(`${name} refused`);
      calls.push(`${name}:${l}`);
    };
  const notices: string[] = [];
  const records = new Records();
  const ports: CostControlPorts = {
    usage: { read: async () => usage },
    lanes: {
      disableRule: lane('disableRule'),
      enableRule: lane('enableRule'),
      pauseConsumer: lane('pauseConsumer'),
      resumeConsumer: lane('resumeConsumer'),
    },
    records,
    notifier: {
      notify: async (subject, message) => {
        notices.push(`${subject}|${message}`);
      },
    },
  };
  const settings: CostControlSettings = {
    ceilingUsd,
    prices: pricesFor('eu-west-2'),
    fixed: { dailyUsd: 0 },
    councilName: 'Test Council',
  };
  return { ports, settings, records, calls, failing, notices };
}

describe('meterAndGuard', () => {
  it('stops the ordinary lane when spend passes the ceiling, and audits each action', async () => {
    const { ports, settings, records, calls } = setup(RUNAWAY);
    const result = await meterAndGuard(ports, settings, NOW, 300);
    expect(result.tier).toBe('stop');
    expect(calls).toEqual(['disableRule:civic_ingest', 'pauseConsumer:civic_ingest']);
    expect(records.audit.every((entry) => entry.outcome === 'done')).toBe(true);
    expect(records.degrade.sampleRates.civic_ingest).toBeLessThan(1);
  });

  it('audits a failed action and retries it on the next run', async () => {
    const { ports, settings, records, calls, failing } = setup(RUNAWAY);
    failing.add('pauseConsumer');
    const first = await meterAndGuard(ports, settings, NOW, 300);
    expect(first.tier).not.toBe('stop');
    expect(records.audit.find((e) => e.action.kind === 'pause-consumer')).toMatchObject({
      outcome: 'failed',
      error: 'pauseConsumer refused',
    });
    failing.clear();
    const second = await meterAndGuard(ports, settings, new Date(NOW.getTime() + 300_000), 300);
    expect(second.tier).toBe('stop');
    expect(calls.filter((c) => c === 'pauseConsumer:civic_ingest')).toHaveLength(1);
    expect(calls.filter((c) => c === 'disableRule:civic_ingest')).toHaveLength(2);
  });

  it('with no ceiling (Infinity) keeps the ledger and never acts', async () => {
    const { ports, settings, records, calls, notices } = setup(RUNAWAY, Number.POSITIVE_INFINITY);
    const result = await meterAndGuard(ports, settings, NOW, 300);
    expect(result.tier).toBe('ok');
    expect(records.ledger?.monthToDateUsd).toBeGreaterThan(3);
    expect(calls).toEqual([]);
    expect(notices).toEqual([]);
  });
});

describe('restoreService', () => {
  it('resumes the consumer, then enables the rule, and records who restored', async () => {
    const { ports, settings, records, calls } = setup(RUNAWAY);
    await meterAndGuard(ports, settings, NOW, 300);
    calls.length = 0;
    const result = await restoreService(ports, settings, 'alice (sub-1)', NOW);
    expect(result.tier).toBe('ok');
    expect(calls).toEqual(['resumeConsumer:civic_ingest', 'enableRule:civic_ingest']);
    expect(records.audit.find((e) => e.action.kind === 'manual-restore')).toMatchObject({
      action: { kind: 'manual-restore', by: 'alice (sub-1)' },
    });
    expect(records.state?.tier).toBe('ok');
  });

  it('keeps the old tier when an action fails, so the next meter run switches the lane back on', async () => {
    const { ports, settings, records, calls, failing } = setup(RUNAWAY);
    await meterAndGuard(ports, settings, NOW, 300);
    failing.add('enableRule');
    const result = await restoreService(ports, settings, 'alice', NOW);
    expect(result.tier).toBe('stop');
    expect(records.state).toMatchObject({ tier: 'stop', restoredAtUsd: expect.any(Number) });
    failing.clear();
    calls.length = 0;
    // Spend hardly moves (idle): inside the restore's grace band the guard steps down to warn, lane on again.
    ports.usage.read = async () => IDLE;
    const next = await meterAndGuard(ports, settings, new Date(NOW.getTime() + 300_000), 300);
    expect(next.tier).toBe('warn');
    expect(calls).toEqual(['resumeConsumer:civic_ingest', 'enableRule:civic_ingest']);
  });
});

describe('onBudgetNotice', () => {
  it('runs the guard, passes the notice on and records it in the audit log', async () => {
    const { ports, settings, records, notices } = setup(IDLE);
    const result = await onBudgetNotice(
      ports,
      settings,
      { subject: 'AWS Budgets: civic-iot-dev has exceeded your alert threshold', message: 'ACTUAL > 80%' },
      NOW,
      300,
    );
    expect(records.ledger).toBeDefined();
    expect(notices).toEqual(['Test Council: AWS Budgets notice|ACTUAL > 80%']);
    expect(result.audit.at(-1)).toMatchObject({
      action: { kind: 'budget-notice', message: 'ACTUAL > 80%' },
      outcome: 'done',
    });
    expect(records.audit.at(-1)?.action.kind).toBe('budget-notice');
  });
});
