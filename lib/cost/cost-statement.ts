import type { RegionPrices } from '../../lambdas/contracts/prices.js';
import { ESSENTIAL_LANE } from '../../lambdas/contracts/topics.js';
import { COST_ASSUMPTIONS, type CostEstimate, costGuardUsd } from '../../lambdas/domain/cost-model.js';
import { RATE_POLICING_FACTOR } from '../../lambdas/domain/rate-policy.js';

/** A synthesized CloudFormation template, as much of it as the statement reads. */
export interface Template {
  readonly Resources?: Readonly<
    Record<string, { readonly Type: string; readonly Properties?: Record<string, unknown> }>
  >;
}

export interface CapLine {
  readonly stack: string;
  readonly resource: string;
  readonly type: string;
  /** What bounds this resource's spend, in words. */
  readonly cap: string;
  /** The most it can cost in a month at that bound. */
  readonly worstMonthlyUsd: number;
}

export interface UncappedResource {
  readonly stack: string;
  readonly resource: string;
  readonly type: string;
  readonly problem: string;
}

export interface StatementInputs {
  readonly councilName: string;
  readonly stage: string;
  readonly region: string;
  readonly devices: number;
  readonly messageIntervalSeconds: number;
  readonly ceilingUsd?: number;
  /**
   * The most domain events a second the services' bus can carry. Every event comes with a detector state write,
   * so it is the `service-state` table's write cap times the most events one state change emits. @default - none:
   * a bus, and a function it invokes without reserved concurrency, is reported as uncapped
   */
  readonly busEventsPerSecond?: number;
  readonly prices: RegionPrices;
  readonly expected: CostEstimate;
}

export interface CostStatement {
  readonly inputs: Omit<StatementInputs, 'prices' | 'expected'>;
  readonly expectedUsd: number;
  readonly expectedLines: CostEstimate['lines'];
  /** Ceiling plus the most that can be spent after it before the guard acts (ordinary lane). */
  readonly guardedMaximumUsd?: number;
  readonly overshootUsd: number;
  /** Every hard cap at its limit for a whole month. */
  readonly worstCaseUsd: number;
  readonly worstCaseLines: readonly CapLine[];
  readonly uncapped: readonly UncappedResource[];
  readonly fallbacks: readonly string[];
  /** Why synth must fail; empty when it may go ahead. */
  readonly violations: readonly string[];
}

const MONTH_SECONDS = COST_ASSUMPTIONS.secondsPerMonth;
/** The shortest billed run assumed for a capped function when working out its most invocations a month. */
const SHORTEST_INVOCATION_SECONDS = 0.1;
/** AWS IoT Core's limit of publishes per second on one connection: how fast a broken device can send. */
const MAX_PUBLISHES_PER_DEVICE_SECOND = 100;
/**
 * AWS IoT's throttle on RegisterThing, per account (the IoT throttling limits table): how often a fleet provisioning
 * template's pre-provisioning hook can be invoked, however many devices, genuine or not, present a claim certificate.
 */
export const REGISTER_THING_PER_SECOND = 10;
/** How long the guard can take to act after spend crosses the ceiling: meter period, metric delay, one retry. */
export const GUARD_REACTION_SECONDS = 15 * 60;

type Resources = NonNullable<Template['Resources']>;

function refersTo(value: unknown, logicalId: string): boolean {
  return JSON.stringify(value ?? null).includes(`"${logicalId}"`);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number'
    ? value
    : typeof value === 'string' && value !== ''
      ? Number(value)
      : undefined;
}

type Props = Record<string, unknown>;

/**
 * The maximum throughput of each global secondary index of a table. On `AWS::DynamoDB::GlobalTable` the write
 * cap sits on the index and the read cap on the replica's copy of it; on `AWS::DynamoDB::Table` both sit in the
 * index's `OnDemandThroughput`.
 */
