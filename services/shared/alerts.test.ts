import { describe, expect, it } from 'vitest';
import {
  type Alert,
  type AlertNotification,
  type AlertSignal,
  applyAlertSignal,
  DEFAULT_ALERT_COOL_DOWN_SECONDS,
  InvalidAlertTransitionError,
} from './alerts.js';
import { at } from './telemetry-fixtures.js';

const KEY = 'flood:gauge-1:level';
const COOL = DEFAULT_ALERT_COOL_DOWN_SECONDS;

/** Runs signals through the machine; returns the last alert and every notification in order. */
function run(signals: readonly AlertSignal[], coolDownSeconds = COOL, start?: Alert) {
  let alert = start;
  const notified: AlertNotification[] = [];
  const incidents = new Set<string>();
  for (const signal of signals) {
    const step = applyAlertSignal(KEY, alert, signal, { coolDownSeconds });
    if (step.ended) notified.push('cleared');
    if (step.notify) notified.push(step.notify);
    alert = step.alert;
    if (alert) incidents.add(alert.incidentId);
  }
  return { alert, notified, incidents };
}

const raise = (s: number, severity?: 'warning' | 'severe'): AlertSignal =>
  severity ? { kind: 'raise', at: at(s), severity } : { kind: 'raise', at: at(s) };
const clear = (s: number): AlertSignal => ({ kind: 'clear', at: at(s) });
const tick = (s: number): AlertSignal => ({ kind: 'tick', at: at(s) });
const ack = (s: number): AlertSignal => ({ kind: 'acknowledge', at: at(s), by: 'officer@example.gov.uk' });

describe('alert lifecycle', () => {
  it.each<[string, AlertSignal[], AlertNotification[], Alert['status'] | undefined]>([
    ['a raise opens and notifies', [raise(0)], ['opened'], 'open'],
    ['a repeated raise changes nothing', [raise(0), raise(60), raise(120)], ['opened'], 'open'],
    ['a clear alone does nothing', [clear(0)], [], undefined],
    ['a clear starts the cool-down, it does not clear yet', [raise(0), clear(60)], ['opened'], 'open'],
    [
      'a tick one second before the cool-down ends',
      [raise(0), clear(60), tick(60 + COOL - 1)],
      ['opened'],
      'open',
    ],
    [
      'a tick exactly at the end of the cool-down clears',
      [raise(0), clear(60), tick(60 + COOL)],
      ['opened', 'cleared'],
      'cleared',
    ],
    [
      'a second clear after the cool-down clears',
      [raise(0), clear(60), clear(60 + COOL)],
      ['opened', 'cleared'],
      'cleared',
    ],
    ['a tick while the condition holds does nothing', [raise(0), tick(10 * COOL)], ['opened'], 'open'],
    ['escalation to severe notifies', [raise(0), raise(60, 'severe')], ['opened', 'escalated'], 'open'],
    [
      'a severe incident falling to warning does not notify',
      [raise(0, 'severe'), raise(60, 'warning')],
      ['opened'],
      'open',
    ],
    [
      'severe, warning, severe again notifies the escalation once',
      [raise(0), raise(60, 'severe'), raise(120, 'warning'), raise(180, 'severe')],
      ['opened', 'escalated'],
      'open',
    ],
    ['acknowledging does not notify', [raise(0), ack(30)], ['opened'], 'acknowledged'],
    [
      'an acknowledged alert clears after the cool-down',
      [raise(0), ack(30), clear(60), tick(60 + COOL)],
      ['opened', 'cleared'],
      'cleared',
    ],
    [
      'a raise after clearing opens a new incident',
      [raise(0), clear(1), tick(1 + COOL), raise(2 + COOL)],
      ['opened', 'cleared', 'opened'],
      'open',
    ],
    [
      'a raise long after a clear no tick finished ends the old incident first',
      [raise(0), clear(60), raise(60 + COOL)],
      ['opened', 'cleared', 'opened'],
      'open',
    ],
  ])('%s', (_name, signals, notifications, status) => {
    const { alert, notified } = run(signals);
    expect(notified).toEqual(notifications);
    expect(alert?.status).toBe(status);
  });

  it('clears at once with no cool-down', () => {
    expect(run([raise(0), clear(1)], 0).notified).toEqual(['opened', 'cleared']);
  });

  it('turns a sensor flapping fifty times inside the cool-down into one alert and, once settled, one cleared notice', () => {
    const flapping = Array.from({ length: 50 }, (_, i) => [raise(i * 20), clear(i * 20 + 10)]).flat();
    const { alert, notified, incidents } = run([...flapping, tick(990 + COOL)]);
    expect(notified).toEqual(['opened', 'cleared']);
    expect(incidents.size).toBe(1);
    expect(alert?.flaps).toBe(49);
  });

  it('a raise inside the cool-down keeps the same incident', () => {
    const first = run([raise(0), clear(60)]);
    const again = run([raise(60 + COOL - 1)], COOL, first.alert);
    expect(again.notified).toEqual([]);
    expect(again.alert?.incidentId).toBe(first.alert?.incidentId);
    expect(again.alert?.quietSince).toBeUndefined();
  });

  it('gives a new incident a new id, and the same incident the same id on replay', () => {
    const a = run([raise(0), clear(1), tick(1 + COOL), raise(5 + COOL)]);
    const b = run([raise(0), clear(1), tick(1 + COOL), raise(5 + COOL)]);
    expect(a.incidents.size).toBe(2);
    expect([...a.incidents]).toEqual([...b.incidents]);
  });

  it('is idempotent: every signal delivered three times notifies exactly as once', () => {
    const signals = [
      raise(0),
      raise(60, 'severe'),
      clear(120),
      raise(130),
      clear(200),
      tick(200 + COOL),
      raise(5000),
    ];
    const once = run(signals);
    const thrice = run(signals.flatMap((s) => [s, s, s]));
    expect(thrice.notified).toEqual(once.notified);
    expect(thrice.alert).toEqual(once.alert);
  });

  it('ignores a signal older than the last one applied', () => {
    const { alert } = run([raise(0), clear(100), tick(100 + COOL)]);
    const late = applyAlertSignal(KEY, alert, raise(50), { coolDownSeconds: COOL });
    expect(late).toEqual({ alert });
  });

  it('keeps the first acknowledgement when acknowledged twice', () => {
    const { alert } = run([raise(0), ack(10), { kind: 'acknowledge', at: at(20), by: 'someone-else' }]);
    expect(alert).toMatchObject({
      status: 'acknowledged',
      acknowledgedAt: at(10),
      acknowledgedBy: 'officer@example.gov.uk',
    });
  });

  it.each([
    ['no alert', [] as AlertSignal[], /there is no alert to acknowledge/],
    ['a cleared alert', [raise(0), clear(1), tick(1 + COOL)], /was cleared at .* cannot be acknowledged/],
  ])('refuses to acknowledge %s', (_name, signals, message) => {
    const { alert } = run(signals);
    expect(() => applyAlertSignal(KEY, alert, ack(5000))).toThrow(InvalidAlertTransitionError);
    expect(() => applyAlertSignal(KEY, alert, ack(5000))).toThrow(message);
  });
});
