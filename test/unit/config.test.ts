import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  capDefaults,
  loadPlatformConfig,
  TIMESTREAM_REGIONS,
} from '../../lib/config/platform-config.js';

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

  it('keeps the load profile as given', () => {
    expect(config.loadProfile).toEqual({
      devices: 1000,
      messageIntervalSeconds: 300,
      apiRequestsPerDay: 10000,
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
    expect(config.loadProfile).toEqual({ devices: 10, messageIntervalSeconds: 60, apiRequestsPerDay: 0 });
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
