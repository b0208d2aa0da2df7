import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
} from '@aws-sdk/client-dynamodb';
import { localTableName, TABLES, toCreateTableInput } from '../lambdas/contracts/tables.js';

/** A running DynamoDB-compatible server. */
export interface DynamoDbServer {
  /** `http://127.0.0.1:<port>`: what `DYNAMODB_ENDPOINT` is set to. */
  readonly endpoint: string;
  /**
   * Capacity units every request to this server has consumed so far, by DynamoDB's size rules as dynalite computes
   * them (the thread meters them whether or not the caller asked for ConsumedCapacity): what the local usage meter
   * prices as on-demand read and write request units.
   */
  consumed(): { readonly readUnits: number; readonly writeUnits: number };
  close(): Promise<void>;
}

/** dynalite's own thread (the file says why it is a thread, and what it adds to dynalite). */
const SERVER_THREAD = new URL('./dynalite-thread.cjs', import.meta.url);

/**
 * Starts dynalite (a DynamoDB-compatible server on LevelDB) persisted under `directory`, on a free loopback port,
 * in a worker thread. LevelDB writes reach the OS before dynalite answers, so they survive a process kill; only a
 * machine crash can lose the last writes, which is acceptable for a development runtime.
 */
export async function startDynamoDbServer(directory: string, port = 0): Promise<DynamoDbServer> {
  await mkdir(directory, { recursive: true });
  // Read and write half units (reads can cost half a unit), added to by the thread, read here without a message.
  const consumedCapacity = new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT);
  const halfUnits = new BigInt64Array(consumedCapacity);
  const worker = new Worker(SERVER_THREAD, {
    workerData: {
      directory,
      port,
      dynalitePath: createRequire(import.meta.url).resolve('dynalite'),
      consumedCapacity,
    },
  });
  const listening = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (message: { port?: number; error?: string }) =>
      message.port ? resolve(message.port) : reject(new Error(`dynalite did not start: ${message.error}`)),
    );
  });
  return {
    endpoint: `http://127.0.0.1:${listening}`,
    consumed: () => ({
      readUnits: Number(Atomics.load(halfUnits, 0)) / 2,
      writeUnits: Number(Atomics.load(halfUnits, 1)) / 2,
    }),
    close: async () => {
      const closed = new Promise<void>((resolve) => {
        worker.once('message', () => resolve());
        worker.once('exit', () => resolve());
      });
      worker.postMessage('close');
      await closed;
      // LevelDB is closed with the server; the thread has nothing left to do.
      await worker.terminate();
    },
  };
}

/**
 * Creates every table in {@link TABLES} under its local name, skipping tables that already exist (a restart).
 * TTL is not configured: dynalite does not expire items, and local data is meant to be kept.
 */
export async function createLocalTables(client: DynamoDBClient): Promise<string[]> {
  const existing = new Set<string>();
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    for (const name of page.TableNames ?? []) existing.add(name);
    start = page.LastEvaluatedTableName;
  } while (start);
  const created: string[] = [];
  for (const definition of Object.values(TABLES)) {
    const name = localTableName(definition.id);
    if (existing.has(name)) continue;
    await client.send(new CreateTableCommand(toCreateTableInput(definition, name)));
    created.push(name);
  }
  for (const name of created) {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
      if (Table?.TableStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return created;
}

/** A DynamoDB client for the local server; the credentials are placeholders dynalite ignores. */
export function localDynamoDbClient(endpoint: string, region: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
}
