import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, EventBridgeEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { DOMAIN_EVENT_SOURCE, WORKFLOW_QUEUE } from '../../lambdas/contracts/domain-event-bus.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import {
  createServiceWorkflowHandler,
  RECORD_TIME_RESERVE_MS,
  RejectedWorkflowEventError,
  ScheduledRunFailedError,
  serviceWorkflowHandlerFromEnvironment,
} from '../../lambdas/handlers/service-workflow.js';
import type {
  ServiceBlueprint,
  ServiceContext,
  ServiceWorkflow,
  WorkflowContext,
} from '../../services/shared/blueprint.js';
import { type DomainEvent, domainEvent } from '../../services/shared/domain-events.js';
import { inMemoryWorkflowPorts } from '../../services/shared/in-memory-workflow-ports.js';
import { openJob } from '../../services/shared/jobs.js';
import { at, point } from '../../services/shared/telemetry-fixtures.js';
import { applyAlert } from '../../services/shared/workflow-steps.js';

const lambdaContext = { functionName: 'waste-workflow', awsRequestId: 'req-1' } as Context;
const NOW = new Date('2026-11-27T12:30:00.000Z');

const full = domainEvent(
  'waste.full',
  point('waste-container', { fillingLevel: 0.85 }, at(0), { deviceId: 'bin-1', ward: 'E05000001' }),
  { fillingLevel: 0.85, threshold: 0.8 },
);

function busEvent(detail: unknown, detailType = 'waste.full'): EventBridgeEvent<string, unknown> {
  return {
    version: '0',
    id: 'eb-1',
    'detail-type': detailType,
    source: DOMAIN_EVENT_SOURCE,
    account: '111122223333',
    time: NOW.toISOString(),
    region: 'eu-west-2',
    resources: [],
    detail,
  };
}

/** A queue message as the event source mapping delivers it: the bus's EventBridge event as its body. */
function sqsRecord(body: string, messageId: string, receiveCount = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(NOW.getTime()),
      SenderId: 'AIDAEVENTBRIDGE',
      ApproximateFirstReceiveTimestamp: String(NOW.getTime()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-2:111122223333:waste-workflow-queue',
    awsRegion: 'eu-west-2',
  };
}

const batchOf = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

/** The domain event `full` for another bin, so each event of a batch opens its own job. */
const fullBin = (deviceId: string): DomainEvent =>
  domainEvent(
    'waste.full',
    point('waste-container', { fillingLevel: 0.85 }, at(0), { deviceId, ward: 'E05000001' }),
    { fillingLevel: 0.85, threshold: 0.8 },
  );

/** A small workflow: a full bin opens a collection job; the schedule raises and ticks a test alert. */
function testBlueprint(workflow: Partial<ServiceWorkflow> = {}): ServiceBlueprint {
  return {
    name: 'waste',
    title: 'Waste collection',
    summary: 'Collects full bins.',
    essential: false,
    eventTypes: ['waste.full', 'waste.emptied'],
    workflow: {
      onEvent: async (event, ports) => {
        await ports.jobs.create(
          openJob({
            service: 'waste',
            kind: 'collection',
            deviceId: event.deviceId,
            priority: 'routine',
            reason: 'full',
            openedAt: event.observedAt,
            note: 'full',
          }),
        );
      },
      onSchedule: async (ports, context) => {
        await applyAlert(
          ports,
          { service: 'waste', key: 'depot', summary: 'Depot check' },
          { kind: 'raise', at: context.now.toISOString() },
          900,
        );
      },
      ...workflow,
    },
    cost: {
      watches: ['waste-container'],
      stateWritesPerReading: 0.01,
      historyReadUnitsPerReading: 0,
      eventsPerDevicePerDay: 0.5,
      writeUnitsPerEvent: 2,
      readUnitsPerEvent: 2,
      readUnitsPerDevicePerScheduledRun: 0,
    },
  };
}

