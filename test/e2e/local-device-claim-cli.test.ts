import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiGet, deviceCliFixture, eventually } from './local-platform-support.js';

/**
 * The README's claim story with the CLI on the local runtime, over real MQTT and TLS: serials on the allow-list,
 * a claim bundle for the vendor, a device provisioning itself with it (as its firmware would), then publishing
 * with its own certificate; a serial provisions once.
 */
describe('fleet provisioning by claim with npm run device (local runtime)', () => {
  const fixture = deviceCliFixture('claim-cli');
  const { cli, out, err } = fixture;

  beforeAll(async () => {
    await writeFile(
      path.join(fixture.workDir, 'serials.csv'),
      [
        'serial,id,type,lat,lon,ward',
        'ACME-0001,claim-bin-1,waste-container,51.4551,-0.9734,Abbey',
        'ACME-0002,claim-gauge-1,water-level,51.462,-0.962,Caversham',
      ].join('\n'),
    );
  });

  it('refuses an allow-list with a bad row, writing nothing', async () => {
    await writeFile(
      path.join(fixture.workDir, 'bad.csv'),
      [
        'serial,id,type,lat,lon',
        'ACME-0001,claim-bin-1,waste-container,51.4551,-0.9734',
        'ACME-0001,x,lamp,1,1',
      ].join('\n'),
    );
    expect(await cli('allow', '--csv', 'bad.csv')).toBe(1);
    expect(err[0]).toMatch(/^line 3: /);
    expect(err.at(-1)).toMatch(/^device: allow: 1 problem in .*bad\.csv; nothing was put on the allow-list/);

    expect(await cli('claim', '--name', 'acme-2026')).toBe(0);
    expect(out[0]).toMatch(/^made claim certificate [0-9a-f]{64} 'acme-2026' in .*claims\/acme-2026: /);
    expect(out[1]).toBe(
      'test: npm run device -- provision-test --claim claims/acme-2026 --serial <a serial on the allow-list>',
    );
    expect((await stat(path.join(fixture.workDir, 'claims/acme-2026/key.pem'))).mode & 0o777).toBe(0o600);
    // The good first row was not written either: its serial is not on the list.
    expect(await cli('provision-test', '--claim', 'claims/acme-2026', '--serial', 'ACME-0001')).toBe(1);
    expect(err[0]).toContain("serial 'ACME-0001'");
  });

  it('provisions an allow-listed device with a claim bundle; its reading reaches the API', async () => {
    // As a user runs it: its own process, from a shell with no AWS credentials or region.
    const shell = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
    );
    // Not spawnSync: the platform answering the CLI runs in this process.
    const allowed = await promisify(execFile)(
      path.resolve('node_modules/.bin/tsx'),
      [
        path.resolve('bin/device.ts'),
        'allow',
        '--csv',
        'serials.csv',
        '--local',
        '--data-dir',
        fixture.dataDir,
      ],
      { cwd: fixture.workDir, env: shell, encoding: 'utf8' },
    );
    expect(allowed.stdout).toBe(
      'allow-list: 2 serials waiting to provision with template civic-local-devices\n',
    );

    expect(await cli('provision-test', '--claim', 'claims/acme-2026', '--serial', 'ACME-0001')).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toMatch(
      /^provisioned claim-bin-1 \(waste-container\) from serial ACME-0001: certificate [0-9a-f]{12}, bundle .*devices\/claim-bin-1, topic \$aws\/rules\/civic_ingest\/civic\/waste-container\/claim-bin-1\/telemetry$/,
    );
    const manifest = JSON.parse(
      await readFile(path.join(fixture.workDir, 'devices/claim-bin-1/device.json'), 'utf8'),
    );
    expect(manifest).toMatchObject({
      deviceId: 'claim-bin-1',
      type: 'waste-container',
      endpoint: fixture.platform.mqttUrl,
    });

    expect(await cli('publish-test', '--bundle', 'devices/claim-bin-1')).toBe(0);
    await eventually(
      async () =>
        (await apiGet(fixture.platform.apiUrl, fixture.platform.token, '/devices/claim-bin-1/latest'))
          .status === 200,
      10_000,
      'the provisioned device reading in the API',
    );
    expect(await cli('show', '--id', 'claim-bin-1')).toBe(0);
    expect(out).toContain('  ward          Abbey');
  });

  it('provisions a serial once: the second attempt is refused, naming the serial', async () => {
    expect(
      await cli('provision-test', '--claim', 'claims/acme-2026', '--serial', 'ACME-0001', '--out', 'again'),
    ).toBe(1);
    expect(err[0]).toMatch(
      /^device: serial 'ACME-0001': RegisterThing for serial 'ACME-0001' refused: .*ACME-0001/,
    );
    expect(await cli('provision-test', '--claim', 'claims/acme-2026', '--serial', 'NOT-LISTED')).toBe(1);
    expect(err[0]).toContain("serial 'NOT-LISTED'");
  });
});
