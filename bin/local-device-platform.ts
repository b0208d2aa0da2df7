import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DynamoDbProvisioningAllowList } from '../lambdas/adapters/dynamodb-provisioning-allow-list.js';
import { localTableName } from '../lambdas/contracts/tables.js';
import type { Device } from '../lambdas/domain/device.js';
import { DeviceInputError } from '../lambdas/domain/device-onboarding-commands.js';
import type { TelemetryPoint } from '../lambdas/domain/telemetry.js';
import { LocalCertificateAuthority } from '../local/certificate-authority.js';
import { localDynamoDbClient } from '../local/dynamodb-server.js';
import { LocalDeviceIdentities } from '../local/local-device-identities.js';
import type { LocalSettings } from '../local/local-settings-file.js';
import { loadLocalConfig } from '../local/start-local-platform.js';
import type {
  DeviceCliIo,
  DevicePlatform,
  DevicePlatformOptions,
  RegistryAccess,
} from './device-platform.js';

/** The problem+json `detail`, or the status line when the body has none. */
async function problemOf(response: Response): Promise<string> {
  const body = (await response.json().catch(() => undefined)) as
    | { detail?: string; title?: string }
    | undefined;
  return body?.detail ?? body?.title ?? `HTTP ${response.status}`;
}

/**
 * The registry through the running platform's REST API (POST /devices, GET /devices, GET /devices/{id}, GET /devices/{id}/latest, DELETE /devices/{id}) with the
 * token in `local.json`, as a council's admin tool would, so the running process stays the only owner of its store.
 */
function registryThroughApi(settings: Pick<LocalSettings, 'apiUrl' | 'token'>): RegistryAccess {
  const call = async (method: string, pathAndQuery: string, body?: unknown): Promise<Response> => {
    try {
      return await fetch(`${settings.apiUrl}${pathAndQuery}`, {
        method,
        headers: {
          authorization: `Bearer ${settings.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new DeviceInputError(
        `the platform at ${settings.apiUrl} is not answering (${(error as Error).message}): is npm start running?`,
      );
    }
  };
  return {
    get: async (deviceId) => {
      const response = await call('GET', `/devices/${encodeURIComponent(deviceId)}`);
      if (response.status === 404) return undefined;
      if (!response.ok) throw new DeviceInputError(`device '${deviceId}': ${await problemOf(response)}`);
      return (await response.json()) as Device;
    },
    register: async (add) => {
      const response = await call('POST', '/devices', {
        deviceId: add.deviceId,
        deviceType: add.deviceType,
        location: add.location,
        ...(add.ward === undefined ? {} : { ward: add.ward }),
        ...(add.site === undefined ? {} : { site: add.site }),
        ...(add.expectedIntervalSeconds === undefined
          ? {}
          : { expectedIntervalSeconds: add.expectedIntervalSeconds }),
      });
      if (response.status === 409) {
        throw new DeviceInputError(`device '${add.deviceId}': --id is already registered`);
      }
      if (!response.ok) throw new DeviceInputError(`device '${add.deviceId}': ${await problemOf(response)}`);
      return (await response.json()) as Device;
    },
    decommission: async (deviceId) => {
      const response = await call('DELETE', `/devices/${encodeURIComponent(deviceId)}`);
      if (!response.ok) throw new DeviceInputError(`device '${deviceId}': ${await problemOf(response)}`);
      return (await response.json()) as Device;
    },
    latest: async (deviceId) => {
      const response = await call('GET', `/devices/${encodeURIComponent(deviceId)}/latest`);
      if (response.status === 404) return undefined;
      if (!response.ok) throw new DeviceInputError(`device '${deviceId}': ${await problemOf(response)}`);
      return (await response.json()) as TelemetryPoint;
    },
    list: async () => {
      const devices: Device[] = [];
      let cursor: string | undefined;
      do {
        const response = await call(
          'GET',
          `/devices?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        if (!response.ok) throw new DeviceInputError(`listing devices: ${await problemOf(response)}`);
        const page = (await response.json()) as { items: Device[]; nextCursor?: string };
        devices.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      return devices;
    },
  };
}

/**
 * The local runtime (`npm start`) in a data directory. Certificates come from the local CA in `<data-dir>/certs/`
 * (this CLI is the CA's owner on this machine) and their status lives in the identity register there, which the
 * running broker re-reads within a second of a change.
 */
export async function localDevicePlatform(
  dataDirOption: string,
  io: DeviceCliIo,
  options: DevicePlatformOptions = {},
): Promise<DevicePlatform> {
  const dataDir = path.resolve(io.cwd, dataDirOption);
  const settingsPath = path.join(dataDir, 'local.json');
  const caDir = path.join(dataDir, 'certs');
  if (!existsSync(settingsPath) || !existsSync(path.join(caDir, 'ca.key.pem'))) {
    throw new DeviceInputError(
      `no local platform in ${dataDir} (local.json and certs/ are missing): start it with npm start -- --data-dir ${dataDirOption}`,
    );
  }
  const settings = JSON.parse(await readFile(settingsPath, 'utf8')) as LocalSettings;
  const config = await loadLocalConfig();
  const ca = await LocalCertificateAuthority.loadOrCreate(caDir);
  const identities = new LocalDeviceIdentities({
    ca,
    endpoint: settings.mqttUrl,
    essentialDeviceTypes: config.essentialDeviceTypes,
    rotationGraceSeconds: options.rotationGraceSeconds ?? 0,
  });
  return {
    registry: registryThroughApi(settings),
    identities,
    retiresOnConnect: true,
    revocationTakesEffect: 'within 5 s (live sessions are closed)',
    noIdentity: 'issued by the runtime (not managed here)',
    provisioning: () => {
      const { dynamoDbUrl, provisioningTemplateName } = settings;
      if (dynamoDbUrl === undefined || provisioningTemplateName === undefined) {
        throw new DeviceInputError(
          `${settingsPath} has no dynamoDbUrl or provisioningTemplateName: restart npm start with this version`,
        );
      }
      return {
        // Placeholder credentials the local server ignores: this shell may have no AWS credentials at all.
        allowList: new DynamoDbProvisioningAllowList(
          localDynamoDbClient(dynamoDbUrl, 'local'),
          localTableName('provisioning-allow-list'),
        ),
        templateName: provisioningTemplateName,
        claims: {
          issue: async (name) => {
            const issued = await ca.issueClaimCertificate(name);
            return {
              name,
              certificateId: issued.certificateId,
              certificatePem: issued.certPem,
              privateKeyPem: issued.keyPem,
              rootCaPem: ca.certPem,
              endpoint: settings.mqttUrl,
            };
          },
        },
      };
    },
    ...(config.councilArea === undefined ? {} : { councilArea: config.councilArea }),
  };
}
