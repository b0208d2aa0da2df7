import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import {
  apiGet,
  connectDevice,
  deviceCliFixture,
  eventually,
  publishAcked,
} from './local-platform-support.js';

interface Bundle {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
  readonly manifest: { deviceId: string; type: string; endpoint: string; topic: string };
}

describe('npm run device against the local runtime', () => {
  const fixture = deviceCliFixture('onboarding');
  const { cli, out, err } = fixture;
  const readBundle = async (deviceId: string): Promise<Bundle> => {
    const dir = path.join(fixture.workDir, 'devices', deviceId);
    return {
      certPem: await readFile(path.join(dir, 'cert.pem'), 'utf8'),
      keyPem: await readFile(path.join(dir, 'key.pem'), 'utf8'),
      caPem: await readFile(path.join(dir, 'ca.pem'), 'utf8'),
      manifest: JSON.parse(await readFile(path.join(dir, 'device.json'), 'utf8')),
    };
  };
  const connect = (bundle: Bundle) =>
    connectDevice(fixture.platform.mqttUrl, bundle.caPem, bundle, bundle.manifest.deviceId);
  let sequence = 0;
  const reading = (readings: Record<string, unknown>) =>
    JSON.stringify({ messageId: `onb-${++sequence}`, observedAt: new Date().toISOString(), readings });
  /** Resolves once a connection with this bundle is refused; the time it took in ms. */
  const refusedWithin = async (bundle: Bundle, timeoutMs: number): Promise<number> => {
    const started = Date.now();
    await eventually(
      async () => {
        try {
          (await connect(bundle)).end(true);
          return false;
        } catch {
          return true;
        }
      },
      timeoutMs,
      `${bundle.manifest.deviceId} to be refused`,
    );
    return Date.now() - started;
  };

  it('adds a device whose bundle connects over mutual TLS and whose reading reaches the API', async () => {
    const code = await cli(
      'add',
      '--id',
      'onb-bin-1',
      '--type',
      'waste-container',
      '--lat',
      '51.4551',
      '--lon',
      '-0.9734',
      '--ward',
      'Abbey',
    );
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out[0]).toMatch(
      /^added onb-bin-1 \(waste-container\) at 51.4551,-0.9734: certificate [0-9a-f]{12}/,
    );
    expect(out[1]).toBe('test: npm run device -- publish-test --bundle devices/onb-bin-1');

    const bundle = await readBundle('onb-bin-1');
    expect((await stat(path.join(fixture.workDir, 'devices/onb-bin-1/key.pem'))).mode & 0o777).toBe(0o600);
    expect(bundle.manifest).toEqual({
      deviceId: 'onb-bin-1',
      type: 'waste-container',
      endpoint: fixture.platform.mqttUrl,
      topic: expect.stringMatching(/\/waste-container\/onb-bin-1\/telemetry$/),
    });
    expect(bundle.caPem).toBe(fixture.platform.caPem);

    const registered = await apiGet<{ ward?: string; status: string }>(
      fixture.platform.apiUrl,
      fixture.platform.token,
      '/devices/onb-bin-1',
    );
    expect(registered).toMatchObject({ status: 200, body: { ward: 'Abbey', status: 'active' } });

    const client = await connect(bundle);
    expect(await publishAcked(client, bundle.manifest.topic, reading({ fillingLevel: 0.71 }))).toBe(true);
    client.end(true);
    await eventually(
      async () => {
        const latest = await apiGet<{ readings?: Record<string, unknown> }>(
          fixture.platform.apiUrl,
          fixture.platform.token,
          '/devices/onb-bin-1/latest',
        );
        return latest.status === 200 && latest.body.readings?.fillingLevel === 0.71;
      },
      10_000,
      'the reading in the latest state',
    );

    expect(await cli('publish-test', '--bundle', 'devices/onb-bin-1')).toBe(0);
    expect(out[0]).toMatch(/^acknowledged: onb-bin-1 published publish-test-\d+ to /);
    const messageId = /published (publish-test-\d+)/.exec(out[0] as string)?.[1];

    // The README's fourth command on AWS: show prints the reading the API now answers with.
    await eventually(
      async () => {
        out.length = 0;
        await cli('show', '--id', 'onb-bin-1');
        return out.some((line) => line.includes(`(message ${messageId})`));
      },
      10_000,
      'show printing the publish-test reading',
    );
    expect(out).toContainEqual(
      expect.stringMatching(/^ {2}last reading {2}\S+Z \{"fillingLevel":0\.42\} \(message /),
    );
  });

  it('refuses a duplicate id, naming the device and the field, and creates nothing', async () => {
    expect(
      await cli(
        'add',
        '--id',
        'onb-bin-1',
        '--type',
        'waste-container',
        '--lat',
        '51.45',
        '--lon',
        '-0.97',
        '--out',
        'x',
      ),
    ).toBe(1);
    expect(err[0]).toBe("device: device 'onb-bin-1': --id is already registered (status active)");
    await expect(stat(path.join(fixture.workDir, 'x'))).rejects.toThrow();
  });

  it('refuses an unknown device for show, revoke, rotate, quarantine and release', async () => {
    for (const command of ['show', 'revoke', 'rotate', 'quarantine', 'release']) {
      expect(await cli(command, '--id', 'onb-nobody')).toBe(1);
      expect(err[0]).toBe("device: device 'onb-nobody': --id is not registered (npm run device -- list)");
    }
  });

  it('quarantines a device: it connects, its publish is refused; released, it publishes again', async () => {
    expect(
      await cli('add', '--id', 'onb-gauge-1', '--type', 'water-level', '--lat', '51.46', '--lon', '-0.97'),
    ).toBe(0);
    const bundle = await readBundle('onb-gauge-1');
    expect(await cli('quarantine', '--id', 'onb-gauge-1')).toBe(0);
    expect(out[0]).toMatch(/^quarantined onb-gauge-1/);
    const before = fixture.platform.counters.refusedByReason['device-quarantined'] ?? 0;
    await eventually(
      async () => {
        const client = await connect(bundle);
        const acked = await publishAcked(client, bundle.manifest.topic, reading({ waterLevel: 0.4 }), 1000);
        client.end(true);
        return !acked;
      },
      5000,
      'the quarantine to reach the broker',
    );
    expect(fixture.platform.counters.refusedByReason['device-quarantined']).toBeGreaterThan(before);

    expect(await cli('show', '--id', 'onb-gauge-1')).toBe(0);
    expect(out).toContain('  quarantined   yes');

    expect(await cli('release', '--id', 'onb-gauge-1')).toBe(0);
    await eventually(
      async () => {
        const client = await connect(bundle);
        const acked = await publishAcked(client, bundle.manifest.topic, reading({ waterLevel: 0.5 }), 1000);
        client.end(true);
        return acked;
      },
      5000,
      'the release to reach the broker',
    );
  });

  it('rotates: the new certificate connects and the old one stops once it has', async () => {
    expect(
      await cli('add', '--id', 'onb-air-1', '--type', 'air-quality', '--lat', '51.45', '--lon', '-0.96'),
    ).toBe(0);
    const old = await readBundle('onb-air-1');
    const oldSession: MqttClient = await connect(old);

    expect(await cli('rotate', '--id', 'onb-air-1')).toBe(0);
    expect(out[0]).toMatch(
      /^rotated onb-air-1: new certificate [0-9a-f]{12} in .*devices\/onb-air-1; the old one stops/,
    );
    const fresh = await readBundle('onb-air-1');
    expect(fresh.certPem).not.toBe(old.certPem);
    expect((await stat(path.join(fixture.workDir, 'devices/onb-air-1/key.pem'))).mode & 0o777).toBe(0o600);
    // Within the grace period and before the new one is used, the old certificate still works.
    expect(await publishAcked(oldSession, old.manifest.topic, reading({ no2: 20 }))).toBe(true);

    const client = await connect(fresh);
    expect(await publishAcked(client, fresh.manifest.topic, reading({ no2: 22 }))).toBe(true);
    client.end(true);
    await eventually(() => !oldSession.connected, 5000, 'the old session to be closed');
    await expect(connect(old)).rejects.toThrow(/not authorized/i);
    expect(fixture.platform.counters.refusedByReason['certificate-inactive']).toBeGreaterThan(0);

    expect(await cli('show', '--id', 'onb-air-1')).toBe(0);
    expect(out.find((line) => line.startsWith('  certificates'))).toMatch(
      /^ {2}certificates {2}[0-9a-f]{12} inactive, [0-9a-f]{12} active$/,
    );
  });

  it('revokes: live sessions end and the next connection is refused within 5 seconds', async () => {
    const bundle = await readBundle('onb-bin-1');
    const session = await connect(bundle);
    expect(await cli('revoke', '--id', 'onb-bin-1')).toBe(0);
    expect(out[0]).toMatch(/^revoked every certificate of onb-bin-1/);
    expect(await refusedWithin(bundle, 5000)).toBeLessThan(5000);
    await eventually(() => !session.connected, 5000, 'the live session to be closed');
    expect(fixture.platform.counters.refusedByReason['certificate-revoked']).toBeGreaterThan(0);

    expect(await cli('list')).toBe(0);
    expect(out.find((line) => line.startsWith('onb-bin-1'))).toMatch(/certificates 0 active/);
    expect(out.at(-1)).toBe('3 device(s)');
  });
});
