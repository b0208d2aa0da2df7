import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { IoTClient } from '@aws-sdk/client-iot';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { isDeviceType } from '../contracts/device-types.js';
import { ENV } from '../contracts/environment.js';
import {
  type LaneControlTargets,
  METER_INTERVAL_SECONDS,
  type MeteredResources,
} from '../contracts/metered-resources.js';
import { pricesFor } from '../contracts/prices.js';
import { LANES } from '../contracts/topics.js';
import type { CostControlPorts, CostControlSettings, GuardActionPorts } from '../domain/cost-control.js';
import { CloudWatchUsageSource } from './cloudwatch-usage-source.js';
import { DynamoDbCostRecords } from './dynamodb-cost-records.js';
import { DynamoDbRateLimitedDevices } from './dynamodb-ingest-records.js';
import { IotDeviceCertificates } from './iot-device-certificates.js';
import { IotLambdaLaneControls } from './iot-lambda-lane-controls.js';
import {
  documentClient,
  type Environment,
  MissingSettingError,
  positiveNumber,
  required,
  tableName,
} from './ports-from-environment.js';
import { LogNotifier, SnsNotifier } from './sns-notifier.js';

/** The meter's default first window: one schedule period. */
export { METER_INTERVAL_SECONDS };

const name = z.string().min(1);
const meteredResourcesSchema = z.object({
  rules: z.array(name),
  queues: z.array(name),
  functions: z.array(z.object({ name, memoryMb: z.number().int().positive() })),
  tables: z.array(z.object({ name, indexes: z.array(name).optional() })),
  apis: z.array(z.object({ name, stage: name })),
  workflowQueues: z.array(name),
  workflowFunctions: z.array(z.object({ name, memoryMb: z.number().int().positive() })),
  logGroups: z.array(name),
  devices: z.number().int().nonnegative(),
  usageRates: z.object({
    dynamoWriteUnitsPerMessage: z.number().nonnegative(),
    dynamoReadUnitsPerMessage: z.number().nonnegative(),
    logBytesPerInvocation: z.number().nonnegative(),
    logBytesPerApiRequest: z.number().nonnegative(),
    workflowInvocationsPerHour: z.number().nonnegative(),
    workflowGbSecondsPerHour: z.number().nonnegative(),
    workflowSqsRequestsPerHour: z.number().nonnegative(),
  }),
});
const laneControlTargetsSchema = z.partialRecord(
  z.enum(LANES),
  z.object({ ruleName: name, mappingUuid: name }),
);

function json<T>(env: Environment, variable: string, schema: z.ZodType<T>, expected: string): T {
  try {
    return schema.parse(JSON.parse(required(env, variable)));
  } catch (error) {
    if (error instanceof MissingSettingError) throw error;
    throw new MissingSettingError(variable, expected);
  }
}

/** The guard's settings: ceiling (Infinity when none is set), unit prices for the function's region, accruals. */
export function costSettingsFromEnvironment(env: Environment = process.env): CostControlSettings {
  const ceiling = env[ENV.monthlyCeilingUsd];
  const fixed = env[ENV.costFixedDailyUsd];
  return {
    ceilingUsd: ceiling ? positiveNumber(env, ENV.monthlyCeilingUsd, 0) : Number.POSITIVE_INFINITY,
    prices: pricesFor(required(env, 'AWS_REGION')),
    fixed: { dailyUsd: fixed ? Number(fixed) || 0 : 0 },
    councilName: env[ENV.councilName] || 'Civic IoT platform',
    essentialDeviceTypes: (env[ENV.essentialDeviceTypes] ?? '').split(',').filter(isDeviceType),
  };
}

/** Rate policing's second step, when the construct turned it on for this function (the meter only). */
function runawayPorts(env: Environment): Pick<CostControlPorts, 'runaways'> {
  if (env[ENV.disconnectRunawayDevices] !== 'true') return {};
  return {
    runaways: {
      refused: new DynamoDbRateLimitedDevices(documentClient(env), tableName(env, 'quarantine')),
      certificates: new IotDeviceCertificates(new IoTClient({ maxAttempts: 3 })),
    },
  };
}

export function laneControlTargets(env: Environment): LaneControlTargets {
  return json(env, ENV.laneControls, laneControlTargetsSchema, 'JSON {lane: {ruleName, mappingUuid}}');
}

export function meteredResources(env: Environment): MeteredResources {
  return json(env, ENV.meteredResources, meteredResourcesSchema, 'JSON MeteredResources');
}

/** Everything the usage meter and the budget-alert functions need, from their environment. */
export function costControlFromEnvironment(env: Environment = process.env): {
  readonly ports: CostControlPorts;
  readonly settings: CostControlSettings;
  readonly defaultIntervalSeconds: number;
} {
  return {
    ports: {
      usage: new CloudWatchUsageSource(new CloudWatchClient({ maxAttempts: 3 }), meteredResources(env)),
      lanes: new IotLambdaLaneControls(
        new IoTClient({ maxAttempts: 3 }),
        new LambdaClient({ maxAttempts: 3 }),
        laneControlTargets(env),
      ),
      records: new DynamoDbCostRecords(documentClient(env), tableName(env, 'cost-guard')),
      notifier: new SnsNotifier(new SNSClient({ maxAttempts: 3 }), required(env, ENV.guardTopicArn)),
      ...runawayPorts(env),
    },
    settings: costSettingsFromEnvironment(env),
    defaultIntervalSeconds: positiveNumber(env, ENV.meterIntervalSeconds, METER_INTERVAL_SECONDS),
  };
}

/**
 * What the city API needs for GET /cost and POST /cost/restore: the records, the lane switches (restore only
 * ever switches on) and, for the rare notice, the function's log (the guard's topic lives in the cost guard's
 * stack, which is deployed after the API's).
 */
export function costApiFromEnvironment(
  env: Environment = process.env,
  log: (subject: string, message: string) => void = () => {},
): { readonly ports: GuardActionPorts; readonly settings: CostControlSettings } {
  return {
    ports: {
      lanes: new IotLambdaLaneControls(
        new IoTClient({ maxAttempts: 3 }),
        new LambdaClient({ maxAttempts: 3 }),
        laneControlTargets(env),
      ),
      records: new DynamoDbCostRecords(documentClient(env), tableName(env, 'cost-guard')),
      notifier: new LogNotifier(log),
    },
    settings: costSettingsFromEnvironment(env),
  };
}