function indexCaps(
  table: Props,
  replica: Props | undefined,
): { name: string; write: number | undefined; read: number | undefined }[] {
  const replicaIndexes = (replica?.GlobalSecondaryIndexes ?? []) as Props[];
  return ((table.GlobalSecondaryIndexes ?? []) as Props[]).map((index) => {
    const name = String(index.IndexName ?? '?');
    const onReplica = replicaIndexes.find((candidate) => candidate.IndexName === index.IndexName);
    const onDemand = index.OnDemandThroughput as Props | undefined;
    return {
      name,
      write:
        num((index.WriteOnDemandThroughputSettings as Props | undefined)?.MaxWriteRequestUnits) ??
        num(onDemand?.MaxWriteRequestUnits),
      read:
        num((onReplica?.ReadOnDemandThroughputSettings as Props | undefined)?.MaxReadRequestUnits) ??
        num(onDemand?.MaxReadRequestUnits),
    };
  });
}

/**
 * Reads the hard caps the stacks actually synthesized and prices each at its limit. A billable resource without a
 * cap is reported: the cost statement can only promise a maximum when every such resource has one.
 */
export function analyseCaps(
  templates: Readonly<Record<string, Template>>,
  inputs: Pick<
    StatementInputs,
    'prices' | 'devices' | 'messageIntervalSeconds' | 'ceilingUsd' | 'busEventsPerSecond'
  >,
): { lines: CapLine[]; uncapped: UncappedResource[] } {
  const price = (item: keyof RegionPrices) => inputs.prices[item].usd;
  const lines: CapLine[] = [];
  const uncapped: UncappedResource[] = [];
  const all: { stack: string; id: string; type: string; props: Record<string, unknown> }[] = [];
  for (const [stack, template] of Object.entries(templates)) {
    for (const [id, resource] of Object.entries((template.Resources ?? {}) as Resources)) {
      all.push({ stack, id, type: resource.Type, props: resource.Properties ?? {} });
    }
  }
  const stages = all.filter((r) => r.type === 'AWS::ApiGateway::Stage');
  const stageRate = Math.max(
    0,
    ...stages.flatMap((s) =>
      ((s.props.MethodSettings ?? []) as Record<string, unknown>[]).map(
        (m) => num(m.ThrottlingRateLimit) ?? 0,
      ),
    ),
  );

  /** Rules on a custom event bus (those with an `EventBusName`), which deliver to their targets per event. */
  const busRules = all.filter((p) => p.type === 'AWS::Events::Rule' && p.props.EventBusName !== undefined);
  const invokedByBus = (functionId: string) =>
    busRules.some((rule) => refersTo(rule.props.Targets, functionId));
  const lambdaRunUsd = (fn: Props, invocations: number) =>
    (invocations * price('lambda.requestsPerMillion')) / 1e6 +
    invocations *
      (num(fn.Timeout) ?? 3) *
      ((num(fn.MemorySize) ?? 128) / 1024) *
      price('lambda.arm64GbSecond');

  for (const r of all) {
    const add = (cap: string, worstMonthlyUsd: number, resource = r.id) =>
      lines.push({ stack: r.stack, resource, type: r.type, cap, worstMonthlyUsd });
    const flag = (problem: string, resource = r.id) =>
      uncapped.push({ stack: r.stack, resource, type: r.type, problem });
    switch (r.type) {
      case 'AWS::DynamoDB::GlobalTable':
      case 'AWS::DynamoDB::Table': {
        const write =
          num(
            (r.props.WriteOnDemandThroughputSettings as Record<string, unknown> | undefined)
              ?.MaxWriteRequestUnits,
          ) ?? num((r.props.OnDemandThroughput as Record<string, unknown> | undefined)?.MaxWriteRequestUnits);
        const replicas = (r.props.Replicas ?? []) as Record<string, unknown>[];
        const read =
          num(
            (replicas[0]?.ReadOnDemandThroughputSettings as Record<string, unknown> | undefined)
              ?.MaxReadRequestUnits,
          ) ?? num((r.props.OnDemandThroughput as Record<string, unknown> | undefined)?.MaxReadRequestUnits);
        if (write === undefined || read === undefined) {
          flag(
            'on-demand table without a maximum read and write throughput (MaxReadRequestUnits, MaxWriteRequestUnits)',
          );
        } else {
          add(
            `at most ${write} writes and ${read} reads a second`,
            (write * MONTH_SECONDS * price('dynamodb.writeUnitsPerMillion') +
              read * MONTH_SECONDS * price('dynamodb.readUnitsPerMillion')) /
              1e6,
          );
        }
        // Each global secondary index is billed on its own (its reads, and the table writes it copies) and has
        // its own maximum throughput: an index without one is unbounded even when its table is capped.
        for (const index of indexCaps(r.props, replicas[0])) {
          const resource = `${r.id} index ${index.name}`;
          if (index.write === undefined || index.read === undefined) {
            flag(
              'global secondary index without a maximum read and write throughput ' +
                '(ReadOnDemandThroughputSettings, WriteOnDemandThroughputSettings)',
              resource,
            );
            continue;
          }
          add(
            `index: at most ${index.write} writes and ${index.read} reads a second`,
            (index.write * MONTH_SECONDS * price('dynamodb.writeUnitsPerMillion') +
              index.read * MONTH_SECONDS * price('dynamodb.readUnitsPerMillion')) /
              1e6,
            resource,
          );
        }
        break;
      }
      case 'AWS::Lambda::Function': {
        const memoryGb = (num(r.props.MemorySize) ?? 128) / 1024;
        const timeout = num(r.props.Timeout) ?? 3;
        const reserved = num(r.props.ReservedConcurrentExecutions);
        const mappings = all.filter(
          (m) => m.type === 'AWS::Lambda::EventSourceMapping' && refersTo(m.props.FunctionName, r.id),
        );
        const mappingCap = mappings.reduce(
          (sum, m) =>
            sum +
            (num((m.props.ScalingConfig as Record<string, unknown> | undefined)?.MaximumConcurrency) ??
              Number.NaN),
          0,
        );
        const apiInvoked = all.some(
          (p) =>
            p.type === 'AWS::Lambda::Permission' &&
            p.props.Principal === 'apigateway.amazonaws.com' &&
            refersTo(p.props.FunctionName, r.id),
        );
        const schedule = all.find(
          (s) => s.type === 'AWS::Scheduler::Schedule' && refersTo(s.props.Target, r.id),
        );
        const snsOnly = all.some(
          (s) =>
            s.type === 'AWS::SNS::Subscription' &&
            s.props.Protocol === 'lambda' &&
            refersTo(s.props.Endpoint, r.id),
        );
        // A provisioning template's pre-provisioning hook that only IoT may invoke: one run per RegisterThing.
        const provisioningHook =
          all.some(
            (t) =>
              t.type === 'AWS::IoT::ProvisioningTemplate' &&
              refersTo((t.props.PreProvisioningHook as Props | undefined)?.TargetArn, r.id),
          ) &&
          all
            .filter((p) => p.type === 'AWS::Lambda::Permission' && refersTo(p.props.FunctionName, r.id))
            .every((p) => p.props.Principal === 'iot.amazonaws.com');
        const concurrency =
          reserved ?? (mappings.length > 0 && Number.isFinite(mappingCap) ? mappingCap : undefined);
        const scheduled = () => {
          const every = /rate\((\d+) minutes?\)/.exec(String(schedule?.props.ScheduleExpression ?? ''));
          return every ? MONTH_SECONDS / (Number(every[1]) * 60) : MONTH_SECONDS / 60;
        };
        if (concurrency === undefined && invokedByBus(r.id)) {
          // Its events are priced once, on the bus's line (each event reaches one rule); its schedule here.
          if (inputs.busEventsPerSecond === undefined) {
            flag('function invoked by an event bus whose events have no bound (busEventsPerSecond)');
          } else {
            add(
              `events from the bus (on the bus's line)${schedule ? ` and schedule ${schedule.props.ScheduleExpression}` : ''}`,
              schedule ? lambdaRunUsd(r.props, scheduled()) : 0,
            );
          }
          break;
        }
        if (concurrency !== undefined) {
          const invocations = (concurrency * MONTH_SECONDS) / SHORTEST_INVOCATION_SECONDS;
          const busy =
            (invocations * price('lambda.requestsPerMillion')) / 1e6 +
            concurrency * memoryGb * MONTH_SECONDS * price('lambda.arm64GbSecond');
          if (reserved !== undefined && apiInvoked && stageRate > 0) {
            // Both hold at once: invocations within the stage throttle, GB-seconds within the reserved concurrency.
            const invocations = Math.min(
              (reserved * MONTH_SECONDS) / SHORTEST_INVOCATION_SECONDS,
              stageRate * MONTH_SECONDS,
            );
            const gbSeconds = Math.min(
              reserved * memoryGb * MONTH_SECONDS,
              stageRate * MONTH_SECONDS * timeout * memoryGb,
            );
            add(
              `reserved concurrency ${reserved} and API stage throttle ${stageRate} requests a second`,
              (invocations * price('lambda.requestsPerMillion')) / 1e6 +
                gbSeconds * price('lambda.arm64GbSecond'),
            );
          } else if (reserved !== undefined) {
            add(`reserved concurrency ${reserved}`, busy);
          } else if (schedule) {
            // The mapping's cap does not hold the schedule's direct invocations: they are added, each to its timeout.
            add(
              `event source mapping maximum concurrency ${concurrency} and schedule ${schedule.props.ScheduleExpression}`,
              busy + lambdaRunUsd(r.props, scheduled()),
            );
          } else {
            add(`event source mapping maximum concurrency ${concurrency}`, busy);
          }
        } else if (apiInvoked && stageRate > 0) {
          const invocations = stageRate * MONTH_SECONDS;
          add(
            `API stage throttle ${stageRate} requests a second`,
            (invocations * price('lambda.requestsPerMillion')) / 1e6 +
              invocations * timeout * memoryGb * price('lambda.arm64GbSecond'),
          );
        } else if (schedule) {
          add(`schedule ${schedule.props.ScheduleExpression}`, lambdaRunUsd(r.props, scheduled()));
        } else if (provisioningHook) {
          add(
            `pre-provisioning hook: AWS IoT's RegisterThing throttle, ${REGISTER_THING_PER_SECOND} requests a second, each a run at its timeout`,
            lambdaRunUsd(r.props, REGISTER_THING_PER_SECOND * MONTH_SECONDS),
          );
        } else if (snsOnly) {
          // Triggered only by AWS Budgets notices: a handful a month.
          add('invoked by budget notices only', 100 * timeout * memoryGb * price('lambda.arm64GbSecond'));
        } else {
          flag(
            'function with no reserved concurrency, no capped event source mapping, no throttled API and no schedule',
          );
        }
        break;
      }
      case 'AWS::Events::EventBus': {
        if (inputs.busEventsPerSecond === undefined) {
          flag('event bus without a bound on the events put on it (busEventsPerSecond)');
          break;
        }
        const events = inputs.busEventsPerSecond * MONTH_SECONDS;
        // Every event reaches one rule's target. A queue costs its send, a receive each time a consumer takes the
        // event (at most the queue's maxReceiveCount) and a delete; its consumer is priced on its own line, at its
        // cap. A function invoked directly without reserved concurrency is bounded only by the events, each run at
        // most its timeout. The dearest target prices every event.
        // A target's own ARN only: its dead-letter queue (DeadLetterConfig) takes an event instead, not as well.
        const targetArns = busRules
          .filter((rule) => refersTo(rule.props.EventBusName, r.id))
          .flatMap((rule) => ((rule.props.Targets ?? []) as Props[]).map((target) => target.Arn));
        const targets = all.filter((t) => targetArns.some((arn) => refersTo(arn, t.id)));
        const perEvent: number[] = [];
        for (const target of targets) {
          if (target.type === 'AWS::SQS::Queue') {
            const receives = num((target.props.RedrivePolicy as Props | undefined)?.maxReceiveCount);
            if (receives === undefined) {
              flag(
                'queue the event bus delivers to without a redrive policy: nothing bounds how often an event is received',
                target.id,
              );
            } else perEvent.push((1 + receives + 1) * (price('sqs.requestsPerMillion') / 1e6));
          } else if (
            target.type === 'AWS::Lambda::Function' &&
            num(target.props.ReservedConcurrentExecutions) === undefined
          ) {
            perEvent.push(lambdaRunUsd(target.props, 1));
          }
        }
        const queued = targets.some((t) => t.type === 'AWS::SQS::Queue');
        add(
          `at most ${inputs.busEventsPerSecond} events a second (a detector state write each, at its table's cap)` +
            (queued ? ', each queued for its workflow and received at most its maxReceiveCount times' : ''),
          (events * price('eventbridge.customEventsPerMillion')) / 1e6 + events * Math.max(0, ...perEvent),
        );
        break;
      }
      case 'AWS::Logs::LogGroup':
        if (num(r.props.RetentionInDays) === undefined) flag('log group kept forever (no RetentionInDays)');
        break;
      case 'AWS::ApiGateway::Stage': {
        const rate = Math.max(
          0,
          ...((r.props.MethodSettings ?? []) as Record<string, unknown>[]).map(
            (m) => num(m.ThrottlingRateLimit) ?? 0,
          ),
        );
        if (rate <= 0) {
          flag('API stage without a throttling rate limit');
          break;
        }
        add(
          `throttled at ${rate} requests a second`,
          (rate * MONTH_SECONDS * price('apigateway.restRequestsPerMillion')) / 1e6,
        );
        break;
      }
      case 'AWS::ApiGateway::UsagePlan': {
        // Every request, open data included, is priced on the stage's line; the plan bounds each key's share of it.
        const rate = num((r.props.Throttle as Props | undefined)?.RateLimit);
        const quota = r.props.Quota as Props | undefined;
        const limit = num(quota?.Limit);
        if (rate === undefined || limit === undefined) {
          flag(
            'usage plan without a per-key throttle and quota (Throttle, Quota): one API key could take the stage',
          );
          break;
        }
        add(
          `each API key at most ${rate} requests a second and ${limit} a ${String(quota?.Period ?? 'DAY').toLowerCase()} ` +
            '(within the stage throttle, whose line prices every request)',
          0,
        );
        break;
      }
      case 'AWS::IoT::TopicRule': {
        const perMessage = ingestUsdPerMessage(inputs.prices);
        const ruleName = String(r.props.RuleName ?? '');
        if (ruleName === ESSENTIAL_LANE) {
          // The essential lane is never stopped by the guard; rate policing bounds each device instead.
          const messages =
            inputs.devices * RATE_POLICING_FACTOR * (MONTH_SECONDS / inputs.messageIntervalSeconds);
          add(
            `rate policing: each device at most ${RATE_POLICING_FACTOR}x its declared rate`,
            (messages * perMessage) / 1e6,
          );
        } else if (inputs.ceilingUsd === undefined) {
          flag('ingest rule bounded only by the cost guard, and no monthlyCeilingUsd is set');
        } else {
          add(
            `cost guard at the ceiling, plus ${GUARD_REACTION_SECONDS / 60} min at ${MAX_PUBLISHES_PER_DEVICE_SECOND} publishes/s per device`,
            inputs.ceilingUsd + overshootUsd(inputs.devices, inputs.prices),
          );
        }
        break;
      }
      default:
        break;
    }
  }
  return { lines, uncapped };
}

