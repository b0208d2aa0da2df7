import { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { ServiceContext } from '../../services/shared/blueprint.js';
import type { AlertBook, JobBook, SiteBoard, WorkflowPorts } from '../../services/shared/workflow-ports.js';
import { ENV } from '../contracts/environment.js';
import { DynamoDbDeviceDirectory } from './dynamodb-device-directory.js';
import { DynamoDbLatestState } from './dynamodb-latest-state.js';
import {
  DynamoDbAlertBook,
  DynamoDbDeviceFleet,
  DynamoDbJobBook,
  DynamoDbSiteBoard,
} from './dynamodb-service-records.js';
import {
  documentClient,
  type Environment,
  MissingSettingError,
  required,
  serviceSettingsFromEnvironment,
  tableName,
} from './ports-from-environment.js';
import { SnsServiceNotifier } from './sns-service-notifier.js';

/** The stores the workflows and the city API share, for the given services (lists without a service cover these). */
export function serviceRecordsFromEnvironment(
  env: Environment,
  services: readonly string[],
  client: DynamoDBDocumentClient = documentClient(env),
): { readonly jobs: JobBook; readonly alerts: AlertBook; readonly sites: SiteBoard } {
  return {
    jobs: new DynamoDbJobBook(client, tableName(env, 'jobs'), services),
    alerts: new DynamoDbAlertBook(client, tableName(env, 'alerts'), services),
    sites: new DynamoDbSiteBoard(client, tableName(env, 'service-sites')),
  };
}

/** The services a workflow lane's function hosts (`SERVICE_NAMES`, comma-separated), at least one. */
export function hostedServicesFromEnvironment(env: Environment): string[] {
  const names = required(env, ENV.serviceNames)
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  if (names.length === 0) {
    throw new MissingSettingError(ENV.serviceNames, 'a comma-separated list of service names');
  }
  return names;
}

const topicArnsSchema = z.record(z.string(), z.string().startsWith('arn:'));

/**
 * The SNS topic of each hosted service (`SERVICE_TOPIC_ARNS`, JSON `{ "<service>": "<topic ARN>" }`). Every hosted
 * service must have one: a lane that could not send a flood alert must fail at its first invocation, not when the
 * river rises.
 */
export function serviceTopicArnsFromEnvironment(
  env: Environment,
  services: readonly string[] = hostedServicesFromEnvironment(env),
): Record<string, string> {
  const expected = 'JSON {"<service>": "<SNS topic ARN>"} with an entry for every service in SERVICE_NAMES';
  let parsed: unknown;
  try {
    parsed = JSON.parse(required(env, ENV.serviceTopicArns));
  } catch (error) {
    if (error instanceof MissingSettingError) throw error;
    throw new MissingSettingError(ENV.serviceTopicArns, expected);
  }
  const topics = topicArnsSchema.safeParse(parsed);
  if (!topics.success) throw new MissingSettingError(ENV.serviceTopicArns, expected);
  const missing = services.filter((service) => !topics.data[service]);
  if (missing.length > 0) {
    throw new MissingSettingError(ENV.serviceTopicArns, `${expected} (none for ${missing.join(', ')})`);
  }
  return topics.data;
}

/**
 * A workflow lane function's ports, from the environment its construct sets: the services it hosts
 * (`SERVICE_NAMES`), their topics (`SERVICE_TOPIC_ARNS`) and the tables. Registry lookups read the table directly
 * (no cache): a workflow acts on events rarely, and a job must carry the device's location as the registry has
 * it now.
 */
export function workflowPortsFromEnvironment(env: Environment = process.env): WorkflowPorts {
  const services = hostedServicesFromEnvironment(env);
  const topics = serviceTopicArnsFromEnvironment(env, services);
  const client = documentClient(env);
  return {
    ...serviceRecordsFromEnvironment(env, services, client),
    notifier: new SnsServiceNotifier(new SNSClient({ maxAttempts: 3 }), topics),
    devices: new DynamoDbDeviceDirectory(client, tableName(env, 'devices')),
    fleet: new DynamoDbDeviceFleet(
      client,
      tableName(env, 'devices'),
      new DynamoDbLatestState(client, tableName(env, 'latest-state')),
    ),
  };
}

/**
 * How a deployed workflow sees time and a service's settings: that service's entry of `SERVICE_SETTINGS` (none
 * when absent, so every setting takes its default). On AWS time runs at its own pace (`timeScale` 1); only the
 * local runtime speeds it up, and it builds its own context.
 */
export function serviceContextFromEnvironment(env: Environment, service: string): ServiceContext {
  return { timeScale: 1, settings: serviceSettingsFromEnvironment(env)[service] ?? {} };
}
