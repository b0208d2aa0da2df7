import { describe, expect, it } from 'vitest';
import {
  IDLE_POLLS_PER_LANE_SECOND,
  LocalUsageCounters,
  LocalUsageSource,
  type LocalUsageTotals,
} from '../../local/local-usage-source.js';

const at = (seconds: number) => new Date(Date.UTC(2026, 10, 27, 10, 0, seconds));

function source() {
  const counters = new LocalUsageCounters();
  const measured = { dynamoWriteUnits: 0, dynamoReadUnits: 0, connectionSeconds: 0 };
  const totals = (): LocalUsageTotals => counters.totals(measured);
  return { counters, measured, usage: new LocalUsageSource(totals) };
}

describe('LocalUsageSource', () => {
  it('prices each window with what was used in it, SQS requests as sends + receives/10 + deletes/10', async () => {
    const { counters, measured, usage } = source();
    counters.rulesTriggered = 100;
    counters.sqsSent = 100;
    counters.sqsReceived = 100;
    counters.sqsDeleted = 90;
    counters.invocation(250, 512);
    measured.dynamoWriteUnits = 112;
    measured.connectionSeconds = 600;
    const first = await usage.read(at(0), at(60));
    expect(first).toMatchObject({
      intervalSeconds: 60,
      rulesTriggered: 100,
      brokerMessages: 0,
      sqsRequests: 119,
      lambdaInvocations: 1,
      lambdaGbSeconds: 0.125,
      dynamoWriteUnits: 112,
      connectedDevices: 10,
    });

    counters.rulesTriggered += 5;
    measured.dynamoWriteUnits += 6;
    const second = await usage.read(at(60), at(120));
    expect(second).toMatchObject({ rulesTriggered: 5, dynamoWriteUnits: 6, lambdaInvocations: 0 });
  });

  it('reads a window again from its start when the run that read it did not save its ledger', async () => {
    const { counters, usage } = source();
    counters.rulesTriggered = 10;
    await usage.read(at(0), at(60));
    counters.rulesTriggered = 25;
    // The run ending at 120 s failed; the next starts again at 60 s.
    await usage.read(at(60), at(120));
    counters.rulesTriggered = 40;
    expect((await usage.read(at(60), at(180))).rulesTriggered).toBe(30);
  });

  it('estimates idle long polls only while a lane consumer runs', () => {
    const counters = new LocalUsageCounters();
    const start = Date.now();
    counters.settleIdlePolls(2, start);
    counters.settleIdlePolls(2, start + 10_000);
    counters.settleIdlePolls(0, start + 20_000);
    const totals = counters.totals({ dynamoWriteUnits: 0, dynamoReadUnits: 0, connectionSeconds: 0 });
    expect(totals.sqsEmptyReceives).toBeCloseTo(10 * 2 * IDLE_POLLS_PER_LANE_SECOND, 2);
  });

  it('counts the workflow lanes apart: their invocations, and their SQS requests as SQS bills them', async () => {
    const { counters, usage } = source();
    const start = Date.now();
    counters.settleIdlePolls(0, start);
    counters.workflowLanes = 2;
    counters.workflowInvocation(100, 256);
    counters.workflowInvocation(300, 256);
    // A publish sent 3 events; one batch of 3 received, 2 deleted; another of 1 received, failed.
    counters.workflowQueueMessages({ sent: 3, received: 0, deleted: 0 });
    counters.workflowQueueMessages({ sent: 0, received: 3, deleted: 2 });
    counters.workflowQueueMessages({ sent: 0, received: 1, deleted: 0 });
    counters.settleIdlePolls(0, start + 10_000);
    const sample = await usage.read(at(0), at(60));
    expect(sample.lambdaInvocations).toBe(0);
    expect(sample.sqsRequests).toBe(0);
    expect(sample.workflows?.invocations).toBe(2);
    expect(sample.workflows?.gbSeconds).toBeCloseTo(0.1, 12);
    // 3 sends + 2 receives + 1 delete + 10 s of two lanes' idle polls.
    expect(sample.workflows?.sqsRequests).toBeCloseTo(6 + 10 * 2 * IDLE_POLLS_PER_LANE_SECOND, 9);
  });
});
