import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runDeviceCli } from '../bin/device.js';
import { startLocalPlatform } from '../local/start-local-platform.js';

/** What one way of onboarding a fleet took. */
export interface OnboardingTiming {
  readonly devices: number;
  readonly seconds: number;
  readonly perDeviceMs: number;
}

export interface OnboardingRun {
  /** `npm run device -- import --csv`: the whole file checked first, then 8 devices in flight. */
  readonly importCsv: OnboardingTiming;
  /** The naive way: one `npm run device -- add` per asset, one after another. */
  readonly addOneByOne: OnboardingTiming;
}

const quiet = { out: () => undefined, err: (line: string) => process.stderr.write(`${line}\n`) };

/**
 * Onboards `devices` water-level gauges into a fresh local runtime (no simulator) twice, each time with new ids:
 * once with `import --csv`, once with a loop of `add` commands run in-process, as a script calling the CLI per
 * asset would. Both issue a certificate, write a bundle and register each device through the REST API.
 */
export async function measureDeviceOnboarding(devices: number): Promise<OnboardingRun> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'civic-bench-onboarding-'));
  const workDir = await mkdtemp(path.join(tmpdir(), 'civic-bench-onboarding-work-'));
  const platform = await startLocalPlatform({
    dataDir,
    apiPort: 0,
    mqttPort: 0,
    simulator: false,
    log: () => undefined,
  });
  const target = ['--local', '--data-dir', dataDir];
  const row = (prefix: string, n: number) => ({
    id: `${prefix}-${String(n).padStart(4, '0')}`,
    lat: (51.4 + n / 100_000).toFixed(5),
  });
  try {
    const lines = ['id,type,lat,lon'];
    for (let n = 0; n < devices; n++) {
      const { id, lat } = row('bench-imp', n);
      lines.push(`${id},water-level,${lat},-0.97`);
    }
    await writeFile(path.join(workDir, 'assets.csv'), `${lines.join('\n')}\n`);
    let started = performance.now();
    const imported = await runDeviceCli(['import', '--csv', 'assets.csv', ...target], {
      ...quiet,
      cwd: workDir,
    });
    if (imported !== 0) throw new Error(`import exited ${imported}`);
    const importSeconds = (performance.now() - started) / 1000;

    started = performance.now();
    for (let n = 0; n < devices; n++) {
      const { id, lat } = row('bench-add', n);
      const argv = ['add', '--id', id, '--type', 'water-level', '--lat', lat, '--lon', '-0.97', ...target];
      const added = await runDeviceCli(argv, { ...quiet, cwd: workDir });
      if (added !== 0) throw new Error(`add ${id} exited ${added}`);
    }
    const addSeconds = (performance.now() - started) / 1000;
    const timing = (seconds: number): OnboardingTiming => ({
      devices,
      seconds,
      perDeviceMs: (seconds * 1000) / devices,
    });
    return { importCsv: timing(importSeconds), addOneByOne: timing(addSeconds) };
  } finally {
    await platform.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  }
}
