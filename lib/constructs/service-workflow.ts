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
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  BUS_TO_QUEUE_DELIVERY,
  servicePattern,
  WORKFLOW_QUEUE,
} from '../../lambdas/contracts/domain-event-bus.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import { WORKFLOW_FUNCTION_MEMORY_MB } from '../../lambdas/contracts/metered-resources.js';
import { type ServiceBlueprint, WORKFLOW_SCHEDULE_SECONDS } from '../../services/shared/blueprint.js';
import type { LogLevel } from '../config/platform-config.js';
import type { DeviceRegistry } from './device-registry.js';
import type { PlatformAlerts } from './platform-alerts.js';
import { PlatformFunction } from './platform-function.js';
import type { ServiceRecords } from './service-records.js';

/**
 * A workflow run's longest allowed time. A batch of events takes a few conditional writes each; a scheduled sweep
 * pages through the fleet (10,000 devices is a few seconds).
 */
export const WORKFLOW_TIMEOUT_SECONDS = WORKFLOW_QUEUE.functionTimeoutSeconds;

/** Lambda's own retries of a scheduled run that failed (its maximum), before the failure destination. */
const ASYNC_RETRY_ATTEMPTS = 2;

/** A queued event older than this means the workflow is not keeping up (or not running) and someone should look. */
const OLDEST_EVENT_ALARM_SECONDS = 15 * 60;

/** The tag that says whether a service is essential (its alerts and lane are never held back by the cost guard). */
export const ESSENTIAL_TAG_KEY = 'civic:essential';
/** The tag naming the service blueprint a resource belongs to. */
export const SERVICE_TAG_KEY = 'civic:service';

/** Props for {@link ServiceWorkflow}. */
export interface ServiceWorkflowProps {
  readonly blueprint: ServiceBlueprint;
  /** The deployment's domain event bus: the workflow's rule sits on it. */
  readonly bus: IEventBus;
  /** Variables every workflow function shares (the service settings). */
  readonly environment: Readonly<Record<string, string>>;
  /** Addresses subscribed to the service's topic; each must confirm by e-mail. */
  readonly subscribers: readonly string[];
  readonly registry: DeviceRegistry;
  readonly records: ServiceRecords;
  /** The dead-letter and backlog alarms go here. */
  readonly alerts: PlatformAlerts;
  readonly logRetentionDays: number;
  readonly logLevel: LogLevel;
  /**
   * Event source mapping maximum concurrency of the function on its queue (SQS allows 2..1000): caps the
   * workflow, and so its cost, without reserved concurrency.
   */
  readonly maxConcurrency: number;
  /** Reserved concurrency of the function. @default - none */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * One service blueprint running on AWS: a rule on the event bus that matches exactly the blueprint's event types
 * and puts each event on the service's encrypted queue; its workflow function, consuming that queue through an
 * event source mapping with a maximum concurrency (so no burst of events can run it, or its bill, past the cap)
 * and reporting each failed event on its own; when the workflow has an `onSchedule`, a schedule invoking it every
 * {@link WORKFLOW_SCHEDULE_SECONDS}; the service's own SNS topic for its notices; and alarms on the dead-letter
 * queue and on a backlog. Nothing is dropped silently: an event the bus could not put on the queue, an event that
 * kept failing and a scheduled run that kept failing all end in the same encrypted dead-letter queue.
 */
export class ServiceWorkflow extends Construct {
  readonly blueprint: ServiceBlueprint;
  readonly function: PlatformFunction;
  readonly rule: Rule;
  /** The service's events, waiting for its workflow. */
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly eventSource: SqsEventSource;
  readonly topic: Topic;
  readonly deadLettersAlarm: Alarm;
  readonly backlogAlarm: Alarm;
  /** Present only when the blueprint's workflow has an `onSchedule`. */
  readonly schedule?: Schedule;

