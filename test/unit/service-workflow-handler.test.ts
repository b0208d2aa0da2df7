import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { DOMAIN_EVENT_SOURCE } from '../../lambdas/contracts/domain-event-bus.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import {
  createServiceWorkflowHandler,
  RejectedWorkflowEventError,
  serviceWorkflowHandlerFromEnvironment,
} from '../../lambdas/handlers/service-workflow.js';
import type { ServiceBlueprint, ServiceWorkflow, WorkflowContext } from '../../services/shared/blueprint.js';
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

function setUp(blueprint = testBlueprint()) {
  const ports = inMemoryWorkflowPorts();
  const logger = new Logger({ serviceName: 'waste-workflow' });
  const info = vi.spyOn(logger, 'info');
  const makePorts = vi.fn(() => ports);
  const makeContext = vi.fn(() => ({ timeScale: 60, settings: { fullThreshold: 0.75 } }));
  const handler = createServiceWorkflowHandler({
    blueprint,
    ports: makePorts,
    context: makeContext,
    now: () => NOW,
    logger,
  });
  return { ports, info, makePorts, makeContext, handler };
}

describe('service workflow handler: domain events', () => {
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

  it('refuses a detail-type the blueprint does not handle, naming the ones it does', async () => {
    const { handler } = setUp();
    const flood = { ...full, type: 'flood.level-changed' };
    await expect(handler(busEvent(flood, 'flood.level-changed'), lambdaContext)).rejects.toThrow(
      /does not handle detail-type "flood\.level-changed"; it handles waste\.full, waste\.emptied/,
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
      expect.objectContaining({ scheduled: false, changed: false }),
    );
  });
});

describe('service workflow handler from the environment', () => {
  it('names a missing or unknown service', () => {
    expect(() => serviceWorkflowHandlerFromEnvironment({})).toThrow(ENV.serviceName);
    expect(() => serviceWorkflowHandlerFromEnvironment({ [ENV.serviceName]: 'street-lights' })).toThrow(
      /unknown service blueprint 'street-lights'; known: waste/,
    );
  });
});
