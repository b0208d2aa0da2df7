import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DeviceType, Readings } from '../contracts/device-types.js';
import { TTL_ATTRIBUTE } from '../contracts/tables.js';
import { forEachLimited } from '../domain/for-each-limited.js';
import { MAX_READINGS_PER_HOUR } from '../domain/rate-policy.js';
import type {
  Page,
  TelemetryAggregateQuery,
  TelemetryPoint,
  TelemetryQuery,
  TelemetryStore,
  WriteOutcome,
} from '../domain/telemetry.js';
import {
  isWholeHourInside,
  type ReadingSummary,
  readingSummary,
  summaryOfReadings,
} from '../domain/telemetry-aggregation.js';
import { InvalidCursorError, isConditionFailure } from './dynamodb-batches.js';

const HOUR_MS = 3_600_000;
/**
 * Aggregates over ranges spanning less than this read everything, cut hours' points included, in one Query; longer
 * ones read the cut hours apart (see `aggregate`).
 */
const ONE_QUERY_SPAN_MS = 48 * HOUR_MS;

/**
 * Appends in flight at once per batch. Enough to hide round trips, few enough that a backlog of full batches on
 * several consumers stays near the table's write cap instead of being throttled and handed back to the queue.
 */
export const WRITE_PARALLELISM = 16;

/**
 * Points per bucket item. A 5-minute device fills about one item an hour; the item stays near 1 KB, so an append
 * costs about one write unit (DynamoDB bills an update by the larger of the item's old and new size).
 */
export const POINTS_PER_ITEM = 10;

/**
 * One reading inside a bucket item, in short form: bucket items are what storage and writes are billed on.
 * Its message id sits at the same position in the item's `ids` list, which the append condition checks.
 */
interface StoredPoint {
  /** observedAt, epoch milliseconds */
  readonly t: number;
  readonly r: Readings;
  /** receivedAt minus observedAt, milliseconds; absent when zero */
  readonly d?: number;
  readonly b?: number;
}

/** A reading in its stored form. */
function storedPoint(point: TelemetryPoint): StoredPoint {
  const observed = new Date(point.observedAt).getTime();
  const delay = new Date(point.receivedAt).getTime() - observed;
  return {
    t: observed,
    r: point.readings,
    ...(delay === 0 ? {} : { d: delay }),
    ...(point.battery === undefined ? {} : { b: point.battery }),
  };
}

function hourStart(epochMs: number): number {
  return Math.floor(epochMs / HOUR_MS) * HOUR_MS;
}

/** Sort key: the bucket's hour, then its item number (`2026-11-27T11:00:00.000Z#01`). */
export function bucketKey(hourMs: number, item: number): string {
  return `${new Date(hourMs).toISOString()}#${String(item).padStart(2, '0')}`;
}

type PointOutcome = 'stored' | 'duplicate' | 'full';

/** The rollup attributes of one numeric reading on a bucket item: how many readings it holds, and their sum. */
export function rollupAttributes(measure: string): { readonly count: string; readonly sum: string } {
  // A colon cannot appear in a reading's name, so these never meet an item's other attributes.
  return { count: `n:${measure}`, sum: `s:${measure}` };
}

/**
 * Decimal places a value keeps on its way into a rollup sum. DynamoDB adds exactly, in decimal, but a number holds
 * at most 38 significant digits: without rounding, a reading of 1e-40 arriving at an item whose sum is 12.5 would
 * be refused (a 42-digit sum) and go round the queue to the dead-letter queue. Nine places is far finer than any
 * sensor, and with the readings' schema bounds (at most 100,000) a sum of ten values stays within 16 digits.
 */
export const ROLLUP_SUM_DECIMALS = 9;

function rollupIncrement(value: number): number {
  return Number(value.toFixed(ROLLUP_SUM_DECIMALS));
}

/** A reading's numbers, which the rollups count and sum (statuses are not averaged). */
function numericReadings(readings: Readings): [string, number][] {
  return Object.entries(readings).filter((entry): entry is [string, number] => typeof entry[1] === 'number');
}

