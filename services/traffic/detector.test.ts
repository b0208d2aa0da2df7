import { describe, expect, it } from 'vitest';
import type { Device } from '../../lambdas/domain/device.js';
import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';
import type { ServiceContext } from '../shared/blueprint.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import {
  DEFAULT_FREE_FLOW_SPEED_KMH,
  type TrafficState,
  trafficConfigFor,
  trafficDetector,
} from './detector.js';

const counter = (settings?: Record<string, number>): Device => ({
  deviceId: 'counter-1',
  deviceType: 'traffic-flow',
  status: 'active',
  location: { lat: 51.45, lon: -0.97 },
  site: 'A33 Relief Road',
  ward: 'E05000001',
  ...(settings ? { settings } : {}),
  registeredAt: at(-86_400),
});

const context = (timeScale = 1, settings: Record<string, number> = {}): ServiceContext => ({
  timeScale,
  settings,
});

const period = (s: number, speed: number, occupancy: number, intensity = 20, periodSeconds = 300) =>
  point('traffic-flow', { intensity, averageVehicleSpeed: speed, occupancy, periodSeconds }, at(s), {
    deviceId: 'counter-1',
    site: 'A33 Relief Road',
  });

/** Feeds the points in order; returns every event and the final state. */
function drive(points: readonly TelemetryPoint[], device?: Device, ctx: ServiceContext = context()) {
  let state: TrafficState | undefined;
  const events: DomainEvent[] = [];
  for (const p of points) {
    const step = trafficDetector.step({ state, point: p, device, history: [], context: ctx });
    state = step.state;
    events.push(...step.events);
  }
  return { state, events };
}

describe('trafficConfigFor', () => {
  it('falls back to 48 km/h and the rule defaults', () => {
    expect(trafficConfigFor(undefined, context())).toEqual({
      freeFlowSpeedKmh: DEFAULT_FREE_FLOW_SPEED_KMH,
      speedFraction: 0.5,
      occupancyAbove: 0.3,
      periodsToStart: 3,
      periodsToClear: 3,
    });
  });

  it('takes the counter setting over the service setting over the default', () => {
    const config = trafficConfigFor(
      counter({ freeFlowSpeedKmh: 80 }),
      context(1, { freeFlowSpeedKmh: 64, speedFraction: 0.6 }),
    );
    expect(config).toMatchObject({ freeFlowSpeedKmh: 80, speedFraction: 0.6 });
    expect(trafficConfigFor(counter(), context(1, { freeFlowSpeedKmh: 64 })).freeFlowSpeedKmh).toBe(64);
  });
});

describe('trafficDetector: congestion', () => {
  const slowAt30 = [1, 2, 3].map((i) => period(i * 300, 30, 0.5));

  it.each<[string, Device | undefined, Record<string, number>, string[]]>([
    ['30 km/h is not slow against the default 48 km/h (under 24 is)', undefined, {}, []],
    ['30 km/h is slow on an 80 km/h road (under 40)', counter({ freeFlowSpeedKmh: 80 }), {}, ['started']],
    [
      'a service-wide speed fraction of 0.7 makes 30 km/h slow at 48 km/h',
      undefined,
      { speedFraction: 0.7 },
      ['started'],
    ],
  ])('%s', (_name, device, settings, events) => {
    const result = drive(slowAt30, device, context(1, settings));
    expect(result.events.map((e) => e.type.replace('traffic.congestion-', ''))).toEqual(events);
  });

  it('starts after three slow dense periods and clears after three free ones', () => {
    const speeds = [15, 15, 15, 45, 45, 45];
    const { events, state } = drive(speeds.map((v, i) => period((i + 1) * 300, v, v < 20 ? 0.5 : 0.1)));
    expect(events.map((e) => [e.type, e.detail.since])).toEqual([
      ['traffic.congestion-started', at(300)],
      ['traffic.congestion-cleared', at(300)],
    ]);
    expect(state?.congestion.congested).toBe(false);
  });

  it('a replayed or late period returns the very same state and no events', () => {
    const { state } = drive([period(300, 15, 0.5), period(600, 15, 0.5)]);
    for (const late of [period(600, 15, 0.5), period(450, 15, 0.5)]) {
      const step = trafficDetector.step({
        state,
        point: late,
        device: undefined,
        history: [],
        context: context(),
      });
      expect(step.state).toBe(state);
      expect(step.events).toEqual([]);
    }
  });
});

describe('trafficDetector: hourly flow', () => {
  it('emits hour-counted when the first period of the next hour arrives', () => {
    const points = Array.from({ length: 13 }, (_, i) => period((i + 1) * 300, 40, 0.1, 10));
    const { events, state } = drive(points);
    expect(events.map((e) => [e.type, e.detail])).toEqual([
      ['traffic.hour-counted', { hour: at(0), vehicles: 120, periods: 12, complete: true }],
    ]);
    expect(events[0]).toMatchObject({ deviceId: 'counter-1', observedAt: at(3900) });
    expect(state?.hour).toEqual({ hour: at(3600), vehicles: 10, periods: 1, seconds: 300 });
  });

  it('an hour with a missing period is counted as incomplete', () => {
    const points = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13].map((i) => period(i * 300, 40, 0.1, 10));
    expect(drive(points).events.map((e) => e.detail)).toEqual([
      { hour: at(0), vehicles: 110, periods: 11, complete: false },
    ]);
  });

  it('at time scale 60 an hour lasts 60 real seconds', () => {
    // One-minute periods (60 simulated seconds, 1 real second each) reported every 15 real seconds.
    const points = [15, 30, 45, 60, 75].map((s) => period(s, 40, 0.1, 10, 60));
    const { events } = drive(points, undefined, context(60));
    expect(events.map((e) => e.detail)).toEqual([
      // Four minutes of the hour were counted: a lower bound, so not complete.
      { hour: at(0), vehicles: 40, periods: 4, complete: false },
    ]);
  });

  it('an hour closing and congestion starting on the same period give both events, the hour first', () => {
    const points = [
      ...Array.from({ length: 10 }, (_, i) => period((i + 1) * 300, 40, 0.1)),
      period(3300, 15, 0.5),
      period(3600, 15, 0.5),
      period(3900, 15, 0.5),
    ];
    expect(drive(points).events.map((e) => e.type)).toEqual([
      'traffic.hour-counted',
      'traffic.congestion-started',
    ]);
  });
});
