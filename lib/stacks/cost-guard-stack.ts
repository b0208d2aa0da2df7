import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ORDINARY_LANE } from '../../lambdas/contracts/topics.js';
import { slowUsageRates } from '../../lambdas/domain/cost-model.js';
import type { PlatformConfig } from '../config/platform-config.js';
import { CostGuard, type MeteredFunction } from '../constructs/cost-guard.js';
import type { PlatformFunction } from '../constructs/platform-function.js';
import { platformEstimate } from '../cost/platform-estimate.js';
import type { DataStack } from './data-stack.js';
import type { PlatformStack } from './platform-stack.js';

/** Props for {@link CostGuardStack}. */
export interface CostGuardStackProps extends StackProps {
  readonly config: PlatformConfig;
  readonly data: DataStack;
  readonly platform: PlatformStack;
  /**
   * Clock-driven costs per day (storage, alarms, the cost guard's own meter, schedule and functions), from the
   * cost statement. @default 0
   */
  readonly fixedDailyUsd?: number;
}

function metered(fn: PlatformFunction): MeteredFunction {
  return {
    functionName: fn.function.functionName,
    memoryMb: fn.memorySizeMb,
    logGroupName: fn.logGroup.logGroupName,
  };
}

/**
 * The spending ceiling after deployment: the usage meter, the guard's notices, the heartbeat and the AWS budget.
 * Deployed after the platform (it reads the platform's resources and switches its ordinary lane), and separately,
 * so the guard can be updated without touching ingestion.
 */
export class CostGuardStack extends Stack {
  readonly guard: CostGuard;

  constructor(scope: Construct, id: string, props: CostGuardStackProps) {
    super(scope, id, props);
    const { config, data, platform } = props;
    const lanes = platform.ingestion.lanes;
    this.guard = new CostGuard(this, 'CostGuard', {
      stage: config.stage,
      councilName: config.councilName,
      ...(config.monthlyCeilingUsd === undefined ? {} : { monthlyCeilingUsd: config.monthlyCeilingUsd }),
      emails: config.alertEmails,
      records: data.costRecords,
      lanes,
      ordinaryLane: lanes[ORDINARY_LANE],
      functions: [
        ...Object.values(lanes).map((lane) => metered(lane.enrichment)),
        metered(platform.cityApi.queries),
      ],
      workflowLanes: (platform.services?.lanes ?? []).map((lane) => ({
        queueName: lane.queue.queueName,
        function: metered(lane.function),
      })),
      tables: data.meteredTables.map(({ table, indexes }) => ({ tableName: table.tableName, indexes })),
      api: platform.cityApi.api,
      logGroupNames: [platform.cityApi.accessLogs.logGroupName],
      devices: config.loadProfile.devices,
      usageRates: slowUsageRates(platformEstimate(config)),
      ...(props.fixedDailyUsd === undefined ? {} : { fixedDailyUsd: props.fixedDailyUsd }),
      alerts: platform.alerts,
      logRetentionDays: config.logRetentionDays,
      logLevel: config.logLevel,
      ...(config.disconnectRunawayDevices
        ? {
            runawayPolicing: {
              ingestRecords: data.ingestRecords,
              essentialDeviceTypes: config.essentialDeviceTypes,
            },
          }
        : {}),
    });
  }
}