  constructor(scope: Construct, id: string, props: ServiceWorkflowProps) {
    super(scope, id);
    const { blueprint } = props;
    this.blueprint = blueprint;
    // Visible on every taggable resource of the service, so an operator (and the cost allocation report) sees
    // which services are essential without reading the code.
    Tags.of(this).add(SERVICE_TAG_KEY, blueprint.name);
    Tags.of(this).add(ESSENTIAL_TAG_KEY, String(blueprint.essential));

    this.topic = new Topic(this, 'Topic', {
      displayName: `Civic IoT: ${blueprint.title}`.slice(0, 100),
      enforceSSL: true,
      // The AWS managed SNS key: its key policy lets this account's principals publish through SNS, no key fee.
      masterKey: Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
    });
    for (const email of props.subscribers) this.topic.addSubscription(new EmailSubscription(email));

    const retentionPeriod = Duration.days(WORKFLOW_QUEUE.retentionDays);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      // SQS-managed keys: EventBridge can send to the queue without a customer key policy (it cannot use the AWS
      // managed SQS KMS key), and there is no key fee.
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        `This is the dead-letter queue of the ${blueprint.name} workflow (events that kept failing, events the bus ` +
        'could not queue, scheduled runs that kept failing); it is alarmed (messages visible > 0) and redriven ' +
        'to the workflow queue with StartMessageMoveTask after a fix (the workflow is idempotent).',
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(WORKFLOW_QUEUE.visibilityTimeoutSeconds),
      retentionPeriod,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: WORKFLOW_QUEUE.maxReceiveCount },
    });

    this.function = new PlatformFunction(this, 'Workflow', {
      handlerName: 'service-workflow',
      description:
        `${blueprint.title}: applies its domain events and schedule` +
        (blueprint.essential ? ' (essential service: never held back by the cost guard)' : ''),
      memorySizeMb: WORKFLOW_FUNCTION_MEMORY_MB,
      timeout: Duration.seconds(WORKFLOW_TIMEOUT_SECONDS),
      logRetentionDays: props.logRetentionDays,
      logLevel: props.logLevel,
      environment: {
        ...props.environment,
        ...props.registry.environment,
        ...props.records.workflowEnvironment,
        [ENV.serviceName]: blueprint.name,
        [ENV.serviceTopicArn]: this.topic.topicArn,
      },
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
    });
    const fn = this.function.function;
    props.records.grantWorkflow(this.function.role);
    // The fleet sweep and a job's location: the registry and every device's latest state, read only.
    props.registry.grantRead(this.function.role);
    this.topic.grantPublish(this.function.role);

    this.eventSource = new SqsEventSource(this.queue, {
      batchSize: WORKFLOW_QUEUE.batchSize,
      maxBatchingWindow: Duration.seconds(WORKFLOW_QUEUE.maxBatchingWindowSeconds),
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency,
    });
    fn.addEventSource(this.eventSource);

    const pattern = servicePattern(blueprint.eventTypes);
    this.rule = new Rule(this, 'Rule', {
      eventBus: props.bus,
      description: `${blueprint.title}: its own domain events to its workflow queue`,
      eventPattern: { source: [...pattern.source], detailType: [...pattern['detail-type']] },
      // The target adds the queue policy: events.amazonaws.com may send, only with this rule as the source ARN.
      targets: [
        new SqsQueue(this.queue, {
          retryAttempts: BUS_TO_QUEUE_DELIVERY.retryAttempts,
          maxEventAge: Duration.seconds(BUS_TO_QUEUE_DELIVERY.maxEventAgeSeconds),
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });

    if (blueprint.workflow.onSchedule) this.schedule = this.createSchedule(blueprint);

    this.deadLettersAlarm = new Alarm(this, 'DeadLettersAlarm', {
      alarmDescription:
        `${blueprint.name} workflow: events or scheduled runs wait in its dead-letter queue ` +
        '(fix the cause, then redrive them to its queue; the workflow is idempotent)',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    props.alerts.notifyOn(this.deadLettersAlarm);
    // Queued events expire unseen after the retention period: a consumer that stopped must be noticed long before.
    this.backlogAlarm = new Alarm(this, 'BacklogAlarm', {
      alarmDescription:
        `${blueprint.name} workflow: its oldest queued event is older than ${OLDEST_EVENT_ALARM_SECONDS / 60} ` +
        'minutes (the workflow is failing, throttled or its event source mapping is off)',
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

  private createSchedule(blueprint: ServiceBlueprint): Schedule {
    const stack = Stack.of(this);
    const role = new Role(this, 'ScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `EventBridge Scheduler: invoke the ${blueprint.name} workflow, nothing else`,
    });
    const minutes = WORKFLOW_SCHEDULE_SECONDS / 60;
    // The Scheduler invokes asynchronously: from then on a failing run is Lambda's to retry, and without a
    // destination it would be dropped after those retries. A run older than the period is superseded by the next.
    this.function.function.configureAsyncInvoke({
      retryAttempts: ASYNC_RETRY_ATTEMPTS,
      maxEventAge: Duration.seconds(WORKFLOW_SCHEDULE_SECONDS),
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    const schedule = new Schedule(this, 'Schedule', {
      description: `Runs the ${blueprint.name} workflow's scheduled step every ${minutes} minutes`,
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
