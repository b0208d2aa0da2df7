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
 * The IoT policies of device certificates. Every certificate gets the device policy, rendered from
 * `devicePolicyRules` (the same rules the local broker enforces): connect only as your own thing, and only with a
 * certificate attached to a thing; publish only to your own Basic Ingest telemetry topic. No subscribe or receive:
 * devices get no cloud-to-device topics yet.
 *
 * A quarantined device's certificates carry the quarantine policy instead: connect as your own thing, nothing
 * else. The device stays authenticated (its attempts are logged against its thing, and release is one policy
 * swap), but no publish is authorised, as the local broker refuses a quarantined device's publishes.
 * cdk-nag has no IoT rules, so the infra tests assert these policies' least privilege.
 */
export class DeviceAccessPolicy extends Construct {
  readonly policy: CfnPolicy;
  /** Connect-only: what a quarantined device's certificates carry in place of {@link policy}. */
  readonly quarantinePolicy: CfnPolicy;

  constructor(scope: Construct, id: string, props: DeviceAccessPolicyProps) {
    super(scope, id);
    const rules = devicePolicyRules(props.essentialDeviceTypes);
    const stack = Stack.of(this);
    const iotArn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'iot', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });

    const connectAsOwnThing = {
      Sid: 'ConnectAsOwnThing',
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: iotArn('client', rules.connectClientId),
      Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
    };

    this.policy = new CfnPolicy(this, 'Policy', {
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          connectAsOwnThing,
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
    this.quarantinePolicy = new CfnPolicy(this, 'QuarantinePolicy', {
      policyDocument: { Version: '2012-10-17', Statement: [connectAsOwnThing] },
    });
  }

  /** The policy name to attach to device certificates. */
  get policyName(): string {
    return this.policy.ref;
  }

  /** The policy name a quarantined device's certificates carry. */
  get quarantinePolicyName(): string {
    return this.quarantinePolicy.ref;
  }
}