function setUp(...blueprints: ServiceBlueprint[]) {
  const ports = inMemoryWorkflowPorts();
  const logger = new Logger({ serviceName: 'ordinary-lane' });
  const info = vi.spyOn(logger, 'info');
  const warn = vi.spyOn(logger, 'warn');
  const error = vi.spyOn(logger, 'error');
  const makePorts = vi.fn(() => ports);
  const makeContext = vi.fn(
    (service: string): ServiceContext =>
      service === 'waste'
        ? { timeScale: 60, settings: { fullThreshold: 0.75 } }
        : { timeScale: 60, settings: {} },
  );
  const handler = createServiceWorkflowHandler({
    blueprints: blueprints.length > 0 ? blueprints : [testBlueprint()],
    ports: makePorts,
    context: makeContext,
    now: () => NOW,
    logger,
  });
  return { ports, info, warn, error, makePorts, makeContext, handler };
}

describe('service workflow handler: a single domain event (the bus invoking it directly)', () => {
  it("applies an event of the blueprint's types and logs what changed; a replay logs that nothing did", async () => {
    const seen: { event: DomainEvent; context: WorkflowContext }[] = [];
    const base = testBlueprint();
    const blueprint = testBlueprint({
      onEvent: async (event, ports, context) => {
        seen.push({ event, context });
        await base.workflow.onEvent(event, ports, context);
      },
    });
    const { ports, info, handler } = setUp(blueprint);

    await handler(busEvent(full), lambdaContext);
    expect(seen).toEqual([
      { event: full, context: { timeScale: 60, settings: { fullThreshold: 0.75 }, now: NOW } },
    ]);
    const [job] = ports.jobs.jobs.values();
    expect(info).toHaveBeenCalledWith('event applied', {
      service: 'waste',
      eventId: full.id,
      eventType: 'waste.full',
      deviceId: 'bin-1',
      observedAt: at(0),
      changed: true,
      jobsOpened: [job?.id],
      jobsUpdated: [],
      alertsSaved: [],
      sitesSaved: [],
      notices: 0,
    });

    info.mockClear();
    await handler(busEvent(full), lambdaContext);
    expect(ports.jobs.jobs.size).toBe(1);
    expect(info).toHaveBeenCalledTimes(1);
    expect(info).toHaveBeenCalledWith(
      'event applied',
      expect.objectContaining({ changed: false, jobsOpened: [] }),
    );
  });

  it('builds its ports and context once, on the first invocation', async () => {
    const { makePorts, makeContext, handler } = setUp();
    expect(makePorts).not.toHaveBeenCalled();
    await handler(busEvent(full), lambdaContext);
    await handler({ kind: 'schedule' }, lambdaContext);
    expect(makePorts).toHaveBeenCalledTimes(1);
    expect(makeContext).toHaveBeenCalledTimes(1);
  });

  it('refuses a malformed event, naming every field that is wrong, and applies nothing', async () => {
    const { ports, handler } = setUp();
    const malformed = { ...full, observedAt: 'yesterday', deviceType: 'lamp-post', readings: undefined };
    const attempt = handler(busEvent(malformed), lambdaContext);
    await expect(attempt).rejects.toBeInstanceOf(RejectedWorkflowEventError);
    await expect(handler(busEvent(malformed), lambdaContext)).rejects.toThrow(
      /malformed waste\.full event: .*detail\.deviceType.*detail\.readings.*detail\.observedAt/,
    );
    expect(ports.jobs.jobs.size).toBe(0);
  });

  it('refuses a detail-type no hosted blueprint handles, naming the hosted ones and their types', async () => {
    const { handler } = setUp();
    const flood = { ...full, type: 'flood.level-changed' };
    await expect(handler(busEvent(flood, 'flood.level-changed'), lambdaContext)).rejects.toThrow(
      /no hosted blueprint handles detail-type "flood\.level-changed"; this lane hosts waste, which handle waste\.full, waste\.emptied/,
    );
  });

  it('refuses an event whose detail-type and detail.type disagree', async () => {
    const { handler } = setUp();
    await expect(handler(busEvent(full, 'waste.emptied'), lambdaContext)).rejects.toThrow(
      `event ${full.id} has detail-type waste.emptied but detail.type waste.full`,
    );
  });

  it('refuses anything that is neither a domain event nor its schedule, naming what it got', async () => {
    const { handler } = setUp();
    const other = { ...busEvent(full), source: 'aws.s3', 'detail-type': 'Object Created' };
    await expect(handler(other, lambdaContext)).rejects.toThrow(
      /got source "aws\.s3", detail-type "Object Created"/,
    );
  });

  it('lets a workflow failure through, so the bus retries the event', async () => {
    const { handler } = setUp(
      testBlueprint({
        onEvent: async () => {
          throw new Error('table unavailable');
        },
      }),
    );
    await expect(handler(busEvent(full), lambdaContext)).rejects.toThrow('table unavailable');
  });
});

