import { Duration, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** Props for {@link queueWithDeadLetters}. */
export interface QueueWithDeadLettersProps {
  readonly retentionDays: number;
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** What the dead-letter queue holds and how it is watched and redriven, for the cdk-nag acknowledgement. */
  readonly deadLetterReason: string;
}

/**
 * A durable hop as the platform uses it (the ingest lanes, the workflow lanes): an encrypted, TLS-only queue and its
 * dead-letter queue, created as `Queue` and `DeadLetters` in `scope`. SQS-managed keys: EventBridge and IoT rules
 * can send without a customer key policy, and there is no key fee.
 */
export function queueWithDeadLetters(
  scope: Construct,
  props: QueueWithDeadLettersProps,
): { readonly queue: Queue; readonly deadLetterQueue: Queue } {
  const retentionPeriod = Duration.days(props.retentionDays);
  const deadLetterQueue = new Queue(scope, 'DeadLetters', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod,
  });
  Validations.of(deadLetterQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: props.deadLetterReason });
  const queue = new Queue(scope, 'Queue', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(props.visibilityTimeoutSeconds),
    retentionPeriod,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}

/**
 * `DeadLettersAlarm` in `scope`: in alarm as soon as anything waits in the dead-letter queue (checked every 5
 * minutes; no data, as for an empty queue, is not a breach).
 */
export function deadLettersAlarm(scope: Construct, deadLetterQueue: Queue, description: string): Alarm {
  return new Alarm(scope, 'DeadLettersAlarm', {
    alarmDescription: description,
    metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(5),
      statistic: 'Maximum',
    }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}
