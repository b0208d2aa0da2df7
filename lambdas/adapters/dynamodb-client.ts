import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DocumentClientOptions {
  /** A DynamoDB-compatible endpoint (the local runtime's server); unset on AWS. */
  readonly endpoint?: string;
  readonly region?: string;
}

type HttpAuthScheme = NonNullable<DynamoDBClientConfig['httpAuthSchemes']>[number];
type SignableRequest = Parameters<HttpAuthScheme['signer']['sign']>[0];

/** `20261127T101500Z`: the basic ISO 8601 form of an `X-Amz-Date` header. */
function amzDate(now: Date): string {
  return now.toISOString().replace(/[-:]|\.\d{3}/g, '');
}

/**
 * SigV4 for a server on this machine that does not check signatures: dynalite wants an AWS4 `Authorization` header
 * with a credential, the signed headers and a signature, and a date, but never recomputes the signature. Signing
 * every request (canonical request, hashes, HMACs) was about 6% of the local runtime's busiest thread under load.
 */
const UNSIGNED_LOOPBACK_SIGV4: HttpAuthScheme = {
  schemeId: 'aws.auth#sigv4',
  identityProvider: (config) => config.getIdentityProvider('aws.auth#sigv4'),
  signer: {
    sign: async (request: SignableRequest) => {
      const date = amzDate(new Date());
      request.headers['x-amz-date'] = date;
      request.headers.authorization = `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/local/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=unsigned`;
      return request;
    },
  },
};

function isLoopback(endpoint: string): boolean {
  const { hostname } = new URL(endpoint);
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

/**
 * How the client retries on AWS. A queue backlog after an outage sends every concurrent batch at the tables'
 * maximum on-demand throughput at once: DynamoDB answers with throttling, which is the cap doing its job, not a
 * failure. Adaptive mode adds a client-side rate limiter that slows this process down when it is throttled, and
 * eight attempts (exponential backoff with jitter, up to 20 s between attempts) ride out a throttled period that
 * three attempts would turn into failed records, queue retries and, after enough of those, the dead-letter queue.
 */
export const AWS_RETRY_SETTINGS = { retryMode: 'adaptive', maxAttempts: 8 } as const;

/**
 * On this machine (the local runtime's server, tests) nothing throttles: a failure is a bug or a stopped server,
 * and waiting for eight backed-off attempts would only slow down the error.
 */
export const LOOPBACK_RETRY_SETTINGS = { retryMode: 'standard', maxAttempts: 3 } as const;

/**
 * One document client per process: numbers stay numbers, undefined fields are dropped instead of failing. With a
 * loopback endpoint (the local runtime's DynamoDB-compatible server, tests) requests are not signed and failures
 * are retried briefly; otherwise (AWS) throttling is retried adaptively, see {@link AWS_RETRY_SETTINGS}.
 */
export function createDocumentClient(options: DocumentClientOptions = {}): DynamoDBDocumentClient {
  const loopback = options.endpoint !== undefined && isLoopback(options.endpoint);
  const client = new DynamoDBClient({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(loopback ? { httpAuthSchemes: [UNSIGNED_LOOPBACK_SIGV4] } : {}),
    ...(options.region ? { region: options.region } : {}),
    // Retries with backoff are the SDK's; the use case turns what still fails into queue retries.
    ...(loopback ? LOOPBACK_RETRY_SETTINGS : AWS_RETRY_SETTINGS),
  });
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}