describe('service workflow handler: a batch from its queue', () => {
  it('applies every event in order, one at a time, with one log line each, and reports no failure', async () => {
    const order: string[] = [];
    let running = 0;
    const base = testBlueprint();
    const { ports, info, handler } = setUp(
      testBlueprint({
        onEvent: async (event, workflowPorts, context) => {
          running += 1;
          expect(running).toBe(1);
          order.push(event.deviceId);
          // The first event is the slowest: a concurrent second would start before it ends.
          await new Promise((resolve) => setTimeout(resolve, event.deviceId === 'bin-a' ? 20 : 1));
          await base.workflow.onEvent(event, workflowPorts, context);
          running -= 1;
        },
      }),
    );
    const bins = ['bin-a', 'bin-b', 'bin-c'];
    const batch = batchOf(
      ...bins.map((bin, i) => sqsRecord(JSON.stringify(busEvent(fullBin(bin))), `m-${i}`)),
    );
    expect(await handler(batch, lambdaContext)).toEqual({ batchItemFailures: [] });
    expect(order).toEqual(bins);
    expect(ports.jobs.jobs.size).toBe(3);
    expect(info).toHaveBeenCalledTimes(3);
    expect(
      info.mock.calls.map(([message, fields]) => [message, (fields as { deviceId: string }).deviceId]),
    ).toEqual(bins.map((bin) => ['event applied', bin]));
  });

  it('fails a malformed record alone, logging what was wrong with it, and applies the rest', async () => {
    const { ports, error, handler } = setUp();
    const batch = batchOf(
      sqsRecord(JSON.stringify(busEvent(fullBin('bin-a'))), 'good-1'),
      sqsRecord('{"source": "civic-iot.services", ', 'not-json'),
      sqsRecord(JSON.stringify({ ...busEvent(full), source: 'aws.s3' }), 'wrong-source'),
      sqsRecord(JSON.stringify(busEvent({ ...full, type: 'waste.lost' }, 'waste.lost')), 'unknown-type'),
      sqsRecord(JSON.stringify(busEvent({ ...full, observedAt: 'yesterday' })), 'invalid-detail'),
      sqsRecord(JSON.stringify(busEvent(fullBin('bin-b'))), 'good-2'),
    );
    const response = await handler(batch, lambdaContext);
    expect(response?.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      'not-json',
      'wrong-source',
      'unknown-type',
      'invalid-detail',
    ]);
    expect([...ports.jobs.jobs.values()].map((job) => job.deviceId).sort()).toEqual(['bin-a', 'bin-b']);
    const reasons = Object.fromEntries(
      error.mock.calls.map(([message, fields]) => {
        const { messageId, reason } = fields as { messageId: string; reason: string };
        expect(message).toBe('event rejected');
        return [messageId, reason];
      }),
    );
    expect(reasons['not-json']).toMatch(/^message body is not JSON/);
    expect(reasons['wrong-source']).toMatch(/got source "aws\.s3"/);
    expect(reasons['unknown-type']).toMatch(/no hosted blueprint handles detail-type "waste\.lost"/);
    expect(reasons['invalid-detail']).toMatch(/malformed waste\.full event: detail\.observedAt/);
  });

  it('fails only the record whose workflow failed, and says it goes to the DLQ on its last receive', async () => {
    const base = testBlueprint();
    const { ports, error, handler } = setUp(
      testBlueprint({
        onEvent: async (event, workflowPorts, context) => {
          if (event.deviceId === 'bin-b') throw new Error('table unavailable');
          await base.workflow.onEvent(event, workflowPorts, context);
        },
      }),
    );
    const failing = JSON.stringify(busEvent(fullBin('bin-b')));
    const batch = batchOf(
      sqsRecord(failing, 'first-try', 1),
      sqsRecord(JSON.stringify(busEvent(fullBin('bin-c'))), 'fine'),
      sqsRecord(failing, 'last-try', WORKFLOW_QUEUE.maxReceiveCount),
    );
    const response = await handler(batch, lambdaContext);
    expect(response?.batchItemFailures).toEqual([
      { itemIdentifier: 'first-try' },
      { itemIdentifier: 'last-try' },
    ]);
    expect([...ports.jobs.jobs.values()].map((job) => job.deviceId)).toEqual(['bin-c']);
    expect(error).toHaveBeenCalledWith(
      'event failed',
      expect.objectContaining({
        messageId: 'first-try',
        reason: 'table unavailable',
        receiveCount: 1,
        next: 'retried after the visibility timeout',
      }),
    );
    expect(error).toHaveBeenCalledWith(
      'event failed',
      expect.objectContaining({ messageId: 'last-try', next: 'moves to the dead-letter queue' }),
    );
  });

  it('hands back the events it has no time left for, rather than time out on the whole batch', async () => {
    // Each event takes 16 s of the invocation's time here (DynamoDB throttling, say).
    let remaining = 20_000;
    const context = { ...lambdaContext, getRemainingTimeInMillis: () => remaining } as Context;
    const base = testBlueprint();
    const slow = setUp(
      testBlueprint({
        onEvent: async (event, workflowPorts, workflowContext) => {
          await base.workflow.onEvent(event, workflowPorts, workflowContext);
          remaining -= 16_000;
        },
      }),
    );
    const batch = batchOf(
      ...['bin-a', 'bin-b', 'bin-c'].map((bin) => sqsRecord(JSON.stringify(busEvent(fullBin(bin))), bin)),
    );
    const response = await slow.handler(batch, context);
    expect(remaining).toBeLessThan(RECORD_TIME_RESERVE_MS);
    expect(response?.batchItemFailures).toEqual([{ itemIdentifier: 'bin-b' }, { itemIdentifier: 'bin-c' }]);
    expect([...slow.ports.jobs.jobs.values()].map((job) => job.deviceId)).toEqual(['bin-a']);
    expect(slow.warn).toHaveBeenCalledWith(
      'out of time; events handed back to the queue unapplied',
      expect.objectContaining({ messageIds: ['bin-b', 'bin-c'] }),
    );
    // With time to spare, the same batch is applied whole.
    const { ports, warn, handler } = setUp();
    const ample = { ...lambdaContext, getRemainingTimeInMillis: () => 60_000 } as Context;
    expect(await handler(batch, ample)).toEqual({ batchItemFailures: [] });
    expect(ports.jobs.jobs.size).toBe(3);
    expect(warn).not.toHaveBeenCalled();
  });

  it('acknowledges a failed scheduled run redriven from the dead-letter queue, with a warning, and runs nothing', async () => {
    const { ports, warn, handler } = setUp();
    // What Lambda's on-failure destination records for an asynchronous invocation that kept failing.
    const destinationRecord = {
      version: '1.0',
      timestamp: NOW.toISOString(),
      requestContext: { requestId: 'r-1', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { kind: 'schedule' },
      responseContext: { statusCode: 200, functionError: 'Unhandled' },
      responsePayload: { errorMessage: 'table unavailable' },
    };
    const response = await handler(
      batchOf(sqsRecord(JSON.stringify(destinationRecord), 'dlq-1')),
      lambdaContext,
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(ports.notifier.sent).toEqual([]);
    expect(ports.alerts.incidents.size).toBe(0);
    expect(warn).toHaveBeenCalledWith(
      'a failed scheduled run, redriven from the dead-letter queue: nothing to redo',
      expect.objectContaining({ messageId: 'dlq-1' }),
    );
  });
});

describe('service workflow handler: schedule', () => {
  it.each([
    ['an EventBridge rule', { ...busEvent({}), source: 'aws.events', 'detail-type': 'Scheduled Event' }],
    ['a Scheduler target', { kind: 'schedule' as const }],
  ])('runs the schedule when %s invokes it, with the time now', async (_from, invocation) => {
    const { ports, info, handler } = setUp();
    await handler(invocation, lambdaContext);
    const alert = await ports.alerts.current('depot');
    expect(alert).toMatchObject({ status: 'open', openedAt: NOW.toISOString() });
    expect(ports.notifier.sent).toHaveLength(1);
    expect(info).toHaveBeenCalledWith('schedule run', {
      service: 'waste',
      scheduled: true,
      changed: true,
      jobsOpened: [],
      jobsUpdated: [],
      alertsSaved: [`${alert?.incidentId}:open`],
      sitesSaved: [],
      notices: 1,
    });
  });

  it('does nothing on a schedule for a blueprint that has no scheduled work', async () => {
    const blueprint = testBlueprint();
    const { onSchedule: _none, ...eventsOnly } = blueprint.workflow;
    const { ports, info, handler } = setUp({ ...blueprint, workflow: eventsOnly });
    await handler({ kind: 'schedule' }, lambdaContext);
    expect(ports.notifier.sent).toEqual([]);
    expect(info).toHaveBeenCalledWith(
      'schedule run',
      expect.objectContaining({ services: ['waste'], scheduled: false, changed: false }),
    );
  });
});

/** A second blueprint for the same lane: a gauge rising opens an inspection job; its schedule raises a check. */
function gaugeBlueprint(workflow: Partial<ServiceWorkflow> = {}): ServiceBlueprint {
  return {
    ...testBlueprint(),
    name: 'gauges',
    title: 'River gauges',
    eventTypes: ['gauges.rising'],
    workflow: {
      onEvent: async (event, ports) => {
        await ports.jobs.create(
          openJob({
            service: 'gauges',
            kind: 'inspection',
            deviceId: event.deviceId,
            priority: 'urgent',
            reason: 'rising',
            openedAt: event.observedAt,
            note: 'rising',
          }),
        );
      },
      onSchedule: async (ports, context) => {
        await applyAlert(
          ports,
          { service: 'gauges', key: 'gauge-check', summary: 'Gauge check' },
          { kind: 'raise', at: context.now.toISOString() },
          900,
        );
      },
      ...workflow,
    },
  };
}

const rising = domainEvent(
  'gauges.rising',
  point('water-level', { waterLevel: 1.4 }, at(0), { deviceId: 'gauge-1' }),
  { waterLevel: 1.4 },
);

describe('service workflow handler: a lane hosting several blueprints', () => {
  it("dispatches each record by its detail-type to the blueprint that lists it, with that service's settings", async () => {
    const seen: [string, string, WorkflowContext][] = [];
    const waste = testBlueprint();
    const gauges = gaugeBlueprint();
    const spy = (blueprint: ServiceBlueprint): ServiceBlueprint => ({
      ...blueprint,
      workflow: {
        ...blueprint.workflow,
        onEvent: async (event, ports, context) => {
          seen.push([blueprint.name, event.type, context]);
          await blueprint.workflow.onEvent(event, ports, context);
        },
      },
    });
    const { ports, info, makeContext, handler } = setUp(spy(waste), spy(gauges));
    const batch = batchOf(
      sqsRecord(JSON.stringify(busEvent(fullBin('bin-a'))), 'm-1'),
      sqsRecord(JSON.stringify(busEvent(rising, 'gauges.rising')), 'm-2'),
      sqsRecord(JSON.stringify(busEvent(fullBin('bin-b'))), 'm-3'),
    );
    expect(await handler(batch, lambdaContext)).toEqual({ batchItemFailures: [] });
    expect(seen.map(([service, type]) => [service, type])).toEqual([
      ['waste', 'waste.full'],
      ['gauges', 'gauges.rising'],
      ['waste', 'waste.full'],
    ]);
    expect(seen.map(([, , context]) => context.settings)).toEqual([
      { fullThreshold: 0.75 },
      {},
      { fullThreshold: 0.75 },
    ]);
    // Each service's context is built once.
    expect(makeContext.mock.calls.map(([service]) => service)).toEqual(['waste', 'gauges']);
    expect([...ports.jobs.jobs.values()].map((job) => [job.service, job.deviceId])).toEqual([
      ['waste', 'bin-a'],
      ['gauges', 'gauge-1'],
      ['waste', 'bin-b'],
    ]);
    expect(info.mock.calls.map(([, fields]) => (fields as { service: string }).service)).toEqual([
      'waste',
      'gauges',
      'waste',
    ]);
  });

  it('fails a record whose detail-type no hosted blueprint lists, naming it, and applies the rest', async () => {
    const { ports, error, handler } = setUp(testBlueprint(), gaugeBlueprint());
    const parking = { ...fullBin('bay-1'), type: 'parking.spot-changed' };
    const batch = batchOf(
      sqsRecord(JSON.stringify(busEvent(parking, 'parking.spot-changed')), 'stray'),
      sqsRecord(JSON.stringify(busEvent(rising, 'gauges.rising')), 'fine'),
    );
    expect((await handler(batch, lambdaContext))?.batchItemFailures).toEqual([{ itemIdentifier: 'stray' }]);
    expect(ports.jobs.jobs.size).toBe(1);
    expect(error).toHaveBeenCalledWith(
      'event rejected',
      expect.objectContaining({
        messageId: 'stray',
        reason:
          'no hosted blueprint handles detail-type "parking.spot-changed"; this lane hosts waste, gauges, which ' +
          "handle waste.full, waste.emptied, gauges.rising (is a bus rule's target right?)",
      }),
    );
  });

  it('refuses to host no blueprint, or two that list the same event type', () => {
    const options = { ports: inMemoryWorkflowPorts, context: () => ({ timeScale: 1, settings: {} }) };
    expect(() => createServiceWorkflowHandler({ ...options, blueprints: [] })).toThrow(
      /at least one blueprint/,
    );
    const twin = { ...gaugeBlueprint(), eventTypes: ['gauges.rising', 'waste.full'] };
    expect(() => createServiceWorkflowHandler({ ...options, blueprints: [testBlueprint(), twin] })).toThrow(
      'event type waste.full is listed by both waste and gauges: each event must have one workflow',
    );
  });

  it("runs every hosted blueprint's onSchedule on one schedule, skipping those without, one log line each", async () => {
    const { onSchedule: _none, ...eventsOnly } = testBlueprint().workflow;
    const parking = {
      ...testBlueprint(),
      name: 'parking',
      eventTypes: ['parking.spot-changed'],
      workflow: eventsOnly,
    };
    const { ports, info, handler } = setUp(testBlueprint(), parking, gaugeBlueprint());
    await handler({ kind: 'schedule' }, lambdaContext);
    expect((await ports.alerts.current('depot'))?.status).toBe('open');
    expect((await ports.alerts.current('gauge-check'))?.status).toBe('open');
    const runs = info.mock.calls.filter(([message]) => message === 'schedule run');
    expect(runs.map(([, fields]) => fields)).toEqual([
      expect.objectContaining({ service: 'waste', scheduled: true, changed: true, notices: 1 }),
      expect.objectContaining({ service: 'gauges', scheduled: true, changed: true, notices: 1 }),
    ]);
  });

  it("does not let one blueprint's failing schedule stop the others': all run, then the run fails naming it", async () => {
    const failing = testBlueprint({
      onSchedule: async () => {
        throw new Error('depot table unavailable');
      },
    });
    let gaugeRan = false;
    const base = gaugeBlueprint();
    const gauges = gaugeBlueprint({
      onSchedule: async (ports, context) => {
        // Slower than the failure: a run that stopped at the first failure would never get here.
        await new Promise((resolve) => setTimeout(resolve, 20));
        await base.workflow.onSchedule?.(ports, context);
        gaugeRan = true;
      },
    });
    const { ports, error, handler } = setUp(failing, gauges);
    const run = handler({ kind: 'schedule' }, lambdaContext);
    await expect(run).rejects.toBeInstanceOf(ScheduledRunFailedError);
    await expect(handler({ kind: 'schedule' }, lambdaContext)).rejects.toThrow(
      "scheduled run failed for waste (depot table unavailable); the other hosted services' scheduled work was done",
    );
    expect(gaugeRan).toBe(true);
    expect((await ports.alerts.current('gauge-check'))?.status).toBe('open');
    expect(error).toHaveBeenCalledWith(
      'schedule run failed',
      expect.objectContaining({ service: 'waste', reason: 'depot table unavailable' }),
    );
  });

  it('names every blueprint whose schedule failed', async () => {
    const broken = (name: string, reason: string) => ({
      ...gaugeBlueprint({
        onSchedule: async () => {
          throw new Error(reason);
        },
      }),
      name,
      eventTypes: [`${name}.x`],
    });
    const { handler } = setUp(
      broken('traffic', 'no counters'),
      testBlueprint(),
      broken('offline', 'scan refused'),
    );
    await expect(handler({ kind: 'schedule' }, lambdaContext)).rejects.toThrow(
      /^scheduled run failed for traffic \(no counters\), offline \(scan refused\);/,
    );
  });
});

describe('service workflow handler from the environment', () => {
  it('names a missing, empty or unknown service list', () => {
    expect(() => serviceWorkflowHandlerFromEnvironment({})).toThrow(ENV.serviceNames);
    expect(() => serviceWorkflowHandlerFromEnvironment({ [ENV.serviceNames]: ' , ' })).toThrow(
      `${ENV.serviceNames} is not set; expected a comma-separated list of service names`,
    );
    expect(() =>
      serviceWorkflowHandlerFromEnvironment({ [ENV.serviceNames]: 'flood,street-lights' }),
    ).toThrow(/unknown service blueprint 'street-lights'; known: waste/);
  });

  it('hosts the services SERVICE_NAMES lists, and refuses the events of any other (before any port is built)', async () => {
    const handler = serviceWorkflowHandlerFromEnvironment({ [ENV.serviceNames]: 'air-quality,flood' });
    const error = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const response = await handler(
        batchOf(sqsRecord(JSON.stringify(busEvent(full)), 'w-1')),
        lambdaContext,
      );
      expect(response?.batchItemFailures).toEqual([{ itemIdentifier: 'w-1' }]);
      expect(error).toHaveBeenCalledWith(
        'event rejected',
        expect.objectContaining({
          reason: expect.stringMatching(
            /"waste\.full"; this lane hosts air-quality, flood, which handle air-quality\./,
          ),
        }),
      );
    } finally {
      error.mockRestore();
    }
  });
});