/** What one message costs on its way in: the rule, its action and the SQS send. */
function ingestUsdPerMessage(prices: RegionPrices): number {
  return (
    prices['iot.rulesTriggeredPerMillion'].usd +
    prices['iot.actionsPerMillion'].usd +
    prices['sqs.requestsPerMillion'].usd
  );
}

/** The most a broken fleet can add after the ceiling before the guard acts: every device at the AWS publish limit. */
function overshootUsd(devices: number, prices: RegionPrices): number {
  return (
    (devices * MAX_PUBLISHES_PER_DEVICE_SECOND * GUARD_REACTION_SECONDS * ingestUsdPerMessage(prices)) / 1e6
  );
}

/** Builds the statement from the synthesized templates, the load-profile estimate and the ceiling. */
export function buildCostStatement(
  templates: Readonly<Record<string, Template>>,
  inputs: StatementInputs,
): CostStatement {
  const { lines, uncapped } = analyseCaps(templates, inputs);
  const overshoot = overshootUsd(inputs.devices, inputs.prices);
  const connectivity = inputs.expected.lines.find((l) => l.item === 'connectivity')?.monthlyUsd ?? 0;
  const worstCaseUsd = connectivity + lines.reduce((sum, l) => sum + l.worstMonthlyUsd, 0);
  const violations: string[] = [];
  if (inputs.ceilingUsd !== undefined && inputs.expected.totalUsd > inputs.ceilingUsd) {
    violations.push(
      `the expected monthly cost of ${inputs.expected.totalUsd.toFixed(2)} USD exceeds monthlyCeilingUsd=${inputs.ceilingUsd} ` +
        '(raise the ceiling, or lower devices, messageIntervalSeconds or retentionDays)',
    );
  }
  for (const resource of uncapped)
    violations.push(
      `${resource.stack}/${resource.resource} (${resource.type}) has no cap: ${resource.problem}`,
    );
  const { prices: _prices, expected, ...rest } = inputs;
  return {
    inputs: rest,
    expectedUsd: expected.totalUsd,
    expectedLines: expected.lines,
    ...(inputs.ceilingUsd === undefined ? {} : { guardedMaximumUsd: inputs.ceilingUsd + overshoot }),
    overshootUsd: overshoot,
    worstCaseUsd,
    worstCaseLines: lines,
    uncapped,
    fallbacks: [...new Set(expected.lines.flatMap((l) => (l.fallback ? [l.fallback] : [])))],
    violations,
  };
}

