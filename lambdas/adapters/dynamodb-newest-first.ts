import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { decodeCursor, encodeCursor, InvalidCursorError } from './dynamodb-batches.js';

/**
 * Rounds of Query requests one page may spend (each round asks every partition that still needs items once, in
 * parallel): a bound on what a sparse filter can cost per page. A page that hits it returns what it found with a
 * cursor, so the caller reads on instead of waiting.
 */
export const MAX_QUERY_ROUNDS = 5;

/** Items read per request while a filter is on, so a sparse filter does not cost one request per match. */
const FILTERED_PAGE_SIZE = 100;

export interface ItemFilter {
  readonly expression: string;
  readonly names: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, unknown>>;
}

/** One newest-first listing over a set of index partitions (e.g. every `<service>#<status>` asked for). */
export interface NewestFirstQuery {
  readonly tableName: string;
  readonly indexName: string;
  /** The index's partition key attribute; one Query per value in `partitions`. */
  readonly partitionAttribute: string;
  /** The index's sort key attribute (an ISO time): the order of the merged page. */
  readonly sortAttribute: string;
  /** The table's key attributes, which with the index's keys make a Query's `ExclusiveStartKey`. */
  readonly tableKeyAttributes: readonly string[];
  readonly partitions: readonly string[];
  /** Applied by DynamoDB after `Limit`: reading goes on until `limit` items match or a partition ends. */
  readonly filter?: ItemFilter;
  readonly limit: number;
  readonly cursor?: string;
}

type Item = Record<string, unknown>;
/** Where a partition continues: after a key, `null` when it has been read to the end, absent to start over. */
type Positions = Record<string, Item | null>;

interface PartitionRead {
  readonly partition: string;
  readonly start: Item | undefined;
  readonly matched: Item[];
  /** The last key DynamoDB evaluated (matching or not); undefined once the partition is read to the end. */
  frontier: Item | undefined;
  exhausted: boolean;
}

/**
 * Reads several index partitions newest first and merges them into one page, with a cursor that resumes each
 * partition where this page left it. The cursor is the platform's one scheme (`encodeCursor`: the quarantine's
 * per-partition positions, base64url JSON), so the API treats it as the same opaque string.
 *
 * Why the merge is exact: a partition that returned `limit` matches (or ended) cannot hold an unread item newer
 * than the page's last one. A partition cut short by {@link MAX_QUERY_ROUNDS} can, so the page stops at that
 * partition's frontier and the rest waits for the next page.
 */
export async function listNewestFirst(
  client: DynamoDBDocumentClient,
  query: NewestFirstQuery,
): Promise<{ readonly items: Item[]; readonly nextCursor?: string }> {
  const limit = Math.max(1, Math.floor(query.limit));
  const positions = checkPositions(decodeCursor(query.cursor), query);
  const reads: PartitionRead[] = query.partitions
    .filter((partition) => positions[partition] !== null)
    .map((partition) => {
      const start = positions[partition] ?? undefined;
      return { partition, start, matched: [], frontier: start, exhausted: false };
    });

  for (let round = 0; round < MAX_QUERY_ROUNDS; round += 1) {
    const wanting = reads.filter((read) => !read.exhausted && read.matched.length < limit);
    if (wanting.length === 0) break;
    await Promise.all(wanting.map((read) => readPage(client, query, read, limit)));
  }

  const cutShort = reads.filter((read) => !read.exhausted && read.matched.length < limit);
  const cutoff = cutShort
    .map((read) => String(read.frontier?.[query.sortAttribute] ?? ''))
    .reduce<string | undefined>(
      (newest, at) => (newest === undefined || at > newest ? at : newest),
      undefined,
    );
  // Stable sort: equal times keep each partition's own order, so a resumed partition never skips an item.
  const merged = reads
    .flatMap((read) => read.matched.map((item) => ({ read, item })))
    .sort((a, b) => compareDescending(a.item[query.sortAttribute], b.item[query.sortAttribute]))
    .filter(({ item }) => cutoff === undefined || String(item[query.sortAttribute]) >= cutoff)
    .slice(0, limit);

  const next: Positions = {};
  let more = false;
  for (const read of reads) {
    const taken = merged.filter((m) => m.read === read);
    if (taken.length < read.matched.length) {
      const lastTaken = taken.at(-1)?.item;
      const position = lastTaken ? keyOf(lastTaken, query) : read.start;
      if (position) next[read.partition] = position;
      more = true;
    } else if (!read.exhausted) {
      if (read.frontier) next[read.partition] = read.frontier;
      more = true;
    } else next[read.partition] = null;
  }
  for (const partition of query.partitions) if (positions[partition] === null) next[partition] = null;
  const items = merged.map(({ item }) => item);
  return more ? { items, nextCursor: encodeCursor(next) as string } : { items };
}

async function readPage(
  client: DynamoDBDocumentClient,
  query: NewestFirstQuery,
  read: PartitionRead,
  limit: number,
): Promise<void> {
  const wanted = limit - read.matched.length;
  const response = await client.send(
    new QueryCommand({
      TableName: query.tableName,
      IndexName: query.indexName,
      KeyConditionExpression: '#partition = :partition',
      ExpressionAttributeNames: { '#partition': query.partitionAttribute, ...query.filter?.names },
      ExpressionAttributeValues: { ':partition': read.partition, ...query.filter?.values },
      ...(query.filter ? { FilterExpression: query.filter.expression } : {}),
      ScanIndexForward: false,
      Limit: query.filter ? Math.max(wanted, FILTERED_PAGE_SIZE) : wanted,
      ...(read.frontier ? { ExclusiveStartKey: read.frontier } : {}),
    }),
  );
  read.matched.push(...((response.Items ?? []) as Item[]));
  read.frontier = response.LastEvaluatedKey as Item | undefined;
  read.exhausted = read.frontier === undefined;
}

function compareDescending(a: unknown, b: unknown): number {
  // Byte order, as DynamoDB sorts string keys (not locale order).
  const [x, y] = [String(a), String(b)];
  return x < y ? 1 : x > y ? -1 : 0;
}

function positionAttributes(query: NewestFirstQuery): string[] {
  return [...new Set([query.partitionAttribute, query.sortAttribute, ...query.tableKeyAttributes])];
}

function keyOf(item: Item, query: NewestFirstQuery): Item {
  return Object.fromEntries(positionAttributes(query).map((name) => [name, item[name]]));
}

/**
 * Checks a cursor before it reaches DynamoDB: one entry per partition of this query, each null (read to the end)
 * or a key in that partition made of string attributes only. Anything else is a cursor this API did not issue
 * for this query.
 */
function checkPositions(cursor: Item | undefined, query: NewestFirstQuery): Positions {
  const positions: Positions = {};
  const attributes = positionAttributes(query);
  for (const [partition, position] of Object.entries(cursor ?? {})) {
    if (!query.partitions.includes(partition)) throw new InvalidCursorError();
    if (position === null) {
      positions[partition] = null;
      continue;
    }
    const key = position as Item;
    if (
      typeof key !== 'object' ||
      Object.keys(key).length !== attributes.length ||
      key[query.partitionAttribute] !== partition ||
      attributes.some((name) => typeof key[name] !== 'string')
    ) {
      throw new InvalidCursorError();
    }
    positions[partition] = keyOf(key, query);
  }
  return positions;
}
