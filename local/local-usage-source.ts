import { INGEST_SETTINGS } from '../lambdas/contracts/ingest-settings.js';
import type { UsageSource } from '../lambdas/domain/cost-control.js';
import { COST_ASSUMPTIONS } from '../lambdas/domain/cost-model.js';
import type { UsageSample } from '../lambdas/domain/usage-meter.js';
import type { LocalQueueMessages } from './local-event-bus.js';

/** SQS bills requests; the Lambda poller receives and deletes in batches of up to 10 (as the AWS meter assumes). */
const SQS_MESSAGES_PER_BATCH_REQUEST = INGEST_SETTINGS.sqsMessagesPerBatchRequest;

/** Empty long polls per second of one lane's idle pollers, as the cost model assumes (5 pollers, 3 a minute). */
export const IDLE_POLLS_PER_LANE_SECOND =
  COST_ASSUMPTIONS.idleSqsPollsPerLanePerMonth / COST_ASSUMPTIONS.secondsPerMonth;

/** What the local runtime has used since it started: running totals, read by {@link LocalUsageSource}. */
export interface LocalUsageTotals {
  /** Publishes the rule step accepted (both lanes): each is one rule triggered and one SQS action. */
  readonly rulesTriggered: number;
  readonly sqsSent: number;
  readonly sqsReceived: number;
  readonly sqsDeleted: number;
  /** Estimated: the idle long polls Lambda's pollers would make while a lane's consumer runs. */
  readonly sqsEmptyReceives: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  readonly dynamoWriteUnits: number;
  readonly dynamoReadUnits: number;
  readonly apiRequests: number;
  readonly logBytes: number;
  /** Summed over every connected device. */
  readonly connectionSeconds: number;
  /** Requests to the workflow lanes' queues: sends, batch receives, batch deletes and estimated idle polls. */
  readonly workflowSqsRequests: number;
  readonly workflowInvocations: number;
  readonly workflowGbSeconds: number;
}

const NOTHING: LocalUsageTotals = {
  rulesTriggered: 0,
  sqsSent: 0,
  sqsReceived: 0,
  sqsDeleted: 0,
  sqsEmptyReceives: 0,
  lambdaInvocations: 0,
  lambdaGbSeconds: 0,
  dynamoWriteUnits: 0,
  dynamoReadUnits: 0,
  apiRequests: 0,
  logBytes: 0,
  connectionSeconds: 0,
  workflowSqsRequests: 0,
  workflowInvocations: 0,
  workflowGbSeconds: 0,
};

/**
 * The counters the local runtime adds to as it works (the rule step, the consumers, the API). What it cannot count
 * itself (DynamoDB capacity, device connection time) the usage source reads from the store and the broker.
 */
export class LocalUsageCounters {
  rulesTriggered = 0;
  sqsSent = 0;
  sqsReceived = 0;
  sqsDeleted = 0;
  lambdaInvocations = 0;
  lambdaGbSeconds = 0;
  apiRequests = 0;
  logBytes = 0;
  /**
   * Workflow lanes whose consumers poll their queues: every deployed one, always (the cost guard never pauses
   * them). Set once the lanes are open.
   */
  workflowLanes = 0;
  private emptyReceives = 0;
  private workflowSqsRequests = 0;
  private workflowInvocations = 0;
  private workflowGbSeconds = 0;
  private idleSince = Date.now();

  /** One Lambda invocation: billed duration is rounded up to the millisecond, times the function's memory. */
  invocation(durationMs: number, memoryMb: number): void {
    this.lambdaInvocations += 1;
    this.lambdaGbSeconds += billedGbSeconds(durationMs, memoryMb);
  }

  /** One invocation of a workflow lane's function: counted apart, as the deployed meter reads the lanes hourly. */
  workflowInvocation(durationMs: number, memoryMb: number): void {
    this.workflowInvocations += 1;
    this.workflowGbSeconds += billedGbSeconds(durationMs, memoryMb);
  }

  /**
   * What one publish sent to, or one batch received from and deleted in, a workflow lane's queue, as SQS bills it:
   * a request per message sent, one receive per batch and one batched delete.
   */
  workflowQueueMessages(messages: LocalQueueMessages): void {
    this.workflowSqsRequests +=
      messages.sent + (messages.received > 0 ? 1 : 0) + (messages.deleted > 0 ? 1 : 0);
  }

