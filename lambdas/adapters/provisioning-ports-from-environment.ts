import { IoTClient } from '@aws-sdk/client-iot';
import type { DeviceType } from '../contracts/device-types.js';
import { isDeviceType } from '../contracts/device-types.js';
import { ENV } from '../contracts/environment.js';
import type { AdmissionPorts, AdmissionSettings } from '../domain/provisioning-allow-list.js';
import { DynamoDbDeviceDirectory } from './dynamodb-device-directory.js';
import { DynamoDbProvisioningAllowList } from './dynamodb-provisioning-allow-list.js';
import { IotClaimedCertificates } from './iot-claimed-certificates.js';
import {
  councilAreaFromEnvironment,
  documentClient,
  type Environment,
  MissingSettingError,
  tableName,
} from './ports-from-environment.js';

/**
 * The allow-list and the registry tables named by the environment: the admission ports the AWS hook and the local
 * runtime share (each adds its own {@link AdmissionPorts.certificates}).
 */
export function admissionTablesFromEnvironment(env: Environment): Omit<AdmissionPorts, 'certificates'> {
  const client = documentClient(env);
  return {
    allowList: new DynamoDbProvisioningAllowList(client, tableName(env, 'provisioning-allow-list')),
    registry: new DynamoDbDeviceDirectory(client, tableName(env, 'devices')),
  };
}

/**
 * The pre-provisioning hook's ports: the tables, and AWS IoT for the status of a provisioned serial's certificate.
 * Two attempts at most: IoT waits 5 seconds for the hook, and a device refused for a throttle simply tries again.
 */
export function admissionPortsFromEnvironment(env: Environment): AdmissionPorts {
  return {
    ...admissionTablesFromEnvironment(env),
    certificates: new IotClaimedCertificates(new IoTClient({ maxAttempts: 2 })),
  };
}

/**
 * The hook's settings: the essential device types (`ESSENTIAL_DEVICE_TYPES`, comma-separated; they decide the
 * topic a device is told) and the council's area. An unknown type is a deployment fault, reported rather than
 * dropped: dropping it would tell an essential device to publish on the lane the cost guard may stop.
 */
export function admissionSettingsFromEnvironment(env: Environment): AdmissionSettings {
  const names = (env[ENV.essentialDeviceTypes] ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !isDeviceType(name));
  if (unknown.length > 0) {
    throw new MissingSettingError(
      ENV.essentialDeviceTypes,
      `comma-separated device types (not ${unknown.map((name) => `'${name}'`).join(', ')})`,
    );
  }
  const councilArea = councilAreaFromEnvironment(env);
  return {
    essentialDeviceTypes: names as DeviceType[],
    ...(councilArea === undefined ? {} : { councilArea }),
  };
}
