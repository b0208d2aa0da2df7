import { describe, expect, it } from 'vitest';
import { INGEST_SETTINGS } from '../../lambdas/contracts/ingest-settings.js';
import {
  needsLatestStateWrite,
  stateFingerprint,
  type WrittenState,
} from '../../lambdas/domain/latest-state-policy.js';
import type { Job } from '../shared/jobs.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import {
  type DeviceLiveness,
  deviceHeard,
  liveness,
  maintenanceJobDecision,
  offlineAfterSeconds,
  offlineSweep,
} from './rules.js';

/** The tables use a 600 s refresh period; the platform's own value is checked separately. */
const REFRESH = 600;

describe('offlineAfterSeconds = max(3 x interval, refresh + interval)', () => {
  it('defaults to the platform refresh period', () => {
    const platform = INGEST_SETTINGS.latestStateRefreshSeconds;
    expect(offlineAfterSeconds(60)).toBe(Math.max(180, platform + 60));
    expect(offlineAfterSeconds(3600)).toBe(Math.max(10800, platform + 3600));
  });

  it.each<[number, number, string]>([
    [60, 660, 'refresh + interval: 3 x 60 = 180 would call a healthy device offline'],
    [200, 800, 'refresh + interval (3 x 200 = 600 < 800)'],
    [299, 899, 'refresh + interval, just under the crossover'],
    [300, 900, 'both rules agree at 300 s'],
    [301, 903, '3 x interval, just over the crossover'],
    [900, 2700, '3 x interval'],
    [3600, 10800, '3 x interval'],
  ])('interval %s s: %s s (%s)', (interval, threshold) => {
    expect(offlineAfterSeconds(interval, REFRESH)).toBe(threshold);
  });

  it('refuses a non-positive interval', () => {
    expect(() => offlineAfterSeconds(0)).toThrow(/must be positive/);
  });
});

describe('liveness', () => {
  it.each<[number, number, DeviceLiveness]>([
    [300, 899, 'online'],
    [300, 900, 'online'],
    [300, 901, 'offline'],
    [60, 180, 'online'],
    [60, 660, 'online'],
    [60, 661, 'offline'],
  ])('interval %s s, silent %s s: %s', (interval, silent, expected) => {
    expect(liveness(at(0), at(silent), interval, REFRESH)).toBe(expected);
  });

  it('never calls a healthy device offline although its latest state lags by up to refresh + interval', () => {
    // A device every 70 s with unchanged readings: latest state is rewritten only once per refresh period.
    const interval = 70;
    let written: WrittenState | undefined;
    let maxLag = 0;
    for (let s = 0; s <= 6 * 3600; s += interval) {
      const next = { readings: { waterLevel: 1.2 }, observedAt: at(s) };
      // Just before this message arrives, the sweep sees the stored observedAt.
      if (written) {
        const lag = s - (Date.parse(written.observedAt) - Date.parse(at(0))) / 1000;
        maxLag = Math.max(maxLag, lag);
        expect(liveness(written.observedAt, at(s), interval, REFRESH)).toBe('online');
      }
      if (needsLatestStateWrite(written, next, REFRESH)) {
        written = { observedAt: next.observedAt, fingerprint: stateFingerprint(next) };
      }
    }
    expect(maxLag).toBeGreaterThan(3 * interval);
    expect(maxLag).toBeLessThanOrEqual(REFRESH + interval);
  });
});

describe('offlineSweep and deviceHeard', () => {
  const last = point('air-quality', { no2: 30 }, at(0), { deviceId: 'aq-9' });

  it.each<[DeviceLiveness, number, DeviceLiveness, string[]]>([
    ['online', 900, 'online', []],
    ['online', 901, 'offline', ['device.offline']],
    ['offline', 5000, 'offline', []],
  ])('was %s, silent %s s: %s', (previous, silent, status, events) => {
    const result = offlineSweep(previous, last, at(silent), 300, REFRESH);
    expect(result.liveness).toBe(status);
    expect(result.events.map((e) => e.type)).toEqual(events);
  });

  it('every sweep during one silence gives the same event id', () => {
    const ids = [901, 1200, 5000].map((s) => offlineSweep('online', last, at(s), 300, REFRESH).events[0]?.id);
    expect(new Set(ids).size).toBe(1);
  });

  it('the offline event carries the last point heard', () => {
    const [event] = offlineSweep('online', last, at(1000), 300, REFRESH).events;
    expect(event).toMatchObject({
      deviceId: 'aq-9',
      readings: { no2: 30 },
      observedAt: at(0),
      detail: { lastSeenAt: at(0), silentSeconds: 1000, offlineAfterSeconds: 900 },
    });
  });

  it.each<[DeviceLiveness, string[]]>([
    ['offline', ['device.online']],
    ['online', []],
  ])('hearing from a device that was %s', (previous, events) => {
    expect(deviceHeard(previous, last).events.map((e) => e.type)).toEqual(events);
  });
});

describe('maintenanceJobDecision', () => {
  const last = point('parking-spot', { status: 'free' }, at(0), { deviceId: 'bay-3' });
  const offline = offlineSweep('online', last, at(5000), 300, REFRESH).events[0];
  const online = deviceHeard(
    'offline',
    point('parking-spot', { status: 'free' }, at(6000), { deviceId: 'bay-3' }),
  ).events[0];

  it('opens one maintenance job when a device goes offline, and closes it when heard again', () => {
    if (!offline || !online) throw new Error('fixture events missing');
    const opened = maintenanceJobDecision([], offline).open;
    expect(opened).toEqual([
      expect.objectContaining({ service: 'offline', kind: 'maintenance', status: 'open' }),
    ]);
    expect(maintenanceJobDecision(opened, offline).open).toEqual([]);
    const closed = maintenanceJobDecision(opened, online).close;
    expect(closed).toEqual([expect.objectContaining({ status: 'done', closedAs: 'back-online' })]);
    expect(maintenanceJobDecision(closed as Job[], online)).toEqual({ open: [], close: [] });
  });

  it.each<[string, { lat: number; lon: number } | undefined]>([
    ['where the registry puts the device', { lat: 51.4553, lon: -0.9789 }],
    ['no location when none is given', undefined],
  ])('the job carries %s', (_name, location) => {
    if (!offline) throw new Error('fixture event missing');
    const [job] = maintenanceJobDecision([], offline, location ? { location } : {}).open;
    expect(job?.location).toEqual(location);
  });

  it('a replayed offline event opens a job with the same id', () => {
    if (!offline) throw new Error('fixture event missing');
    expect(maintenanceJobDecision([], offline).open[0]?.id).toBe(
      maintenanceJobDecision([], offline).open[0]?.id,
    );
  });
});
