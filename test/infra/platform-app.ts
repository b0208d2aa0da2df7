import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp, type CivicIotApp } from '../../lib/civic-iot-app.js';

const CDK_JSON = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/** The two telemetry store configurations every infra test covers. */
export const STORE_CONFIGURATIONS = {
  dynamodb: {},
  timestream: { telemetryStore: 'timestream', region: 'eu-west-1' },
} as const satisfies Record<string, Record<string, unknown>>;

/** A synthesized app: its templates as assertion `Template`s, and the assembly on disk. */
export interface SynthesizedPlatform {
  readonly built: CivicIotApp;
  readonly assembly: CloudAssembly;
  readonly data: Template;
  readonly platform: Template;
  readonly costGuard: Template;
}

/**
 * Synthesizes the same app `bin/` builds (cdk.json context plus `overrides`), without bundling, into a temp dir.
 * Call once per configuration per test file (in `beforeAll`): synthesis is the slow part.
 */
export function synthesizePlatform(
  overrides: Readonly<Record<string, unknown>> = {},
  options: { nag?: boolean } = {},
): SynthesizedPlatform {
  const built = buildApp(
    { ...CDK_JSON.context, 'aws:cdk:bundling-stacks': [], ...overrides },
    { nag: options.nag ?? false, appProps: { outdir: mkdtempSync(join(tmpdir(), 'civic-iot-synth-')) } },
  );
  const assembly = built.app.synth();
  return {
    built,
    assembly,
    data: Template.fromJSON(assembly.getStackByName(built.dataStack.stackName).template),
    platform: Template.fromJSON(assembly.getStackByName(built.platformStack.stackName).template),
    costGuard: Template.fromJSON(assembly.getStackByName(built.costGuardStack.stackName).template),
  };
}
