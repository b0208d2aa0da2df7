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
import { judgeRunaways, RUNAWAY_REFUSALS_PER_INTERVAL } from '../../lambdas/domain/runaway-devices.js';
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

describe('runaway devices', () => {
  it('judges only devices at or over the threshold, and never disconnects an essential one', () => {
    const verdicts = judgeRunaways(
      [
        { deviceId: 'bin-1', deviceType: 'waste-container', refusals: 29 },
        { deviceId: 'bin-2', deviceType: 'waste-container', refusals: 30 },
        { deviceId: 'gauge-1', deviceType: 'water-level', refusals: 500 },
      ],
      ['water-level', 'air-quality'],
    );
    expect(verdicts.map((v) => [v.kind, v.device.deviceId])).toEqual([
      ['deactivate', 'bin-2'],
      ['report-only', 'gauge-1'],
    ]);
    expect(RUNAWAY_REFUSALS_PER_INTERVAL).toBe(30);
  });

  it('deactivates a runaway ordinary device after the meter run, audits and notifies; reports an essential one', async () => {
    const { ports, settings, records, notices } = setup(IDLE, 1000);
    const deactivated: string[] = [];
    let window: [string, string] | undefined;
    const policed: CostControlPorts = {
      ...ports,
      runaways: {
        refused: {
          between: async (start, end) => {
            window = [start.toISOString(), end.toISOString()];
            return [
              { deviceId: 'bay-7', deviceType: 'parking-spot', refusals: 240 },
              { deviceId: 'gauge-2', deviceType: 'water-level', refusals: 90 },
            ];
          },
        },
        certificates: {
          deactivate: async (deviceId) => {
            deactivated.push(deviceId);
            return 1;
          },
        },
      },
    };
    const result = await meterAndGuard(
      policed,
      { ...settings, essentialDeviceTypes: ['water-level'] },
      NOW,
      300,
    );
    expect(window).toEqual(['2026-11-27T11:55:00.000Z', '2026-11-27T12:00:00.000Z']);
    expect(deactivated).toEqual(['bay-7']);
    expect(result.audit.map((entry) => entry.action.kind)).toEqual([
      'deactivate-device',
      'report-runaway-device',
    ]);
    expect(records.audit.at(-2)?.action).toMatchObject({
      kind: 'deactivate-device',
      deviceId: 'bay-7',
      refusals: 240,
      certificates: 1,
    });
    expect(notices.some((n) => n.includes('bay-7 disconnected'))).toBe(true);
    expect(notices.some((n) => n.includes('gauge-2') && n.includes('stays connected'))).toBe(true);
  });

  it('audits a failed deactivation instead of failing the meter run', async () => {
    const { ports, settings, records } = setup(IDLE, 1000);
    const policed: CostControlPorts = {
      ...ports,
      runaways: {
        refused: {
          between: async () => [{ deviceId: 'bin-9', deviceType: 'waste-container', refusals: 31 }],
        },
        certificates: {
          deactivate: async () => {
            throw new Error('ThrottlingException');
          },
        },
      },
    };
    await meterAndGuard(policed, settings, NOW, 300);
    expect(records.audit.at(-1)).toMatchObject({ outcome: 'failed', error: 'ThrottlingException' });
  });
});

describe('runaway device notices', () => {
  it('audits the deactivation as done even when the notice cannot be sent, then fails the run so it is alarmed', async () => {
    const { ports, settings, records } = setup(IDLE, 1000);
    const policed: CostControlPorts = {
      ...ports,
      notifier: {
        notify: async () => {
          throw new Error('SNS throttled');
        },
      },
      runaways: {
        refused: {
          between: async () => [{ deviceId: 'bin-4', deviceType: 'waste-container', refusals: 50 }],
        },
        certificates: { deactivate: async () => 1 },
      },
    };
    await expect(meterAndGuard(policed, settings, NOW, 300)).rejects.toThrow(
      /notices not sent: bin-4: SNS throttled/,
    );
    expect(records.audit.at(-1)).toMatchObject({
      outcome: 'done',
      action: { kind: 'deactivate-device', deviceId: 'bin-4' },
    });
  });
});
