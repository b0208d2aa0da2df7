import { QueryCommand, TimestreamQueryClient } from '@aws-sdk/client-timestream-query';
import { TimestreamWriteClient } from '@aws-sdk/client-timestream-write';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { TimestreamTelemetryStore } from '../../lambdas/adapters/timestream-telemetry-store.js';
import type { TelemetryAggregateQuery } from '../../lambdas/domain/telemetry.js';
import { aggregateSeries } from '../../lambdas/domain/telemetry-aggregation.js';
import { HOURLY, hourlyBuckets, SERIES_FROM, SERIES_TO } from '../support/aggregation-series.js';

const reader = mockClient(TimestreamQueryClient);

beforeEach(() => {
  reader.reset();
});

const store = () =>
  new TimestreamTelemetryStore(
    new TimestreamWriteClient({ region: 'eu-west-1' }),
    new TimestreamQueryClient({ region: 'eu-west-1' }),
    'civic',
    'series',
  );

const QUERY: TelemetryAggregateQuery = {
  deviceId: 'aq-1',
  from: SERIES_FROM,
  to: SERIES_TO,
  measure: 'no2',
  interval: '1h',
  stat: 'avg',
};

const COLUMNS = [
  { Name: 'bucket', Type: { ScalarType: 'TIMESTAMP' as const } },
  { Name: 'readings', Type: { ScalarType: 'BIGINT' as const } },
  { Name: 'value', Type: { ScalarType: 'DOUBLE' as const } },
];

const row = (bucket: string, readings: string, value: string) => ({
  Data: [{ ScalarValue: bucket }, { ScalarValue: readings }, { ScalarValue: value }],
});

/** What Timestream answers for the hand-computed morning: one row per hour that has readings inside the range. */
const MORNING = {
  avg: [
    row('2026-11-27 09:00:00.000000000', '2', '15.0'),
    row('2026-11-27 10:00:00.000000000', '3', '40.0'),
    row('2026-11-27 12:00:00.000000000', '12', '6.5'),
    row('2026-11-27 13:00:00.000000000', '2', '10.0'),
  ],
  max: [
    row('2026-11-27 09:00:00.000000000', '2', '20.0'),
    row('2026-11-27 10:00:00.000000000', '3', '50.0'),
    row('2026-11-27 12:00:00.000000000', '12', '12.0'),
    row('2026-11-27 13:00:00.000000000', '2', '15.0'),
  ],
};

const sqlOf = (call = 0) => reader.commandCalls(QueryCommand)[call]?.args[0].input.QueryString ?? '';

describe('TimestreamTelemetryStore.aggregate', () => {
  it('asks one query that bins by the interval, takes the stat and the count, and keeps to the range', async () => {
    reader.on(QueryCommand).resolves({ ColumnInfo: COLUMNS, Rows: MORNING.avg });
    await store().aggregate(QUERY);
    expect(reader.commandCalls(QueryCommand)).toHaveLength(1);
    expect(sqlOf()).toBe(
      [
        'SELECT bin(time, 1h) AS bucket, count("no2") AS readings, avg("no2") AS value',
        'FROM "civic"."series"',
        `WHERE "deviceId" = 'aq-1'`,
        "AND time >= from_iso8601_timestamp('2026-11-27T09:30:00.000Z') AND time < from_iso8601_timestamp('2026-11-27T13:15:00.000Z')",
        'AND "no2" IS NOT NULL',
        'GROUP BY bin(time, 1h)',
        'ORDER BY bucket ASC',
      ].join(' '),
    );
  });

  it.each([
    ['5m', 'min', 'bin(time, 5m)', 'min("no2")'],
    ['1d', 'max', 'bin(time, 1d)', 'max("no2")'],
    ['1h', 'count', 'bin(time, 1h)', 'count("no2") AS value'],
  ] as const)('bins %s with %s', async (interval, stat, bin, fn) => {
    reader.on(QueryCommand).resolves({ ColumnInfo: COLUMNS, Rows: [] });
    await store().aggregate({ ...QUERY, interval, stat });
    expect(sqlOf()).toContain(bin);
    expect(sqlOf()).toContain(fn);
    expect(sqlOf()).toContain(`GROUP BY ${bin}`);
  });

  it('gives the hand-computed hourly series, the cut hours and the empty one included', async () => {
    for (const stat of ['avg', 'max'] as const) {
      reader.reset();
      reader.on(QueryCommand).resolves({ ColumnInfo: COLUMNS, Rows: MORNING[stat] });
      const summaries = await store().aggregate({ ...QUERY, stat });
      // The 09:00 bin is cut by from (09:30): its readings, and so its summary, start there.
      expect(summaries[0]?.start).toBe(Date.parse(SERIES_FROM));
      expect(aggregateSeries(Date.parse(SERIES_FROM), Date.parse(SERIES_TO), '1h', stat, summaries)).toEqual(
        hourlyBuckets(HOURLY[stat]),
      );
    }
  });

  it('follows the pages of the same query when Timestream splits the answer', async () => {
    reader
      .on(QueryCommand)
      .resolvesOnce({ ColumnInfo: COLUMNS, Rows: MORNING.avg.slice(0, 2), NextToken: 'page-2' })
      .resolvesOnce({ ColumnInfo: COLUMNS, Rows: MORNING.avg.slice(2) });
    const summaries = await store().aggregate(QUERY);
    expect(summaries.map((s) => s.count)).toEqual([2, 3, 12, 2]);
    const calls = reader.commandCalls(QueryCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args[0].input).toMatchObject({ QueryString: sqlOf(0), NextToken: 'page-2' });
  });

  it('refuses a range beyond the interval limit, an unsafe measure or device, without querying', async () => {
    const s = store();
    await expect(
      s.aggregate({ ...QUERY, interval: '5m', from: '2026-11-20T00:00:00Z', to: '2026-11-23T00:00:01Z' }),
    ).rejects.toThrow(/at most 3 days/);
    await expect(s.aggregate({ ...QUERY, measure: 'no2" OR 1=1 --' })).rejects.toThrow(/invalid measure/);
    await expect(s.aggregate({ ...QUERY, deviceId: "x' OR '1'='1" })).rejects.toThrow(/invalid device id/);
    expect(reader.commandCalls(QueryCommand)).toHaveLength(0);
  });
});
