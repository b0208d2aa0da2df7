import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { pricesFor } from '../../lambdas/contracts/prices.js';
import { blueprintsNamed } from '../../services/catalogue.js';
import type { PlatformConfig } from '../config/platform-config.js';
import {
  buildCostStatement,
  type CostStatement,
  renderCostStatement,
  type Template,
} from './cost-statement.js';
import { platformEstimate } from './platform-estimate.js';

export interface WrittenCostStatement {
  readonly statement: CostStatement;
  readonly markdownPath: string;
  readonly jsonPath: string;
}

/**
 * The most domain events a second the services' bus can carry: each comes with a write to the `service-state`
 * table (a detector emits only when its state changed, and records the change so a replay emits nothing), so the
 * table's write cap bounds the state changes, and one change emits at most one event of each of its service's
 * types. Undefined when no service is enabled (there is no bus).
 */
export function busEventsPerSecond(config: PlatformConfig): number | undefined {
  const blueprints = blueprintsNamed(config.services);
  if (blueprints.length === 0) return undefined;
  const eventsPerChange = Math.max(1, ...blueprints.map((blueprint) => blueprint.eventTypes.length));
  return config.serviceStateMaxWriteRequestUnits * eventsPerChange;
}

/**
 * Synthesizes the app, reads the caps from the templates it produced, and writes `cost-statement.md` and
 * `cost-statement.json` beside them (in cdk.out). Synthesis itself, including cdk-nag, has run by then.
 */
export function writeCostStatement(app: App, config: PlatformConfig): WrittenCostStatement {
  const assembly = app.synth();
  const templates: Record<string, Template> = {};
  for (const stack of assembly.stacks) templates[stack.stackName] = stack.template as Template;
  const prices = pricesFor(config.region);
  const statement = buildCostStatement(templates, {
    councilName: config.councilName,
    stage: config.stage,
    region: config.region,
    devices: config.loadProfile.devices,
    messageIntervalSeconds: config.loadProfile.messageIntervalSeconds,
    ...(config.monthlyCeilingUsd === undefined ? {} : { ceilingUsd: config.monthlyCeilingUsd }),
    ...(busEventsPerSecond(config) === undefined ? {} : { busEventsPerSecond: busEventsPerSecond(config) }),
    prices,
    expected: platformEstimate(config),
  });
  const markdownPath = join(assembly.directory, 'cost-statement.md');
  const jsonPath = join(assembly.directory, 'cost-statement.json');
  writeFileSync(markdownPath, `${renderCostStatement(statement)}\n`);
  writeFileSync(jsonPath, `${JSON.stringify(statement, null, 2)}\n`);
  return { statement, markdownPath, jsonPath };
}
