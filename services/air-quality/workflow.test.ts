import { describe, expect, it } from 'vitest';
import type { Device } from '../../lambdas/domain/device.js';
import type { WorkflowContext } from '../shared/blueprint.js';
import type { DomainEvent } from '../shared/domain-events.js';
import { type InMemoryWorkflowPorts, inMemoryWorkflowPorts } from '../shared/in-memory-workflow-ports.js';
import { at, point } from '../shared/telemetry-fixtures.js';
import { airQualityBlueprint } from './blueprint.js';
import { addReading, airQualityEvents, type DaqiIndex, slotLengthMs, slotMeans } from './rules.js';
import { type AirQualitySite, airQualityWorkflow } from './workflow.js';

const SITE = 'Market Square';

function sensorDevice(deviceId: string): Device {
  return {
    deviceId,
    deviceType: 'air-quality',
    status: 'active',
    location: { lat: 51.455, lon: -0.969 },
    site: SITE,
    ward: 'E05000001',
    registeredAt: at(-86_400),
  };
}

/**
 * The band-changed event a sensor's detector emits when its hourly NO2 mean is `no2` (one reading is an
 * hourly mean), from `previous`; built by the rules themselves so the detail is the real one.
 */
function no2Changed(deviceId: string, previous: DaqiIndex | undefined, no2: number, s: number): DomainEvent {
  const reading = point('air-quality', { no2 }, at(s), { deviceId, site: SITE });
  const means = slotMeans(addReading(undefined, reading, slotLengthMs()));
  const [event] = airQualityEvents(previous, means, reading);
  if (!event) throw new Error(`NO2 ${no2} does not change index ${previous}`);
  return event;
}

const context = (s: number, timeScale = 1, settings: Record<string, number> = {}): WorkflowContext => ({
  timeScale,
  settings,
  now: new Date(at(s)),
});

async function deliver(ports: InMemoryWorkflowPorts, events: readonly DomainEvent[], timeScale = 1) {
  for (const event of events) {
    await airQualityWorkflow.onEvent(event, ports, context(0, timeScale));
  }
}

async function site(ports: InMemoryWorkflowPorts): Promise<AirQualitySite | undefined> {
  return (await ports.sites.get('air-quality', SITE))?.data as AirQualitySite | undefined;
}

const alerts = (ports: InMemoryWorkflowPorts) => [...ports.alerts.incidents.values()];
const subjects = (ports: InMemoryWorkflowPorts) => ports.notifier.sent.map((n) => n.subject);

describe('airQualityWorkflow: a site going into High and back', () => {
  it('into High opens one alert and sends one notification', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-1')]);
    await deliver(ports, [no2Changed('aq-1', undefined, 300, 0), no2Changed('aq-1', 5, 401, 600)]);

    expect(alerts(ports)).toMatchObject([
      {
        service: 'air-quality',
        key: 'air-quality:Market Square:daqi',
        status: 'open',
        severity: 'warning',
        summary: 'Air quality at Market Square: High (DAQI 7, NO2)',
        site: SITE,
        ward: 'E05000001',
        deviceId: 'aq-1',
      },
    ]);
    expect(subjects(ports)).toEqual(['ALERT: Air quality at Market Square: High (DAQI 7, NO2)']);
  });

  it('back to Moderate clears the alert only once the cool-down has passed (the tick)', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-1')]);
    await deliver(ports, [no2Changed('aq-1', undefined, 401, 0), no2Changed('aq-1', 7, 350, 3600)]);
    expect(alerts(ports)[0]).toMatchObject({ status: 'open', quietSince: at(3600) });

    const schedule = airQualityWorkflow.onSchedule;
    await schedule?.(ports, context(3600 + 899));
    expect(alerts(ports)[0]?.status).toBe('open');
    await schedule?.(ports, context(3600 + 900));
    expect(alerts(ports)[0]).toMatchObject({ status: 'cleared', clearedAt: at(4500) });
    expect(subjects(ports)).toEqual([
      'ALERT: Air quality at Market Square: High (DAQI 7, NO2)',
      'Cleared: Air quality at Market Square: High (DAQI 7, NO2)',
    ]);
  });

  it('at time scale 60 the cool-down is 15 real seconds, and the setting is read', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-1')]);
    await deliver(ports, [no2Changed('aq-1', undefined, 401, 0), no2Changed('aq-1', 7, 350, 60)], 60);
    await airQualityWorkflow.onSchedule?.(ports, context(74, 60));
    expect(alerts(ports)[0]?.status).toBe('open');
    await airQualityWorkflow.onSchedule?.(ports, context(75, 60));
    expect(alerts(ports)[0]?.status).toBe('cleared');

    const longer = inMemoryWorkflowPorts([sensorDevice('aq-1')]);
    const settings = { alertCoolDownSeconds: 1800 };
    for (const event of [no2Changed('aq-1', undefined, 401, 0), no2Changed('aq-1', 7, 350, 60)]) {
      await airQualityWorkflow.onEvent(event, longer, context(0, 60, settings));
    }
    await airQualityWorkflow.onSchedule?.(longer, context(89, 60, settings));
    expect(alerts(longer)[0]?.status).toBe('open');
    await airQualityWorkflow.onSchedule?.(longer, context(90, 60, settings));
    expect(alerts(longer)[0]?.status).toBe('cleared');
  });

  it('Very High (10) escalates the open alert to severe and notifies once more', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-1')]);
    await deliver(ports, [no2Changed('aq-1', undefined, 401, 0), no2Changed('aq-1', 7, 700, 600)]);
    expect(alerts(ports)).toMatchObject([{ severity: 'severe', peakSeverity: 'severe' }]);
    expect(ports.notifier.sent.map((n) => n.subject.split(':')[0])).toEqual(['ALERT', 'ALERT ESCALATED']);
  });
});

