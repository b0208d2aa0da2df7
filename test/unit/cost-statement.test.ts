import { describe, expect, it } from 'vitest';
import { pricesFor } from '../../lambdas/contracts/prices.js';
import { estimatePlatform } from '../../lambdas/domain/cost-model.js';
import {
  analyseCaps,
  buildCostStatement,
  REGISTER_THING_PER_SECOND,
  renderCostStatement,
  summaryLines,
  type Template,
} from '../../lib/cost/cost-statement.js';

const prices = pricesFor('us-east-1');
const profile = {
  devices: 1000,
  messageIntervalSeconds: 300,
  apiRequestsPerDay: 10_000,
  retentionDays: 400,
  telemetryStore: 'dynamodb' as const,
};
const inputs = {
  councilName: 'Example Borough Council',
  stage: 'dev',
  region: 'us-east-1',
  devices: 1000,
  messageIntervalSeconds: 300,
  ceilingUsd: 60,
  prices,
  expected: estimatePlatform(profile, prices),
};

const capped: Record<string, Template> = {
  Data: {
    Resources: {
      Series: {
        Type: 'AWS::DynamoDB::GlobalTable',
        Properties: {
          WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 10 },
          Replicas: [{ ReadOnDemandThroughputSettings: { MaxReadRequestUnits: 20 } }],
        },
      },
    },
  },
  Platform: {
    Resources: {
      Enrich: { Type: 'AWS::Lambda::Function', Properties: { MemorySize: 1024, Timeout: 30 } },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: { FunctionName: { Ref: 'Enrich' }, ScalingConfig: { MaximumConcurrency: 2 } },
      },
      Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } },
      Rule: { Type: 'AWS::IoT::TopicRule', Properties: { RuleName: 'civic_ingest' } },
    },
  },
};

