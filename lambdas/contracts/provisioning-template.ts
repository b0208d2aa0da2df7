/**
 * The fleet provisioning template's parameters, shared by the construct that renders the template and the
 * pre-provisioning hook that fills them in, so a renamed parameter cannot leave the two disagreeing.
 *
 * The device sends only `SerialNumber` (with RegisterThing); the hook answers every other parameter from the
 * allow-list entry through `parameterOverrides`, so a device cannot choose its own name, type or place.
 */
export const PROVISIONING_PARAMETERS = {
  /** Sent by the device: the serial its vendor printed on it, looked up on the allow-list. */
  serialNumber: 'SerialNumber',
  /** From the hook: the device id, which becomes the thing name (and so the MQTT client id). */
  deviceId: 'DeviceId',
  /** From the hook: the `type` thing attribute. */
  deviceType: 'DeviceType',
  /** From the hook: the `ward` thing attribute ({@link NO_ATTRIBUTE_VALUE} for none). */
  ward: 'Ward',
  /** From the hook: the `site` thing attribute ({@link NO_ATTRIBUTE_VALUE} for none). */
  site: 'Site',
  /** From the hook: the exact topic the device publishes to, returned to it in the device configuration. */
  telemetryTopic: 'TelemetryTopic',
} as const;

export type ProvisioningParameter = (typeof PROVISIONING_PARAMETERS)[keyof typeof PROVISIONING_PARAMETERS];

/** What the hook sets a ward or site attribute to when the device has none (the template has no optional attributes). */
export const NO_ATTRIBUTE_VALUE = 'none';

/** The hook's payload version, the only one AWS IoT defines (AWS::IoT::ProvisioningTemplate ProvisioningHook). */
export const PRE_PROVISIONING_HOOK_PAYLOAD_VERSION = '2020-04-01';

/**
 * Serial numbers as vendors print them: letters and digits, with `.`, `_`, `:` and `-` inside, at most 64. Every
 * one of those characters is allowed in a thing attribute, so the serial is recorded on the thing unchanged.
 */
export const SERIAL_NUMBER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export function isSerialNumber(value: unknown): value is string {
  return typeof value === 'string' && SERIAL_NUMBER_PATTERN.test(value);
}

/**
 * What a device's MQTT client id must start with while it provisions with the claim certificate (the claim policy
 * allows connecting with no other): `claim.<serial number>` is the suggested form. The `.` cannot occur in a
 * device id (see `DEVICE_ID_PATTERN`), so a connection with a leaked claim certificate can never take over a
 * provisioned device's client id and knock that device off the broker.
 */
export const CLAIM_CLIENT_ID_PREFIX = 'claim.';

/**
 * The provisioning template's name on the local runtime (`npm start`), written into `<data-dir>/local.json` as
 * `provisioningTemplateName`: what a device's firmware is configured with to provision on a laptop. On AWS the
 * name is the FleetProvisioning construct's (`<stack name>-Devices` by default).
 */
export const LOCAL_PROVISIONING_TEMPLATE_NAME = 'civic-local-devices';

/** One operation of the fleet provisioning MQTT API: where the request goes and where its answers come back. */
export interface ProvisioningOperationTopics {
  readonly request: string;
  readonly accepted: string;
  readonly rejected: string;
}

/**
 * The fleet provisioning MQTT API topics a claim uses, JSON payloads only (AWS IoT's device provisioning MQTT
 * API): CreateKeysAndCertificate, and RegisterThing on one template. The claim policy allows these and nothing
 * else; the local broker enforces the same scope.
 */
export function fleetProvisioningTopics(templateName: string): {
  readonly createKeysAndCertificate: ProvisioningOperationTopics;
  readonly registerThing: ProvisioningOperationTopics;
} {
  const operation = (request: string): ProvisioningOperationTopics => ({
    request,
    accepted: `${request}/accepted`,
    rejected: `${request}/rejected`,
  });
  return {
    createKeysAndCertificate: operation('$aws/certificates/create/json'),
    registerThing: operation(`$aws/provisioning-templates/${templateName}/provision/json`),
  };
}
