import { describe, expect, it } from 'vitest';
import type { Device } from '../../lambdas/domain/device.js';
import type { WorkflowContext } from '../shared/blueprint.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { type InMemoryWorkflowPorts, inMemoryWorkflowPorts } from '../shared/in-memory-workflow-ports.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { floodBlueprint } from './blueprint.js';
import { type FloodState, floodDetector } from './detector.js';
import { type FloodGauge, floodWorkflow } from './workflow.js';

const SITE = 'Gas Works Road';
const GAUGE: Device = {
  deviceId: 'gauge-1',
  deviceType: 'water-level',
  status: 'active',
  location: { lat: 51.46, lon: -0.95 },
  site: SITE,
  ward: 'E05000003',
  settings: { warningLevel: 2, severeLevel: 2.3 },
  registeredAt: at(-86_400),
};

/** The same gauge with a rise alarm too high to trip, to watch the level alerts alone. */
const LEVEL_ONLY: Device = { ...GAUGE, settings: { ...GAUGE.settings, riseRateMetresPerHour: 100 } };

const context = (s = 0, timeScale = 1): WorkflowContext => ({
  timeScale,
  settings: {},
  now: new Date(at(s)),
});

/** The events the detector emits for readings (seconds, metres), fed in turn. */
function eventsFor(readings: readonly (readonly [number, number])[], device: Device = GAUGE): DomainEvent[] {
  let state: FloodState | undefined;
  return readings.flatMap(([s, waterLevel]) => {
    const p = point('water-level', { waterLevel }, at(s), {
      deviceId: 'gauge-1',
      site: SITE,
      ward: 'E05000003',
    });
    const step = floodDetector.step({ state, point: p, device, history: [], context: context() });
    state = step.state;
    return step.events;
  });
}

async function deliver(ports: InMemoryWorkflowPorts, events: readonly DomainEvent[], s = 0) {
  for (const event of events) await floodWorkflow.onEvent(event, ports, context(s));
}

const gaugeRecord = async (ports: InMemoryWorkflowPorts) =>
  (await ports.sites.get('flood', 'gauge-1'))?.data as FloodGauge | undefined;
const alerts = (ports: InMemoryWorkflowPorts) => [...ports.alerts.incidents.values()];
const subjects = (ports: InMemoryWorkflowPorts) => ports.notifier.sent.map((n) => n.subject);

describe('floodWorkflow: level alerts', () => {
  it('crossing the warning level opens one alert and notifies once', async () => {
    const ports = inMemoryWorkflowPorts([GAUGE]);
    await deliver(
      ports,
      eventsFor(
        [
          [0, 1.9],
          [900, 2.05],
          [1800, 2.1],
        ],
        LEVEL_ONLY,
      ),
    );
    expect(alerts(ports)).toMatchObject([
      {
        service: 'flood',
        key: 'flood:gauge-1:level',
        status: 'open',
        severity: 'warning',
        summary: 'River level at Gas Works Road: warning (2.05 m, warning at 2.00 m)',
        deviceId: 'gauge-1',
        site: SITE,
        ward: 'E05000003',
      },
    ]);
    expect(subjects(ports)).toEqual([
      'ALERT: River level at Gas Works Road: warning (2.05 m, warning at 2.00 m)',
    ]);
  });

  it('water flapping around the warning level still gives one alert and one notification', async () => {
    const ports = inMemoryWorkflowPorts([GAUGE]);
    // Ripples inside the fall margin emit nothing; a dip below it and back inside the cool-down is one incident.
    const events = eventsFor(
      [
        [0, 2.0],
        [300, 1.97],
        [600, 2.01],
        [900, 1.9],
        [1200, 2.02],
        [1500, 1.9],
        [1800, 2.0],
      ],
      LEVEL_ONLY,
    );
    expect(events.filter((e) => e.type === 'flood.level-changed')).toHaveLength(5);
    await deliver(ports, events);
    expect(alerts(ports)).toHaveLength(1);
    expect(alerts(ports)[0]).toMatchObject({ status: 'open', flaps: 2 });
    expect(ports.notifier.sent).toHaveLength(1);
  });

  it('severe escalates the alert; back to normal clears it after the cool-down tick', async () => {
    const ports = inMemoryWorkflowPorts([GAUGE]);
    await deliver(
      ports,
      eventsFor(
        [
          [0, 2.1],
          [900, 2.41],
          [1800, 1.5],
        ],
        LEVEL_ONLY,
      ),
    );
    expect(subjects(ports)).toEqual([
      'ALERT: River level at Gas Works Road: warning (2.10 m, warning at 2.00 m)',
      'ALERT ESCALATED: River level at Gas Works Road: severe (2.41 m, severe at 2.30 m)',
    ]);
    expect(alerts(ports)).toMatchObject([{ severity: 'severe', quietSince: at(1800) }]);
    await floodWorkflow.onSchedule?.(ports, context(1800 + 899));
    expect(alerts(ports)[0]?.status).toBe('open');
    await floodWorkflow.onSchedule?.(ports, context(1800 + 900));
    expect(alerts(ports)[0]?.status).toBe('cleared');
  });

  it('a new severe incident is worded with its own level and threshold', async () => {
    const ports = inMemoryWorkflowPorts([GAUGE]);
    await deliver(ports, eventsFor([[0, 2.41]]));
    expect(alerts(ports)[0]?.summary).toBe(
      'River level at Gas Works Road: severe (2.41 m, severe at 2.30 m)',
    );
  });
});

