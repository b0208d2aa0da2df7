import { describe, expect, it } from 'vitest';
import { DEFAULT_FLEET_MIX } from '../../lambdas/domain/cost-model.js';
import { isInside } from '../../lambdas/domain/device-registry.js';
import {
  ConfigError,
  capDefaults,
  loadPlatformConfig,
  openDataQuotaDefault,
  registryReadCapDefault,
  serviceCapDefaults,
  TIMESTREAM_REGIONS,
} from '../../lib/config/platform-config.js';
import { DEMO_TOWN, demoCityDevices } from '../../local/demo-city.js';
import { loadLocalConfig } from '../../local/start-local-platform.js';
import { BLUEPRINT_NAMES } from '../../services/catalogue.js';
import { OFFLINE_COST } from '../../services/offline/blueprint.js';

/** The smallest valid context: what has no sensible default. */
const REQUIRED = {
  councilName: 'Example Borough Council',
  devices: 1000,
  messageIntervalSeconds: 300,
  apiRequestsPerDay: 10000,
};

function errorFor(context: Record<string, unknown>): ConfigError {
  try {
    loadPlatformConfig(context);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadPlatformConfig defaults', () => {
  const config = loadPlatformConfig(REQUIRED);

  it.each([
    ['stage', 'dev'],
    ['region', 'eu-west-2'],
    ['telemetryStore', 'dynamodb'],
    ['retentionDays', 400],
    ['essentialDeviceTypes', ['water-level', 'air-quality']],
    ['alertEmails', []],
    // The SQS minimum: two lanes take 4 of a new account's 10 concurrent executions, leaving room for the API.
    ['enrichmentMaxConcurrency', 2],
    ['enrichmentReservedConcurrency', undefined],
    // Also the SQS minimum: the workflows' queues are nearly always empty, and a burst waits in them.
    ['workflowMaxConcurrency', 2],
    ['monthlyCeilingUsd', undefined],
    // From the load profile: 1,000 devices every 300 s, 10,000 API requests a day (see capDefaults).
    ['telemetryMaxWriteRequestUnits', 67],
    ['telemetryMaxReadRequestUnits', 25],
    ['logRetentionDays', 30],
    ['logLevel', 'WARN'],
    ['apiThrottleRateLimit', 10],
    ['apiThrottleBurstLimit', 20],
    ['timestreamMemoryRetentionHours', 24],
    ['timestreamMagneticRetentionDays', 400],
  ] as const)('%s defaults to %j', (key, expected) => {
    expect(config[key]).toEqual(expected);
  });

  it('scales the default caps with the load profile, within the floors and DynamoDB limits', () => {
    expect(capDefaults(10_000, 300, 1_000_000)).toEqual({ writeUnits: 667, readUnits: 613, apiRate: 232 });
    expect(capDefaults(10, 3600, 0)).toEqual({ writeUnits: 25, readUnits: 25, apiRate: 10 });
    expect(capDefaults(10_000_000, 10, 0).writeUnits).toBe(40_000);
  });

  it('clamps the default API burst to its own maximum of 5,000 when twice the rate would exceed it', () => {
    // 100 million requests a day puts the default rate at its 10,000 maximum; twice that is not a valid burst.
    const busy = loadPlatformConfig({ ...REQUIRED, apiRequestsPerDay: 100_000_000 });
    expect(busy.apiThrottleRateLimit).toBe(10_000);
    expect(busy.apiThrottleBurstLimit).toBe(5_000);
  });

  it('keeps the default API burst at twice the rate below the maximum', () => {
    // 5.4 million requests a day: a default rate of 1,250, so a burst of 2,500.
    const config = loadPlatformConfig({ ...REQUIRED, apiRequestsPerDay: 5_400_000 });
    expect(config.apiThrottleRateLimit).toBe(1_250);
    expect(config.apiThrottleBurstLimit).toBe(2_500);
  });

  it('keeps the load profile as given, with the demo town as the fleet mix', () => {
    expect(config.loadProfile).toEqual({
      devices: 1000,
      messageIntervalSeconds: 300,
      apiRequestsPerDay: 10000,
      fleetMix: DEFAULT_FLEET_MIX,
    });
  });

  it('is frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.essentialDeviceTypes)).toBe(true);
  });

  it('takes the magnetic retention from retentionDays when not set', () => {
    expect(loadPlatformConfig({ ...REQUIRED, retentionDays: 90 }).timestreamMagneticRetentionDays).toBe(90);
  });
});

