import { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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

/**
 * A workflow function's ports, from the environment its construct sets: the service it runs (`SERVICE_NAME`),
 * its topic (`SERVICE_TOPIC_ARN`) and the tables. Registry lookups read the table directly (no cache): a
 * workflow acts on events rarely, and a job must carry the device's location as the registry has it now.
 */
export function workflowPortsFromEnvironment(env: Environment = process.env): WorkflowPorts {
  const service = required(env, ENV.serviceName);
  const client = documentClient(env);
  return {
    ...serviceRecordsFromEnvironment(env, [service], client),
    notifier: new SnsServiceNotifier(new SNSClient({ maxAttempts: 3 }), {
      [service]: required(env, ENV.serviceTopicArn),
    }),
    devices: new DynamoDbDeviceDirectory(client, tableName(env, 'devices')),
    fleet: new DynamoDbDeviceFleet(
      client,
      tableName(env, 'devices'),
      new DynamoDbLatestState(client, tableName(env, 'latest-state')),
    ),
  };
}

/**
 * How a deployed workflow sees time and its settings: its own service's entry of `SERVICE_SETTINGS` (none when
 * absent, so every setting takes its default). On AWS time runs at its own pace (`timeScale` 1); only the local
 * runtime speeds it up, and it builds its own context.
 */
export function serviceContextFromEnvironment(env: Environment = process.env): ServiceContext {
  const service = required(env, ENV.serviceName);
  return { timeScale: 1, settings: serviceSettingsFromEnvironment(env)[service] ?? {} };
}