describe('floodWorkflow: rise alarm', () => {
  it('rising fast opens the rise alert; its end clears it after the cool-down', async () => {
    const ports = inMemoryWorkflowPorts([GAUGE]);
    await deliver(
      ports,
      eventsFor([
        [0, 1.0],
        [1800, 1.3],
        [3600, 1.3],
      ]),
    );
    expect(alerts(ports)).toMatchObject([
      {
        key: 'flood:gauge-1:rise',
        summary: 'River rising fast at Gas Works Road: 0.60 m/h (alarm over 0.30 m/h)',
        quietSince: at(3600),
      },
    ]);
    expect(await gaugeRecord(ports)).toMatchObject({
      risingFast: false,
      rateMetresPerHour: 0.3,
      riseObservedAt: at(3600),
    });
  });

  it('a late rising-fast after its end changes neither the record nor the alerts', async () => {
    const ports = inMemoryWorkflowPorts([GAUGE]);
    const events = eventsFor([
      [0, 1.0],
      [1800, 1.3],
      [3600, 1.3],
    ]);
    await deliver(ports, [...events].reverse());
    expect(await gaugeRecord(ports)).toMatchObject({ risingFast: false, riseObservedAt: at(3600) });
    expect(alerts(ports)).toEqual([]);
    expect(ports.notifier.sent).toEqual([]);
  });

  it('works for a gauge with no thresholds (no level alerts)', async () => {
    const bare: Device = { ...GAUGE, settings: {} };
    const ports = inMemoryWorkflowPorts([bare]);
    await deliver(
      ports,
      eventsFor(
        [
          [0, 1.0],
          [1800, 5],
          [3600, 9],
        ],
        bare,
      ),
    );
    expect(alerts(ports).map((a) => a.key)).toEqual(['flood:gauge-1:rise']);
    expect(await gaugeRecord(ports)).toMatchObject({
      level: 'normal',
      warningLevel: null,
      severeLevel: null,
    });
  });
});

describe('floodWorkflow: the gauge record and open data', () => {
  it('holds level, water level, rising flag, thresholds and observation times per concern', async () => {
    const ports = inMemoryWorkflowPorts([GAUGE]);
    await deliver(
      ports,
      eventsFor([
        [0, 1.5],
        [1800, 2.1],
        [3600, 2.15],
      ]),
    );
    expect(await gaugeRecord(ports)).toEqual({
      deviceId: 'gauge-1',
      site: SITE,
      level: 'warning',
      waterLevel: 2.1,
      risingFast: true,
      rateMetresPerHour: 1.2,
      warningLevel: 2,
      severeLevel: 2.3,
      observedAt: at(1800),
      levelObservedAt: at(1800),
      riseObservedAt: at(1800),
    });
    const record = await ports.sites.get('flood', 'gauge-1');
    expect(record && floodBlueprint.openData?.view(record)).toEqual({
      deviceId: 'gauge-1',
      site: SITE,
      ward: 'E05000003',
      location: { lat: 51.46, lon: -0.95 },
      level: 'warning',
      waterLevel: 2.1,
      risingFast: true,
      warningLevel: 2,
      severeLevel: 2.3,
      observedAt: at(1800),
    });
  });
});

describe('floodWorkflow is idempotent', () => {
  const story: [number, number][] = [
    [0, 1.5],
    [1800, 1.9],
    [2400, 2.05],
    [3000, 1.9],
    [3600, 2.35],
    [5400, 2.35],
    [7200, 1.2],
    [9000, 1.2],
  ];

  async function run(times: number) {
    const ports = inMemoryWorkflowPorts([GAUGE]);
    const events = eventsFor(story);
    for (const event of events) for (let i = 0; i < times; i += 1) await deliver(ports, [event]);
    await floodWorkflow.onSchedule?.(ports, context(9000 + 900));
    for (let i = 1; i < times; i += 1) await deliver(ports, events);
    await floodWorkflow.onSchedule?.(ports, context(9000 + 1000));
    return { alerts: alerts(ports), sites: [...ports.sites.records.values()], sent: subjects(ports) };
  }

  it('replaying every event 3 times finds the same alerts, site records and no extra notifications', async () => {
    const once = await run(1);
    const thrice = await run(3);
    expect(once.alerts.map((a) => [a.key, a.status])).toEqual([
      ['flood:gauge-1:rise', 'cleared'],
      ['flood:gauge-1:level', 'cleared'],
    ]);
    expect(thrice.alerts).toEqual(once.alerts);
    expect(thrice.sites).toEqual(once.sites);
    expect(thrice.sent).toEqual(once.sent);
  });
});