describe('loadPlatformConfig parses -c strings', () => {
  it.each([
    ['retentionDays', '30', 30],
    ['apiThrottleRateLimit', '20', 20],
    ['monthlyCeilingUsd', '120.5', 120.5],
    ['enrichmentReservedConcurrency', '4', 4],
    ['workflowMaxConcurrency', '5', 5],
    ['workflowMaxConcurrency', 1000, 1000],
    ['logRetentionDays', '365', 365],
    ['essentialDeviceTypes', 'water-level, traffic-flow', ['water-level', 'traffic-flow']],
    ['essentialDeviceTypes', ['parking-spot'], ['parking-spot']],
    ['alertEmails', 'ops@council.gov.uk,duty@council.gov.uk', ['ops@council.gov.uk', 'duty@council.gov.uk']],
    ['telemetryStore', 'timestream', 'timestream'],
  ] as const)('%s=%j becomes %j', (key, raw, expected) => {
    const context = { ...REQUIRED, [key]: raw, ...(key === 'telemetryStore' ? { region: 'eu-west-1' } : {}) };
    expect(loadPlatformConfig(context)[key]).toEqual(expected);
  });

  it('reads every value from strings, as the CDK CLI delivers them', () => {
    const config = loadPlatformConfig({
      councilName: 'X',
      devices: '10',
      messageIntervalSeconds: '60',
      apiRequestsPerDay: '0',
      enrichmentMaxConcurrency: '3',
    });
    expect(config.loadProfile).toEqual({
      devices: 10,
      messageIntervalSeconds: 60,
      apiRequestsPerDay: 0,
      fleetMix: DEFAULT_FLEET_MIX,
    });
    expect(config.enrichmentMaxConcurrency).toBe(3);
  });

  it('treats an empty -c value as unset', () => {
    expect(loadPlatformConfig({ ...REQUIRED, alertEmails: '' }).alertEmails).toEqual([]);
  });

  it('removes duplicate essential device types', () => {
    expect(
      loadPlatformConfig({ ...REQUIRED, essentialDeviceTypes: 'water-level,water-level' })
        .essentialDeviceTypes,
    ).toEqual(['water-level']);
  });
});