/**
 * The default telemetry store: DynamoDB, one partition per device, readings grouped into hourly bucket items.
 *
 * Grouping is what makes DynamoDB cheap for time series: a reading costs the same single write unit as an item
 * of its own, but is stored at a fraction of the bytes (one item overhead and one key per ten readings), and a
 * 24-hour chart reads about 24 small items in one request. Items expire through TTL at the end of retention.
 *
 * Each append is conditional on the message id not being in the item yet, so a redelivered message is recognised
 * as a duplicate without a separate idempotency record.
 *
 * **Rollups.** The same conditional UpdateItem that appends a reading ADDs 1 to the item's count and the value to
 * its sum for each numeric reading (`n:no2`, `s:no2`): the dedupe condition guards the rollup too, so a redelivered
 * or concurrently written reading is counted exactly once, and an hour's rollup is the merge of its few items'.
 * Averages and counts over whole hours are read from these alone. Minimum and maximum are not kept: an update
 * expression cannot take a minimum, and keeping one exactly would need a second conditional write whenever a
 * reading is a new extreme for its item (most readings of a filling bin), up to doubling the store's largest bill.
 * A Query is billed on whole items whatever it projects, so min and max are taken from the same items' points
 * (at most 10 each) for the same read units, in the same request.
 */
export class DynamoDbTelemetryStore implements TelemetryStore {
  readonly detectsDuplicates = true;
  /** Capacity units DynamoDB reports for this store's calls: what the benchmark reads. */
  readonly consumed = { writeUnits: 0, readUnits: 0 };
  /** Message ids of bucket items known to be full, per `deviceId|bucketKey`: full items never change again. */
  private readonly fullItems = new Map<string, ReadonlySet<string>>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  async write(
    points: readonly TelemetryPoint[],
    hourlyAllowance: (point: TelemetryPoint) => number = () => MAX_READINGS_PER_HOUR,
  ): Promise<WriteOutcome> {
    const retry: number[] = [];
    const duplicates: number[] = [];
    const rejected: { index: number; reason: 'RATE_LIMITED'; detail: string }[] = [];
    // Points of one device-hour go one after another (they share items); different device-hours in parallel.
    const groups = new Map<string, number[]>();
    points.forEach((point, index) => {
      const key = `${point.deviceId}|${hourStart(new Date(point.observedAt).getTime())}`;
      groups.set(key, [...(groups.get(key) ?? []), index]);
    });
    this.forgetOldFullItems();
    await forEachLimited([...groups.values()], WRITE_PARALLELISM, async (indexes) => {
      for (const index of indexes) {
        const point = points[index] as TelemetryPoint;
        const allowance = Math.min(MAX_READINGS_PER_HOUR, Math.max(1, hourlyAllowance(point)));
        try {
          const outcome = await this.append(point, allowance);
          if (outcome === 'duplicate') duplicates.push(index);
          if (outcome === 'full') {
            rejected.push({
              index,
              reason: 'RATE_LIMITED',
              detail: `device '${point.deviceId}' sent more than its allowance of ${allowance} readings in the hour of ${new Date(hourStart(new Date(point.observedAt).getTime())).toISOString()}`,
            });
          }
        } catch {
          retry.push(index);
        }
      }
    });
    return { retry, rejected, duplicates };
  }

