import { describe, expect, it } from 'vitest';
import type { Device } from '../../lambdas/domain/device.js';
import type { WorkflowContext } from '../shared/blueprint.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { type InMemoryWorkflowPorts, inMemoryWorkflowPorts } from '../shared/in-memory-workflow-ports.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { trafficBlueprint } from './blueprint.js';
import { type TrafficState, trafficDetector } from './detector.js';
import { RECENT_HOURS, type TrafficCounter, trafficWorkflow } from './workflow.js';

const SITE = 'A33 Relief Road';
const COUNTER: Device = {
  deviceId: 'counter-1',
  deviceType: 'traffic-flow',
  status: 'active',
  location: { lat: 51.43, lon: -0.96 },
  site: SITE,
  ward: 'E05000002',
  settings: { freeFlowSpeedKmh: 64 },
  registeredAt: at(-86_400),
};

const context = (s = 0): WorkflowContext => ({ timeScale: 1, settings: {}, now: new Date(at(s)) });

/** The events the detector emits for periods (speed km/h, occupancy) five minutes apart from 12:05. */
function eventsFor(periods: readonly (readonly [number, number])[], firstAt = 300): DomainEvent[] {
  let state: TrafficState | undefined;
  return periods.flatMap(([speed, occupancy], i) => {
    const p = point(
      'traffic-flow',
      { intensity: 30, averageVehicleSpeed: speed, occupancy, periodSeconds: 300 },
      at(firstAt + i * 300),
      { deviceId: 'counter-1', site: SITE, ward: 'E05000002' },
    );
    const step = trafficDetector.step({ state, point: p, device: COUNTER, history: [], context: context() });
    state = step.state;
    return step.events;
  });
}

const SLOW = [15, 0.5] as const;
const FREE = [55, 0.1] as const;

async function deliver(ports: InMemoryWorkflowPorts, events: readonly DomainEvent[]) {
  for (const event of events) await trafficWorkflow.onEvent(event, ports, context());
}

const counterRecord = async (ports: InMemoryWorkflowPorts) =>
  (await ports.sites.get('traffic', 'counter-1'))?.data as TrafficCounter | undefined;
const alerts = (ports: InMemoryWorkflowPorts) => [...ports.alerts.incidents.values()];

describe('trafficWorkflow: congestion', () => {
  it('congestion-started opens one warning alert and marks the counter congested since it began', async () => {
    const ports = inMemoryWorkflowPorts([COUNTER]);
    await deliver(ports, eventsFor([FREE, SLOW, SLOW, SLOW, SLOW]));
    expect(alerts(ports)).toMatchObject([
      {
        service: 'traffic',
        key: 'traffic:counter-1:congestion',
        status: 'open',
        severity: 'warning',
        summary: 'Congestion at A33 Relief Road: 15 km/h against 64 km/h free flow',
        deviceId: 'counter-1',
        site: SITE,
        ward: 'E05000002',
      },
    ]);
    expect(ports.notifier.sent).toHaveLength(1);
    expect(await counterRecord(ports)).toMatchObject({
      deviceId: 'counter-1',
      site: SITE,
      congested: true,
      since: at(600),
      averageVehicleSpeed: 15,
      freeFlowSpeedKmh: 64,
      congestionChangedAt: at(1200),
    });
  });

  it('congestion-cleared marks the counter flowing and clears the alert after the cool-down', async () => {
    const ports = inMemoryWorkflowPorts([COUNTER]);
    await deliver(ports, eventsFor([SLOW, SLOW, SLOW, FREE, FREE, FREE]));
    expect(await counterRecord(ports)).toMatchObject({ congested: false, since: null });
    expect(alerts(ports)).toMatchObject([{ status: 'open', quietSince: at(1800) }]);
    await trafficWorkflow.onSchedule?.(ports, context(1800 + 899));
    expect(alerts(ports)[0]?.status).toBe('open');
    await trafficWorkflow.onSchedule?.(ports, context(1800 + 900));
    expect(alerts(ports)[0]?.status).toBe('cleared');
    expect(ports.notifier.sent.map((n) => n.subject.split(':')[0])).toEqual(['ALERT', 'Cleared']);
  });

  it('a late congestion-started after the clear changes neither the record nor the alerts', async () => {
    const ports = inMemoryWorkflowPorts([COUNTER]);
    const events = eventsFor([SLOW, SLOW, SLOW, FREE, FREE, FREE]);
    const started = events.find((e) => e.type === 'traffic.congestion-started') as DomainEvent;
    const cleared = events.find((e) => e.type === 'traffic.congestion-cleared') as DomainEvent;
    await deliver(ports, [cleared, started]);
    expect(await counterRecord(ports)).toMatchObject({ congested: false, congestionChangedAt: at(1800) });
    expect(alerts(ports)).toEqual([]);
    expect(ports.notifier.sent).toEqual([]);
  });
});