describe('loadPlatformConfig rejects bad values', () => {
  it.each([
    ['stage', 'Prod', "Invalid config 'stage': got 'Prod'; allowed: a lowercase slug"],
    ['stage', 'my stage', "Invalid config 'stage': got 'my stage'"],
    ['councilName', '   ', "Invalid config 'councilName': got '   '; allowed: a non-empty name"],
    ['region', 'london', "Invalid config 'region': got 'london'; allowed: an AWS region code"],
    [
      'telemetryStore',
      'influx',
      "Invalid config 'telemetryStore': got 'influx'; allowed: dynamodb, timestream",
    ],
    ['retentionDays', '-3', "Invalid config 'retentionDays': got '-3'; allowed: an integer from 1 to 3650"],
    [
      'retentionDays',
      '3651',
      "Invalid config 'retentionDays': got '3651'; allowed: an integer from 1 to 3650",
    ],
    ['retentionDays', '1.5', "Invalid config 'retentionDays': got '1.5'"],
    ['retentionDays', 'forever', "Invalid config 'retentionDays': got 'forever'"],
    [
      'essentialDeviceTypes',
      'water-level,lamp-post',
      "Invalid config 'essentialDeviceTypes': got 'water-level,lamp-post'; allowed: a comma-separated list of waste-container",
    ],
    ['devices', '0', "Invalid config 'devices': got '0'; allowed: an integer from 1"],
    [
      'messageIntervalSeconds',
      '5',
      "Invalid config 'messageIntervalSeconds': got '5'; allowed: an integer from 10",
    ],
    ['apiRequestsPerDay', '-1', "Invalid config 'apiRequestsPerDay': got '-1'; allowed: an integer from 0"],
    [
      'monthlyCeilingUsd',
      '0',
      "Invalid config 'monthlyCeilingUsd': got '0'; allowed: a number greater than 0",
    ],
    [
      'alertEmails',
      'ops@council.gov.uk,not-an-address',
      "Invalid config 'alertEmails': got 'ops@council.gov.uk,not-an-address'; allowed: a comma-separated list of e-mail addresses",
    ],
    [
      'enrichmentMaxConcurrency',
      '1',
      "Invalid config 'enrichmentMaxConcurrency': got '1'; allowed: an integer from 2 to 1000",
    ],
    ['enrichmentMaxConcurrency', '1001', "Invalid config 'enrichmentMaxConcurrency': got '1001'"],
    [
      'workflowMaxConcurrency',
      '1',
      "Invalid config 'workflowMaxConcurrency': got '1'; allowed: an integer from 2 to 1000",
    ],
    ['workflowMaxConcurrency', '1001', "Invalid config 'workflowMaxConcurrency': got '1001'"],
    ['workflowMaxConcurrency', '2.5', "Invalid config 'workflowMaxConcurrency': got '2.5'"],
    [
      'enrichmentReservedConcurrency',
      '0',
      "Invalid config 'enrichmentReservedConcurrency': got '0'; allowed: an integer from 1",
    ],
    ['telemetryMaxWriteRequestUnits', '0', "Invalid config 'telemetryMaxWriteRequestUnits': got '0'"],
    ['telemetryMaxReadRequestUnits', 'lots', "Invalid config 'telemetryMaxReadRequestUnits': got 'lots'"],
    ['logRetentionDays', '31', "Invalid config 'logRetentionDays': got '31'; allowed: 1, 3, 5, 7, 14, 30"],
    ['apiThrottleRateLimit', '0', "Invalid config 'apiThrottleRateLimit': got '0'"],
    ['apiThrottleBurstLimit', '-5', "Invalid config 'apiThrottleBurstLimit': got '-5'"],
    [
      'timestreamMemoryRetentionHours',
      '0',
      "Invalid config 'timestreamMemoryRetentionHours': got '0'; allowed: an integer from 1 to 8766",
    ],
    [
      'timestreamMagneticRetentionDays',
      '73001',
      "Invalid config 'timestreamMagneticRetentionDays': got '73001'",
    ],
  ] as const)('%s=%j', (key, raw, message) => {
    expect(errorFor({ ...REQUIRED, [key]: raw }).message).toContain(message);
  });

  it.each(['councilName', 'devices', 'messageIntervalSeconds', 'apiRequestsPerDay'])(
    '%s is required',
    (key) => {
      const { [key]: _omitted, ...rest } = REQUIRED as Record<string, unknown>;
      expect(errorFor(rest).message).toContain(`Missing config '${key}'`);
    },
  );

  it('reports every problem at once', () => {
    const error = errorFor({ ...REQUIRED, telemetryStore: 'influx', retentionDays: '-3', stage: 'PROD' });
    expect(error.problems).toHaveLength(3);
    expect(error.message).toContain("'telemetryStore'");
    expect(error.message).toContain("'retentionDays'");
    expect(error.message).toContain("'stage'");
  });

  it('is a ConfigError, not a generic Error', () => {
    expect(() => loadPlatformConfig({})).toThrow(ConfigError);
  });
});

describe('Timestream availability', () => {
  it.each(TIMESTREAM_REGIONS)('accepts Timestream in %s', (region) => {
    expect(loadPlatformConfig({ ...REQUIRED, telemetryStore: 'timestream', region }).telemetryStore).toBe(
      'timestream',
    );
  });

  it('refuses Timestream in eu-west-2, listing the regions that have it and the new-customer closure', () => {
    const { message } = errorFor({ ...REQUIRED, telemetryStore: 'timestream' });
    expect(message).toContain("Invalid config 'telemetryStore': got 'timestream' with region 'eu-west-2'");
    expect(message).toContain(`allowed regions: ${TIMESTREAM_REGIONS.join(', ')}`);
    expect(message).toContain('closed to new AWS customers since 20 June 2025');
  });

  it('does not add a Timestream error on top of an invalid region', () => {
    const error = errorFor({ ...REQUIRED, telemetryStore: 'timestream', region: 'mars-1' });
    expect(error.problems).toHaveLength(1);
    expect(error.message).toContain("Invalid config 'region'");
  });
});

