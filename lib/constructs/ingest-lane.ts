import { Aws, type CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { type IGrantable, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnTopicRule } from 'aws-cdk-lib/aws-iot';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/contracts/environment.js';
import { INGEST_SETTINGS } from '../../lambdas/contracts/ingest-settings.js';
import type { LaneControlTarget } from '../../lambdas/contracts/metered-resources.js';
import { type Lane, ruleSql } from '../../lambdas/contracts/topics.js';
import type { LogLevel } from '../config/platform-config.js';
import type { PlatformAlerts } from './platform-alerts.js';
import { PlatformFunction } from './platform-function.js';
import { deadLettersAlarm, queueWithDeadLetters } from './queue-with-dead-letters.js';

/** A queue older than this means enrichment is not keeping up (or the lane is paused) and someone should look. */
const OLDEST_MESSAGE_ALARM_SECONDS = 15 * 60;

/** Props for {@link IngestLane}. */
export interface IngestLaneProps {
  readonly lane: Lane;
  /** Where the rule's errorAction writes messages it could not deliver (under `<lane>/`). */
  readonly errorArchive: IBucket;
  /** Environment for the enrichment function: table names, telemetry store, retention. */
  readonly environment: Readonly<Record<string, string>>;
  /** Event source mapping maximum concurrency: caps consumers without reserved concurrency. */
  readonly maxConcurrency: number;
  /** Reserved concurrency for the function. @default - none */
  readonly reservedConcurrentExecutions?: number;
  readonly logRetentionDays: number;
  /** Level of the functions' application logs. */
  readonly logLevel: LogLevel;
  readonly alerts: PlatformAlerts;
}

/**
 * One ingest lane: IoT topic rule -> SQS queue (DLQ after repeated failures) -> enrich-telemetry function, with
 * the rule's errorAction archiving what the rule could not deliver, and alarms on dead letters, errors and backlog.
 * Each lane has its own function and mapping so the cost guard can pause one lane's mapping and keep the other.
 */
export class IngestLane extends Construct {
  readonly lane: Lane;
  readonly rule: CfnTopicRule;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly enrichment: PlatformFunction;
  readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: IngestLaneProps) {
    super(scope, id);
    const { lane } = props;
    this.lane = lane;
    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = queueWithDeadLetters(this, {
      retentionDays: INGEST_SETTINGS.queueRetentionDays,
      visibilityTimeoutSeconds: INGEST_SETTINGS.visibilityTimeoutSeconds,
      maxReceiveCount: INGEST_SETTINGS.maxReceiveCount,
      deadLetterReason:
        'This is the dead-letter queue of the lane queue; it is alarmed (messages visible > 0) and redriven ' +
        'to the source queue with StartMessageMoveTask after a fix.',
    }));

    this.rule = this.createRule(lane, props.errorArchive);

    this.enrichment = new PlatformFunction(this, 'Enrichment', {
      handlerName: 'enrich-telemetry',
      description: `Validates, deduplicates and stores telemetry from the ${lane} lane`,
      memorySizeMb: INGEST_SETTINGS.enrichmentMemoryMb,
      timeout: Duration.seconds(INGEST_SETTINGS.enrichmentTimeoutSeconds),
      logRetentionDays: props.logRetentionDays,
      logLevel: props.logLevel,
      // The function's own lane: it reads that lane's sampling rate from the cost guard's settings.
      environment: { ...props.environment, [ENV.ingestLane]: lane },
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
    });
    this.eventSource = new SqsEventSource(this.queue, {
      batchSize: INGEST_SETTINGS.batchSize,
      maxBatchingWindow: Duration.seconds(INGEST_SETTINGS.maxBatchingWindowSeconds),
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency,
    });
    this.enrichment.function.addEventSource(this.eventSource);

    this.createAlarms(lane, props.alerts);
  }

  /** The switches the cost guard uses on this lane: its rule name and its consumer's mapping UUID. */
  get controlTarget(): LaneControlTarget {
    return { ruleName: this.rule.ruleName ?? '', mappingUuid: this.eventSource.eventSourceMappingId };
  }

  /**
   * Lets `grantee` switch this lane: enable its rule and enable or disable its consumer's event source mapping,
   * on this rule's and this mapping's ARNs only. `switchOff` adds DisableTopicRule (the guard); the city API's
   * restore only ever switches on.
   */
  grantSwitch(grantee: IGrantable, options: { readonly switchOff: boolean }): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: options.switchOff
          ? ['iot:DisableTopicRule', 'iot:EnableTopicRule']
          : ['iot:EnableTopicRule'],
        resources: [this.rule.attrArn],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['lambda:UpdateEventSourceMapping'],
        resources: [this.eventSource.eventSourceMappingArn],
      }),
    );
  }

  private createRule(lane: Lane, errorArchive: IBucket): CfnTopicRule {
    const ruleArn = Stack.of(this).formatArn({ service: 'iot', resource: 'rule', resourceName: lane });
    const iotPrincipal = () =>
      new ServicePrincipal('iot.amazonaws.com', {
        // Confused-deputy guard: only this account's rule of this name may use the role.
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnEquals: { 'aws:SourceArn': ruleArn },
        },
      });

    const deliveryRole = new Role(this, 'RuleDeliveryRole', {
      assumedBy: iotPrincipal(),
      description: `IoT rule ${lane}: send to its queue only`,
    });
    this.queue.grantSendMessages(deliveryRole);

    const errorRole = new Role(this, 'RuleErrorRole', {
      assumedBy: iotPrincipal(),
      description: `IoT rule ${lane}: archive undeliverable messages under ${lane}/ only`,
    });
    const archivePrefix = `${lane}/*`;
    errorRole.addToPolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [errorArchive.arnForObjects(archivePrefix)],
      }),
    );
    Validations.of(errorRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(errorArchive.node.defaultChild as CfnElement)}.Arn>/${archivePrefix}]`,
      reason: `Object keys are generated per message (date and uuid); the wildcard is confined to this lane's ${lane}/ prefix.`,
    });

    return new CfnTopicRule(this, 'Rule', {
      // Basic Ingest topics are `$aws/rules/<ruleName>/...`, so the rule name must be the lane name exactly.
      ruleName: lane,
      topicRulePayload: {
        description: `Basic Ingest lane ${lane}: device telemetry to its SQS queue`,
        sql: ruleSql(),
        awsIotSqlVersion: '2016-03-23',
        ruleDisabled: false,
        actions: [
          { sqs: { queueUrl: this.queue.queueUrl, roleArn: deliveryRole.roleArn, useBase64: false } },
        ],
        // The errorAction fires when the SQS action itself fails (throttling, permissions); the archived error
        // record keeps the base64 original payload, so the message can be replayed through Basic Ingest.
        errorAction: {
          s3: {
            bucketName: errorArchive.bucketName,
            key: `${lane}/\${parse_time('yyyy-MM-dd', timestamp())}/\${newuuid()}.json`,
            roleArn: errorRole.roleArn,
          },
        },
      },
    });
  }

  private createAlarms(lane: Lane, alerts: PlatformAlerts): void {
    const alarms = [
      deadLettersAlarm(
        this,
        this.deadLetterQueue,
        `${lane}: messages failed enrichment ${INGEST_SETTINGS.maxReceiveCount} times and wait in the DLQ`,
      ),
      new Alarm(this, 'ErrorsAlarm', {
        alarmDescription: `${lane}: the enrichment function failed (whole batches are retried)`,
        metric: this.enrichment.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'BacklogAlarm', {
        alarmDescription: `${lane}: oldest queued message is older than ${OLDEST_MESSAGE_ALARM_SECONDS / 60} minutes`,
        metric: this.queue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: OLDEST_MESSAGE_ALARM_SECONDS,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
    for (const alarm of alarms) alerts.notifyOn(alarm);
  }
}
