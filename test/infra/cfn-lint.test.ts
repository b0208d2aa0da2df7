import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { STORE_CONFIGURATIONS, type SynthesizedPlatform, synthesizePlatform } from './platform-app.js';

const hasCfnLint = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasCfnLint) {
  console.warn('SKIPPED: cfn-lint tests — cfn-lint is not on PATH (pip install cfn-lint to run them).');
}

interface CfnLintMatch {
  readonly Level: string;
  readonly Rule: { readonly Id: string };
  readonly Message: string;
  readonly Filename: string;
}

describe.each(Object.entries(STORE_CONFIGURATIONS))('cfn-lint (%s store)', (_store, overrides) => {
  let synthesized: SynthesizedPlatform;
  beforeAll(() => {
    if (hasCfnLint) synthesized = synthesizePlatform(overrides);
  });

  it.skipIf(!hasCfnLint)('reports no errors in the synthesized templates', () => {
    const { assembly, built } = synthesized;
    // Data, Platform and CostGuard: every stack the app deploys.
    expect(assembly.stacks.map((stack) => stack.stackName)).toEqual([
      built.dataStack.stackName,
      built.platformStack.stackName,
      built.costGuardStack.stackName,
    ]);
    const templates = assembly.stacks.map((stack) => `${assembly.directory}/${stack.templateFile}`);
    const result = spawnSync(
      'cfn-lint',
      ['--format', 'json', '--regions', built.config.region, '--', ...templates],
      { encoding: 'utf8' },
    );
    expect(result.error).toBeUndefined();
    // Exit status is a bit mask (2 errors, 4 warnings, 8 informational); 1 means cfn-lint itself failed.
    expect(result.status, result.stderr).not.toBe(1);
    const matches = JSON.parse(result.stdout) as CfnLintMatch[];
    const errors = matches
      .filter((m) => m.Level === 'Error')
      .map((m) => `${m.Filename} ${m.Rule.Id}: ${m.Message}`);
    expect(errors).toEqual([]);
  });
});