describe('analyseCaps', () => {
  it('prices a capped table at its maximum throughput for a whole month, by hand', () => {
    const { lines } = analyseCaps(capped, { ...inputs });
    const table = lines.find((l) => l.resource === 'Series');
    // 10 WRU/s and 20 RRU/s for 2,592,000 s at $0.625 and $0.125 per million.
    expect(table?.worstMonthlyUsd).toBeCloseTo((10 * 2_592_000 * 0.625 + 20 * 2_592_000 * 0.125) / 1e6, 9);
  });

  it('prices a consumer by its mapping concurrency: GB-seconds at full concurrency plus invocations', () => {
    const line = analyseCaps(capped, inputs).lines.find((l) => l.resource === 'Enrich');
    expect(line?.cap).toBe('event source mapping maximum concurrency 2');
    expect(line?.worstMonthlyUsd).toBeCloseTo(
      ((2 * 2_592_000) / 0.1) * 0.2e-6 + 2 * 1 * 2_592_000 * 0.0000133334,
      6,
    );
  });

  it.each([
    [
      'a table without maximum throughput',
      { Type: 'AWS::DynamoDB::GlobalTable', Properties: { Replicas: [{}] } },
      /maximum read and write throughput/,
    ],
    [
      'a function with nothing bounding it',
      { Type: 'AWS::Lambda::Function', Properties: {} },
      /no reserved concurrency/,
    ],
    ['a log group kept forever', { Type: 'AWS::Logs::LogGroup', Properties: {} }, /no RetentionInDays/],
    [
      'an API stage without throttling',
      { Type: 'AWS::ApiGateway::Stage', Properties: { MethodSettings: [] } },
      /throttling rate limit/,
    ],
  ])('reports %s as uncapped', (_name, resource, problem) => {
    const { uncapped } = analyseCaps({ S: { Resources: { Thing: resource } } }, inputs);
    expect(uncapped).toEqual([
      expect.objectContaining({ stack: 'S', resource: 'Thing', problem: expect.stringMatching(problem) }),
    ]);
  });

  it('reports a global secondary index without maximum throughput as uncapped, though its table is capped', () => {
    const { uncapped, lines } = analyseCaps(
      {
        Data: {
          Resources: {
            Quarantine: {
              Type: 'AWS::DynamoDB::GlobalTable',
              Properties: {
                WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 10 },
                GlobalSecondaryIndexes: [{ IndexName: 'byDevice' }],
                Replicas: [{ ReadOnDemandThroughputSettings: { MaxReadRequestUnits: 20 } }],
              },
            },
          },
        },
      },
      inputs,
    );
    expect(uncapped).toEqual([
      {
        stack: 'Data',
        resource: 'Quarantine index byDevice',
        type: 'AWS::DynamoDB::GlobalTable',
        problem: expect.stringMatching(/global secondary index without a maximum read and write throughput/),
      },
    ]);
    expect(lines.map((l) => l.resource)).toEqual(['Quarantine']);
  });

  it('reports an index with a write cap but no read cap on its replica as uncapped', () => {
    const { uncapped } = analyseCaps(
      {
        Data: {
          Resources: {
            Devices: {
              Type: 'AWS::DynamoDB::GlobalTable',
              Properties: {
                WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 10 },
                GlobalSecondaryIndexes: [
                  { IndexName: 'byType', WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 10 } },
                ],
                Replicas: [{ ReadOnDemandThroughputSettings: { MaxReadRequestUnits: 20 } }],
              },
            },
          },
        },
      },
      inputs,
    );
    expect(uncapped.map((u) => u.resource)).toEqual(['Devices index byType']);
  });

  it('prices a capped index at its own maximum throughput, beside its table, by hand', () => {
    const { uncapped, lines } = analyseCaps(
      {
        Data: {
          Resources: {
            Devices: {
              Type: 'AWS::DynamoDB::GlobalTable',
              Properties: {
                WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 10 },
                GlobalSecondaryIndexes: [
                  { IndexName: 'byType', WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 4 } },
                ],
                Replicas: [
                  {
                    ReadOnDemandThroughputSettings: { MaxReadRequestUnits: 20 },
                    GlobalSecondaryIndexes: [
                      { IndexName: 'byType', ReadOnDemandThroughputSettings: { MaxReadRequestUnits: 8 } },
                    ],
                  },
                ],
              },
            },
          },
        },
      },
      inputs,
    );
    expect(uncapped).toEqual([]);
    const index = lines.find((l) => l.resource === 'Devices index byType');
    expect(index?.cap).toBe('index: at most 4 writes and 8 reads a second');
    // 4 WRU/s and 8 RRU/s for 2,592,000 s at $0.625 and $0.125 per million.
    expect(index?.worstMonthlyUsd).toBeCloseTo((4 * 2_592_000 * 0.625 + 8 * 2_592_000 * 0.125) / 1e6, 9);
  });

  it('reads index caps of an AWS::DynamoDB::Table from OnDemandThroughput', () => {
    const { uncapped, lines } = analyseCaps(
      {
        Data: {
          Resources: {
            Plain: {
              Type: 'AWS::DynamoDB::Table',
              Properties: {
                OnDemandThroughput: { MaxReadRequestUnits: 20, MaxWriteRequestUnits: 10 },
                GlobalSecondaryIndexes: [
                  {
                    IndexName: 'capped',
                    OnDemandThroughput: { MaxReadRequestUnits: 2, MaxWriteRequestUnits: 1 },
                  },
                  { IndexName: 'open' },
                ],
              },
            },
          },
        },
      },
      inputs,
    );
    expect(lines.map((l) => l.resource)).toEqual(['Plain', 'Plain index capped']);
    expect(uncapped.map((u) => u.resource)).toEqual(['Plain index open']);
  });

  it('reports the ingest rule as uncapped when no ceiling is set', () => {
    const { ceilingUsd: _ceiling, ...noCeiling } = inputs;
    const { uncapped } = analyseCaps(capped, noCeiling);
    expect(uncapped.map((u) => u.resource)).toEqual(['Rule']);
  });
});

describe('analyseCaps: a fleet provisioning hook', () => {
  const hookTemplates = (permissions: Record<string, { Principal: string }>): Record<string, Template> => ({
    Platform: {
      Resources: {
        Hook: { Type: 'AWS::Lambda::Function', Properties: { MemorySize: 128, Timeout: 3 } },
        Template: {
          Type: 'AWS::IoT::ProvisioningTemplate',
          Properties: {
            PreProvisioningHook: {
              PayloadVersion: '2020-04-01',
              TargetArn: { 'Fn::GetAtt': ['Hook', 'Arn'] },
            },
          },
        },
        ...Object.fromEntries(
          Object.entries(permissions).map(([id, { Principal }]) => [
            id,
            {
              Type: 'AWS::Lambda::Permission',
              Properties: { FunctionName: { 'Fn::GetAtt': ['Hook', 'Arn'] }, Principal },
            },
          ]),
        ),
      },
    },
  });

  it("prices a hook only IoT invokes at IoT's RegisterThing throttle, each run to its timeout, by hand", () => {
    const { lines, uncapped } = analyseCaps(
      hookTemplates({ ByIot: { Principal: 'iot.amazonaws.com' } }),
      inputs,
    );
    expect(uncapped).toEqual([]);
    const hook = lines.find((l) => l.resource === 'Hook');
    expect(hook?.cap).toBe(
      `pre-provisioning hook: AWS IoT's RegisterThing throttle, ${REGISTER_THING_PER_SECOND} requests a second, each a run at its timeout`,
    );
    // 10 a second for 2,592,000 s: 25.92 M requests at $0.20 a million, each 3 s at 0.125 GB.
    const runs = REGISTER_THING_PER_SECOND * 2_592_000;
    expect(hook?.worstMonthlyUsd).toBeCloseTo(
      (runs * 0.2) / 1e6 + runs * 3 * 0.125 * prices['lambda.arm64GbSecond'].usd,
      6,
    );
  });

  it('reports a hook that something other than IoT may invoke as uncapped', () => {
    const { uncapped } = analyseCaps(
      hookTemplates({
        ByIot: { Principal: 'iot.amazonaws.com' },
        ByAnyone: { Principal: 'events.amazonaws.com' },
      }),
      inputs,
    );
    expect(uncapped.map((u) => u.resource)).toEqual(['Hook']);
  });
});