describe('service blueprints (services)', () => {
  it('enables every blueprint in the catalogue by default, in catalogue order', () => {
    expect(loadPlatformConfig(REQUIRED).services).toEqual(BLUEPRINT_NAMES);
    expect(BLUEPRINT_NAMES).toEqual(['waste', 'parking', 'air-quality', 'traffic', 'flood', 'offline']);
  });

  it.each([
    ['a comma-separated -c value', 'flood, waste', ['waste', 'flood']],
    ['a JSON array from cdk.json', ['offline', 'parking'], ['parking', 'offline']],
    ['a JSON array as -c text', '["air-quality"]', ['air-quality']],
    ['an empty JSON array (no workflows)', [], []],
    ['an empty JSON array as -c text', '[]', []],
    ['a repeated name', 'flood,flood', ['flood']],
  ])('reads %s', (_how, raw, expected) => {
    expect(loadPlatformConfig({ ...REQUIRED, services: raw }).services).toEqual(expected);
  });

  it('treats an empty -c value as unset: every blueprint', () => {
    expect(loadPlatformConfig({ ...REQUIRED, services: '' }).services).toEqual(BLUEPRINT_NAMES);
  });

  it('refuses an unknown service, naming it and the known ones', () => {
    const { message } = errorFor({ ...REQUIRED, services: 'waste,flod,lamps' });
    expect(message).toContain(
      "Invalid config 'services': got 'waste,flod,lamps', with unknown service 'flod', 'lamps'",
    );
    expect(message).toContain(
      `allowed: a JSON array or comma-separated list of service blueprints: ${BLUEPRINT_NAMES.join(', ')}`,
    );
  });

  it.each([
    ['a number', 3],
    ['an array of numbers', [1, 2]],
    ['an object', { waste: true }],
  ])('refuses %s', (_what, raw) => {
    expect(errorFor({ ...REQUIRED, services: raw }).message).toContain("Invalid config 'services'");
  });
});

describe('service subscribers (serviceSubscribers)', () => {
  it('subscribes the alert addresses to every enabled service by default', () => {
    const config = loadPlatformConfig({
      ...REQUIRED,
      alertEmails: 'ops@council.gov.uk',
      services: 'flood,waste',
    });
    expect(config.serviceSubscribers).toEqual({
      waste: ['ops@council.gov.uk'],
      flood: ['ops@council.gov.uk'],
    });
  });

  it('takes each listed service its own list (JSON object from -c), the others the alert addresses', () => {
    const config = loadPlatformConfig({
      ...REQUIRED,
      alertEmails: 'ops@council.gov.uk',
      services: 'flood,waste,parking',
      serviceSubscribers: JSON.stringify({
        flood: ['duty@council.gov.uk', 'rivers@council.gov.uk'],
        waste: 'crews@council.gov.uk',
        parking: [],
      }),
    });
    expect(config.serviceSubscribers).toEqual({
      waste: ['crews@council.gov.uk'],
      parking: [],
      flood: ['duty@council.gov.uk', 'rivers@council.gov.uk'],
    });
  });

  it('ignores an entry for a known service that is not enabled', () => {
    const config = loadPlatformConfig({
      ...REQUIRED,
      services: 'flood',
      serviceSubscribers: { waste: ['crews@council.gov.uk'] },
    });
    expect(config.serviceSubscribers).toEqual({ flood: [] });
  });

  it.each([
    ['an unknown service', { lamps: ['a@b.gov.uk'] }, '\'lamps\': ["a@b.gov.uk"]'],
    [
      'a bad address',
      { flood: ['duty@council', 'ok@council.gov.uk'] },
      '\'flood\': ["duty@council","ok@council.gov.uk"]',
    ],
    ['a value that is not a list', { flood: 3 }, "'flood': 3"],
  ])('refuses %s, naming the entry', (_what, raw, entry) => {
    const { message } = errorFor({ ...REQUIRED, serviceSubscribers: raw });
    expect(message).toContain(
      `Invalid config 'serviceSubscribers': got ${entry}; allowed: a JSON object of service name`,
    );
  });

  it('refuses a value that is not a JSON object', () => {
    expect(errorFor({ ...REQUIRED, serviceSubscribers: 'ops@council.gov.uk' }).message).toContain(
      "Invalid config 'serviceSubscribers': got 'ops@council.gov.uk'",
    );
  });
});

