import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REPORTING_SECONDS,
  hourlyAllowance,
  RATE_POLICING_FACTOR,
} from '../../lambdas/domain/rate-policy.js';

describe('hourlyAllowance', () => {
  it.each([
    [
      'a traffic counter declared every 60 s',
      { deviceType: 'traffic-flow', expectedIntervalSeconds: 60 },
      180,
    ],
    ['a gauge declared every 300 s', { deviceType: 'water-level', expectedIntervalSeconds: 300 }, 36],
    [
      'a gauge declared every 7 s is held to the store-wide maximum',
      { deviceType: 'water-level', expectedIntervalSeconds: 7 },
      300,
    ],
    [
      'a bin declared hourly gets the minimum',
      { deviceType: 'waste-container', expectedIntervalSeconds: 3600 },
      12,
    ],
    ['a bay with no declared interval uses its type default', { deviceType: 'parking-spot' }, 90],
  ] as const)('%s: %i a hour', (_name, device, expected) => {
    expect(hourlyAllowance(device)).toBe(expected);
  });

  it('scales with the factor, and the defaults cover every device type', () => {
    expect(hourlyAllowance({ deviceType: 'air-quality', expectedIntervalSeconds: 300 }, 1)).toBe(12);
    expect(RATE_POLICING_FACTOR).toBe(3);
    expect(Object.keys(DEFAULT_REPORTING_SECONDS).sort()).toEqual([
      'air-quality',
      'parking-spot',
      'traffic-flow',
      'waste-container',
      'water-level',
    ]);
  });
});
