import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { createDocumentClient } from '../../lambdas/adapters/dynamodb-client.js';
import { TABLES, type TableId, toCreateTableInput } from '../../lambdas/contracts/tables.js';

process.env.AWS_REGION ??= 'eu-west-2';
process.env.AWS_ACCESS_KEY_ID ??= 'local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local';

/** A real DynamoDB-compatible server (dynalite, in memory) on a free port, with the platform's tables. */
export async function startDynamo(prefix = `t${Date.now().toString(36)}`) {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({ endpoint, region: 'eu-west-2' });
  const names = {} as Record<TableId, string>;
  for (const definition of Object.values(TABLES)) {
    names[definition.id] = `${prefix}-${definition.id}`;
    await raw.send(new CreateTableCommand(toCreateTableInput(definition, names[definition.id])));
  }
  return {
    endpoint,
    names,
    client: createDocumentClient({ endpoint, region: 'eu-west-2' }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