  /**
   * Appends to the first bucket item of the hour with room, unless an item of that hour already holds it. The
   * items of an hour together take at most `allowance` points: the last item's size limit is what is left.
   */
  private async append(point: TelemetryPoint, allowance: number): Promise<PointOutcome> {
    const observed = new Date(point.observedAt).getTime();
    const hour = hourStart(observed);
    const stored = storedPoint(point);
    const items = Math.ceil(allowance / POINTS_PER_ITEM);
    const numeric = numericReadings(point.readings);
    const rollupNames: Record<string, string> = {};
    const rollupValues: Record<string, number> = numeric.length > 0 ? { ':one': 1 } : {};
    numeric.forEach(([name, value], index) => {
      const attributes = rollupAttributes(name);
      rollupNames[`#n${index}`] = attributes.count;
      rollupNames[`#s${index}`] = attributes.sum;
      rollupValues[`:v${index}`] = rollupIncrement(value);
    });
    const rollupClause =
      numeric.length > 0 ? ` ADD ${numeric.map((_, i) => `#n${i} :one, #s${i} :v${i}`).join(', ')}` : '';
    for (let item = 1; item <= items; item++) {
      const key = bucketKey(hour, item);
      const room = Math.min(POINTS_PER_ITEM, allowance - (item - 1) * POINTS_PER_ITEM);
      const known = this.fullItems.get(`${point.deviceId}|${key}`);
      if (known) {
        if (known.has(point.messageId)) return 'duplicate';
        continue;
      }
      try {
        const response = await this.client.send(
          new UpdateCommand({
            ReturnConsumedCapacity: 'TOTAL',
            TableName: this.tableName,
            Key: { deviceId: point.deviceId, bucketKey: key },
            UpdateExpression:
              'SET #points = list_append(if_not_exists(#points, :empty), :point), ' +
              '#ids = list_append(if_not_exists(#ids, :empty), :idList), #type = :type, #expires = :expires' +
              (point.ward ? ', #ward = :ward' : '') +
              (point.site ? ', #site = :site' : '') +
              rollupClause,
            ConditionExpression:
              '(attribute_not_exists(#ids) OR NOT contains(#ids, :id)) AND (attribute_not_exists(#points) OR size(#points) < :max)',
            ExpressionAttributeNames: {
              '#points': 'points',
              '#ids': 'ids',
              '#type': 'deviceType',
              '#expires': TTL_ATTRIBUTE,
              ...(point.ward ? { '#ward': 'ward' } : {}),
              ...(point.site ? { '#site': 'site' } : {}),
              ...rollupNames,
            },
            ExpressionAttributeValues: {
              ':empty': [],
              ':point': [stored],
              ':type': point.deviceType,
              ':expires': Math.floor((hour + HOUR_MS) / 1000) + this.retentionDays * 86_400,
              ':idList': [point.messageId],
              ':id': point.messageId,
              ':max': room,
              ...(point.ward ? { ':ward': point.ward } : {}),
              ...(point.site ? { ':site': point.site } : {}),
              ...rollupValues,
            },
          }),
        );
        this.consumed.writeUnits += response.ConsumedCapacity?.CapacityUnits ?? 0;
        return 'stored';
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // A refused condition still consumes a write unit.
        this.consumed.writeUnits += 1;
      }
      // Either this item already holds the message, or it is full: read its ids to tell which.
      const current = await this.client.send(
        new GetCommand({
          TableName: this.tableName,
          Key: { deviceId: point.deviceId, bucketKey: key },
          ProjectionExpression: 'ids',
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.consumed.readUnits += current.ConsumedCapacity?.CapacityUnits ?? 0;
      const ids = new Set((current.Item?.ids as string[] | undefined) ?? []);
      if (ids.has(point.messageId)) return 'duplicate';
      // Only an item at the store-wide size is full for every device; one cut short by an allowance is not cached.
      if (ids.size >= POINTS_PER_ITEM) this.fullItems.set(`${point.deviceId}|${key}`, ids);
    }
    // Past the allowance: the message may still sit in an item beyond it (written while the allowance was larger).
    return (await this.hourHolds(point.deviceId, hour, point.messageId)) ? 'duplicate' : 'full';
  }

  /** Whether any bucket item of a device-hour holds this message id (one Query, ids only). */
  private async hourHolds(deviceId: string, hour: number, messageId: string): Promise<boolean> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const response = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#device = :device AND begins_with(#key, :hour)',
          ExpressionAttributeNames: { '#device': 'deviceId', '#key': 'bucketKey' },
          ExpressionAttributeValues: { ':device': deviceId, ':hour': `${new Date(hour).toISOString()}#` },
          ProjectionExpression: 'ids',
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
          ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
        }),
      );
      this.consumed.readUnits += response.ConsumedCapacity?.CapacityUnits ?? 0;
      if ((response.Items ?? []).some((item) => ((item.ids ?? []) as string[]).includes(messageId)))
        return true;
      exclusiveStartKey = response.LastEvaluatedKey;
    } while (exclusiveStartKey);
    return false;
  }

  /** Full items of hours long past cannot receive new readings often; keep the memory small. */
  private forgetOldFullItems(): void {
    if (this.fullItems.size < 10_000) return;
    this.fullItems.clear();
  }

  /**
   * Raw points in time order. Inside one hour, points are spread over bucket items in arrival order, so a page only
   * takes points from hours it has read completely (an hour is complete once an item of a later hour, or the end
   * of the range, has been read); the cursor is the last point returned.
   */
  async query(query: TelemetryQuery): Promise<Page<TelemetryPoint>> {
    const after = decodePointCursor(query.cursor);
    const fromMs = new Date(query.from).getTime();
    const toMs = new Date(query.to).getTime();
    const startMs = after ? Math.max(fromMs, after.t) : fromMs;
    const collected: { point: TelemetryPoint; hour: number }[] = [];
    let exclusiveStartKey: Record<string, unknown> | undefined;
    let lastHourRead = Number.NEGATIVE_INFINITY;
    let exhausted = false;
    for (;;) {
      const response = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#device = :device AND #key BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#device': 'deviceId', '#key': 'bucketKey' },
          ExpressionAttributeValues: {
            ':device': query.deviceId,
            ':from': bucketKey(hourStart(startMs), 0),
            ':to': bucketKey(hourStart(toMs), 99),
          },
          ProjectionExpression: 'deviceId, bucketKey, deviceType, ward, site, points, ids',
          // Read in steps near the page size instead of up to 1 MB: a small page costs a few read units.
          Limit: Math.ceil(query.limit / POINTS_PER_ITEM) + 2,
          ReturnConsumedCapacity: 'TOTAL',
          ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
        }),
      );
      this.consumed.readUnits += response.ConsumedCapacity?.CapacityUnits ?? 0;
      for (const item of response.Items ?? []) {
        const hour = Date.parse(String(item.bucketKey).slice(0, 24));
        lastHourRead = hour;
        for (const point of pointsOf(item, query, after, fromMs, toMs)) collected.push({ point, hour });
      }
      exclusiveStartKey = response.LastEvaluatedKey;
      if (!exclusiveStartKey) {
        exhausted = true;
        break;
      }
      if (collected.filter((c) => c.hour < lastHourRead).length > query.limit) break;
    }
    const pool = (exhausted ? collected : collected.filter((c) => c.hour < lastHourRead)).map((c) => c.point);
    pool.sort(comparePoints);
    const items = pool.slice(0, query.limit);
    const last = items.at(-1);
    const more = pool.length > query.limit || !exhausted;
    return more && last ? { items, nextCursor: encodePointCursor(last) } : { items };
  }

  /**
   * One measure's readings in `[from, to)`. Where a whole hour is inside the range and the stat is an average or a
   * count, each bucket item gives its rollup and its points are not fetched. 5-minute buckets, min and max, and
   * the hours cut by the range's edges take the readings themselves from the same items, filtered to the range
   * (for hourly and daily buckets, summarised per item as they are read, so memory stays small).
   *
   * Requests: a range of up to two days is one Query (more only past 1 MB, which the interval's range limit
   * bounds), the cut hours' points included: at the store's cap that is about 2 MB of points, cheaper than another
   * round trip, and it keeps a 24-hour chart to one request. A longer range reads its whole hours' rollups in one
   * Query and each cut hour in one of its own, so an unaligned month does not fetch a month of points.
   */
  async aggregate(query: TelemetryAggregateQuery): Promise<ReadingSummary[]> {
    const fromMs = new Date(query.from).getTime();
    const toMs = new Date(query.to).getTime();
    if (toMs <= fromMs) return [];
    const firstHour = hourStart(fromMs);
    const lastHour = hourStart(toMs - 1);
    const rollups = query.interval !== '5m' && (query.stat === 'avg' || query.stat === 'count');
    const attributes = rollupAttributes(query.measure);
    const summaries: ReadingSummary[] = [];
    const take = (item: Record<string, unknown>) => {
      const hour = Date.parse(String(item.bucketKey).slice(0, 24));
      if (rollups && isWholeHourInside(hour, fromMs, toMs)) {
        const count = Number(item[attributes.count] ?? 0);
        if (count > 0) summaries.push({ start: hour, count, sum: Number(item[attributes.sum] ?? 0) });
        return;
      }
      const readings: [number, number][] = [];
      for (const point of (item.points ?? []) as StoredPoint[]) {
        const value = point.r[query.measure];
        if (typeof value === 'number' && point.t >= fromMs && point.t < toMs) readings.push([point.t, value]);
      }
      // An item's points share its hour, and so an hourly or daily bucket: one summary for them all will do.
      if (query.interval === '5m')
        for (const [t, value] of readings) summaries.push(readingSummary(t, value));
      else if (readings.length > 0) summaries.push(summaryOfReadings(readings));
    };
    const cut = [firstHour, lastHour].filter((hour) => !isWholeHourInside(hour, fromMs, toMs));
    if (!rollups || lastHour - firstHour < ONE_QUERY_SPAN_MS) {
      const points = !rollups || cut.length > 0;
      for await (const item of this.bucketItems(query.deviceId, firstHour, lastHour, {
        rollups,
        points,
        attributes,
      })) {
        take(item);
      }
      return summaries;
    }
    const firstWhole = cut.includes(firstHour) ? firstHour + HOUR_MS : firstHour;
    const lastWhole = cut.includes(lastHour) ? lastHour - HOUR_MS : lastHour;
    for (const hour of new Set(cut)) {
      for await (const item of this.bucketItems(query.deviceId, hour, hour, {
        rollups: false,
        points: true,
        attributes,
      })) {
        take(item);
      }
    }
    if (firstWhole <= lastWhole) {
      for await (const item of this.bucketItems(query.deviceId, firstWhole, lastWhole, {
        rollups: true,
        points: false,
        attributes,
      })) {
        take(item);
      }
    }
    return summaries;
  }

  /** A device's bucket items from `firstHour` to `lastHour`, page by page, with only the attributes asked for. */
  private async *bucketItems(
    deviceId: string,
    firstHour: number,
    lastHour: number,
    want: { rollups: boolean; points: boolean; attributes: { count: string; sum: string } },
  ): AsyncGenerator<Record<string, unknown>> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const response = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#device = :device AND #key BETWEEN :from AND :to',
          ExpressionAttributeNames: {
            '#device': 'deviceId',
            '#key': 'bucketKey',
            ...(want.rollups ? { '#n': want.attributes.count, '#s': want.attributes.sum } : {}),
            ...(want.points ? { '#points': 'points' } : {}),
          },
          ExpressionAttributeValues: {
            ':device': deviceId,
            ':from': bucketKey(firstHour, 0),
            ':to': bucketKey(lastHour, 99),
          },
          ProjectionExpression: [
            '#key',
            ...(want.rollups ? ['#n', '#s'] : []),
            ...(want.points ? ['#points'] : []),
          ].join(', '),
          ReturnConsumedCapacity: 'TOTAL',
          ...(exclusiveStartKey ? { ExclusiveStartKey: exclusiveStartKey } : {}),
        }),
      );
      this.consumed.readUnits += response.ConsumedCapacity?.CapacityUnits ?? 0;
      yield* response.Items ?? [];
      exclusiveStartKey = response.LastEvaluatedKey;
    } while (exclusiveStartKey);
  }
}

