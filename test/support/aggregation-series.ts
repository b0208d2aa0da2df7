import type { TelemetryPoint } from '../../lambdas/domain/telemetry.js';

/**
 * A hand-made morning of one air-quality monitor (`aq-1`, measure no2) and the answers worked out by hand, for
 * the aggregation tests of every store. The range, 09:30 to 13:15 on 27 November 2026, cuts the 09:00 and 13:00
 * hours: readings at 09:10, exactly at 13:15 (`to` is exclusive) and at 13:40 lie outside it and must not count.
 * 11:00 to 12:00 has no reading (an empty bucket), 10:05 reports pm25 only, and hour 12 has twelve readings so
 * the DynamoDB store keeps it in two bucket items.
 */
export const SERIES_DEVICE = 'aq-1';
export const SERIES_FROM = '2026-11-27T09:30:00.000Z';
export const SERIES_TO = '2026-11-27T13:15:00.000Z';

const NO2: readonly [string, number][] = [
  ['09:10:00.000', 100],
  ['09:40:00.000', 10],
  ['09:50:00.000', 20],
  ['10:00:00.000', 30],
  ['10:30:00.000', 50],
  ['10:59:59.999', 40],
  // 12:00 to 12:55, every five minutes: 1 to 12 (sum 78)
  ...Array.from({ length: 12 }, (_, i): [string, number] => [
    `12:${String(i * 5).padStart(2, '0')}:00.000`,
    i + 1,
  ]),
  ['13:00:00.000', 5],
  ['13:14:59.999', 15],
  ['13:15:00.000', 1000],
  ['13:40:00.000', 999],
];

function point(time: string, readings: Record<string, number>): TelemetryPoint {
  const observedAt = `2026-11-27T${time}Z`;
  return {
    deviceId: SERIES_DEVICE,
    deviceType: 'air-quality',
    messageId: `aq-1-${time}`,
    observedAt,
    receivedAt: observedAt,
    readings,
    ward: 'Abbey',
  };
}

/** The readings, in time order. */
export const SERIES_POINTS: readonly TelemetryPoint[] = [
  ...NO2.map(([time, no2]) => point(time, { no2, pm25: 8 })),
  point('10:05:00.000', { pm25: 9 }),
].sort((a, b) => a.observedAt.localeCompare(b.observedAt));

/** Hourly buckets over [SERIES_FROM, SERIES_TO), by stat: [start hour, count, value]. */
export const HOURLY: Record<'avg' | 'min' | 'max' | 'count', readonly [string, number, number | null][]> = {
  avg: [
    ['09', 2, 15],
    ['10', 3, 40],
    ['11', 0, null],
    ['12', 12, 6.5],
    ['13', 2, 10],
  ],
  min: [
    ['09', 2, 10],
    ['10', 3, 30],
    ['11', 0, null],
    ['12', 12, 1],
    ['13', 2, 5],
  ],
  max: [
    ['09', 2, 20],
    ['10', 3, 50],
    ['11', 0, null],
    ['12', 12, 12],
    ['13', 2, 15],
  ],
  count: [
    ['09', 2, 2],
    ['10', 3, 3],
    ['11', 0, 0],
    ['12', 12, 12],
    ['13', 2, 2],
  ],
};

/** The same range in one daily bucket (it straddles both edges): 19 readings summing to 248. */
export const DAILY = { count: 19, avg: 248 / 19, min: 1, max: 50 } as const;

/** The whole day 2026-11-27 (every hour whole: rollups alone): all 22 no2 readings, summing to 2347. */
export const WHOLE_DAY = { count: 22, avg: 2347 / 22 } as const;

/** `[{ start, count, value }]` as the API answers, from a table of [hour, count, value]. */
export function hourlyBuckets(rows: readonly [string, number, number | null][]) {
  return rows.map(([hour, count, value]) => ({ start: `2026-11-27T${hour}:00:00.000Z`, count, value }));
}
