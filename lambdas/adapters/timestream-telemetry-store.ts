import {
  QueryCommand,
  type QueryCommandOutput,
  type TimestreamQueryClient,
} from '@aws-sdk/client-timestream-query';
import {
  type _Record,
  type Dimension,
  type MeasureValue,
  RejectedRecordsException,
  type TimestreamWriteClient,
  WriteRecordsCommand,
} from '@aws-sdk/client-timestream-write';
import { isDeviceType } from '../contracts/device-types.js';
import type { ReasonCode } from '../contracts/reason-codes.js';
import { isDeviceId } from '../contracts/topics.js';
import type {
  Page,
  TelemetryAggregateQuery,
  TelemetryPoint,
  TelemetryQuery,
  TelemetryStore,
  WriteOutcome,
} from '../domain/telemetry.js';
import {
  type AggregateInterval,
  type AggregateStat,
  maxRangeDays,
  type ReadingSummary,
} from '../domain/telemetry-aggregation.js';
import { chunk, InvalidCursorError } from './dynamodb-batches.js';

/** Timestream's limit of records per WriteRecords call. */
export const TIMESTREAM_WRITE_LIMIT = 100;

const MEASURE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9]{0,62}$/;

/**
 * One multi-measure record per reading: dimensions are what the reading is about (device, type, ward, site),
 * measures are the readings themselves plus the message id (kept for tracing duplicates) and battery.
 * The measure name is the device type, so each type's columns keep one data type each.
 */
export function toTimestreamRecord(point: TelemetryPoint): _Record {
  const dimensions: Dimension[] = [
    { Name: 'deviceId', Value: point.deviceId },
    { Name: 'deviceType', Value: point.deviceType },
  ];
  if (point.ward) dimensions.push({ Name: 'ward', Value: point.ward });
  if (point.site) dimensions.push({ Name: 'site', Value: point.site });
  const measures: MeasureValue[] = Object.entries(point.readings).map(([name, value]) =>
    typeof value === 'number'
      ? { Name: name, Value: String(value), Type: 'DOUBLE' }
      : { Name: name, Value: value, Type: 'VARCHAR' },
  );
  measures.push({ Name: 'messageId', Value: point.messageId, Type: 'VARCHAR' });
  if (point.battery !== undefined)
    measures.push({ Name: 'battery', Value: String(point.battery), Type: 'DOUBLE' });
  return {
    Dimensions: dimensions,
    MeasureName: point.deviceType,
    MeasureValueType: 'MULTI',
    MeasureValues: measures,
    Time: String(new Date(point.observedAt).getTime()),
    TimeUnit: 'MILLISECONDS',
  };
}

/** Maps Timestream's per-record rejection reason to our reason codes. */
export function classifyRejection(reason: string | undefined): ReasonCode {
  const text = (reason ?? '').toLowerCase();
  if (text.includes('retention') || text.includes('older than') || text.includes('too old'))
    return 'TIMESTAMP_TOO_OLD';
  if (text.includes('future')) return 'TIMESTAMP_IN_FUTURE';
  return 'STORE_REJECTED';
}

/**
 * Opt-in telemetry store for accounts that still have Timestream for LiveAnalytics. Writes go in calls of at
 * most 100 records; a RejectedRecordsException is handled per record (the rest of the call was written), and
 * throttling or service errors put the affected records back on the queue for a retry.
 */
export class TimestreamTelemetryStore implements TelemetryStore {
  constructor(
    private readonly writer: TimestreamWriteClient,
    private readonly reader: TimestreamQueryClient,
    private readonly databaseName: string,
    private readonly tableName: string,
  ) {}

  /** Timestream accepts an identical record twice without saying so; the enrichment keeps idempotency records. */
  readonly detectsDuplicates = false;

