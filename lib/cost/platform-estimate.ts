import { pricesFor } from '../../lambdas/contracts/prices.js';
import { type CostEstimate, estimatePlatform, type ServiceLoad } from '../../lambdas/domain/cost-model.js';
import { BLUEPRINT_NAMES, blueprintsNamed } from '../../services/catalogue.js';
import type { PlatformConfig } from '../config/platform-config.js';

/**
 * What the cost model needs of the named service blueprints (default: every blueprint in the catalogue): each
 * one's cost profile, whether it is essential (its workflow lane), whether its detector runs in enrichment and
 * whether its workflow runs on a schedule.
 */
export function serviceLoads(names: readonly string[] = BLUEPRINT_NAMES): ServiceLoad[] {
  return blueprintsNamed(names).map((blueprint) => ({
    name: blueprint.name,
    essential: blueprint.essential,
    detects: blueprint.detector !== undefined,
    scheduled: blueprint.workflow.onSchedule !== undefined,
    cost: blueprint.cost,
  }));
}

/** The platform's expected month for a deployment's configuration, at its region's prices. */
export function platformEstimate(config: PlatformConfig): CostEstimate {
  return estimatePlatform(
    {
      devices: config.loadProfile.devices,
      messageIntervalSeconds: config.loadProfile.messageIntervalSeconds,
      apiRequestsPerDay: config.loadProfile.apiRequestsPerDay,
      retentionDays: config.retentionDays,
      telemetryStore: config.telemetryStore,
      services: serviceLoads(config.services),
      fleetMix: config.loadProfile.fleetMix,
    },
    pricesFor(config.region),
  );
}
