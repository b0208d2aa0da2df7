import { Aws, type CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import { CfnBudget } from 'aws-cdk-lib/aws-budgets';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { SnsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import {
  GUARD_FUNCTION_MEMORY_MB,
  type LaneControlTargets,
  METER_INTERVAL_SECONDS,
  type MeteredResources,
  type SlowUsageRates,
  usageMetrics,
} from '../../lambdas/contracts/metered-resources.js';
import type { Lane } from '../../lambdas/contracts/topics.js';
import type { LogLevel } from '../config/platform-config.js';
import type { CostGuardRecords } from './cost-guard-records.js';
import type { IngestLane } from './ingest-lane.js';
import type { IngestRecords } from './ingest-records.js';
import type { PlatformAlerts } from './platform-alerts.js';
import { PlatformFunction } from './platform-function.js';

/** How often the usage meter runs. */
export const METER_RATE_MINUTES = METER_INTERVAL_SECONDS / 60;
/** The heartbeat alarm fires when the meter has not run for this many schedule periods. */
export const HEARTBEAT_PERIODS = 3;
/** AWS Budgets thresholds (percent of the ceiling): actual spend, then the month's forecast. */
export const BUDGET_ACTUAL_THRESHOLDS = [50, 80, 100] as const;
export const BUDGET_FORECAST_THRESHOLDS = [100] as const;
/** The cost-allocation tag the budget filters on (the app tags every resource with it). */
export const STAGE_TAG_KEY = 'civic:stage';

/** A function the meter reads invocations, duration and log bytes for. */
export interface MeteredFunction {
  readonly functionName: string;
  readonly memoryMb: number;
  readonly logGroupName: string;
}

/** A service workflow lane as the meter reads it: its queue and its function. */
export interface MeteredWorkflowLane {
  readonly queueName: string;
  readonly function: MeteredFunction;
}

/** Props for {@link CostGuard}. */
export interface CostGuardProps {
  /** Deployment name: the budget filters on the `civic:stage` cost-allocation tag with this value. */
  readonly stage: string;
  readonly councilName: string;
  /**
   * Monthly ceiling in USD. Without one the meter still prices usage every 5 minutes and `GET /cost` reports the
   * month to date and forecast, but nothing is ever switched off and no AWS budget is created (a budget needs an
   * amount). @default - none
   */
  readonly monthlyCeilingUsd?: number;
  /** Receive the guard's notices (tiers, forecasts, budget notices); each must confirm by e-mail. @default - none */
  readonly emails?: readonly string[];
  readonly records: CostGuardRecords;
  /** Every ingest lane: both rules and queues are metered. */
  readonly lanes: Readonly<Record<Lane, IngestLane>>;
  /**
   * The deployed service workflow lanes. Their queues and functions are read hourly, on reconciliation runs (their
   * spend is capped by each lane's maximum concurrency and moves slowly); their logs with the other log groups.
   * @default - none
   */
  readonly workflowLanes?: readonly MeteredWorkflowLane[];
  /** The only lane the guard may switch off (its rule and its consumer). */
  readonly ordinaryLane: IngestLane;
  /**
   * The data-path functions (lane enrichment, city API). The guard's own two are not metered: their cost is a
   * known fixed amount, in `fixedDailyUsd`.
   */
  readonly functions: readonly MeteredFunction[];
  /** Every DynamoDB table and its index names. */
  readonly tables: readonly { readonly tableName: string; readonly indexes: readonly string[] }[];
  readonly api: RestApi;
  /** Log groups besides the functions' own (the API access log). */
  readonly logGroupNames: readonly string[];
  /** Devices in the field: connectivity is priced on this count. */
  readonly devices: number;
  /** The cost model's per-message figures the meter prices slow usage with between hourly reconciliations. */
  readonly usageRates: SlowUsageRates;
  /**
   * Clock-driven costs per day, from the cost statement: storage, alarms, and the guard itself (GetMetricData,
   * schedule, its two functions and their logs). @default 0
   */
  readonly fixedDailyUsd?: number;
  /** The heartbeat and failure alarms go here. */
  readonly alerts: PlatformAlerts;
  readonly logRetentionDays: number;
  /** Level of the functions' application logs. */
  readonly logLevel: LogLevel;
  /**
   * Rate policing's second step: the meter disconnects (deactivates the certificates of) ordinary devices that
   * keep sending past their allowance, read from the quarantine. @default - runaways are only refused
   */
  readonly runawayPolicing?: {
    readonly ingestRecords: IngestRecords;
    readonly essentialDeviceTypes: readonly DeviceType[];
  };
}

/**
 * The spending ceiling, enforced: a usage meter every 5 minutes (free one-minute service metrics x unit prices)
 * that steps the ladder ok < warn < degrade < stop and switches the ordinary lane (never the essential one); a
 * heartbeat alarm if the meter stops; an SNS topic for the guard's notices; and, when a ceiling is set, an AWS
 * budget on the stage's cost-allocation tag whose notices (hours late: the backstop) run the same guard.
 */
export class CostGuard extends Construct {
  readonly meter: PlatformFunction;
  readonly budgetAlert: PlatformFunction;
  readonly notices: Topic;
  readonly schedule: Schedule;
  readonly heartbeat: Alarm;
  /** The budget and the topic its notices go to, when a ceiling is set. */
  readonly budget?: CfnBudget;
  readonly budgetNotices?: Topic;
  /** What the meter reads (tokens for names until deployment). */
  readonly metered: MeteredResources;

  constructor(scope: Construct, id: string, props: CostGuardProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.notices = new Topic(this, 'Notices', {
      displayName: 'Civic IoT spending guard',
      enforceSSL: true,
      // The AWS managed SNS key: its key policy lets this account's principals publish through SNS, no key fee.
      masterKey: Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
    });
    for (const email of props.emails ?? []) this.notices.addSubscription(new EmailSubscription(email));

    const functionNames = {
      meter: `${stack.stackName}-usage-meter`,
      budgetAlert: `${stack.stackName}-budget-alert`,
    };
    const memorySizeMb = GUARD_FUNCTION_MEMORY_MB;
    // The guard's own functions are not metered (fixed accrual), so the meter reads only the data path.
    const workflowLanes = props.workflowLanes ?? [];
    const metered: MeteredResources = {
      rules: Object.values(props.lanes).map((lane) => lane.rule.ruleName ?? ''),
      queues: Object.values(props.lanes).map((lane) => lane.queue.queueName),
      functions: props.functions.map((fn) => ({
        name: fn.functionName,
        memoryMb: fn.memoryMb,
      })),
      workflowQueues: workflowLanes.map((lane) => lane.queueName),
      workflowFunctions: workflowLanes.map((lane) => ({
        name: lane.function.functionName,
        memoryMb: lane.function.memoryMb,
      })),
      tables: props.tables.map((table) => ({
        name: table.tableName,
        ...(table.indexes.length > 0 ? { indexes: [...table.indexes] } : {}),
      })),
      apis: [{ name: props.api.restApiName, stage: props.api.deploymentStage.stageName }],
      logGroups: [...props.functions, ...workflowLanes.map((lane) => lane.function)]
        .map((fn) => fn.logGroupName)
        .concat(props.logGroupNames),
      devices: props.devices,
      usageRates: props.usageRates,
    };
    // Fails synth if the platform ever grows past what one GetMetricData request can read.
    usageMetrics(metered);
    this.metered = metered;

    const laneControls: LaneControlTargets = { [props.ordinaryLane.lane]: props.ordinaryLane.controlTarget };
    const environment = {
      ...props.records.environment,
      [ENV.meteredResources]: stack.toJsonString(metered),
      [ENV.laneControls]: stack.toJsonString(laneControls),
      [ENV.guardTopicArn]: this.notices.topicArn,
      [ENV.councilName]: props.councilName,
      [ENV.meterIntervalSeconds]: String(METER_RATE_MINUTES * 60),
      [ENV.costFixedDailyUsd]: String(props.fixedDailyUsd ?? 0),
      ...(props.monthlyCeilingUsd === undefined
        ? {}
        : { [ENV.monthlyCeilingUsd]: String(props.monthlyCeilingUsd) }),
    };
    const guardFunction = (id: string, handlerName: string, functionName: string, description: string) => {
      const fn = new PlatformFunction(this, id, {
        handlerName,
        functionName,
        description,
        memorySizeMb,
        timeout: Duration.seconds(60),
        logRetentionDays: props.logRetentionDays,
        logLevel: props.logLevel,
        environment,
      });
      props.records.grantGuard(fn.role);
      props.ordinaryLane.grantSwitch(fn.role, { switchOff: true });
      this.notices.grantPublish(fn.role);
      fn.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
      );
      Validations.of(fn.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          "Only cloudwatch:GetMetricData is on '*': it has no resource type in IAM. The metrics read are fixed in " +
          'the function environment (the platform resources); every other permission is on a named ARN.',
      });
      return fn;
    };

    this.meter = guardFunction(
      'Meter',
      'usage-meter',
      functionNames.meter,
      `Every ${METER_RATE_MINUTES} minutes: prices the platform's usage and applies the spending ladder`,
    );
    this.budgetAlert = guardFunction(
      'BudgetAlert',
      'budget-alert',
      functionNames.budgetAlert,
      'AWS Budgets notices: runs the spending guard and records the notice',
    );

    if (props.runawayPolicing) this.enableRunawayPolicing(props.runawayPolicing);

    const scheduleRole = new Role(this, 'MeterScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: 'EventBridge Scheduler: invoke the usage meter, nothing else',
    });
    this.schedule = new Schedule(this, 'MeterSchedule', {
      description: `Runs the usage meter every ${METER_RATE_MINUTES} minutes`,
      schedule: ScheduleExpression.rate(Duration.minutes(METER_RATE_MINUTES)),
      // A late run is pointless once the next one is due; the ledger makes the next run cover the gap.
      target: new LambdaInvoke(this.meter.function, {
        role: scheduleRole,
        retryAttempts: 1,
        maxEventAge: Duration.minutes(METER_RATE_MINUTES),
      }),
    });
    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.meter.function.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason:
        "The CDK invoke grant adds '<meter ARN>:*' (the meter's versions and aliases) beside the ARN itself; it " +
        'reaches no other function.',
    });

    this.heartbeat = new Alarm(this, 'MeterHeartbeat', {
      alarmDescription:
        `The usage meter has not run for ${HEARTBEAT_PERIODS * METER_RATE_MINUTES} minutes: spending is not ` +
        'being watched (check the schedule and the function).',
      metric: this.meter.function.metricInvocations({
        period: Duration.minutes(METER_RATE_MINUTES),
        statistic: 'Sum',
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: HEARTBEAT_PERIODS,
      datapointsToAlarm: HEARTBEAT_PERIODS,
      // No invocations means no data point: that is exactly the case to alarm on.
      treatMissingData: TreatMissingData.BREACHING,
    });
    props.alerts.notifyOn(this.heartbeat);
    props.alerts.notifyOn(
      new Alarm(this, 'MeterFailing', {
        alarmDescription:
          `Every usage meter run failed for ${HEARTBEAT_PERIODS * METER_RATE_MINUTES} minutes: spending is not ` +
          'being watched (see the function log).',
        metric: this.meter.function.metricErrors({
          period: Duration.minutes(METER_RATE_MINUTES),
          statistic: 'Sum',
        }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: HEARTBEAT_PERIODS,
        datapointsToAlarm: HEARTBEAT_PERIODS,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );

    if (props.monthlyCeilingUsd !== undefined) {
      const { budget, topic } = this.createBudget(props.stage, props.monthlyCeilingUsd);
      this.budget = budget;
      this.budgetNotices = topic;
    }
  }

  /**
   * A monthly cost budget on the stage's cost-allocation tag. Budgets allows one SNS subscriber per notification,
   * so every notification goes to one topic, and that topic triggers the budget-alert function.
   */
  private createBudget(stage: string, ceilingUsd: number): { budget: CfnBudget; topic: Topic } {
    const topic = new Topic(this, 'BudgetNotices', {
      displayName: 'Civic IoT AWS Budgets notices',
      enforceSSL: true,
    });
    topic.grantPublish(
      new ServicePrincipal('budgets.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:budgets::${Aws.ACCOUNT_ID}:*` },
        },
      }),
    );
    Validations.of(topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'AWS Budgets cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key ' +
        'adds a monthly fee; the notices carry only budget amounts. Publishing is TLS-only (enforceSSL) and ' +
        "limited to this account's budgets.",
    });
    this.budgetAlert.function.addEventSource(new SnsEventSource(topic));

    const subscribers = [{ subscriptionType: 'SNS', address: topic.topicArn }];
    const notification = (notificationType: 'ACTUAL' | 'FORECASTED', threshold: number) => ({
      notification: {
        notificationType,
        comparisonOperator: 'GREATER_THAN',
        threshold,
        thresholdType: 'PERCENTAGE',
      },
      subscribers,
    });
    const budget = new CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: `civic-iot-${stage}-${Stack.of(this).region}`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: ceilingUsd, unit: 'USD' },
        // Only this stage's resources: the tag must be activated as a cost allocation tag in the Billing console.
        costFilters: { TagKeyValue: [`user:${STAGE_TAG_KEY}$${stage}`] },
      },
      notificationsWithSubscribers: [
        ...BUDGET_ACTUAL_THRESHOLDS.map((threshold) => notification('ACTUAL', threshold)),
        ...BUDGET_FORECAST_THRESHOLDS.map((threshold) => notification('FORECASTED', threshold)),
      ],
    });
    // Budgets checks that it may publish when the notification is created.
    if (topic.node.tryFindChild('Policy')) budget.node.addDependency(topic.node.findChild('Policy'));
    return { budget, topic };
  }

  /** The meter reads the quarantine's RATE_LIMITED entries and may deactivate a device's certificates. */
  private enableRunawayPolicing(policing: NonNullable<CostGuardProps['runawayPolicing']>): void {
    const meter = this.meter.function;
    policing.ingestRecords.grantReadQuarantine(this.meter.role);
    meter.addEnvironment(ENV.tables.quarantine, policing.ingestRecords.quarantineTable.tableName);
    meter.addEnvironment(ENV.essentialDeviceTypes, policing.essentialDeviceTypes.join(','));
    meter.addEnvironment(ENV.disconnectRunawayDevices, 'true');
    const stack = Stack.of(this);
    this.meter.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iot:ListThingPrincipals'],
        resources: [stack.formatArn({ service: 'iot', resource: 'thing', resourceName: '*' })],
      }),
    );
    this.meter.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iot:UpdateCertificate'],
        resources: [stack.formatArn({ service: 'iot', resource: 'cert', resourceName: '*' })],
      }),
    );
    Validations.of(this.meter.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:${stack.region}:<AWS::AccountId>:thing/*]`,
      reason:
        'Which device runs away is known only at run time; listing the principals of any thing in this account and ' +
        'region is read-only, and the meter acts only on devices the store refused as RATE_LIMITED.',
    });
    Validations.of(this.meter.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:${stack.region}:<AWS::AccountId>:cert/*]`,
      reason:
        'Certificates are per device and created after deployment; the meter only sets a runaway ordinary ' +
        "device's certificates to INACTIVE (never deletes or revokes), and every such action is audited and notified.",
    });
  }
}