describe('buildCostStatement', () => {
  it('passes a capped deployment whose expected cost is under the ceiling', () => {
    const statement = buildCostStatement(capped, inputs);
    expect(statement.violations).toEqual([]);
    expect(statement.guardedMaximumUsd).toBeGreaterThan(60);
    expect(summaryLines(statement)).toHaveLength(3);
    expect(renderCostStatement(statement)).toMatch(/## Hard caps and the most each can cost/);
  });

  it('refuses when the expected cost exceeds the ceiling, naming both figures', () => {
    const statement = buildCostStatement(capped, { ...inputs, ceilingUsd: 5 });
    expect(statement.violations).toEqual([
      expect.stringMatching(/expected monthly cost of \d+\.\d\d USD exceeds monthlyCeilingUsd=5/),
    ]);
  });

  it('refuses when a billable resource has no cap, naming it', () => {
    const statement = buildCostStatement(
      { ...capped, Extra: { Resources: { Orphan: { Type: 'AWS::Lambda::Function' } } } },
      inputs,
    );
    expect(statement.violations).toEqual([
      expect.stringMatching(/^Extra\/Orphan \(AWS::Lambda::Function\) has no cap/),
    ]);
  });
});

describe('analyseCaps: the services bus and its workflows', () => {
  /** A bus, a workflow its rule invokes on a 5-minute schedule too, and one the bus alone invokes. */
  const services: Record<string, Template> = {
    Platform: {
      Resources: {
        Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'civic-iot-dev-services' } },
        Flood: { Type: 'AWS::Lambda::Function', Properties: { MemorySize: 256, Timeout: 30 } },
        FloodRule: {
          Type: 'AWS::Events::Rule',
          Properties: {
            EventBusName: { Ref: 'Bus' },
            Targets: [{ Arn: { 'Fn::GetAtt': ['Flood', 'Arn'] }, Id: 'Target0' }],
          },
        },
        FloodSchedule: {
          Type: 'AWS::Scheduler::Schedule',
          Properties: {
            ScheduleExpression: 'rate(5 minutes)',
            Target: { Arn: { 'Fn::GetAtt': ['Flood', 'Arn'] } },
          },
        },
        Parking: { Type: 'AWS::Lambda::Function', Properties: { MemorySize: 128, Timeout: 10 } },
        ParkingRule: {
          Type: 'AWS::Events::Rule',
          Properties: {
            EventBusName: { Ref: 'Bus' },
            Targets: [{ Arn: { 'Fn::GetAtt': ['Parking', 'Arn'] }, Id: 'Target0' }],
          },
        },
      },
    },
  };
  const lambdaRun = (memoryGb: number, seconds: number) => 0.2e-6 + seconds * memoryGb * 0.0000133334;

  it('prices the bus at its event bound: the events, and each one running the dearest workflow to its timeout', () => {
    const { lines, uncapped } = analyseCaps(services, { ...inputs, busEventsPerSecond: 10 });
    expect(uncapped).toEqual([]);
    const bus = lines.find((l) => l.resource === 'Bus');
    expect(bus?.cap).toMatch(/^at most 10 events a second/);
    const events = 10 * 2_592_000;
    expect(bus?.worstMonthlyUsd).toBeCloseTo((events * 1.0) / 1e6 + events * lambdaRun(0.25, 30), 6);
  });

  it('prices a bus-invoked workflow for its schedule only (its events are on the bus line)', () => {
    const { lines } = analyseCaps(services, { ...inputs, busEventsPerSecond: 10 });
    const flood = lines.find((l) => l.resource === 'Flood');
    expect(flood?.cap).toBe("events from the bus (on the bus's line) and schedule rate(5 minutes)");
    expect(flood?.worstMonthlyUsd).toBeCloseTo(8_640 * lambdaRun(0.25, 30), 9);
    expect(lines.find((l) => l.resource === 'Parking')?.worstMonthlyUsd).toBe(0);
  });

  it('reports the bus and every workflow it invokes as uncapped when its events have no bound', () => {
    const { uncapped } = analyseCaps(services, inputs);
    expect(uncapped.map((u) => u.resource).sort()).toEqual(['Bus', 'Flood', 'Parking']);
    expect(uncapped.find((u) => u.resource === 'Bus')?.problem).toMatch(/busEventsPerSecond/);
  });

  /** The deployed shape: the rule puts events on a queue (a DLQ of its own), a capped mapping feeds the workflow. */
  const queued = (redrive: Record<string, unknown> | undefined): Record<string, Template> => ({
    Platform: {
      Resources: {
        Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'civic-iot-dev-services' } },
        FloodQueue: {
          Type: 'AWS::SQS::Queue',
          Properties: redrive ? { RedrivePolicy: redrive } : {},
        },
        FloodDeadLetters: { Type: 'AWS::SQS::Queue', Properties: {} },
        FloodRule: {
          Type: 'AWS::Events::Rule',
          Properties: {
            EventBusName: { Ref: 'Bus' },
            Targets: [
              {
                Arn: { 'Fn::GetAtt': ['FloodQueue', 'Arn'] },
                Id: 'Target0',
                DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['FloodDeadLetters', 'Arn'] } },
              },
            ],
          },
        },
        Flood: { Type: 'AWS::Lambda::Function', Properties: { MemorySize: 256, Timeout: 30 } },
        FloodMapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            FunctionName: { Ref: 'Flood' },
            EventSourceArn: { 'Fn::GetAtt': ['FloodQueue', 'Arn'] },
            ScalingConfig: { MaximumConcurrency: 2 },
          },
        },
        FloodSchedule: {
          Type: 'AWS::Scheduler::Schedule',
          Properties: {
            ScheduleExpression: 'rate(5 minutes)',
            Target: { Arn: { 'Fn::GetAtt': ['Flood', 'Arn'] } },
          },
        },
      },
    },
  });
  const redrive = { deadLetterTargetArn: { 'Fn::GetAtt': ['FloodDeadLetters', 'Arn'] }, maxReceiveCount: 5 };

  it('prices a bus that queues its events by the SQS requests each can cause: a send, 5 receives, a delete', () => {
    const { lines, uncapped } = analyseCaps(queued(redrive), { ...inputs, busEventsPerSecond: 10 });
    expect(uncapped).toEqual([]);
    const bus = lines.find((l) => l.resource === 'Bus');
    expect(bus?.cap).toMatch(/each queued for its workflow and received at most its maxReceiveCount times$/);
    const events = 10 * 2_592_000;
    // $1.00 per million events, $0.40 per million SQS requests; no Lambda run on the bus line any more.
    expect(bus?.worstMonthlyUsd).toBeCloseTo((events * 1.0) / 1e6 + (events * 7 * 0.4) / 1e6, 6);
  });

  it('bounds a queue-fed workflow by its mapping concurrency, whatever the events, plus its direct schedule', () => {
    const at = (busEventsPerSecond: number) =>
      analyseCaps(queued(redrive), { ...inputs, busEventsPerSecond }).lines.find(
        (l) => l.resource === 'Flood',
      );
    const flood = at(10);
    expect(flood?.cap).toBe('event source mapping maximum concurrency 2 and schedule rate(5 minutes)');
    // Two instances busy all month (invocations of at least 0.1 s), and the 8,640 runs of the schedule to 30 s.
    const busy = ((2 * 2_592_000) / 0.1) * 0.2e-6 + 2 * 0.25 * 2_592_000 * 0.0000133334;
    expect(flood?.worstMonthlyUsd).toBeCloseTo(busy + 8_640 * lambdaRun(0.25, 30), 6);
    expect(at(10_000)?.worstMonthlyUsd).toBe(flood?.worstMonthlyUsd);
  });

  it("reports a queue the bus feeds without a redrive policy, and never counts the rule's DLQ as a target", () => {
    const { uncapped } = analyseCaps(queued(undefined), { ...inputs, busEventsPerSecond: 10 });
    expect(uncapped).toEqual([
      expect.objectContaining({
        resource: 'FloodQueue',
        problem: expect.stringMatching(/without a redrive policy/),
      }),
    ]);
  });

  it('bounds a workflow with reserved concurrency by it, and leaves its runs off the bus line', () => {
    const reserved: Record<string, Template> = {
      Platform: {
        Resources: {
          ...services.Platform?.Resources,
          Flood: {
            Type: 'AWS::Lambda::Function',
            Properties: { MemorySize: 256, Timeout: 30, ReservedConcurrentExecutions: 1 },
          },
        },
      },
    };
    const { lines } = analyseCaps(reserved, { ...inputs, busEventsPerSecond: 10 });
    expect(lines.find((l) => l.resource === 'Flood')?.cap).toBe('reserved concurrency 1');
    const events = 10 * 2_592_000;
    // Only Parking (128 MB, 10 s) is left to price on the bus line.
    expect(lines.find((l) => l.resource === 'Bus')?.worstMonthlyUsd).toBeCloseTo(
      (events * 1.0) / 1e6 + events * lambdaRun(0.125, 10),
      6,
    );
  });
});

