import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { IoTClient } from '@aws-sdk/client-iot';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { amazonRootCa1Pem } from '../lambdas/adapters/amazon-root-ca.js';
import { readStackOutputs, StackOutputsError } from '../lambdas/adapters/cloudformation-stack-outputs.js';
import { createDocumentClient } from '../lambdas/adapters/dynamodb-client.js';
import { DynamoDbDeviceDirectory } from '../lambdas/adapters/dynamodb-device-directory.js';
import { DynamoDbLatestState } from '../lambdas/adapters/dynamodb-latest-state.js';
import { DynamoDbProvisioningAllowList } from '../lambdas/adapters/dynamodb-provisioning-allow-list.js';
import { IotClaimCertificates } from '../lambdas/adapters/iot-claim-certificates.js';
import { IotDeviceIdentities } from '../lambdas/adapters/iot-device-identities.js';
import { SchedulerCertificateRetirements } from '../lambdas/adapters/scheduler-certificate-retirements.js';
import { parseBoundingBox } from '../lambdas/contracts/api-devices.js';
import { type DeviceType, isDeviceType } from '../lambdas/contracts/device-types.js';
import { InvalidRequestError } from '../lambdas/domain/city-queries.js';
import type { BoundingBox, Device } from '../lambdas/domain/device.js';
import { DeviceInputError } from '../lambdas/domain/device-onboarding-commands.js';
import {
  type CertificateRevocation,
  registerDevice,
  revokeAndDecommission,
} from '../lambdas/domain/device-registry.js';
import { ConflictError } from '../lambdas/domain/service-queries.js';
import type {
  DeviceCliIo,
  DevicePlatform,
  DevicePlatformOptions,
  RegistryAccess,
} from './device-platform.js';

/** The AWS clients the CLI uses, for one region (tests pass clients pointed at mocks or moto_server). */
export interface AwsDeviceClients {
  readonly cloudFormation: CloudFormationClient;
  readonly iot: IoTClient;
  readonly documentClient: DynamoDBDocumentClient;
  /** Schedules a rotated-out certificate's retirement at the end of its grace period. */
  readonly scheduler: SchedulerClient;
}

/** Clients with the user's credentials (the default provider chain: AWS_PROFILE, SSO, environment, ...). */
export function defaultAwsDeviceClients(region: string): AwsDeviceClients {
  return {
    cloudFormation: new CloudFormationClient({ region }),
    iot: new IoTClient({ region }),
    documentClient: createDocumentClient({ region }),
    scheduler: new SchedulerClient({ region }),
  };
}

/** Which deployed platform: a stack name and region, each given or taken from cdk.json as `cdk deploy` would. */
export interface AwsPlatformTarget {
  readonly stack?: string;
  readonly region?: string;
}

/** The platform stack's name and region from cdk.json's `stage` and `region` (dev and eu-west-2 by default). */
async function deployedStack(
  target: AwsPlatformTarget,
  cwd: string,
): Promise<{ stack: string; region: string }> {
  let context: { stage?: unknown; region?: unknown } = {};
  try {
    context =
      (JSON.parse(await readFile(path.join(cwd, 'cdk.json'), 'utf8')) as { context?: typeof context })
        .context ?? {};
  } catch {
    // No cdk.json here: the defaults, or the flags.
  }
  const stage = typeof context.stage === 'string' ? context.stage : 'dev';
  const region =
    target.region ??
    (typeof context.region === 'string' ? context.region : undefined) ??
    process.env.AWS_REGION ??
    'eu-west-2';
  return { stack: target.stack ?? `CivicIot-${stage}-Platform`, region };
}

/**
 * The registry tables themselves, through the same use case the API's POST /devices runs (registerDevice: the
 * conditional write, the council's area), with the user's credentials: an administrator's tool needs no API
 * token, and the table's IAM policy is the boundary.
 */