  async write(points: readonly TelemetryPoint[]): Promise<WriteOutcome> {
    const retry: number[] = [];
    const rejected: { index: number; reason: ReasonCode; detail: string }[] = [];
    const chunks = chunk(
      points.map((point, index) => ({ point, index })),
      TIMESTREAM_WRITE_LIMIT,
    );
    await Promise.all(
      chunks.map(async (part) => {
        try {
          await this.writer.send(
            new WriteRecordsCommand({
              DatabaseName: this.databaseName,
              TableName: this.tableName,
              Records: part.map(({ point }) => toTimestreamRecord(point)),
            }),
          );
        } catch (error) {
          if (
            error instanceof RejectedRecordsException ||
            (error as { name?: string }).name === 'RejectedRecordsException'
          ) {
            for (const record of (error as RejectedRecordsException).RejectedRecords ?? []) {
              const entry = part[record.RecordIndex ?? -1];
              if (!entry) continue;
              const existing =
                record.ExistingVersion === undefined ? '' : ` (existing version ${record.ExistingVersion})`;
              rejected.push({
                index: entry.index,
                reason: classifyRejection(record.Reason),
                detail: `Timestream rejected the record: ${record.Reason ?? 'no reason given'}${existing}`,
              });
            }
          } else {
            retry.push(...part.map(({ index }) => index));
          }
        }
      }),
    );
    return { retry, rejected, duplicates: [] };
  }