describe('analyseCaps: the city API', () => {
  const api = (
    functionProps: Record<string, unknown>,
    plan?: Record<string, unknown>,
  ): Record<string, Template> => ({
    Platform: {
      Resources: {
        Queries: {
          Type: 'AWS::Lambda::Function',
          Properties: { MemorySize: 512, Timeout: 10, ...functionProps },
        },
        Invoke: {
          Type: 'AWS::Lambda::Permission',
          Properties: {
            Principal: 'apigateway.amazonaws.com',
            FunctionName: { 'Fn::GetAtt': ['Queries', 'Arn'] },
          },
        },
        Stage: {
          Type: 'AWS::ApiGateway::Stage',
          Properties: { MethodSettings: [{ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 }] },
        },
        ...(plan ? { Plan: { Type: 'AWS::ApiGateway::UsagePlan', Properties: plan } } : {}),
      },
    },
  });

  it('bounds the API function by the stage throttle: every request a run at its timeout', () => {
    const line = analyseCaps(api({}), inputs).lines.find((l) => l.resource === 'Queries');
    expect(line?.cap).toBe('API stage throttle 10 requests a second');
    // 10 requests/s for 2,592,000 s, each 10 s at 0.5 GB.
    expect(line?.worstMonthlyUsd).toBeCloseTo(
      10 * 2_592_000 * 0.2e-6 + 10 * 2_592_000 * 10 * 0.5 * 0.0000133334,
      6,
    );
  });

  it('with reserved concurrency, takes the lesser of the two bounds for invocations and for GB-seconds', () => {
    const line = analyseCaps(api({ ReservedConcurrentExecutions: 2 }), inputs).lines.find(
      (l) => l.resource === 'Queries',
    );
    expect(line?.cap).toBe('reserved concurrency 2 and API stage throttle 10 requests a second');
    // Invocations: the throttle's 10/s (below 2 busy for 0.1 s each, 20/s); GB-seconds: 2 busy all month at 0.5 GB.
    expect(line?.worstMonthlyUsd).toBeCloseTo(
      10 * 2_592_000 * 0.2e-6 + 2 * 0.5 * 2_592_000 * 0.0000133334,
      6,
    );
  });

  it("states the open-data usage plan's per-key throttle and quota, priced on the stage's line", () => {
    const { lines, uncapped } = analyseCaps(
      api({}, { Throttle: { RateLimit: 5, BurstLimit: 10 }, Quota: { Limit: 100_000, Period: 'DAY' } }),
      inputs,
    );
    expect(uncapped).toEqual([]);
    const plan = lines.find((l) => l.resource === 'Plan');
    expect(plan?.cap).toMatch(/^each API key at most 5 requests a second and 100000 a day/);
    expect(plan?.worstMonthlyUsd).toBe(0);
    expect(lines.find((l) => l.resource === 'Stage')?.worstMonthlyUsd).toBeCloseTo(
      (10 * 2_592_000 * 3.5) / 1e6,
      6,
    );
  });

  it('reports a usage plan without a quota as uncapped', () => {
    const { uncapped } = analyseCaps(api({}, { Throttle: { RateLimit: 5, BurstLimit: 10 } }), inputs);
    expect(uncapped).toEqual([
      expect.objectContaining({
        resource: 'Plan',
        problem: expect.stringMatching(/per-key throttle and quota/),
      }),
    ]);
  });
});
