import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { pricesFor } from '../../lambdas/contracts/prices.js';
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
    prices,
    expected: platformEstimate(config),
  });
  const markdownPath = join(assembly.directory, 'cost-statement.md');
  const jsonPath = join(assembly.directory, 'cost-statement.json');
  writeFileSync(markdownPath, `${renderCostStatement(statement)}\n`);
  writeFileSync(jsonPath, `${JSON.stringify(statement, null, 2)}\n`);
  return { statement, markdownPath, jsonPath };
}