  async query(query: TelemetryQuery): Promise<Page<TelemetryPoint>> {
    // Everything interpolated into the SQL is validated first: ids and measure names by pattern, times by Date.
    if (!isDeviceId(query.deviceId)) throw new Error(`invalid device id '${query.deviceId}'`);
    if (query.measure && !MEASURE_NAME_PATTERN.test(query.measure))
      throw new Error(`invalid measure '${query.measure}'`);
    const from = new Date(query.from).toISOString();
    const to = new Date(query.to).toISOString();
    // Column names are double-quoted identifiers, never bare words: a reading named like an SQL keyword or
    // function, or in mixed case like `deviceId`, then still names exactly that column. Values are single-quoted.
    const sql = [
      `SELECT * FROM "${this.databaseName}"."${this.tableName}"`,
      `WHERE "deviceId" = '${query.deviceId}'`,
      `AND time BETWEEN from_iso8601_timestamp('${from}') AND from_iso8601_timestamp('${to}')`,
      query.measure ? `AND "${query.measure}" IS NOT NULL` : '',
      'ORDER BY time ASC',
    ]
      .filter(Boolean)
      .join(' ');
    let nextToken: string | undefined;
    if (query.cursor) {
      try {
        nextToken = JSON.parse(Buffer.from(query.cursor, 'base64url').toString('utf8')).t;
      } catch {
        throw new InvalidCursorError();
      }
      if (typeof nextToken !== 'string') throw new InvalidCursorError();
    }
    const response = await this.reader.send(
      new QueryCommand({
        QueryString: sql,
        MaxRows: query.limit,
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
    );
    const items = parseRows(response).flatMap((row) => toPoint(row, query.measure) ?? []);
    return response.NextToken
      ? { items, nextCursor: Buffer.from(JSON.stringify({ t: response.NextToken })).toString('base64url') }
      : { items };
  }

  /**
   * One query per answer: the measure's readings in `[from, to)` grouped with `bin()` on the interval (Timestream
   * bins on the UTC clock, as the buckets are) with the stat and the count per bin. The WHERE clause keeps a bin
   * cut by the range's edge to readings inside the range. The range is held to the interval's limit here too, so
   * the query's scan stays bounded whoever calls; its few rows (at most one per bucket) come in one page unless
   * Timestream splits them, and any further pages of the same query are followed.
   */
  async aggregate(query: TelemetryAggregateQuery): Promise<ReadingSummary[]> {
    if (!isDeviceId(query.deviceId)) throw new Error(`invalid device id '${query.deviceId}'`);
    if (!MEASURE_NAME_PATTERN.test(query.measure)) throw new Error(`invalid measure '${query.measure}'`);
    const fromMs = new Date(query.from).getTime();
    const toMs = new Date(query.to).getTime();
    if (!(toMs - fromMs <= maxRangeDays(query.interval) * 86_400_000)) {
      throw new RangeError(
        `a ${query.interval} aggregate covers at most ${maxRangeDays(query.interval)} days`,
      );
    }
    if (toMs <= fromMs) return [];
    const sql = aggregateSql(this.databaseName, this.tableName, query);
    const summaries: ReadingSummary[] = [];
    let nextToken: string | undefined;
    do {
      const response = await this.reader.send(
        new QueryCommand({
          QueryString: sql,
          MaxRows: 1000,
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
      );
      for (const row of parseRows(response)) {
        const count = Number(row.readings ?? 0);
        const value = Number(row.value);
        if (count === 0 || row.bucket === undefined) continue;
        // A bin cut by the range's start holds only readings from `from` on: that is where its summary starts.
        const start = Math.max(timestreamTime(row.bucket), fromMs);
        summaries.push(summaryOf(start, count, value, query.stat));
      }
      nextToken = response.NextToken;
    } while (nextToken);
    return summaries;
  }
}

/** Timestream's interval literals and aggregate functions for the API's intervals and stats. */
const TIMESTREAM_BINS: Record<AggregateInterval, string> = { '5m': '5m', '1h': '1h', '1d': '1d' };
const TIMESTREAM_STATS: Record<AggregateStat, string> = {
  avg: 'avg',
  min: 'min',
  max: 'max',
  count: 'count',
};

/** The aggregate query; everything interpolated has been validated (ids and names by pattern, times by Date). */
export function aggregateSql(
  databaseName: string,
  tableName: string,
  query: TelemetryAggregateQuery,
): string {
  const bin = TIMESTREAM_BINS[query.interval];
  const column = `"${query.measure}"`;
  const from = new Date(query.from).toISOString();
  const to = new Date(query.to).toISOString();
  return [
    `SELECT bin(time, ${bin}) AS bucket, count(${column}) AS readings, ${TIMESTREAM_STATS[query.stat]}(${column}) AS value`,
    `FROM "${databaseName}"."${tableName}"`,
    `WHERE "deviceId" = '${query.deviceId}'`,
    `AND time >= from_iso8601_timestamp('${from}') AND time < from_iso8601_timestamp('${to}')`,
    `AND ${column} IS NOT NULL`,
    `GROUP BY bin(time, ${bin})`,
    'ORDER BY bucket ASC',
  ].join(' ');
}

/** A bin's row as a summary: an average is handed on as its sum, so bins merge like the other stores' rollups. */
function summaryOf(start: number, count: number, value: number, stat: AggregateStat): ReadingSummary {
  if (stat === 'avg') return { start, count, sum: value * count };
  if (stat === 'min') return { start, count, min: value };
  if (stat === 'max') return { start, count, max: value };
  return { start, count };
}

/** Timestream's `2026-11-27 10:00:00.000000000` (UTC) in epoch milliseconds. */
function timestreamTime(text: string): number {
  return new Date(`${text.replace(' ', 'T').slice(0, 23)}Z`).getTime();
}

const RESERVED_COLUMNS = new Set([
  'deviceId',
  'deviceType',
  'ward',
  'site',
  'time',
  'measure_name',
  'messageId',
  'battery',
]);

function parseRows(response: QueryCommandOutput): Record<string, string | undefined>[] {
  const columns = (response.ColumnInfo ?? []).map((column) => column.Name ?? '');
  return (response.Rows ?? []).map((row) => {
    const record: Record<string, string | undefined> = {};
    (row.Data ?? []).forEach((datum, index) => {
      const name = columns[index];
      if (name && !datum.NullValue) record[name] = datum.ScalarValue;
    });
    return record;
  });
}

/**
 * A row as a telemetry point, or undefined when its device type is not one the platform knows (a row written by
 * something else, or a type since retired): guessing a type would give its readings a meaning they do not have.
 */
function toPoint(
  row: Record<string, string | undefined>,
  measure: string | undefined,
): TelemetryPoint | undefined {
  const deviceType = row.deviceType ?? '';
  if (!isDeviceType(deviceType)) return undefined;
  const readings: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(row)) {
    if (RESERVED_COLUMNS.has(name) || value === undefined) continue;
    if (measure && name !== measure) continue;
    const numeric = Number(value);
    readings[name] = value !== '' && Number.isFinite(numeric) ? numeric : value;
  }
  const observedAt = new Date(timestreamTime(row.time ?? '')).toISOString();
  return {
    deviceId: row.deviceId ?? '',
    deviceType,
    messageId: row.messageId ?? '',
    observedAt,
    receivedAt: observedAt,
    readings,
    ...(row.battery ? { battery: Number(row.battery) } : {}),
    ...(row.ward ? { ward: row.ward } : {}),
    ...(row.site ? { site: row.site } : {}),
  };
}
