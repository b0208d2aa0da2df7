import { describe, expect, it } from 'vitest';
import { DynamoDbServiceStateStore } from '../../lambdas/adapters/dynamodb-service-state.js';
import { EventBridgeEventPublisher } from '../../lambdas/adapters/eventbridge-event-publisher.js';
import { RecordingEventPublisher } from '../../lambdas/adapters/in-memory-ports.js';
import {
  enabledServices,
  enrichTelemetryPortsFromEnvironment,
  MissingSettingError,
} from '../../lambdas/adapters/ports-from-environment.js';
import { ENV } from '../../lambdas/contracts/environment.js';

process.env.AWS_REGION = 'eu-west-2';

const baseEnv = {
  [ENV.tables.devices]: 'devices',
  [ENV.tables['latest-state']]: 'latest',
  [ENV.tables.quarantine]: 'quarantine',
  [ENV.tables.telemetry]: 'telemetry',
  [ENV.tables['service-state']]: 'service-state',
  [ENV.eventBusName]: 'civic-services',
};

describe('change detection wired from the environment', () => {
  it.each([
    ['unset', undefined],
    ['empty', ''],
    ['blank', ' , '],
  ])('detects nothing when ENABLED_SERVICES is %s', (_, value) => {
    const env = { ...baseEnv, ...(value === undefined ? {} : { [ENV.enabledServices]: value }) };
    expect(enrichTelemetryPortsFromEnvironment(env).changes).toBeUndefined();
  });

  it('reads the enabled names, trimmed, and runs their detectors on AWS time with the settings of each service', () => {
    expect(enabledServices({ [ENV.enabledServices]: ' waste , flood,' })).toEqual(['waste', 'flood']);
    const ports = enrichTelemetryPortsFromEnvironment({
      ...baseEnv,
      [ENV.enabledServices]: 'flood,waste',
      [ENV.serviceSettings]: JSON.stringify({
        flood: { riseWindowMinutes: 30 },
        parking: { almostFull: 0.8 },
      }),
    });
    // Catalogue order, whatever the order in the variable.
    expect(ports.changes?.detectors.map((d) => [d.service, d.context])).toEqual([
      ['waste', { timeScale: 1, settings: {} }],
      ['flood', { timeScale: 1, settings: { riseWindowMinutes: 30 } }],
    ]);
    expect(ports.changes?.publisher).toBeInstanceOf(EventBridgeEventPublisher);
    expect(ports.changes?.stateStore).toBeInstanceOf(DynamoDbServiceStateStore);
    // History comes from the same store the points were just written to.
    expect(ports.changes?.history).toBe(ports.telemetry);
  });

  it("takes the local runtime's bus, time scale and settings instead of the environment's", () => {
    const publisher = new RecordingEventPublisher();
    const { [ENV.eventBusName]: _, ...withoutBus } = baseEnv;
    const ports = enrichTelemetryPortsFromEnvironment(
      { ...withoutBus, [ENV.enabledServices]: 'flood', [ENV.serviceSettings]: '{"flood":{"fallMargin":1}}' },
      undefined,
      { publisher, timeScale: 60, serviceSettings: { flood: { riseWindowMinutes: 10 } } },
    );
    expect(ports.changes?.publisher).toBe(publisher);
    expect(ports.changes?.detectors.map((d) => d.context)).toEqual([
      { timeScale: 60, settings: { riseWindowMinutes: 10 } },
    ]);
  });

  it('needs the bus name when it publishes to EventBridge', () => {
    const { [ENV.eventBusName]: _, ...withoutBus } = baseEnv;
    expect(() =>
      enrichTelemetryPortsFromEnvironment({ ...withoutBus, [ENV.enabledServices]: 'waste' }),
    ).toThrow(new MissingSettingError(ENV.eventBusName));
  });

  it('refuses an unknown service, naming it and the known ones', () => {
    expect(() =>
      enrichTelemetryPortsFromEnvironment({ ...baseEnv, [ENV.enabledServices]: 'waste,snow' }),
    ).toThrow(/unknown service blueprint 'snow'; known: waste, /);
  });

  it.each([
    ['not JSON', '{flood'],
    ['a setting that is not a number', '{"flood":{"riseWindowMinutes":"30"}}'],
    ["one service's settings without the service", '{"riseWindowMinutes":30}'],
  ])('refuses SERVICE_SETTINGS that is %s', (_, raw) => {
    expect(() =>
      enrichTelemetryPortsFromEnvironment({
        ...baseEnv,
        [ENV.enabledServices]: 'flood',
        [ENV.serviceSettings]: raw,
      }),
    ).toThrow(/SERVICE_SETTINGS is not set; expected JSON \{"<service>": \{"<setting>": number\}\}/);
  });
});