const usd = (value: number) => `$${value >= 100 ? value.toFixed(0) : value.toFixed(2)}`;

/** The three lines synth prints. */
export function summaryLines(statement: CostStatement): string[] {
  const { inputs } = statement;
  return [
    `Expected monthly cost: ${usd(statement.expectedUsd)} for ${inputs.devices} devices reporting every ${inputs.messageIntervalSeconds} s in ${inputs.region}.`,
    statement.guardedMaximumUsd === undefined
      ? 'Ceiling: none set (monthlyCeilingUsd), so nothing holds spending to a maximum.'
      : `Ceiling held by the cost guard: ${usd(inputs.ceilingUsd ?? 0)} (at most ${usd(statement.overshootUsd)} more before it acts; flood and air-quality readings are never stopped).`,
    `Worst case with every hard cap at its limit all month: ${usd(statement.worstCaseUsd)}. Details: cdk.out/cost-statement.md`,
  ];
}

/** The statement a council officer can take to committee. */
export function renderCostStatement(statement: CostStatement): string {
  const { inputs } = statement;
  const out = [
    `# Cost statement: ${inputs.councilName} (${inputs.stage}, ${inputs.region})`,
    '',
    ...summaryLines(statement).map((line) => `- ${line}`),
    '',
    '## Expected month',
    '',
    `From the load profile: ${inputs.devices} devices, one reading every ${inputs.messageIntervalSeconds} s. List prices in USD, no free tier.`,
    '',
    '| Service | Item | Monthly |',
    '| --- | --- | ---: |',
    ...statement.expectedLines.map(
      (l) => `| ${l.service} | ${l.item}${l.fallback ? ' *' : ''} | ${usd(l.monthlyUsd)} |`,
    ),
    `| | **Total** | **${usd(statement.expectedUsd)}** |`,
    '',
    `Of which the cost guard itself (the "cost guard:" lines: its meter's GetMetricData, schedule, functions, logs ` +
      `and records): ${usd(costGuardUsd({ lines: statement.expectedLines }))} a month.`,
    '',
    '## Hard caps and the most each can cost',
    '',
    'Read from the synthesized templates. Every billable resource must have one; synth fails otherwise.',
    '',
    '| Stack | Resource | Cap | Worst month |',
    '| --- | --- | --- | ---: |',
    ...statement.worstCaseLines.map(
      (l) => `| ${l.stack} | ${l.resource} | ${l.cap} | ${usd(l.worstMonthlyUsd)} |`,
    ),
    '',
  ];
  if (statement.uncapped.length > 0) {
    out.push(
      '## Resources without a cap',
      '',
      ...statement.uncapped.map((u) => `- ${u.stack}/${u.resource} (${u.type}): ${u.problem}`),
      '',
    );
  }
  if (statement.fallbacks.length > 0)
    out.push(
      '## Prices not verified for this region',
      '',
      ...statement.fallbacks.map((f) => `- \\* ${f}`),
      '',
    );
  return out.join('\n');
}