/**
 * The bucket items `write` leaves for `points` when handed them in this order into device-hours that held nothing,
 * at the store's full allowance: the same keys, points, ids, expiry and rollups. For loading history in bulk with
 * BatchWriteItem (the benchmark's month: `write` costs a request a reading); a test holds the two to each other.
 * It checks nothing against the table, so it is only for hours known to be empty.
 */
export function bucketItemsFor(
  points: readonly TelemetryPoint[],
  retentionDays: number,
): Record<string, unknown>[] {
  const hours = new Map<string, TelemetryPoint[]>();
  for (const point of points) {
    const key = `${point.deviceId}|${hourStart(new Date(point.observedAt).getTime())}`;
    hours.set(key, [...(hours.get(key) ?? []), point]);
  }
  const items: Record<string, unknown>[] = [];
  for (const hourPoints of hours.values()) {
    const first = hourPoints[0] as TelemetryPoint;
    const hour = hourStart(new Date(first.observedAt).getTime());
    if (
      hourPoints.length > MAX_READINGS_PER_HOUR ||
      new Set(hourPoints.map((p) => p.messageId)).size < hourPoints.length
    ) {
      throw new RangeError(
        `${first.deviceId} has repeated or more than ${MAX_READINGS_PER_HOUR} readings in an hour`,
      );
    }
    for (let start = 0; start < hourPoints.length; start += POINTS_PER_ITEM) {
      const part = hourPoints.slice(start, start + POINTS_PER_ITEM);
      // Sums in units of the rollup's last decimal place, so they come out as DynamoDB's exact decimal addition.
      const scaled = new Map<string, { count: number; units: number }>();
      for (const point of part) {
        for (const [name, value] of numericReadings(point.readings)) {
          const total = scaled.get(name) ?? { count: 0, units: 0 };
          total.count += 1;
          total.units += Math.round(rollupIncrement(value) * 10 ** ROLLUP_SUM_DECIMALS);
          scaled.set(name, total);
        }
      }
      const ward = part.findLast((p) => p.ward)?.ward;
      const site = part.findLast((p) => p.site)?.site;
      const item: Record<string, unknown> = {
        deviceId: first.deviceId,
        bucketKey: bucketKey(hour, start / POINTS_PER_ITEM + 1),
        deviceType: (part.at(-1) as TelemetryPoint).deviceType,
        [TTL_ATTRIBUTE]: Math.floor((hour + HOUR_MS) / 1000) + retentionDays * 86_400,
        points: part.map((point) => storedPoint(point)),
        ids: part.map((point) => point.messageId),
        ...(ward ? { ward } : {}),
        ...(site ? { site } : {}),
      };
      for (const [name, total] of scaled) {
        const attributes = rollupAttributes(name);
        item[attributes.count] = total.count;
        item[attributes.sum] = total.units / 10 ** ROLLUP_SUM_DECIMALS;
      }
      items.push(item);
    }
  }
  return items;
}

