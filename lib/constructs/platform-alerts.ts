import { Aws, Validations } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Props for {@link PlatformAlerts}. */
export interface PlatformAlertsProps {
  /** Addresses subscribed to every operational alarm; each must confirm by e-mail. @default - none */
  readonly emails?: readonly string[];
}

/** Where operational alarms go: one SNS topic with the council's e-mail subscriptions. */
export class PlatformAlerts extends Construct {
  readonly topic: Topic;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: PlatformAlertsProps = {}) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', { displayName: 'Civic IoT platform alarms', enforceSSL: true });
    // The topic has a resource policy (enforceSSL), so CloudWatch must be let in explicitly.
    this.topic.grantPublish(
      new ServicePrincipal('cloudwatch.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry only alarm names and metric values, no personal or device data. CloudWatch ' +
        'cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key would add a ' +
        'monthly fee per stage; publishing is TLS-only (enforceSSL, SNS3).',
    });
    for (const email of props.emails ?? []) this.topic.addSubscription(new EmailSubscription(email));
    this.action = new SnsAction(this.topic);
  }

  /** Send the alarm's ALARM and OK transitions to the topic. */
  notifyOn(alarm: Alarm): void {
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
  }
}
