import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeviceCli } from '../../bin/device.js';
import { READINGS_SCHEMAS } from '../../lambdas/contracts/device-types.js';
import {
  DeviceInputError,
  DeviceUsageError,
  parseDeviceCommand,
  parseDuration,
  readBundleManifest,
  SAMPLE_READINGS,
} from '../../lambdas/domain/device-onboarding-commands.js';
import { certificateRefusal, type IdentityRegister } from '../../local/local-device-identities.js';

const ADD = [
  'add',
  '--local',
  '--id',
  'bin-42',
  '--type',
  'waste-container',
  '--lat',
  '51.45',
  '--lon',
  '-0.97',
];

function failure(argv: string[]): Error {
  try {
    parseDeviceCommand(argv);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('device command arguments', () => {
  it('reads an add with its defaults', () => {
    expect(parseDeviceCommand(ADD)).toEqual({
      command: 'add',
      target: { kind: 'local', dataDir: '.civic' },
      deviceId: 'bin-42',
      deviceType: 'waste-container',
      location: { lat: 51.45, lon: -0.97 },
      out: 'devices/bin-42',
    });
  });

  it('reads the optional fields of add', () => {
    const command = parseDeviceCommand([
      ...ADD,
      '--ward',
      ' Abbey ',
      '--site',
      'Broad Street',
      '--interval',
      '5m',
      '--out',
      'b',
      '--data-dir',
      'd',
    ]);
    expect(command).toMatchObject({
      ward: 'Abbey',
      site: 'Broad Street',
      expectedIntervalSeconds: 300,
      out: 'b',
      target: { dataDir: 'd' },
    });
  });

  it.each([
    [
      ['--type', 'lamp-post'],
      "device 'bin-42': --type 'lamp-post' is not a device type; known: waste-container",
    ],
    [['--lat', '91'], "device 'bin-42': --lat '91' is not a latitude in degrees between -90 and 90"],
    [['--lon', '1e2'], "device 'bin-42': --lon '1e2' is not a longitude in degrees between -180 and 180"],
    [['--lon', '-180.5'], "device 'bin-42': --lon '-180.5' is not a longitude"],
    [['--interval', 'often'], "device 'bin-42': --interval 'often' must be a duration from 1s to 7d"],
    [['--interval', '8d'], "device 'bin-42': --interval '8d' must be a duration"],
    [['--id', 'bin 42'], "--id 'bin 42' is not a device id"],
  ])('refuses add with %j as bad input (exit 1), naming the device and field', (change, message) => {
    const argv = [...ADD];
    const at = argv.indexOf(change[0] as string);
    if (at < 0) argv.push(...change);
    else argv[at + 1] = change[1] as string;
    const error = failure(argv);
    expect(error).toBeInstanceOf(DeviceInputError);
    expect((error as DeviceInputError).exitCode).toBe(1);
    expect(error.message.startsWith(message)).toBe(true);
  });

  it.each([
    [[], 'usage: npm run device'],
    [['launch'], "unknown command 'launch'"],
    [['add', '--local', '--id', 'bin-42'], 'add: --type is required'],
    [['show', '--local', '--id'], 'show: --id needs a value'],
    [['show', '--local', '--id', 'a', '--id', 'b'], 'show: --id is given twice'],
    [['list', '--local', '--id', 'a'], "list: unknown argument '--id'"],
    [['show', '--id', 'a', '--data-dir', 'd'], 'show: --data-dir is for the local runtime: add --local'],
    [['show', '--local', '--id', 'a', '--stack', 'S'], 'show: --stack is for a platform on AWS'],
    [
      ['show', '--id', 'a', '--stack', 'Civic_IoT'],
      "show: --stack 'Civic_IoT' is not a CloudFormation stack",
    ],
    [['show', '--id', 'a', '--region', 'London'], "show: --region 'London' is not an AWS region name"],
    [['publish-test'], 'publish-test: --bundle is required'],
  ])('refuses %j as a usage error (exit 2)', (argv, message) => {
    const error = failure(argv);
    expect(error).toBeInstanceOf(DeviceUsageError);
    expect((error as DeviceUsageError).exitCode).toBe(2);
    expect(error.message).toContain(message);
  });

  it('reads the fleet provisioning commands', () => {
    expect(parseDeviceCommand(['allow', '--csv', 'serials.csv'])).toEqual({
      command: 'allow',
      target: { kind: 'aws' },
      csv: 'serials.csv',
    });
    expect(parseDeviceCommand(['claim', '--local', '--name', 'acme-2026'])).toEqual({
      command: 'claim',
      target: { kind: 'local', dataDir: '.civic' },
      name: 'acme-2026',
      out: 'claims/acme-2026',
    });
    expect(parseDeviceCommand(['provision-test', '--claim', 'claims/acme', '--serial', 'SN-1'])).toEqual({
      command: 'provision-test',
      claim: 'claims/acme',
      serialNumber: 'SN-1',
    });
    expect(failure(['claim', '--name', 'acme 2026']).message).toBe(
      "--name 'acme 2026' is not a claim name: letters, digits, _ and -, starting with a letter or digit, at most 64",
    );
    expect(failure(['provision-test', '--claim', 'c', '--serial', 'S', '--local'])).toBeInstanceOf(
      DeviceUsageError,
    );
    expect(failure(['allow'])).toBeInstanceOf(DeviceUsageError);
  });

  it('works on AWS without --local, with the stack and region when given', () => {
    expect(parseDeviceCommand(['show', '--id', 'a'])).toEqual({
      command: 'show',
      target: { kind: 'aws' },
      deviceId: 'a',
    });
    expect(
      parseDeviceCommand(['list', '--stack', 'CivicIot-prod-Platform', '--region', 'eu-west-1']),
    ).toEqual({
      command: 'list',
      target: { kind: 'aws', stack: 'CivicIot-prod-Platform', region: 'eu-west-1' },
    });
  });

  it('reads rotate with a grace period, 1 hour by default', () => {
    expect(parseDeviceCommand(['rotate', '--local', '--id', 'a'])).toMatchObject({
      graceSeconds: 3600,
      out: 'devices/a',
    });
    expect(parseDeviceCommand(['rotate', '--local', '--id', 'a', '--grace', '0s'])).toMatchObject({
      graceSeconds: 0,
    });
    expect(failure(['rotate', '--local', '--id', 'a', '--grace', '31d']).message).toBe(
      "device 'a': --grace '31d' must be a duration from 0s to 30d, e.g. 0s, 15m or 1h",
    );
  });

  it('parses durations', () => {
    expect([parseDuration('45'), parseDuration('2h'), parseDuration('1d'), parseDuration('1.5h')]).toEqual([
      45,
      7200,
      86_400,
      undefined,
    ]);
  });

  it('sends a sample reading each type accepts', () => {
    for (const [type, readings] of Object.entries(SAMPLE_READINGS)) {
      expect(READINGS_SCHEMAS[type as keyof typeof READINGS_SCHEMAS].safeParse(readings).success).toBe(true);
    }
  });

  it('checks a bundle manifest', () => {
    const manifest = { deviceId: 'a', type: 'water-level', endpoint: 'mqtts://127.0.0.1:8883', topic: 't' };
    expect(readBundleManifest(manifest)).toEqual(manifest);
    expect(readBundleManifest({ ...manifest, topic: undefined })).toBe('device.json has no topic');
    expect(readBundleManifest({ ...manifest, type: 'lamp' })).toBe(
      "device.json: type 'lamp' is not a device type",
    );
  });
});

describe('certificate refusals of the local identity register', () => {
  const now = new Date('2025-06-01T12:00:00Z');
  const register: IdentityRegister = {
    devices: {
      a: {
        quarantined: false,
        certificates: [
          {
            certificateId: 'old',
            status: 'active',
            issuedAt: '',
            supersededBy: 'new',
            retireAt: '2025-06-01T13:00:00Z',
          },
          { certificateId: 'new', status: 'active', issuedAt: '' },
          { certificateId: 'lost', status: 'revoked', issuedAt: '' },
          { certificateId: 'off', status: 'inactive', issuedAt: '' },
        ],
      },
    },
  };

  it('accepts devices it has no entry for (the runtime provisioned them) and active certificates', () => {
    expect(certificateRefusal(register, 'demo-bin', 'any', now)).toBeUndefined();
    expect(certificateRefusal(register, 'a', 'new', now)).toBeUndefined();
    expect(certificateRefusal(register, 'a', 'old', now)).toBeUndefined();
  });

  it('refuses revoked, inactive and unlisted certificates of a device it manages', () => {
    expect(certificateRefusal(register, 'a', 'lost', now)).toBe('certificate-revoked');
    expect(certificateRefusal(register, 'a', 'off', now)).toBe('certificate-inactive');
    expect(certificateRefusal(register, 'a', 'stranger', now)).toBe('certificate-inactive');
  });

  it('stops a rotated-out certificate when its replacement has connected or the grace period is over', () => {
    expect(certificateRefusal(register, 'a', 'old', now, new Set(['new']))).toBe('certificate-inactive');
    expect(certificateRefusal(register, 'a', 'old', new Date('2025-06-01T13:00:00Z'))).toBe(
      'certificate-inactive',
    );
  });
});

describe('runDeviceCli without a running platform', () => {
  let cwd: string;
  const out: string[] = [];
  const err: string[] = [];
  const io = () => ({ out: (l: string) => out.push(l), err: (l: string) => err.push(l), cwd });

  beforeAll(async () => {
    cwd = await mkdtemp(path.join(tmpdir(), 'civic-device-cli-'));
  });
  afterAll(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('exits 2 with the usage for a malformed line', async () => {
    err.length = 0;
    expect(await runDeviceCli(['add', '--local', '--id'], io())).toBe(2);
    expect(err).toEqual(['device: add: --id needs a value']);
  });

  it('exits 1 and says how to start the platform when the data directory has none', async () => {
    err.length = 0;
    expect(await runDeviceCli([...ADD, '--data-dir', 'nowhere'], io())).toBe(1);
    expect(err[0]).toBe(
      `device: no local platform in ${path.join(cwd, 'nowhere')} (local.json and certs/ are missing): ` +
        'start it with npm start -- --data-dir nowhere',
    );
    expect(out).toEqual([]);
  });

  it('exits 1 for a bundle folder that is not there', async () => {
    err.length = 0;
    expect(await runDeviceCli(['publish-test', '--bundle', 'devices/none'], io())).toBe(1);
    expect(err[0]).toMatch(/^device: --bundle .*devices\/none: ENOENT/);
  });
});