/** Byte order of ids, the same order the cursor compares with (not locale order). */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePoints(a: TelemetryPoint, b: TelemetryPoint): number {
  return a.observedAt === b.observedAt
    ? compareIds(a.messageId, b.messageId)
    : compareIds(a.observedAt, b.observedAt);
}

function pointsOf(
  item: Record<string, unknown>,
  query: TelemetryQuery,
  after: { t: number; id: string } | undefined,
  fromMs: number,
  toMs: number,
): TelemetryPoint[] {
  const ids = (item.ids ?? []) as string[];
  return ((item.points ?? []) as StoredPoint[])
    .map((p, index) => ({ ...p, id: ids[index] ?? '' }))
    .filter((p) => p.t >= fromMs && p.t <= toMs)
    .filter((p) => !after || p.t > after.t || (p.t === after.t && p.id > after.id))
    .filter((p) => !query.measure || p.r[query.measure] !== undefined)
    .map((p) => ({
      deviceId: item.deviceId as string,
      deviceType: item.deviceType as DeviceType,
      messageId: p.id,
      observedAt: new Date(p.t).toISOString(),
      receivedAt: new Date(p.t + (p.d ?? 0)).toISOString(),
      readings: query.measure ? { [query.measure]: p.r[query.measure] as number | string } : p.r,
      ...(p.b === undefined ? {} : { battery: p.b }),
      ...(item.ward ? { ward: item.ward as string } : {}),
      ...(item.site ? { site: item.site as string } : {}),
    }));
}

/** Opaque cursor: the last point returned (time and message id); the next page starts after it. */
function encodePointCursor(point: TelemetryPoint): string {
  return Buffer.from(
    JSON.stringify({ t: new Date(point.observedAt).getTime(), id: point.messageId }),
  ).toString('base64url');
}

function decodePointCursor(cursor: string | undefined): { t: number; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value?.t === 'number' && typeof value?.id === 'string') return value;
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}
