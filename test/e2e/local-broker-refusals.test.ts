import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCertificateAuthority } from '../../local/certificate-authority.js';
import type { DeviceBundle } from '../../local/city-simulator.js';
import { IDENTITY_REGISTER_FILE, readIdentityRegister } from '../../local/local-device-identities.js';
import { type LocalPlatform, startLocalPlatform } from '../../local/start-local-platform.js';
import {
  connectDevice,
  eventually,
  publishAcked,
  tempDataDir,
  testDevice,
} from './local-platform-support.js';

describe('local broker: mutual TLS and the device policy', () => {
  let platform: LocalPlatform;
  let dataDir: string;
  let bin: DeviceBundle;
  let gauge: DeviceBundle;
  let retired: DeviceBundle;
  const refusals = (reason: string) => platform.counters.refusedByReason[reason as 'tls-handshake'] ?? 0;

  beforeAll(async () => {
    dataDir = await tempDataDir('refusals');
    platform = await startLocalPlatform({
      dataDir,
      apiPort: 0,
      mqttPort: 0,
      simulator: false,
      log: () => undefined,
    });
    [bin, gauge, retired] = (await platform.provisionDevices([
      testDevice('ref-bin-1', 'waste-container'),
      testDevice('ref-level-1', 'water-level'),
      testDevice('ref-bin-old', 'waste-container', 'decommissioned'),
    ])) as [DeviceBundle, DeviceBundle, DeviceBundle];
  });

  afterAll(async () => {
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('accepts a device with its own certificate and client id', async () => {
    const client = await connectDevice(platform.mqttUrl, platform.caPem, bin, bin.deviceId);
    const payload = JSON.stringify({
      messageId: 'ok-1',
      observedAt: new Date().toISOString(),
      readings: { fillingLevel: 0.3 },
    });
    expect(await publishAcked(client, bin.topic, payload)).toBe(true);
    client.end(true);
  });

  it('refuses a client without a certificate at the TLS handshake', async () => {
    const before = refusals('tls-handshake');
    await expect(connectDevice(platform.mqttUrl, platform.caPem, undefined, bin.deviceId)).rejects.toThrow();
    expect(refusals('tls-handshake')).toBe(before + 1);
  });

  it('refuses a certificate from another CA at the TLS handshake', async () => {
    const otherDir = await tempDataDir('other-ca');
    try {
      const other = await LocalCertificateAuthority.loadOrCreate(
        path.join(otherDir, 'certs'),
        'Someone else',
      );
      const forged = await other.deviceCertificate(bin.deviceId);
      const before = refusals('tls-handshake');
      await expect(connectDevice(platform.mqttUrl, platform.caPem, forged, bin.deviceId)).rejects.toThrow();
      expect(refusals('tls-handshake')).toBe(before + 1);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it("refuses a client id that is not the certificate's device id", async () => {
    await expect(connectDevice(platform.mqttUrl, platform.caPem, bin, gauge.deviceId)).rejects.toThrow(
      /identifier rejected/i,
    );
    expect(refusals('client-id-mismatch')).toBe(1);
  });

  it('refuses a decommissioned device', async () => {
    await expect(connectDevice(platform.mqttUrl, platform.caPem, retired, retired.deviceId)).rejects.toThrow(
      /not authorized/i,
    );
    expect(refusals('device-decommissioned')).toBe(1);
  });

  it("refuses a publish to another device's topic: no PUBACK, nothing queued, connection closed", async () => {
    const queuedBefore = platform.counters.messagesIn;
    const client = await connectDevice(platform.mqttUrl, platform.caPem, bin, bin.deviceId);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const payload = JSON.stringify({
      messageId: 'spoof-1',
      observedAt: new Date().toISOString(),
      readings: { waterLevel: 9 },
    });
    // A valid topic, on the right lane, for a different (registered) device.
    const othersTopic = bin.topic.replace(bin.deviceId, 'ref-bin-2');
    expect(await publishAcked(client, othersTopic, payload, 1500)).toBe(false);
    await closed;
    client.end(true);
    expect(refusals('topic-not-allowed')).toBe(1);
    expect(platform.counters.messagesIn).toBe(queuedBefore);
  });

  it("refuses a publish on its own id but another type's topic, and any subscribe", async () => {
    const client = await connectDevice(platform.mqttUrl, platform.caPem, bin, bin.deviceId);
    const asGauge = gauge.topic.replace(gauge.deviceId, bin.deviceId);
    const payload = JSON.stringify({
      messageId: 'type-1',
      observedAt: new Date().toISOString(),
      readings: { waterLevel: 1 },
    });
    expect(await publishAcked(client, asGauge, payload, 1500)).toBe(false);
    client.end(true);
    expect(refusals('device-type-mismatch')).toBe(1);

    const subscriber = await connectDevice(platform.mqttUrl, platform.caPem, gauge, gauge.deviceId);
    const granted = await subscriber.subscribeAsync('$aws/rules/#').catch(() => undefined);
    expect(granted?.every((g) => g.qos === 128) ?? true).toBe(true);
    subscriber.end(true);
    expect(refusals('subscribe-not-allowed')).toBe(1);
  });

  it('DELETE /devices/{id} revokes the device in the identity register first: its live session ends at once', async () => {
    const [leaving] = (await platform.provisionDevices([
      testDevice('ref-bin-leaving', 'waste-container'),
    ])) as [DeviceBundle];
    const client = await connectDevice(platform.mqttUrl, platform.caPem, leaving, leaving.deviceId);
    let closed = false;
    client.on('close', () => {
      closed = true;
    });
    const response = await fetch(`${platform.apiUrl}/devices/${leaving.deviceId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${platform.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ deviceId: leaving.deviceId, status: 'decommissioned' });
    // The register now lists the device, with no certificate that may connect: the broker closes its session.
    const register = await readIdentityRegister(path.join(dataDir, 'certs', IDENTITY_REGISTER_FILE));
    expect(register.devices[leaving.deviceId]?.certificates.every((c) => c.status === 'revoked')).toBe(true);
    await eventually(() => closed, 2000, 'the decommissioned device to be disconnected');
    client.end(true);
    await expect(connectDevice(platform.mqttUrl, platform.caPem, leaving, leaving.deviceId)).rejects.toThrow(
      /not authorized/i,
    );
  });
});
