import { ArnFormat, Stack } from 'aws-cdk-lib';
import { CfnPolicy } from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import { devicePolicyRules } from '../../lambdas/contracts/iot-policy.js';

/** Props for {@link DeviceAccessPolicy}. */
export interface DeviceAccessPolicyProps {
  /** Device types whose topic is on the essential lane; decides each type's Basic Ingest topic. */
  readonly essentialDeviceTypes: readonly DeviceType[];
}

/**
 * The one IoT policy every device certificate gets. Rendered from `devicePolicyRules` (the same rules the local
 * broker enforces): connect only as your own thing, and only with a certificate attached to a thing; publish
 * only to your own Basic Ingest telemetry topic. No subscribe or receive: devices get no cloud-to-device topics yet.
 * cdk-nag has no IoT rules, so the infra tests assert this policy's least privilege.
 */
export class DeviceAccessPolicy extends Construct {
  readonly policy: CfnPolicy;

  constructor(scope: Construct, id: string, props: DeviceAccessPolicyProps) {
    super(scope, id);
    const rules = devicePolicyRules(props.essentialDeviceTypes);
    const stack = Stack.of(this);
    const iotArn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'iot', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });

    this.policy = new CfnPolicy(this, 'Policy', {
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'ConnectAsOwnThing',
            Effect: 'Allow',
            Action: 'iot:Connect',
            Resource: iotArn('client', rules.connectClientId),
            Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
          },
          {
            Sid: 'PublishOwnTelemetry',
            Effect: 'Allow',
            Action: 'iot:Publish',
            // The IoT policy resource of an MQTT topic is `topic/<topic>`, so Basic Ingest is `topic/$aws/rules/...`.
            Resource: rules.publishTopics.map((topic) => iotArn('topic', topic)),
          },
        ],
      },
    });
  }

  /** The policy name to attach to device certificates. */
  get policyName(): string {
    return this.policy.ref;
  }
}
