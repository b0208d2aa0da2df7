import { DEVICE_TYPES, type DeviceType } from './device-types.js';
import { laneFor, telemetryTopic } from './topics.js';

/** IoT policy variable that resolves to the thing attached to the connecting certificate. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT policy variable, not a JS template placeholder.
export const THING_NAME_VARIABLE = '${iot:Connection.Thing.ThingName}';

export interface DevicePolicyRules {
  /** The only MQTT client id a device may connect with. */
  readonly connectClientId: string;
  /** The only topics a device may publish to: one per device type, each on that type's lane. */
  readonly publishTopics: readonly string[];
}

/**
 * The device policy as data, written with the thing-name policy variable. The CDK construct renders it into an
 * `AWS::IoT::Policy`; the local broker evaluates the same topics with the device id substituted. So both places
 * enforce one rule: connect only as yourself, publish only to your own telemetry topic on your type's lane.
 *
 * Topics are enumerated per type instead of using a wildcard, so a non-essential device cannot publish into
 * the essential lane (which the cost guard never stops). Which type a device really is, is checked against the
 * registry at enrichment (`DEVICE_TYPE_MISMATCH`).
 */
export function devicePolicyRules(essentialDeviceTypes: readonly DeviceType[]): DevicePolicyRules {
  return {
    connectClientId: THING_NAME_VARIABLE,
    publishTopics: DEVICE_TYPES.map((type) =>
      telemetryTopic(laneFor(type, essentialDeviceTypes), type, THING_NAME_VARIABLE),
    ),
  };
}

/** The policy's publish topics resolved for one device: what the local broker allows that device. */
export function allowedPublishTopics(rules: DevicePolicyRules, deviceId: string): readonly string[] {
  return rules.publishTopics.map((topic) => topic.split(THING_NAME_VARIABLE).join(deviceId));
}
