import { describe, expect, it } from 'vitest';
import { inMemoryWorkflowPorts } from './in-memory-workflow-ports.js';
import { applyAlert, tickAlerts } from './workflow-steps.js';

const subject = (summary: string) => ({
  service: 'flood',
  key: 'flood:gauge-1:level',
  summary,
  site: 'Brook',
});
const t = (minutes: number) => new Date(Date.UTC(2026, 10, 27, 12, minutes)).toISOString();

describe('applyAlert', () => {
  it('opens one incident and notifies once; a repeated raise changes nothing', async () => {
    const ports = inMemoryWorkflowPorts();
    const first = await applyAlert(
      ports,
      subject('warning'),
      { kind: 'raise', at: t(0), severity: 'warning' },
      900,
    );
    const again = await applyAlert(
      ports,
      subject('warning'),
      { kind: 'raise', at: t(0), severity: 'warning' },
      900,
    );
    expect(first.notified).toEqual(['opened']);
    expect(again.notified).toEqual([]);
    expect(again.alert).toEqual(first.alert);
    expect(ports.notifier.sent.map((n) => n.subject)).toEqual(['ALERT: warning']);
  });

  it('keeps the words of the incident while it lasts, and takes the new ones when it escalates', async () => {
    const ports = inMemoryWorkflowPorts();
    await applyAlert(
      ports,
      subject('warning at 0.99 m'),
      { kind: 'raise', at: t(0), severity: 'warning' },
      900,
    );
    const same = await applyAlert(ports, subject('warning at 1.02 m'), { kind: 'raise', at: t(1) }, 900);
    expect(same.alert?.summary).toBe('warning at 0.99 m');
    const worse = await applyAlert(
      ports,
      subject('severe at 1.61 m'),
      { kind: 'raise', at: t(2), severity: 'severe' },
      900,
    );
    expect(worse.notified).toEqual(['escalated']);
    expect(worse.alert).toMatchObject({ summary: 'severe at 1.61 m', severity: 'severe', site: 'Brook' });
    expect(ports.notifier.sent.map((n) => n.subject)).toEqual([
      'ALERT: warning at 0.99 m',
      'ALERT ESCALATED: severe at 1.61 m',
    ]);
  });

  it('replayed raise and clear signals count no extra flap', async () => {
    const ports = inMemoryWorkflowPorts();
    const signals = [
      { kind: 'raise', at: t(0), severity: 'warning' },
      { kind: 'clear', at: t(1) },
      { kind: 'raise', at: t(2), severity: 'warning' },
    ] as const;
    for (const signal of signals) await applyAlert(ports, subject('w'), signal, 900);
    const once = await ports.alerts.current('flood:gauge-1:level');
    for (let round = 0; round < 3; round++) {
      for (const signal of signals) await applyAlert(ports, subject('w'), signal, 900);
    }
    expect(await ports.alerts.current('flood:gauge-1:level')).toEqual(once);
    expect(once).toMatchObject({ flaps: 1, status: 'open' });
    expect(once?.quietSince).toBeUndefined();
  });

  it('clears an incident whose condition stayed away for the cool-down, on the schedule', async () => {
    const ports = inMemoryWorkflowPorts();
    await applyAlert(ports, subject('w'), { kind: 'raise', at: t(0), severity: 'warning' }, 600);
    await applyAlert(ports, subject('w'), { kind: 'clear', at: t(5) }, 600);
    expect(await tickAlerts(ports, 'flood', t(14), 600)).toBe(0);
    expect(await tickAlerts(ports, 'flood', t(15), 600)).toBe(1);
    expect(await ports.alerts.current('flood:gauge-1:level')).toMatchObject({
      status: 'cleared',
      clearedAt: t(15),
    });
    expect(ports.notifier.sent.map((n) => n.subject)).toEqual(['ALERT: w', 'Cleared: w']);
  });
});
