import { describe, expect, it } from 'vitest';
import {
  type DomainEventType,
  domainEvent,
  domainEventId,
  epochMs,
  type ServiceName,
  serviceOf,
} from './domain-events.js';
import { at, point } from './telemetry-fixtures.js';

describe('domain event ids', () => {
  it('are the same for the same change, however often it is detected', () => {
    const ids = [1, 2, 3].map(() => domainEventId('waste.full', 'bin-1', at(0), 'full'));
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^evt_[0-9a-f]{32}$/);
  });

  it.each([
    ['another type', domainEventId('waste.emptied', 'bin-1', at(0), 'full')],
    ['another device', domainEventId('waste.full', 'bin-2', at(0), 'full')],
    ['another observation', domainEventId('waste.full', 'bin-1', at(1), 'full')],
    ['another discriminator', domainEventId('waste.full', 'bin-1', at(0), 'other')],
    ['no discriminator', domainEventId('waste.full', 'bin-1', at(0))],
  ])('differ for %s', (_name, other) => {
    expect(other).not.toBe(domainEventId('waste.full', 'bin-1', at(0), 'full'));
  });
});

describe('domainEvent', () => {
  it('carries device, place, readings and observation time of the point that caused it', () => {
    const p = point('waste-container', { fillingLevel: 0.9 }, at(5), {
      deviceId: 'bin-9',
      site: 's',
      ward: 'w',
    });
    expect(domainEvent('waste.full', p, { threshold: 0.8 }, 'full')).toEqual({
      id: domainEventId('waste.full', 'bin-9', at(5), 'full'),
      type: 'waste.full',
      deviceId: 'bin-9',
      deviceType: 'waste-container',
      site: 's',
      ward: 'w',
      readings: { fillingLevel: 0.9 },
      observedAt: at(5),
      detail: { threshold: 0.8 },
    });
  });

  it('leaves out site and ward when the device has none', () => {
    const { site: _s, ward: _w, ...bare } = point('water-level', { waterLevel: 1 });
    const event = domainEvent('flood.level-changed', bare, {});
    expect(event).not.toHaveProperty('site');
    expect(event).not.toHaveProperty('ward');
  });
});

describe('serviceOf', () => {
  const expected: Record<string, ServiceName> = {
    'waste.full': 'waste',
    'waste.emptied': 'waste',
    'waste.hazard': 'waste',
    'waste.hazard-cleared': 'waste',
    'parking.site-status-changed': 'parking',
    'air-quality.band-changed': 'air-quality',
    'traffic.congestion-started': 'traffic',
    'traffic.congestion-cleared': 'traffic',
    'flood.level-changed': 'flood',
    'flood.rising-fast': 'flood',
    'flood.rising-fast-ended': 'flood',
    'device.offline': 'offline',
    'device.online': 'offline',
  };
  it.each(Object.entries(expected))('%s belongs to %s', (type, service) => {
    expect(serviceOf(type as DomainEventType)).toBe(service);
  });
});

describe('epochMs', () => {
  it('refuses a time that is not ISO-8601', () => {
    expect(() => epochMs('yesterday')).toThrow(/not an ISO-8601 time: "yesterday"/);
  });
});
