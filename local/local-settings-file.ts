import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import type { DeviceType } from '../lambdas/contracts/device-types.js';

/** One device's entry in local.json. */
export interface LocalDeviceEntry {
  readonly deviceId: string;
  readonly type: DeviceType;
  readonly topic: string;
  /** Absolute paths. */
  readonly cert: string;
  readonly key: string;
}

/** `<data-dir>/local.json`: everything a client of the local runtime needs (DESIGN.md section 4). */
export interface LocalSettings {
  readonly apiUrl: string;
  readonly mqttUrl: string;
  readonly token: string;
  /** The open-data API key (`x-api-key`), the stand-in for the council apps' key in the AWS usage plan. */
  readonly apiKey: string;
  /** Absolute path of the CA certificate to trust. */
  readonly caCert: string;
  readonly devices: readonly LocalDeviceEntry[];
  /**
   * The local DynamoDB-compatible server's URL (`http://127.0.0.1:<port>`), for tools that load tables the API does
   * not serve, such as the provisioning allow-list (table `localTableName('provisioning-allow-list')`). Absent in a
   * local.json written before fleet provisioning.
   */
  readonly dynamoDbUrl?: string;
  /**
   * The fleet provisioning template claim devices provision on (LOCAL_PROVISIONING_TEMPLATE_NAME), as in the topic
   * `$aws/provisioning-templates/<name>/provision/json`. Absent in a local.json written before fleet provisioning.
   */
  readonly provisioningTemplateName?: string;
}

/** A secret from an earlier run's local.json, or a new random one: clients keep working across restarts. */
async function loadOrCreateSecret(file: string, field: 'token' | 'apiKey'): Promise<string> {
  try {
    const previous = JSON.parse(await readFile(file, 'utf8')) as Partial<LocalSettings>;
    const secret = previous[field];
    if (typeof secret === 'string' && secret.length >= 32) return secret;
  } catch {
    // First run, or an unreadable file: start afresh.
  }
  return randomBytes(32).toString('base64url');
}

/** The bearer token from an earlier run's local.json, or a new random one. */
export function loadOrCreateToken(file: string): Promise<string> {
  return loadOrCreateSecret(file, 'token');
}

/** The open-data API key from an earlier run's local.json, or a new random one (a data dir from before keys gets one). */
export function loadOrCreateApiKey(file: string): Promise<string> {
  return loadOrCreateSecret(file, 'apiKey');
}

/**
 * Writes local.json atomically (temp file and rename) with mode 0600, as it holds the bearer token and API key.
 */
export async function writeLocalSettings(file: string, settings: LocalSettings): Promise<void> {
  const temp = `${file}.tmp`;
  await writeFile(temp, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, file);
}