describe('service settings (serviceSettings)', () => {
  it('defaults to none: every blueprint on its own defaults', () => {
    expect(loadPlatformConfig(REQUIRED).serviceSettings).toEqual({});
  });

  it('keeps the settings of enabled services (a JSON object, or JSON text from -c)', () => {
    const settings = { waste: { depotLat: 51.45, depotLon: -0.97 }, flood: { coolDownSeconds: 600 } };
    expect(loadPlatformConfig({ ...REQUIRED, serviceSettings: settings }).serviceSettings).toEqual(settings);
    expect(
      loadPlatformConfig({ ...REQUIRED, serviceSettings: JSON.stringify(settings), services: 'flood' })
        .serviceSettings,
    ).toEqual({ flood: { coolDownSeconds: 600 } });
  });

  it.each([
    ['an unknown service', { lamps: { x: 1 } }, "'lamps'"],
    ['a setting that is not a number', { waste: { depotLat: '51.45' } }, "'waste'"],
    ['a setting that is not finite', { waste: { depotLat: null } }, "'waste'"],
    ['a setting name with a space', { waste: { 'depot lat': 1 } }, "'waste'"],
    ['settings that are a list', { waste: [1, 2] }, "'waste'"],
  ])('refuses %s', (_what, raw, entry) => {
    const { message } = errorFor({ ...REQUIRED, serviceSettings: raw });
    expect(message).toContain(`Invalid config 'serviceSettings': got ${entry}`);
    expect(message).toContain('allowed: a JSON object of service name');
  });
});

describe('fleet mix (fleetMix)', () => {
  it('turns weights into shares that sum to 1, types not given at 0', () => {
    const mix = loadPlatformConfig({ ...REQUIRED, fleetMix: '{"parking-spot": 300, "water-level": 100}' })
      .loadProfile.fleetMix;
    expect(mix).toEqual({
      'waste-container': 0,
      'parking-spot': 0.75,
      'air-quality': 0,
      'traffic-flow': 0,
      'water-level': 0.25,
    });
  });

  it.each([
    ['an unknown device type', { 'lamp-post': 1 }],
    ['a negative weight', { 'parking-spot': -1, 'water-level': 2 }],
    ['all weights 0', { 'parking-spot': 0 }],
    ['a list', [1, 2]],
  ])('refuses %s', (_what, raw) => {
    expect(errorFor({ ...REQUIRED, fleetMix: raw }).message).toContain("Invalid config 'fleetMix'");
  });
});

describe('service table caps', () => {
  it('derive from the load profile: a state read per reading, workflow tables at the floor for a small town', () => {
    expect(serviceCapDefaults(1000, 300, 10_000)).toEqual({
      stateReadUnits: 34,
      stateWriteUnits: 25,
      workflowReadUnits: 25,
      workflowWriteUnits: 25,
    });
    expect(serviceCapDefaults(10_000, 300, 1_000_000)).toEqual({
      stateReadUnits: 334,
      stateWriteUnits: 167,
      workflowReadUnits: 646,
      workflowWriteUnits: 67,
    });
  });

  it('are the config defaults, and config can set each', () => {
    const config = loadPlatformConfig({ ...REQUIRED, workflowMaxWriteRequestUnits: '40' });
    expect(config.serviceStateMaxReadRequestUnits).toBe(34);
    expect(config.serviceStateMaxWriteRequestUnits).toBe(25);
    expect(config.workflowMaxReadRequestUnits).toBe(25);
    expect(config.workflowMaxWriteRequestUnits).toBe(40);
  });

  it('give the registry room for the offline sweep: a run read within 10 seconds, on top of its own cap', () => {
    expect(registryReadCapDefault(25, 1000, 1)).toBe(125);
    expect(registryReadCapDefault(25, 1000, 0)).toBe(25);
    const config = loadPlatformConfig(REQUIRED);
    expect(config.registryMaxReadRequestUnits).toBe(
      25 + Math.ceil((1000 * OFFLINE_COST.readUnitsPerDevicePerScheduledRun) / 10),
    );
    // Without the offline sweep the registry keeps the tables' own cap.
    expect(loadPlatformConfig({ ...REQUIRED, services: 'waste,flood' }).registryMaxReadRequestUnits).toBe(25);
  });

  it.each([
    ['serviceStateMaxReadRequestUnits', '0'],
    ['serviceStateMaxWriteRequestUnits', '40001'],
    ['workflowMaxReadRequestUnits', 'many'],
    ['workflowMaxWriteRequestUnits', '-1'],
    ['registryMaxReadRequestUnits', '0'],
    ['workflowReservedConcurrency', '0'],
  ])('refuses %s=%s', (key, raw) => {
    expect(errorFor({ ...REQUIRED, [key]: raw }).message).toContain(`Invalid config '${key}': got '${raw}'`);
  });

  it('reserves no workflow concurrency unless asked', () => {
    expect(loadPlatformConfig(REQUIRED).workflowReservedConcurrency).toBeUndefined();
    expect(
      loadPlatformConfig({ ...REQUIRED, workflowReservedConcurrency: '1' }).workflowReservedConcurrency,
    ).toBe(1);
  });
});