  /**
   * Brings the idle-poll estimate up to now, for `runningLanes` ingest consumers (and every workflow lane's)
   * polling since the last call. Call it before a lane is paused or resumed, and when reading the totals.
   */
  settleIdlePolls(runningLanes: number, now = Date.now()): void {
    const seconds = (now - this.idleSince) / 1000;
    this.emptyReceives += seconds * runningLanes * IDLE_POLLS_PER_LANE_SECOND;
    this.workflowSqsRequests += seconds * this.workflowLanes * IDLE_POLLS_PER_LANE_SECOND;
    this.idleSince = now;
  }

  totals(
    measured: Pick<LocalUsageTotals, 'dynamoWriteUnits' | 'dynamoReadUnits' | 'connectionSeconds'>,
  ): LocalUsageTotals {
    return {
      rulesTriggered: this.rulesTriggered,
      sqsSent: this.sqsSent,
      sqsReceived: this.sqsReceived,
      sqsDeleted: this.sqsDeleted,
      sqsEmptyReceives: this.emptyReceives,
      lambdaInvocations: this.lambdaInvocations,
      lambdaGbSeconds: this.lambdaGbSeconds,
      apiRequests: this.apiRequests,
      logBytes: this.logBytes,
      workflowSqsRequests: this.workflowSqsRequests,
      workflowInvocations: this.workflowInvocations,
      workflowGbSeconds: this.workflowGbSeconds,
      ...measured,
    };
  }
}

function billedGbSeconds(durationMs: number, memoryMb: number): number {
  return (Math.max(1, Math.ceil(durationMs)) / 1000) * (memoryMb / 1024);
}

/**
 * The usage meter's source locally: the runtime's own running totals instead of CloudWatch metrics.
 *
 * Each read takes the totals now and subtracts those taken at the start of the window. The meter's windows tile
 * time (each starts where the last saved one ended), so the totals of every window end are kept until a later
 * window starts past them; a run that failed to save its ledger is re-read whole by the next. A window that starts
 * before this process (a ledger from an earlier run) counts from the process start: nothing was used while the
 * runtime was down, except the fixed accrual the meter adds by the clock.
 */
export class LocalUsageSource implements UsageSource {
  private readonly marks = new Map<number, LocalUsageTotals>();

  constructor(private readonly totals: () => LocalUsageTotals) {}

  async read(start: Date, end: Date): Promise<UsageSample> {
    const from = start.getTime();
    let base = NOTHING;
    let baseAt = Number.NEGATIVE_INFINITY;
    for (const [at, totals] of this.marks) {
      if (at <= from && at > baseAt) {
        base = totals;
        baseAt = at;
      }
    }
    const now = this.totals();
    for (const at of this.marks.keys()) if (at < baseAt) this.marks.delete(at);
    this.marks.set(end.getTime(), now);
    const used = (key: keyof LocalUsageTotals) => Math.max(0, now[key] - base[key]);
    const intervalSeconds = Math.max(0, (end.getTime() - from) / 1000);
    return {
      intervalSeconds,
      rulesTriggered: used('rulesTriggered'),
      // Devices publish only to Basic Ingest topics, which have no broker messaging charge.
      brokerMessages: 0,
      // Average connected over the window, so connected devices x window minutes = measured connection minutes.
      connectedDevices: intervalSeconds > 0 ? used('connectionSeconds') / intervalSeconds : 0,
      sqsRequests:
        used('sqsSent') +
        used('sqsReceived') / SQS_MESSAGES_PER_BATCH_REQUEST +
        used('sqsDeleted') / SQS_MESSAGES_PER_BATCH_REQUEST +
        used('sqsEmptyReceives'),
      lambdaInvocations: used('lambdaInvocations'),
      lambdaGbSeconds: used('lambdaGbSeconds'),
      dynamoWriteUnits: used('dynamoWriteUnits'),
      dynamoReadUnits: used('dynamoReadUnits'),
      apiRequests: used('apiRequests'),
      logBytes: used('logBytes'),
      workflows: {
        sqsRequests: used('workflowSqsRequests'),
        invocations: used('workflowInvocations'),
        gbSeconds: used('workflowGbSeconds'),
      },
    };
  }
}
