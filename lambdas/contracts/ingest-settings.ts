/**
 * How the ingest path batches and retries. The CDK constructs, the local runtime's rule step and the cost model
 * read these same numbers, so the cost statement describes the pipeline that is actually deployed.
 */
export const INGEST_SETTINGS = {
  /** Messages handed to one enrichment invocation. */
  batchSize: 100,
  /** How long the event source mapping waits to fill a batch. */
  maxBatchingWindowSeconds: 5,
  /**
   * Receives before a message moves to the lane's dead-letter queue. A message that failed because DynamoDB
   * throttled it at the table's maximum throughput is not a poison message: it will succeed once a backlog has
   * drained. Ten receives, one visibility timeout apart (30 minutes in all), let a backlog drain at the cap
   * instead of dead-lettering it; a message that really cannot be processed still reaches the DLQ well within
   * the queue's retention.
   */
  maxReceiveCount: 10,
  enrichmentTimeoutSeconds: 30,
  enrichmentMemoryMb: 512,
  /** SQS hands a Lambda poller at most 10 messages per ReceiveMessage and deletes 10 per DeleteMessageBatch. */
  sqsMessagesPerBatchRequest: 10,
  /** Lambda requires the queue's visibility timeout to be at least the function timeout; AWS advises 6x. */
  visibilityTimeoutSeconds: 180,
  /** Queue retention: 14 days, the SQS maximum, so a paused lane loses nothing for two weeks. */
  queueRetentionDays: 14,
  /**
   * Registry entries are cached in the function's memory this long instead of being read per message. A device
   * reporting every 5 minutes is then read about once every 3 readings; a registry change (decommissioning, a new
   * site) reaches ingestion within this time. Disconnecting a device at once is its certificate's job, not this.
   */
  registryCacheSeconds: 900,
  /** Idempotency records outlive the longest redelivery: queue retention plus a day. */
  dedupeWindowSeconds: 15 * 24 * 3600,
  quarantineRetentionDays: 90,
  /**
   * Latest state is rewritten when readings change, or at least this often while they do not (write-on-change).
   * Offline detection must allow this much lag in "last heard": a device is offline only when its latest state is
   * older than max(3 x its interval, this refresh + its interval) (`offlineAfterSeconds`), 20 minutes for a
   * 5-minute device (15 minutes at the former 600-second refresh). 900 s keeps the platform's estimate, the cost
   * guard's own meter included, near 60% of the naive design's.
   */
  latestStateRefreshSeconds: 900,
  /**
   * Enrichment functions keep the cost guard's degrade settings (sampling) this long. Short, because the guard
   * waits this long after restoring full sampling before it lets a paused backlog drain (and a restore through
   * the API must finish within the API function's timeout). Reading the settings costs half a read unit per
   * function instance every few seconds at most.
   */
  degradeSettingsCacheSeconds: 3,
} as const;