describe('airQualityWorkflow: the site record', () => {
  it('holds the index, band, pollutant, per-pollutant indexes, means and observation time', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-1')]);
    await deliver(ports, [no2Changed('aq-1', undefined, 150, 0)]);
    const record = await ports.sites.get('air-quality', SITE);
    expect(record).toMatchObject({ version: 1, ward: 'E05000001', location: { lat: 51.455, lon: -0.969 } });
    expect(record?.data).toEqual({
      site: SITE,
      index: 3,
      band: 'Low',
      pollutant: 'no2',
      perPollutant: { no2: 3 },
      means: { no2: 150 },
      deviceId: 'aq-1',
      observedAt: at(0),
      sensors: {
        'aq-1': {
          index: 3,
          band: 'Low',
          pollutant: 'no2',
          perPollutant: { no2: 3 },
          means: { no2: 150 },
          observedAt: at(0),
        },
      },
    });
  });

  it('ignores an event older than the one stored for that sensor', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-1')]);
    await deliver(ports, [no2Changed('aq-1', undefined, 150, 600), no2Changed('aq-1', undefined, 401, 0)]);
    expect(await site(ports)).toMatchObject({ index: 3, observedAt: at(600) });
    expect(alerts(ports)).toEqual([]);
  });

  it('serves the highest index over the site sensors and keeps each one', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-kerb'), sensorDevice('aq-roof')]);
    await deliver(ports, [
      no2Changed('aq-roof', undefined, 150, 0),
      no2Changed('aq-kerb', undefined, 450, 60),
      // The roof sensor's change is older than the kerb one, and still counts for the roof sensor.
      no2Changed('aq-roof', 3, 210, 30),
    ]);
    const data = await site(ports);
    expect(data).toMatchObject({ index: 7, band: 'High', deviceId: 'aq-kerb', observedAt: at(60) });
    expect(Object.fromEntries(Object.entries(data?.sensors ?? {}).map(([id, s]) => [id, s.index]))).toEqual({
      'aq-kerb': 7,
      'aq-roof': 4,
    });

    // The kerb sensor falls to Moderate; the site does too (the roof sensor is at 4), and the alert goes quiet.
    await deliver(ports, [no2Changed('aq-kerb', 7, 300, 120)]);
    expect(await site(ports)).toMatchObject({ index: 5, deviceId: 'aq-kerb' });
    expect(alerts(ports)).toMatchObject([{ status: 'open', quietSince: at(120) }]);
  });

  it('keeps the site at High while any sensor is High, however the others move', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-kerb'), sensorDevice('aq-roof')]);
    await deliver(ports, [
      no2Changed('aq-kerb', undefined, 450, 0),
      no2Changed('aq-roof', undefined, 150, 60),
      no2Changed('aq-roof', 3, 100, 120),
    ]);
    expect(await site(ports)).toMatchObject({ index: 7, deviceId: 'aq-kerb', observedAt: at(120) });
    expect(alerts(ports)).toMatchObject([{ status: 'open' }]);
    expect(alerts(ports)[0]?.quietSince).toBeUndefined();
    expect(ports.notifier.sent).toHaveLength(1);
  });

  it('the open-data view shows the site, not the per-sensor bookkeeping', async () => {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-1')]);
    await deliver(ports, [no2Changed('aq-1', undefined, 401, 0)]);
    const record = await ports.sites.get('air-quality', SITE);
    expect(record && airQualityBlueprint.openData?.view(record)).toEqual({
      site: SITE,
      ward: 'E05000001',
      location: { lat: 51.455, lon: -0.969 },
      index: 7,
      band: 'High',
      pollutant: 'no2',
      perPollutant: { no2: 7 },
      observedAt: at(0),
    });
  });
});

describe('airQualityWorkflow is idempotent', () => {
  const story = () => [
    no2Changed('aq-kerb', undefined, 300, 0),
    no2Changed('aq-roof', undefined, 100, 30),
    no2Changed('aq-kerb', 5, 450, 600),
    no2Changed('aq-kerb', 7, 700, 1200),
    no2Changed('aq-kerb', 10, 300, 1800),
    no2Changed('aq-roof', 2, 140, 2400),
  ];

  async function run(times: number, replayAfter: boolean) {
    const ports = inMemoryWorkflowPorts([sensorDevice('aq-kerb'), sensorDevice('aq-roof')]);
    const events = story();
    for (const event of events) for (let i = 0; i < times; i += 1) await deliver(ports, [event]);
    await airQualityWorkflow.onSchedule?.(ports, context(1800 + 900));
    // Late redeliveries of the whole story after the incident cleared.
    if (replayAfter) for (let i = 0; i < times; i += 1) await deliver(ports, events);
    await airQualityWorkflow.onSchedule?.(ports, context(1800 + 1000));
    return {
      alerts: alerts(ports),
      sites: [...ports.sites.records.values()],
      notifications: ports.notifier.sent,
    };
  }

  it('replaying every event 3 times finds the same alerts, site records and no extra notifications', async () => {
    const once = await run(1, false);
    const thrice = await run(3, true);
    expect(once.notifications.map((n) => n.subject)).toEqual([
      'ALERT: Air quality at Market Square: High (DAQI 7, NO2)',
      'ALERT ESCALATED: Air quality at Market Square: Very High (DAQI 10, NO2)',
      'Cleared: Air quality at Market Square: Very High (DAQI 10, NO2)',
    ]);
    expect(thrice.alerts).toEqual(once.alerts);
    expect(thrice.sites).toEqual(once.sites);
    expect(thrice.notifications).toEqual(once.notifications);
  });
});
