import { pricesFor } from '../../lambdas/contracts/prices.js';
import { type CostEstimate, estimatePlatform } from '../../lambdas/domain/cost-model.js';
import type { PlatformConfig } from '../config/platform-config.js';

/** The platform's expected month for a deployment's configuration, at its region's prices. */
export function platformEstimate(config: PlatformConfig): CostEstimate {
  return estimatePlatform(
    {
      devices: config.loadProfile.devices,
      messageIntervalSeconds: config.loadProfile.messageIntervalSeconds,
      apiRequestsPerDay: config.loadProfile.apiRequestsPerDay,
      retentionDays: config.retentionDays,
      telemetryStore: config.telemetryStore,
    },
    pricesFor(config.region),
  );
}
