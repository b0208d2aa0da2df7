import { Aws, Stack, Validations } from 'aws-cdk-lib';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * What retires a rotated-out device certificate when its grace period ends: EventBridge Scheduler one-time
 * schedules (made by `npm run device -- rotate`, see `SchedulerCertificateRetirements`) assume this role to call
 * IoT's UpdateCertificate. No function or process of ours runs for it, so there is nothing to cap: Scheduler bills
 * per invocation, one per rotated-out certificate.
 */
export class CertificateRetirement extends Construct {
  /** The role the retirement schedules run as: IoT `UpdateCertificate` on this account's certificates, nothing else. */
  readonly role: Role;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const stack = Stack.of(this);
    this.role = new Role(this, 'Role', {
      // Only Scheduler, and only for schedules in this account (the confused-deputy guard Scheduler documents).
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description:
        'EventBridge Scheduler: retire rotated-out device certificates (IoT UpdateCertificate only)',
      inlinePolicies: {
        RetireCertificates: new PolicyDocument({
          statements: [
            new PolicyStatement({
              actions: ['iot:UpdateCertificate'],
              resources: [stack.formatArn({ service: 'iot', resource: 'cert', resourceName: '*' })],
            }),
          ],
        }),
      },
    });
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:${stack.region}:<AWS::AccountId>:cert/*]`,
      reason:
        'Certificate ids are made by IoT at run time, one per device rotation, after deployment, so no ARN can be ' +
        'listed here. The wildcard stays within this account and region and the one action UpdateCertificate; only ' +
        "EventBridge Scheduler in this account can assume the role, and the CLI's schedules only set INACTIVE.",
    });
  }
}