function registryInDynamoDb(
  client: DynamoDBDocumentClient,
  tables: { readonly devices: string; readonly latestState: string },
  councilArea: BoundingBox | undefined,
  certificates: CertificateRevocation,
): RegistryAccess {
  const directory = new DynamoDbDeviceDirectory(client, tables.devices);
  const latestState = new DynamoDbLatestState(client, tables.latestState);
  return {
    get: (deviceId) => directory.get(deviceId),
    latest: (deviceId) => latestState.get(deviceId),
    // The same use case as DELETE /devices/{id}: every certificate revoked first, then the entry.
    decommission: (deviceId) => revokeAndDecommission(directory, certificates, deviceId, new Date()),
    register: async (fields) => {
      try {
        return await registerDevice(directory, fields, new Date(), councilArea ? { councilArea } : {});
      } catch (error) {
        if (error instanceof ConflictError) {
          throw new DeviceInputError(`device '${fields.deviceId}': --id is already registered`);
        }
        if (error instanceof InvalidRequestError) throw new DeviceInputError(error.message);
        throw error;
      }
    },
    list: async () => {
      const devices: Device[] = [];
      let after: string | undefined;
      do {
        const page = await directory.list({ filter: {}, limit: 1000, ...(after ? { after } : {}) });
        devices.push(...page.items);
        after = page.next;
      } while (after);
      return devices;
    },
  };
}

/** The device types the stack puts on the essential lane (its `EssentialDeviceTypes` output). */
function essentialTypesOf(value: string): DeviceType[] {
  return value
    .split(',')
    .map((type) => type.trim())
    .filter(isDeviceType);
}

/**
 * The platform deployed to AWS: its stack's outputs name the registry table and the device policies; the IoT
 * endpoint is looked up (DescribeEndpoint), and Amazon Root CA 1 comes from Node's root store, fingerprint checked.
 */
export async function awsDevicePlatform(
  target: AwsPlatformTarget,
  io: DeviceCliIo,
  options: DevicePlatformOptions & { readonly clients?: (region: string) => AwsDeviceClients } = {},
): Promise<DevicePlatform> {
  const { stack, region } = await deployedStack(target, io.cwd);
  const clients = (options.clients ?? defaultAwsDeviceClients)(region);
  try {
    const outputs = await readStackOutputs(clients.cloudFormation, stack, region);
    const areaText = outputs.get('CouncilArea');
    const area = areaText === undefined ? undefined : parseBoundingBox(areaText);
    if (typeof area === 'string') {
      throw new StackOutputsError(`stack ${stack} output CouncilArea '${areaText}' is not an area: ${area}`);
    }
    const rootCaPem = amazonRootCa1Pem();
    const identities = new IotDeviceIdentities({
      iot: clients.iot,
      devicePolicyName: outputs.require('DevicePolicyName'),
      quarantinePolicyName: outputs.require('QuarantinePolicyName'),
      rootCaPem,
      essentialDeviceTypes: essentialTypesOf(outputs.require('EssentialDeviceTypes')),
      rotationGraceSeconds: options.rotationGraceSeconds ?? 0,
      retirements: new SchedulerCertificateRetirements({
        scheduler: clients.scheduler,
        roleArn: outputs.require('CertificateRetirementRoleArn'),
      }),
    });
    return {
      registry: registryInDynamoDb(
        clients.documentClient,
        {
          devices: outputs.require('DeviceRegistryTableName'),
          latestState: outputs.require('LatestStateTableName'),
        },
        area,
        identities,
      ),
      identities,
      retiresOnConnect: false,
      revocationTakesEffect: 'within minutes (IoT Core disconnects sessions using it)',
      noIdentity: 'no IoT thing (registered only: add it with import, or rotate)',
      provisioning: () => {
        try {
          return {
            allowList: new DynamoDbProvisioningAllowList(
              clients.documentClient,
              outputs.require('ProvisioningAllowListTableName'),
            ),
            templateName: outputs.require('ProvisioningTemplateName'),
            claims: new IotClaimCertificates({
              iot: clients.iot,
              claimPolicyName: outputs.require('ClaimPolicyName'),
              rootCaPem,
            }),
          };
        } catch (error) {
          if (error instanceof StackOutputsError) throw new DeviceInputError(error.message);
          throw error;
        }
      },
      ...(area === undefined ? {} : { councilArea: area }),
    };
  } catch (error) {
    if (error instanceof StackOutputsError) throw new DeviceInputError(error.message);
    throw error;
  }
}