describe('trafficWorkflow: hourly flows', () => {
  it('keeps each counted hour once, oldest first', async () => {
    const ports = inMemoryWorkflowPorts([COUNTER]);
    const events = eventsFor(Array.from({ length: 25 }, () => FREE));
    const hours = events.filter((e) => e.type === 'traffic.hour-counted');
    expect(hours).toHaveLength(2);
    await deliver(ports, [hours[1], hours[0], hours[1]] as DomainEvent[]);
    expect((await counterRecord(ports))?.hourly).toEqual([
      { hour: at(0), vehicles: 360, periods: 12, complete: true },
      { hour: at(3600), vehicles: 360, periods: 12, complete: true },
    ]);
    expect((await ports.sites.get('traffic', 'counter-1'))?.version).toBe(2);
  });

  it(`keeps only the last ${RECENT_HOURS} hours`, async () => {
    const ports = inMemoryWorkflowPorts([COUNTER]);
    const events = eventsFor(Array.from({ length: 26 * 12 + 1 }, () => FREE));
    const hours = events.filter((e) => e.type === 'traffic.hour-counted');
    expect(hours).toHaveLength(26);
    await deliver(ports, hours);
    // The oldest hour, redelivered late, is older than the whole kept day and is not added back.
    await deliver(ports, hours.slice(0, 1));
    const kept = (await counterRecord(ports))?.hourly ?? [];
    expect(kept.map((h) => h.hour)).toEqual(hours.slice(2).map((e) => e.detail.hour));
  });

  it('the open-data view shows congestion and the recent flows', async () => {
    const ports = inMemoryWorkflowPorts([COUNTER]);
    await deliver(ports, eventsFor([...Array.from({ length: 12 }, () => FREE), SLOW, SLOW, SLOW]));
    const record = await ports.sites.get('traffic', 'counter-1');
    const lastHour = { hour: at(0), vehicles: 360, periods: 12, complete: true };
    expect(record && trafficBlueprint.openData?.view(record)).toEqual({
      deviceId: 'counter-1',
      site: SITE,
      ward: 'E05000002',
      location: { lat: 51.43, lon: -0.96 },
      congested: true,
      since: at(3900),
      lastHour,
      recentHours: [lastHour],
    });
  });
});

describe('trafficWorkflow is idempotent', () => {
  async function run(times: number) {
    const ports = inMemoryWorkflowPorts([COUNTER]);
    const events = eventsFor([
      ...Array.from({ length: 10 }, () => FREE),
      SLOW,
      SLOW,
      SLOW,
      SLOW,
      FREE,
      FREE,
      FREE,
      ...Array.from({ length: 10 }, () => FREE),
    ]);
    for (const event of events) for (let i = 0; i < times; i += 1) await deliver(ports, [event]);
    await trafficWorkflow.onSchedule?.(ports, context(2 * 3600 + 900));
    for (let i = 1; i < times; i += 1) await deliver(ports, events);
    await trafficWorkflow.onSchedule?.(ports, context(3 * 3600));
    return { alerts: alerts(ports), sites: [...ports.sites.records.values()], sent: ports.notifier.sent };
  }

  it('replaying every event 3 times finds the same alerts, site records and no extra notifications', async () => {
    const once = await run(1);
    const thrice = await run(3);
    expect(once.sent.map((n) => n.subject.split(':')[0])).toEqual(['ALERT', 'Cleared']);
    expect((once.sites[0]?.data as TrafficCounter | undefined)?.hourly).toHaveLength(2);
    expect(thrice.alerts).toEqual(once.alerts);
    expect(thrice.sites).toEqual(once.sites);
    expect(thrice.sent).toEqual(once.sent);
  });
});
