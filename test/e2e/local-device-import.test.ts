import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiGetAll, deviceCliFixture } from './local-platform-support.js';

const ROWS = 1000;
const id = (n: number) => `imp-gauge-${String(n).padStart(4, '0')}`;

describe('npm run device -- import against the local runtime', () => {
  const fixture = deviceCliFixture('import');
  const { out, err, progress } = fixture;

  const importCsv = (csv: string) => fixture.cli('import', '--csv', csv, '--out', 'bundles');
  const registeredIds = async (type: string) =>
    (
      await apiGetAll<{ deviceId: string }>(
        fixture.platform.apiUrl,
        fixture.platform.token,
        `/devices?type=${type}`,
      )
    ).map((device) => device.deviceId);
  const identityRegister = () =>
    readFile(path.join(fixture.dataDir, 'certs', 'device-identities.json'), 'utf8').catch(() => 'absent');

  it('creates nothing when rows are bad, and names every bad line', async () => {
    await writeFile(
      path.join(fixture.workDir, 'bad.csv'),
      [
        'id,type,lat,lon,ward',
        'imp-bin-1,waste-container,51.45,-0.97,Abbey',
        'imp-bin-2,waste-container,51.45,-0.97,"Abbey, north"',
        'imp-bin-3,lamp-post,51.45,-0.97,Abbey',
        'imp-bin-4,waste-container,51.45,-0.97,Abbey',
        'imp-bin-5,waste-container,51.45,-200,Abbey',
        'imp-bin-4,waste-container,51.46,-0.97,Abbey',
      ].join('\r\n'),
    );
    const devicesBefore = await registeredIds('waste-container');
    const registerBefore = await identityRegister();

    expect(await importCsv('bad.csv')).toBe(1);
    expect(err.slice(0, 3)).toEqual([
      "line 4: device 'imp-bin-3': --type 'lamp-post' is not a device type; known: waste-container, parking-spot, air-quality, traffic-flow, water-level",
      "line 6: device 'imp-bin-5': --lon '-200' is not a longitude in degrees between -180 and 180",
      "line 7: device 'imp-bin-4': id is also on line 5; each device once",
    ]);
    expect(err[3]).toMatch(/^device: import: 3 problems in .*bad\.csv; nothing was created/);
    expect(out).toEqual([]);
    expect(await registeredIds('waste-container')).toEqual(devicesBefore);
    expect(await identityRegister()).toBe(registerBefore);
    expect(existsSync(path.join(fixture.workDir, 'bundles'))).toBe(false);
  });

  it(`imports ${ROWS} rows; every device is listed and has a bundle`, { timeout: 120_000 }, async () => {
    const lines = ['interval,id,lat,lon,type,site'];
    for (let n = 1; n <= ROWS; n++) {
      lines.push(`15m,${id(n)},${(51.4 + n / 10_000).toFixed(4)},-0.97,water-level,"Thames, gauge ${n}"`);
    }
    await writeFile(path.join(fixture.workDir, 'assets.csv'), `${lines.join('\n')}\n`);

    const started = performance.now();
    expect(await importCsv('assets.csv')).toBe(0);
    const seconds = (performance.now() - started) / 1000;
    // The time is reported by the bench/README, not asserted here; printed so a run shows it.
    process.stdout.write(`import of ${ROWS} rows took ${seconds.toFixed(1)} s\n`);

    expect(err).toEqual([]);
    expect(out.at(-1)).toMatch(
      new RegExp(
        `^import: ${ROWS} rows: ${ROWS} created, 0 completed, 0 skipped \\(already onboarded\\), 0 failed`,
      ),
    );
    expect(progress[0]).toBe(`imported 0/${ROWS}`);
    expect(progress.at(-2)).toBe(`imported ${ROWS}/${ROWS}`);
    expect(progress.at(-1)).toBe('');

    const listed = new Set(await registeredIds('water-level'));
    for (let n = 1; n <= ROWS; n++) expect(listed.has(id(n)), id(n)).toBe(true);
    const manifest = JSON.parse(
      await readFile(path.join(fixture.workDir, 'bundles', id(ROWS), 'device.json'), 'utf8'),
    );
    expect(manifest).toMatchObject({ deviceId: id(ROWS), type: 'water-level' });
    const register = JSON.parse(await identityRegister()) as { devices: Record<string, unknown> };
    for (let n = 1; n <= ROWS; n++) expect(register.devices[id(n)], id(n)).toBeDefined();
  });

  it('on a re-run, completes only a registered device that never had a certificate, and never re-issues one', async () => {
    // A device registered through the API (no identity) joins the file; another's bundle goes missing.
    const extra = id(ROWS + 1);
    const registered = await fetch(`${fixture.platform.apiUrl}/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.platform.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        deviceId: extra,
        deviceType: 'water-level',
        location: { lat: 51.45, lon: -0.97 },
      }),
    });
    expect(registered.status).toBe(201);
    const assets = await readFile(path.join(fixture.workDir, 'assets.csv'), 'utf8');
    await writeFile(
      path.join(fixture.workDir, 'rerun.csv'),
      `${assets}15m,${extra},51.45,-0.97,water-level,Caversham Lock\n`,
    );
    await rm(path.join(fixture.workDir, 'bundles', id(7)), { recursive: true });
    const certificatesOf = async (deviceId: string) =>
      (JSON.parse(await identityRegister()) as { devices: Record<string, unknown> }).devices[deviceId];
    const before = {
      count: (await registeredIds('water-level')).length,
      seventh: await certificatesOf(id(7)),
    };

    const code = await importCsv('rerun.csv');
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out).toContain(
      `completed ${extra} (line ${ROWS + 2}): it was registered; new certificate and bundle ${path.join(fixture.workDir, 'bundles', extra)}`,
    );
    expect(out).toContain(
      `skipped ${ROWS} already onboarded (registered, with a certificate): ` +
        `${[1, 2, 3, 4, 5].map(id).join(', ')} and ${ROWS - 5} more`,
    );
    expect(out).toContainEqual(expect.stringMatching(new RegExp(`rotate --id ID does\\): ${id(7)}$`)));
    expect(out.at(-1)).toMatch(
      new RegExp(`^import: ${ROWS + 1} rows: 0 created, 1 completed, ${ROWS} skipped`),
    );
    expect((await registeredIds('water-level')).length).toBe(before.count);
    // The device whose bundle went missing keeps the certificate it has in the street.
    expect(await certificatesOf(id(7))).toEqual(before.seventh);
    expect(existsSync(path.join(fixture.workDir, 'bundles', id(7)))).toBe(false);
    expect(existsSync(path.join(fixture.workDir, 'bundles', extra, 'cert.pem'))).toBe(true);
  });
});