describe('API limits and CORS', () => {
  it('defaults to no CORS, no reserved API concurrency, and open-data keys at half the stage', () => {
    const config = loadPlatformConfig(REQUIRED);
    expect(config.corsAllowOrigins).toEqual([]);
    expect(config.apiReservedConcurrency).toBeUndefined();
    // Stage 10/s and burst 20 for 10,000 requests a day: a key gets 5/s, burst 10, and ten days' worth a day.
    expect(config.openDataRateLimit).toBe(5);
    expect(config.openDataBurstLimit).toBe(10);
    expect(config.openDataQuotaPerDay).toBe(100_000);
  });

  it('derives the open-data defaults from the load profile and the stage', () => {
    const busy = loadPlatformConfig({ ...REQUIRED, apiRequestsPerDay: 5_000_000 });
    // 5,000,000 a day is about 58/s: the stage gets 1,158/s (tenfold, twice), a key half of it.
    expect(busy.apiThrottleRateLimit).toBe(1158);
    expect(busy.openDataRateLimit).toBe(579);
    expect(busy.openDataBurstLimit).toBe(1158);
    expect(busy.openDataQuotaPerDay).toBe(50_000_000);
    expect(openDataQuotaDefault(0)).toBe(1_000);
    // A key's default burst stays within a lowered stage burst, so lowering the stage never breaks a default.
    expect(loadPlatformConfig({ ...REQUIRED, apiThrottleBurstLimit: '3' }).openDataBurstLimit).toBe(3);
  });

  it('reads every key from -c strings', () => {
    const config = loadPlatformConfig({
      ...REQUIRED,
      apiReservedConcurrency: '4',
      corsAllowOrigins: 'https://app.example.gov.uk, https://maps.example.gov.uk:8443',
      openDataRateLimit: '2',
      openDataBurstLimit: '4',
      openDataQuotaPerDay: '5000',
    });
    expect(config.apiReservedConcurrency).toBe(4);
    expect(config.corsAllowOrigins).toEqual([
      'https://app.example.gov.uk',
      'https://maps.example.gov.uk:8443',
    ]);
    expect(config.openDataRateLimit).toBe(2);
    expect(config.openDataBurstLimit).toBe(4);
    expect(config.openDataQuotaPerDay).toBe(5000);
  });

  it('accepts * alone as the CORS origin list', () => {
    expect(loadPlatformConfig({ ...REQUIRED, corsAllowOrigins: '*' }).corsAllowOrigins).toEqual(['*']);
  });

  it.each([
    ['corsAllowOrigins', 'http://app.example.gov.uk', 'allowed: a comma-separated list of https origins'],
    ['corsAllowOrigins', 'https://app.example.gov.uk/', "got 'https://app.example.gov.uk/'"],
    ['corsAllowOrigins', 'https://app.example.gov.uk/maps', "got 'https://app.example.gov.uk/maps'"],
    ['corsAllowOrigins', 'app.example.gov.uk', "got 'app.example.gov.uk'"],
    ['corsAllowOrigins', '*,https://app.example.gov.uk', 'allowed: * alone'],
    ['apiReservedConcurrency', '0', "got '0'; allowed: an integer from 1 to 1000"],
    ['openDataRateLimit', '0', "got '0'; allowed: an integer from 1 to 10000"],
    ['openDataBurstLimit', '5001', "got '5001'; allowed: an integer from 1 to 5000"],
    ['openDataQuotaPerDay', 'lots', "got 'lots'; allowed: an integer from 1"],
    ['openDataRateLimit', '11', 'got 11, above apiThrottleRateLimit 10'],
    ['openDataBurstLimit', '21', 'got 21, above apiThrottleBurstLimit 20'],
  ])('refuses %s=%s', (key, raw, message) => {
    const error = errorFor({ ...REQUIRED, [key]: raw });
    expect(error.message).toContain(`Invalid config '${key}'`);
    expect(error.message).toContain(message);
  });
});

