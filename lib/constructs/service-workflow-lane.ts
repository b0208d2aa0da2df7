import { Aws, type CfnElement, Duration, Stack, Tags, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { type IEventBus, Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  BUS_TO_QUEUE_DELIVERY,
  servicePattern,
  WORKFLOW_QUEUE,
  type WorkflowLane,
  workflowLaneOf,
} from '../../lambdas/contracts/domain-event-bus.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import { WORKFLOW_FUNCTION_MEMORY_MB } from '../../lambdas/contracts/metered-resources.js';
import { type ServiceBlueprint, WORKFLOW_SCHEDULE_SECONDS } from '../../services/shared/blueprint.js';
import type { LogLevel } from '../config/platform-config.js';
import type { DeviceRegistry } from './device-registry.js';
import type { PlatformAlerts } from './platform-alerts.js';
import { PlatformFunction } from './platform-function.js';
import { deadLettersAlarm, queueWithDeadLetters } from './queue-with-dead-letters.js';
import type { ServiceRecords } from './service-records.js';

/**
 * A workflow run's longest allowed time. A batch of events takes a few conditional writes each; a scheduled run
 * does each hosted blueprint's sweep side by side (10,000 devices is a few seconds).
 */
export const WORKFLOW_TIMEOUT_SECONDS = WORKFLOW_QUEUE.functionTimeoutSeconds;

/** Lambda's own retries of a scheduled run that failed (its maximum), before the failure destination. */
const ASYNC_RETRY_ATTEMPTS = 2;

/** A queued event older than this means the workflow is not keeping up (or not running) and someone should look. */
const OLDEST_EVENT_ALARM_SECONDS = 15 * 60;

/** The tag that says whether a resource serves essential services (never held back by the cost guard). */
export const ESSENTIAL_TAG_KEY = 'civic:essential';
/** The tag naming the service blueprint a resource belongs to (its topic, its bus rule). */
export const SERVICE_TAG_KEY = 'civic:service';
/** The tag naming the workflow lane a resource belongs to. */
export const WORKFLOW_LANE_TAG_KEY = 'civic:workflow-lane';

/** Props for {@link ServiceWorkflowLane}. */
export interface ServiceWorkflowLaneProps {
  readonly lane: WorkflowLane;
  /** The enabled blueprints of this lane (each one's `workflowLaneOf` is `lane`); at least one. */
  readonly blueprints: readonly ServiceBlueprint[];
  /** The deployment's domain event bus: each blueprint's rule sits on it. */
  readonly bus: IEventBus;
  /** Variables every workflow function shares (the service settings). */
  readonly environment: Readonly<Record<string, string>>;
  /** Addresses subscribed to each service's topic; each must confirm by e-mail. A service without an entry gets none. */
  readonly subscribers: Readonly<Record<string, readonly string[]>>;
  readonly registry: DeviceRegistry;
  readonly records: ServiceRecords;
  /** The dead-letter and backlog alarms go here. */
  readonly alerts: PlatformAlerts;
  readonly logRetentionDays: number;
  readonly logLevel: LogLevel;
  /**
   * Event source mapping maximum concurrency of the function on its queue (SQS allows 2..1000): caps the lane's
   * workflows, and so their cost, without reserved concurrency.
   */
  readonly maxConcurrency: number;
  /** Reserved concurrency of the function. @default - none */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * One workflow lane running on AWS, as an ingest lane is one: an encrypted queue, its dead-letter queue and alarms,
 * and ONE workflow function hosting the lane's blueprints, consuming the queue through an event source mapping
 * with a maximum concurrency (so no burst of events can run the lane, or its bill, past the cap) and reporting
 * each failed event on its own. Each blueprint keeps what is its own: a rule on the bus that matches exactly its
 * event types and puts each event on the lane's queue (rules cost nothing), and its SNS topic for its notices.
 * When any hosted workflow has an `onSchedule`, one schedule invokes the function every
 * {@link WORKFLOW_SCHEDULE_SECONDS} and the run does every hosted blueprint's scheduled work. Nothing is dropped
 * silently: an event the bus could not put on the queue, an event that kept failing and a scheduled run that kept
 * failing all end in the lane's encrypted dead-letter queue.
 *
 * Why two lanes and not one for every service: a burst of parking events must never delay a flood alert. The
 * essential lane's queue holds only essential services' events, and its maximum concurrency is spent on them alone.
 */
export class ServiceWorkflowLane extends Construct {
  readonly lane: WorkflowLane;
  readonly blueprints: readonly ServiceBlueprint[];
  readonly function: PlatformFunction;
  /** The lane's events, waiting for its workflow function. */
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly eventSource: SqsEventSource;
  /** Each hosted service's rule on the bus, by service name. */
  readonly rules: ReadonlyMap<string, Rule>;
  /** Each hosted service's notice topic, by service name. */
  readonly topics: ReadonlyMap<string, Topic>;
  readonly deadLettersAlarm: Alarm;
  readonly backlogAlarm: Alarm;
  /** Present only when a hosted blueprint's workflow has an `onSchedule`. */
  readonly schedule?: Schedule;

  constructor(scope: Construct, id: string, props: ServiceWorkflowLaneProps) {
    super(scope, id);
    const { lane, blueprints } = props;
    if (blueprints.length === 0) {
      throw new Error(`ServiceWorkflowLane ${lane}: no blueprint to host; leave the lane out instead`);
    }
    const strays = blueprints.filter((blueprint) => workflowLaneOf(blueprint) !== lane);
    if (strays.length > 0) {
      throw new Error(
        `ServiceWorkflowLane ${lane}: ${strays.map((b) => b.name).join(', ')} belong(s) to the ` +
          `${workflowLaneOf(strays[0] as ServiceBlueprint)} lane`,
      );
    }
    this.lane = lane;
    this.blueprints = blueprints;
    const names = blueprints.map((blueprint) => blueprint.name);
    // Visible on every taggable resource of the lane, so an operator (and the cost allocation report) sees which
    // lane serves essential services without reading the code.
    Tags.of(this).add(WORKFLOW_LANE_TAG_KEY, lane);
    Tags.of(this).add(ESSENTIAL_TAG_KEY, String(lane === 'essential'));

    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = queueWithDeadLetters(this, {
      retentionDays: WORKFLOW_QUEUE.retentionDays,
      visibilityTimeoutSeconds: WORKFLOW_QUEUE.visibilityTimeoutSeconds,
      maxReceiveCount: WORKFLOW_QUEUE.maxReceiveCount,
      deadLetterReason:
        `This is the dead-letter queue of the ${lane} workflow lane (events that kept failing, events the bus ` +
        'could not queue, scheduled runs that kept failing); it is alarmed (messages visible > 0) and redriven ' +
        'to the lane queue with StartMessageMoveTask after a fix (the workflows are idempotent).',
    }));

    // The AWS managed SNS key: its key policy lets this account's principals publish through SNS, no key fee.
    const snsManagedKey = Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns');
    const topics = new Map<string, Topic>();
    for (const blueprint of blueprints) {
      const topic = new Topic(this, `${constructId(blueprint.name)}Topic`, {
        displayName: `Civic IoT: ${blueprint.title}`.slice(0, 100),
        enforceSSL: true,
        masterKey: snsManagedKey,
      });
      Tags.of(topic).add(SERVICE_TAG_KEY, blueprint.name);
      for (const email of props.subscribers[blueprint.name] ?? []) {
        topic.addSubscription(new EmailSubscription(email));
      }
      topics.set(blueprint.name, topic);
    }
    this.topics = topics;

    const titles = blueprints.map((blueprint) => blueprint.title).join(', ');
    this.function = new PlatformFunction(this, 'Workflow', {
      handlerName: 'service-workflow',
      // Lambda takes at most 256 characters.
      description: (
        `${lane} workflow lane (${titles}): applies their domain events and schedules` +
        (lane === 'essential' ? '; essential services, never held back by the cost guard' : '')
      ).slice(0, 256),
      memorySizeMb: WORKFLOW_FUNCTION_MEMORY_MB,
      timeout: Duration.seconds(WORKFLOW_TIMEOUT_SECONDS),
      logRetentionDays: props.logRetentionDays,
      logLevel: props.logLevel,
      environment: {
        ...props.environment,
        ...props.registry.environment,
        ...props.records.workflowEnvironment,
        [ENV.serviceNames]: names.join(','),
        [ENV.serviceTopicArns]: Stack.of(this).toJsonString(
          Object.fromEntries([...topics].map(([service, topic]) => [service, topic.topicArn])),
        ),
      },
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
    });
    props.records.grantWorkflow(this.function.role);
    // The fleet sweep and a job's location: the registry and every device's latest state, read only.
    props.registry.grantRead(this.function.role);
    for (const topic of topics.values()) topic.grantPublish(this.function.role);

    this.eventSource = new SqsEventSource(this.queue, {
      batchSize: WORKFLOW_QUEUE.batchSize,
      maxBatchingWindow: Duration.seconds(WORKFLOW_QUEUE.maxBatchingWindowSeconds),
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency,
    });
    this.function.function.addEventSource(this.eventSource);

    const rules = new Map<string, Rule>();
    for (const blueprint of blueprints) {
      const pattern = servicePattern(blueprint.eventTypes);
      const rule = new Rule(this, `${constructId(blueprint.name)}Rule`, {
        eventBus: props.bus,
        description: `${blueprint.title}: its own domain events to the ${lane} workflow lane's queue`,
        eventPattern: { source: [...pattern.source], detailType: [...pattern['detail-type']] },
        // The target adds a statement to the queue policy: events.amazonaws.com may send, only with this rule as
        // the source ARN; the lane's queue takes its own services' rules and nobody else.
        targets: [
          new SqsQueue(this.queue, {
            retryAttempts: BUS_TO_QUEUE_DELIVERY.retryAttempts,
            maxEventAge: Duration.seconds(BUS_TO_QUEUE_DELIVERY.maxEventAgeSeconds),
            deadLetterQueue: this.deadLetterQueue,
          }),
        ],
      });
      Tags.of(rule).add(SERVICE_TAG_KEY, blueprint.name);
      rules.set(blueprint.name, rule);
    }
    this.rules = rules;

    if (blueprints.some((blueprint) => blueprint.workflow.onSchedule)) this.schedule = this.createSchedule();

    this.deadLettersAlarm = deadLettersAlarm(
      this,
      this.deadLetterQueue,
      `${lane} workflow lane (${names.join(', ')}): events or scheduled runs wait in its dead-letter queue ` +
        '(fix the cause, then redrive them to its queue; the workflows are idempotent)',
    );
    props.alerts.notifyOn(this.deadLettersAlarm);
    // Queued events expire unseen after the retention period: a consumer that stopped must be noticed long before.
    this.backlogAlarm = new Alarm(this, 'BacklogAlarm', {
      alarmDescription:
        `${lane} workflow lane (${names.join(', ')}): its oldest queued event is older than ` +
        `${OLDEST_EVENT_ALARM_SECONDS / 60} minutes (the workflow is failing, throttled or its event source ` +
        'mapping is off)',
      metric: this.queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: OLDEST_EVENT_ALARM_SECONDS,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    props.alerts.notifyOn(this.backlogAlarm);
  }

  private createSchedule(): Schedule {
    const stack = Stack.of(this);
    const role = new Role(this, 'ScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `EventBridge Scheduler: invoke the ${this.lane} workflow lane, nothing else`,
    });
    const minutes = WORKFLOW_SCHEDULE_SECONDS / 60;
    // The Scheduler invokes asynchronously: from then on a failing run is Lambda's to retry, and without a
    // destination it would be dropped after those retries. A run older than the period is superseded by the next.
    this.function.function.configureAsyncInvoke({
      retryAttempts: ASYNC_RETRY_ATTEMPTS,
      maxEventAge: Duration.seconds(WORKFLOW_SCHEDULE_SECONDS),
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    const scheduled = this.blueprints.filter((b) => b.workflow.onSchedule).map((b) => b.name);
    const schedule = new Schedule(this, 'Schedule', {
      description: `Runs the ${this.lane} workflow lane's scheduled work (${scheduled.join(', ')}) every ${minutes} minutes`,
      schedule: ScheduleExpression.rate(Duration.minutes(minutes)),
      // A late run is pointless once the next one is due: every run works from the stores, not from its input.
      target: new LambdaInvoke(this.function.function, {
        role,
        input: ScheduleTargetInput.fromObject({ kind: 'schedule' }),
        retryAttempts: 1,
        maxEventAge: Duration.seconds(WORKFLOW_SCHEDULE_SECONDS),
      }),
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.function.function.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason:
        "The CDK invoke grant adds '<workflow ARN>:*' (the function's versions and aliases) beside the ARN itself; " +
        'it reaches no other function.',
    });
    return schedule;
  }
}

/** `air-quality` -> `AirQuality`: a construct id that reads like the service. */
export function constructId(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
