import { describe, expect, it } from 'vitest';
import { at, point } from '../shared/telemetry-fixtures.js';
import {
  applyDelta,
  EMPTY_SITE_COUNTS,
  occupancy,
  occupancyDelta,
  parkingEvents,
  type SiteCounts,
  type SpotStatus,
  siteAvailability,
  siteStatus,
} from './rules.js';

const counts = (free: number, occupied: number, closed = 0, unknown = 0): SiteCounts => ({
  free,
  occupied,
  closed,
  unknown,
  total: free + occupied + closed + unknown,
});

describe('occupancyDelta', () => {
  it.each<[SpotStatus | undefined, SpotStatus, Record<string, number>]>([
    [undefined, 'free', { total: 1, free: 1 }],
    [undefined, 'occupied', { total: 1, occupied: 1 }],
    [undefined, 'closed', { total: 1, closed: 1 }],
    [undefined, 'unknown', { total: 1, unknown: 1 }],
    ['free', 'free', {}],
    ['free', 'occupied', { free: -1, occupied: 1 }],
    ['occupied', 'free', { occupied: -1, free: 1 }],
    ['occupied', 'closed', { occupied: -1, closed: 1 }],
    ['closed', 'unknown', { closed: -1, unknown: 1 }],
    ['unknown', 'free', { unknown: -1, free: 1 }],
  ])('%s -> %s', (previous, next, delta) => {
    expect(occupancyDelta(previous, next)).toEqual(delta);
  });

  it('stays exact when concurrent changes land in any order (increments commute)', () => {
    // Ten spots seen, then six change at once: any interleaving gives the same counts.
    const seen = Array.from({ length: 10 }, () => occupancyDelta(undefined, 'free'));
    const changes = [
      occupancyDelta('free', 'occupied'),
      occupancyDelta('free', 'occupied'),
      occupancyDelta('free', 'occupied'),
      occupancyDelta('free', 'closed'),
      occupancyDelta('free', 'unknown'),
      occupancyDelta('free', 'occupied'),
    ];
    const base = seen.reduce(applyDelta, EMPTY_SITE_COUNTS);
    const forward = changes.reduce(applyDelta, base);
    const backward = [...changes].reverse().reduce(applyDelta, base);
    const interleaved = [changes[3], changes[0], changes[5], changes[1], changes[4], changes[2]]
      .map((d) => d ?? {})
      .reduce(applyDelta, base);
    expect(forward).toEqual(counts(4, 4, 1, 1));
    expect(backward).toEqual(forward);
    expect(interleaved).toEqual(forward);
  });
});

describe('occupancy', () => {
  it.each<[string, SiteCounts, number]>([
    ['empty site', counts(0, 0), 0],
    ['all free', counts(10, 0), 0],
    ['half', counts(5, 5), 0.5],
    ['closed spots are out of service', counts(1, 1, 8), 0.5],
    ['unknown spots are not counted', counts(3, 1, 0, 6), 0.25],
    ['all occupied', counts(0, 10), 1],
  ])('%s', (_name, c, expected) => {
    expect(occupancy(c)).toBe(expected);
  });
});

describe('siteStatus (DATEX II)', () => {
  it.each<[string, SiteCounts, string]>([
    ['no spots', counts(0, 0), 'unknown'],
    ['all unknown', counts(0, 0, 0, 4), 'unknown'],
    ['some closed, rest unknown', counts(0, 0, 2, 2), 'unknown'],
    ['all closed', counts(0, 0, 5), 'closed'],
    ['89 of 100 occupied', counts(11, 89), 'spacesAvailable'],
    ['90 of 100 occupied (almostFull at 90%)', counts(10, 90), 'almostFull'],
    ['8 of 10', counts(2, 8), 'spacesAvailable'],
    ['9 of 10', counts(1, 9), 'almostFull'],
    ['99 of 100', counts(1, 99), 'almostFull'],
    ['10 of 10 (full at 100%)', counts(0, 10), 'full'],
    ['all in service occupied, some closed', counts(0, 3, 7), 'full'],
    ['one free spot among closed ones', counts(1, 0, 9), 'spacesAvailable'],
  ])('%s: %s', (_name, c, status) => {
    expect(siteStatus(c)).toBe(status);
  });

  it('serves counts, occupancy and status together', () => {
    expect(siteAvailability('car-park-1', counts(1, 9))).toEqual({
      site: 'car-park-1',
      free: 1,
      occupied: 9,
      closed: 0,
      unknown: 0,
      total: 10,
      occupancy: 0.9,
      status: 'almostFull',
    });
  });
});

describe('parkingEvents', () => {
  const spot = (status: string, site: string | null = 'car-park-1') => {
    const { site: _default, ...p } = point('parking-spot', { status }, at(0), { deviceId: 'bay-7' });
    return site === null ? p : { ...p, site };
  };

  it.each<[string, SpotStatus | undefined, string, SiteCounts, string[]]>([
    ['8 -> 9 of 10 occupied', 'free', 'occupied', counts(1, 9), ['spacesAvailable->almostFull']],
    ['9 -> 10 of 10 occupied', 'free', 'occupied', counts(0, 10), ['almostFull->full']],
    ['10 -> 9 of 10 occupied', 'occupied', 'free', counts(1, 9), ['full->almostFull']],
    ['7 -> 8 of 10 occupied', 'free', 'occupied', counts(2, 8), []],
    ['a spot repeating its status', 'occupied', 'occupied', counts(2, 8), []],
    ['the last open spot closes', 'free', 'closed', counts(0, 0, 4), ['spacesAvailable->closed']],
    ['a first spot appears', undefined, 'free', counts(1, 0), ['unknown->spacesAvailable']],
  ])('%s', (_name, previous, next, after, changes) => {
    const events = parkingEvents(previous, spot(next), after);
    expect(events.map((e) => `${e.detail.previousStatus}->${e.detail.status}`)).toEqual(changes);
    for (const e of events)
      expect(e).toMatchObject({ type: 'parking.site-status-changed', site: 'car-park-1' });
  });

  it('a spot without a site changes no site', () => {
    expect(parkingEvents('free', spot('occupied', null), counts(0, 10))).toEqual([]);
  });
});