describe('councilArea', () => {
  const READING = { minLon: -1.07, minLat: 51.39, maxLon: -0.91, maxLat: 51.51 };
  const ALLOWED =
    'allowed: 4 numbers west,south,east,north in decimal degrees (text, or a JSON array in cdk.json), ' +
    'longitudes within -180..180, latitudes within -90..90, west < east and south < north';

  it('is optional: without it there is no area (no check)', () => {
    expect(loadPlatformConfig(REQUIRED)).not.toHaveProperty('councilArea');
    expect(loadPlatformConfig({ ...REQUIRED, councilArea: '' })).not.toHaveProperty('councilArea');
  });

  it.each([
    ['text from -c or cdk.json', '-1.07,51.39,-0.91,51.51'],
    ['text with blanks', ' -1.07, 51.39 ,-0.91 , 51.51 '],
    ['an array in cdk.json', [-1.07, 51.39, -0.91, 51.51]],
    ['a JSON array as text from -c', '[-1.07, 51.39, -0.91, 51.51]'],
  ])('reads %s as west,south,east,north', (_form, raw) => {
    expect(loadPlatformConfig({ ...REQUIRED, councilArea: raw }).councilArea).toEqual(READING);
  });

  it.each([
    ['the whole world, edges included', '-180,-90,180,90'],
    ['a box a metre wide', '-0.97001,51.45,-0.97,51.45001'],
  ])('accepts %s', (_what, raw) => {
    expect(loadPlatformConfig({ ...REQUIRED, councilArea: raw }).councilArea).toBeDefined();
  });

  it.each([
    ['-1.07,51.39,-0.91', "got '-1.07,51.39,-0.91' (3 values, not 4)"],
    ['-1.07,51.39,-0.91,51.51,0', '(5 values, not 4)'],
    [[-1.07, 51.39, -0.91], 'got [-1.07,51.39,-0.91] (3 values, not 4)'],
    ['-1.07,51.39,west,51.51', "got '-1.07,51.39,west,51.51' (not all numbers)"],
    ['-1.07;51.39;-0.91;51.51', '(1 value, not 4)'],
    ['1e1,51.39,-0.91,51.51', '(not all numbers)'],
    [[-1.07, '51.39x', -0.91, 51.51], '(not all numbers)'],
    [{ west: -1.07 }, '(1 value, not 4)'],
    [42, 'got 42 (1 value, not 4)'],
    ['-180.5,51.39,-0.91,51.51', '(west -180.5 is not within -180..180)'],
    ['-1.07,51.39,181,51.51', '(east 181 is not within -180..180)'],
    ['-1.07,-91,-0.91,51.51', '(south -91 is not within -90..90)'],
    ['-1.07,51.39,-0.91,90.01', '(north 90.01 is not within -90..90)'],
    ['-0.91,51.39,-1.07,51.51', '(west -0.91 is not less than east -1.07)'],
    ['-1.07,51.39,-1.07,51.51', '(west -1.07 is not less than east -1.07)'],
    ['-1.07,51.51,-0.91,51.39', '(south 51.51 is not less than north 51.39)'],
    ['51.39,-1.07,-0.91,51.51', '(west 51.39 is not less than east -0.91)'],
  ])('refuses councilArea=%j, naming the key, the value and what is allowed', (raw, got) => {
    const error = errorFor({ ...REQUIRED, councilArea: raw });
    expect(error.message).toContain(`Invalid config 'councilArea': `);
    expect(error.message).toContain(got);
    expect(error.message).toContain(ALLOWED);
  });

  it("cdk.json's area holds the demo town and every demo device, whatever the seed", async () => {
    const area = (await loadLocalConfig()).councilArea;
    expect(area).toBeDefined();
    if (!area) return;
    expect(isInside(DEMO_TOWN, area)).toBe(true);
    for (const seed of ['reading', 'e2e', 'another town']) {
      const outside = demoCityDevices(seed).filter(({ device }) => !isInside(device.location, area));
      expect(outside.map(({ device }) => device.deviceId)).toEqual([]);
    }
  });
});
