import { QueryCommand, TimestreamQueryClient } from '@aws-sdk/client-timestream-query';
import { TimestreamWriteClient } from '@aws-sdk/client-timestream-write';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { TimestreamTelemetryStore } from '../../lambdas/adapters/timestream-telemetry-store.js';

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

const QUERY = {
  deviceId: 'bin-0001',
  from: '2026-11-27T00:00:00.000Z',
  to: '2026-11-28T00:00:00.000Z',
  limit: 100,
};

const COLUMNS = ['deviceId', 'deviceType', 'time', 'measure_name', 'messageId', 'fillingLevel'].map(
  (Name) => ({ Name, Type: { ScalarType: 'VARCHAR' as const } }),
);

function row(deviceType: string, time: string, fillingLevel: string) {
  return {
    Data: [
      { ScalarValue: 'bin-0001' },
      { ScalarValue: deviceType },
      { ScalarValue: time },
      { ScalarValue: deviceType },
      { ScalarValue: `m-${time}` },
      { ScalarValue: fillingLevel },
    ],
  };
}

describe('TimestreamTelemetryStore.query', () => {
  it('double-quotes the deviceId column and the measure column in the SQL', async () => {
    reader.on(QueryCommand).resolves({ ColumnInfo: COLUMNS, Rows: [] });
    await store().query({ ...QUERY, measure: 'fillingLevel' });
    const sql = reader.commandCalls(QueryCommand)[0]?.args[0].input.QueryString ?? '';
    expect(sql).toContain(`FROM "civic"."series"`);
    expect(sql).toContain(`WHERE "deviceId" = 'bin-0001'`);
    expect(sql).toContain(`AND "fillingLevel" IS NOT NULL`);
    expect(sql).not.toMatch(/WHERE deviceId\b/);
  });

  it('skips rows whose device type the platform does not know instead of calling them waste containers', async () => {
    reader.on(QueryCommand).resolves({
      ColumnInfo: COLUMNS,
      Rows: [
        row('waste-container', '2026-11-27 10:00:00.000000000', '0.5'),
        row('lamp-post', '2026-11-27 10:05:00.000000000', '0.6'),
        row('waste-container', '2026-11-27 10:10:00.000000000', '0.7'),
      ],
    });
    const page = await store().query(QUERY);
    expect(page.items.map((p) => [p.deviceType, p.observedAt, p.readings.fillingLevel])).toEqual([
      ['waste-container', '2026-11-27T10:00:00.000Z', 0.5],
      ['waste-container', '2026-11-27T10:10:00.000Z', 0.7],
    ]);
  });

  it('skips rows without a device type', async () => {
    reader.on(QueryCommand).resolves({
      ColumnInfo: COLUMNS,
      Rows: [
        { Data: [{ ScalarValue: 'bin-0001' }, { NullValue: true }, { ScalarValue: '2026-11-27 10:00:00' }] },
      ],
    });
    expect((await store().query(QUERY)).items).toEqual([]);
  });
});
