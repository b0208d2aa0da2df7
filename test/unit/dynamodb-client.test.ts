import { describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../lambdas/adapters/dynamodb-client.js';

/** What the SDK resolved for a client: its retry mode, attempts and the strategy it will actually use. */
async function retrySettings(client: ReturnType<typeof createDocumentClient>) {
  const strategy = (await client.config.retryStrategy()) as { mode?: string };
  return {
    retryMode: client.config.retryMode,
    maxAttempts: await client.config.maxAttempts(),
    strategyMode: strategy.mode,
  };
}

describe('createDocumentClient', () => {
  it('on AWS (no endpoint) retries throttling adaptively, 8 attempts, so a backlog drains at the caps', async () => {
    expect(await retrySettings(createDocumentClient({ region: 'eu-west-2' }))).toEqual({
      retryMode: 'adaptive',
      maxAttempts: 8,
      strategyMode: 'adaptive',
    });
  });

  it('with a loopback endpoint (local runtime, tests) keeps 3 standard attempts and unsigned requests', async () => {
    const client = createDocumentClient({ endpoint: 'http://127.0.0.1:8000', region: 'eu-west-2' });
    expect(await retrySettings(client)).toEqual({
      retryMode: 'standard',
      maxAttempts: 3,
      strategyMode: 'standard',
    });
    const [scheme, ...others] = client.config.httpAuthSchemes ?? [];
    expect(others).toEqual([]);
    const signed = (await scheme?.signer.sign({ headers: {} } as never, {} as never, {} as never)) as {
      headers: Record<string, string>;
    };
    expect(signed.headers.authorization).toContain('Signature=unsigned');
  });
});
