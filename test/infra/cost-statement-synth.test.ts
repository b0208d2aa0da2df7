import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CDK_JSON = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/** Runs bin/ the way the CDK CLI does: context in CDK_CONTEXT_JSON, output dir in CDK_OUTDIR (no bundling). */
async function synth(overrides: Record<string, unknown>) {
  const outdir = mkdtempSync(join(tmpdir(), 'civic-synth-'));
  const env = {
    ...process.env,
    CDK_OUTDIR: outdir,
    CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON.context, 'aws:cdk:bundling-stacks': [], ...overrides }),
  };
  const result = await run('npx', ['tsx', 'bin/civic-iot.ts'], { env }).then(
    (ok) => ({ code: 0, ...ok }),
    (error) => ({
      code: error.code as number,
      stdout: error.stdout as string,
      stderr: error.stderr as string,
    }),
  );
  return { ...result, outdir };
}

describe('synth-time cost statement', () => {
  it('writes the statement into the cloud assembly and prints three lines', async () => {
    const result = await synth({});
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^Expected monthly cost: \$\d+\.\d\d for 1000 devices/),
      expect.stringMatching(/^Ceiling held by the cost guard: \$60\.00/),
      expect.stringMatching(/^Worst case with every hard cap at its limit all month: \$\d+/),
    ]);
    const statement = JSON.parse(readFileSync(join(result.outdir, 'cost-statement.json'), 'utf8'));
    expect(statement.violations).toEqual([]);
    expect(statement.uncapped).toEqual([]);
    expect(readFileSync(join(result.outdir, 'cost-statement.md'), 'utf8')).toMatch(/^# Cost statement: /);
  });

  it('fails synth when the ceiling is below the expected cost, naming both', async () => {
    const result = await synth({ monthlyCeilingUsd: 5 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/the expected monthly cost of \d+\.\d\d USD exceeds monthlyCeilingUsd=5/);
  });
});
