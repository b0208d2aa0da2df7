import { DEVICE_TYPES, type DeviceType, isDeviceType } from '../contracts/device-types.js';
import { DEVICE_ID_PATTERN } from '../contracts/topics.js';
import type { BoundingBox } from './device.js';
import type { CertificateStatus, DeviceIdentity } from './device-onboarding.js';
import { boundingBoxText, type DeviceRegistration, isInside } from './device-registry.js';

/**
 * The `npm run device` commands as data: what each takes, how its arguments are checked, and the sentences the
 * CLI prints. Pure: no file system, network or clock, so the same checks and words serve the local runtime and
 * AWS.
 */

/** A malformed command line (unknown command or flag, a missing value or required flag): exit status 2. */
export class DeviceUsageError extends Error {
  override readonly name = 'DeviceUsageError';
  readonly exitCode = 2;
}

/**
 * A well-formed command the platform cannot carry out as asked (bad coordinates, unknown type, duplicate or unknown
 * device): exit status 1. The message names the device and the field.
 */
export class DeviceInputError extends Error {
  override readonly name = 'DeviceInputError';
  readonly exitCode = 1;
}

export const DEVICE_USAGE = `usage: npm run device -- <command> [options] [--local [--data-dir .civic]]

where:
  --local             the local runtime (npm start must be running); without it, the platform deployed to AWS,
                      with your AWS credentials (AWS_PROFILE etc.) and the stack's outputs:
  --stack NAME        the platform stack (default CivicIot-<stage>-Platform, stage from cdk.json)
  --region REGION     its region (default: cdk.json's region)

commands:
  add --id ID --type TYPE --lat LAT --lon LON [--ward W] [--site S] [--interval 5m] [--out DIR]
                      register a device, issue its certificate, write its bundle (default devices/<id>/)
  import --csv FILE [--out DIR]
                      add every row of a CSV (columns id,type,lat,lon and optional ward,site,interval, in
                      any order); every row is checked first and nothing is made if one is bad; a re-run
                      skips devices already onboarded and completes half-done ones; bundles go to DIR/<id>/
                      (default devices/)
  list                registered devices with their certificates and quarantine
  show --id ID        one device, with its certificates and last reading
  revoke --id ID      revoke every certificate of the device: its connections are refused within 5 s
  rotate --id ID [--out DIR] [--grace 1h]
                      new certificate into the bundle; the old one stops when the grace period ends (0s: at
                      once), and locally as soon as the device has connected with the new one
  quarantine --id ID  the device may connect but its publishes are refused
  release --id ID     lift the quarantine
  decommission --id ID
                      take the device out of service: its entry and data are kept, every certificate
                      revoked (the registry and its identity agree)
  publish-test --bundle DIR
                      publish one sample reading with a bundle's certificate and wait for the acknowledgement

fleet provisioning by claim (devices that arrive with a vendor's claim certificate, not their own):
  allow --csv FILE    put serial numbers on the provisioning allow-list: the columns of import plus serial;
                      every row is checked first; a serial provisions one device, once
  claim --name NAME [--out DIR]
                      make a claim certificate for a vendor (default claims/NAME/): it can do nothing but
                      provision devices on the allow-list
  provision-test --claim DIR --serial SERIAL [--out DIR]
                      provision one device with a claim bundle as its firmware would, and write its own bundle

types: ${DEVICE_TYPES.join(', ')}`;

/** Where the platform is: the local runtime's data directory, or a deployed stack on AWS. */
export type PlatformTarget =
  | { readonly kind: 'local'; readonly dataDir: string }
  | {
      readonly kind: 'aws';
      /** @default - `CivicIot-<stage>-Platform`, the stage from cdk.json */
      readonly stack?: string;
      /** @default - cdk.json's region */
      readonly region?: string;
    };

/**
 * A device as `add`, `import` and the allow-list take it: what `POST /devices` registers, without the per-service
 * settings (those are set on the registry later).
 */
export type DeviceFields = Omit<DeviceRegistration, 'settings'>;

export interface AddCommand extends DeviceFields {
  readonly command: 'add';
  readonly target: PlatformTarget;
  /** The bundle folder; `devices/<id>` when not given. */
  readonly out: string;
}

export interface DeviceIdCommand {
  readonly command: 'show' | 'revoke' | 'quarantine' | 'release' | 'decommission';
  readonly target: PlatformTarget;
  readonly deviceId: string;
}

export interface RotateCommand {
  readonly command: 'rotate';
  readonly target: PlatformTarget;
  readonly deviceId: string;
  readonly out: string;
  /** How long the old certificate keeps working if the device does not connect with the new one first. */
  readonly graceSeconds: number;
}

export interface ListCommand {
  readonly command: 'list';
  readonly target: PlatformTarget;
}

/** `import`: every row of an asset CSV onboarded as `add` would, all rows checked before anything is made. */
export interface ImportCommand {
  readonly command: 'import';
  readonly target: PlatformTarget;
  /** The CSV file (see {@link readDeviceImport} for its columns). */
  readonly csv: string;
  /** The folder the bundles go under, one `<out>/<id>/` per device. */
  readonly out: string;
}

export interface PublishTestCommand {
  readonly command: 'publish-test';
  readonly bundle: string;
}

/** `allow`: serial numbers onto the provisioning allow-list, all rows checked before anything is written. */
export interface AllowCommand {
  readonly command: 'allow';
  readonly target: PlatformTarget;
  readonly csv: string;
}

/** `claim`: a claim certificate bundle for a vendor. */
export interface ClaimCommand {
  readonly command: 'claim';
  readonly target: PlatformTarget;
  /** Names the bundle folder and the certificate, e.g. the vendor and batch: letters, digits, `_` and `-`. */
  readonly name: string;
  readonly out: string;
}

/** `provision-test`: what a vendor's firmware does with its claim certificate, run from this machine. */
export interface ProvisionTestCommand {
  readonly command: 'provision-test';
  /** The claim bundle folder (`claim` wrote it). */
  readonly claim: string;
  readonly serialNumber: string;
  /** Where the provisioned device's bundle goes; `devices/<device id>` when not given. */
  readonly out?: string;
}

export type DeviceCommand =
  | AddCommand
  | ImportCommand
  | DeviceIdCommand
  | RotateCommand
  | ListCommand
  | PublishTestCommand
  | AllowCommand
  | ClaimCommand
  | ProvisionTestCommand;

/** The rotation grace period when `--grace` is not given: long enough for a device that reports hourly. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 3600;

const COMMAND_FLAGS: Record<DeviceCommand['command'], readonly string[]> = {
  add: ['--id', '--type', '--lat', '--lon', '--ward', '--site', '--interval', '--out'],
  import: ['--csv', '--out'],
  list: [],
  show: ['--id'],
  revoke: ['--id'],
  rotate: ['--id', '--out', '--grace'],
  quarantine: ['--id'],
  release: ['--id'],
  decommission: ['--id'],
  'publish-test': ['--bundle'],
  allow: ['--csv'],
  claim: ['--name', '--out'],
  'provision-test': ['--claim', '--serial', '--out'],
};

/** Commands that work with files and a broker only, on no platform: no --local, --stack or --region. */
const PLATFORM_FREE: readonly DeviceCommand['command'][] = ['publish-test', 'provision-test'];

/** A claim certificate's name: it becomes a folder name and part of the claim client id's suggestion. */
const CLAIM_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const LOCAL_FLAGS = ['--data-dir'];
const AWS_FLAGS = ['--stack', '--region'];

/** CloudFormation's stack name rule: a letter, then letters, digits and hyphens, 128 at most. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

/** A plain decimal, as people write coordinates (no exponents, hex or blanks that `Number` would accept). */
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Parses `30s`, `5m`, `1h`, `1d` or plain seconds; undefined when it is none of them. */
export function parseDuration(value: string): number | undefined {
  const match = /^(\d+)(s|m|h|d)?$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

function coordinate(deviceId: string, flag: '--lat' | '--lon', value: string): number {
  const [limit, what] = flag === '--lat' ? [90, 'a latitude'] : [180, 'a longitude'];
  if (!DECIMAL.test(value.trim()) || Math.abs(Number(value)) > limit) {
    throw new DeviceInputError(
      `device '${deviceId}': ${flag} '${value}' is not ${what} in degrees between -${limit} and ${limit}`,
    );
  }
  return Number(value);
}

function deviceIdOf(value: string): string {
  if (!DEVICE_ID_PATTERN.test(value)) {
    throw new DeviceInputError(
      `--id '${value}' is not a device id: letters, digits, _ and -, starting with a letter or digit, at most 64`,
    );
  }
  return value;
}

function textField(deviceId: string, flag: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > max) {
    throw new DeviceInputError(`device '${deviceId}': ${flag} must be 1 to ${max} characters`);
  }
  return trimmed;
}

/** A device's fields as text, from `add`'s flags or a row of an `import` CSV (absent optional = undefined). */
export interface DeviceFieldsText {
  readonly id: string;
  readonly type: string;
  readonly lat: string;
  readonly lon: string;
  readonly ward?: string | undefined;
  readonly site?: string | undefined;
  readonly interval?: string | undefined;
}

/**
 * Refuses a location outside the council's area (edges included) with the CLI's words; no area, no check.
 * @throws DeviceInputError naming the device, the flags and the area
 */
export function requireInsideArea(
  deviceId: string,
  location: { readonly lat: number; readonly lon: number },
  councilArea: BoundingBox | undefined,
): void {
  if (councilArea && !isInside(location, councilArea)) {
    throw new DeviceInputError(
      `device '${deviceId}': --lat/--lon ${location.lat},${location.lon} is outside the council area ` +
        `${boundingBoxText(councilArea)} (west,south,east,north)`,
    );
  }
}

/**
 * Checks a device's fields with `add`'s rules (id pattern, known type, coordinates, inside `councilArea` when
 * given (edges included), text lengths, interval). Throws {@link DeviceInputError} naming the device and the field
 * at the first bad one.
 */
export function readDeviceFields(text: DeviceFieldsText, councilArea?: BoundingBox): DeviceFields {
  const deviceId = deviceIdOf(text.id);
  if (!isDeviceType(text.type)) {
    throw new DeviceInputError(
      `device '${deviceId}': --type '${text.type}' is not a device type; known: ${DEVICE_TYPES.join(', ')}`,
    );
  }
  const lat = coordinate(deviceId, '--lat', text.lat);
  const lon = coordinate(deviceId, '--lon', text.lon);
  requireInsideArea(deviceId, { lat, lon }, councilArea);
  let expectedIntervalSeconds: number | undefined;
  if (text.interval !== undefined) {
    expectedIntervalSeconds = parseDuration(text.interval);
    if (
      expectedIntervalSeconds === undefined ||
      expectedIntervalSeconds < 1 ||
      expectedIntervalSeconds > 7 * 86_400
    ) {
      throw new DeviceInputError(
        `device '${deviceId}': --interval '${text.interval}' must be a duration from 1s to 7d, e.g. 30s, 5m or 1h`,
      );
    }
  }
  return {
    deviceId,
    deviceType: text.type,
    location: { lat, lon },
    ...(text.ward === undefined ? {} : { ward: textField(deviceId, '--ward', text.ward, 100) }),
    ...(text.site === undefined ? {} : { site: textField(deviceId, '--site', text.site, 200) }),
    ...(expectedIntervalSeconds === undefined ? {} : { expectedIntervalSeconds }),
  };
}

/**
 * Reads a `npm run device` command line. Throws {@link DeviceUsageError} for a malformed line and
 * {@link DeviceInputError} for a value the platform would refuse, before anything is created.
 */
export function parseDeviceCommand(argv: readonly string[]): DeviceCommand {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === 'help') throw new DeviceUsageError(DEVICE_USAGE);
  if (!Object.hasOwn(COMMAND_FLAGS, name)) {
    throw new DeviceUsageError(`unknown command '${name}'\n${DEVICE_USAGE}`);
  }
  const command = name as DeviceCommand['command'];
  const platformFree = PLATFORM_FREE.includes(command);
  const allowed = [...COMMAND_FLAGS[command], ...(platformFree ? [] : [...LOCAL_FLAGS, ...AWS_FLAGS])];
  const values = new Map<string, string>();
  let local = false;
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] as string;
    if (flag === '--local' && !platformFree) {
      local = true;
      continue;
    }
    if (!allowed.includes(flag)) throw new DeviceUsageError(`${command}: unknown argument '${flag}'`);
    const value = rest[i + 1];
    if (value === undefined || value.startsWith('--'))
      throw new DeviceUsageError(`${command}: ${flag} needs a value`);
    if (values.has(flag)) throw new DeviceUsageError(`${command}: ${flag} is given twice`);
    values.set(flag, value);
    i++;
  }
  const required = (flag: string): string => {
    const value = values.get(flag);
    if (value === undefined) throw new DeviceUsageError(`${command}: ${flag} is required`);
    return value;
  };

  if (command === 'publish-test') return { command, bundle: required('--bundle') };
  if (command === 'provision-test') {
    const out = values.get('--out');
    return {
      command,
      claim: required('--claim'),
      serialNumber: required('--serial'),
      ...(out === undefined ? {} : { out }),
    };
  }
  const misplaced = (local ? AWS_FLAGS : LOCAL_FLAGS).find((flag) => values.has(flag));
  if (misplaced) {
    throw new DeviceUsageError(
      local
        ? `${command}: ${misplaced} is for a platform on AWS; --local works on the local runtime`
        : `${command}: ${misplaced} is for the local runtime: add --local`,
    );
  }
  const stack = values.get('--stack');
  const region = values.get('--region');
  if (stack !== undefined && !STACK_NAME.test(stack)) {
    throw new DeviceUsageError(`${command}: --stack '${stack}' is not a CloudFormation stack name`);
  }
  if (region !== undefined && !AWS_REGION.test(region)) {
    throw new DeviceUsageError(
      `${command}: --region '${region}' is not an AWS region name such as eu-west-2`,
    );
  }
  const target: PlatformTarget = local
    ? { kind: 'local', dataDir: values.get('--data-dir') ?? '.civic' }
    : { kind: 'aws', ...(stack === undefined ? {} : { stack }), ...(region === undefined ? {} : { region }) };
  if (command === 'list') return { command, target };
  if (command === 'allow') return { command, target, csv: required('--csv') };
  if (command === 'claim') {
    const name = required('--name');
    if (!CLAIM_NAME.test(name)) {
      throw new DeviceInputError(
        `--name '${name}' is not a claim name: letters, digits, _ and -, starting with a letter or digit, at most 64`,
      );
    }
    return { command, target, name, out: values.get('--out') ?? `${DEFAULT_CLAIMS_DIR}/${name}` };
  }

  if (command === 'import') {
    return { command, target, csv: required('--csv'), out: values.get('--out') ?? DEFAULT_BUNDLES_DIR };
  }
  const deviceId = deviceIdOf(required('--id'));

  if (command === 'add') {
    const fields = readDeviceFields({
      id: deviceId,
      type: required('--type'),
      lat: required('--lat'),
      lon: required('--lon'),
      ward: values.get('--ward'),
      site: values.get('--site'),
      interval: values.get('--interval'),
    });
    return { command, target, ...fields, out: values.get('--out') ?? defaultBundleDir(deviceId) };
  }
  if (command === 'rotate') {
    const grace = values.get('--grace');
    const graceSeconds = grace === undefined ? DEFAULT_ROTATION_GRACE_SECONDS : parseDuration(grace);
    if (graceSeconds === undefined || graceSeconds > 30 * 86_400) {
      throw new DeviceInputError(
        `device '${deviceId}': --grace '${grace}' must be a duration from 0s to 30d, e.g. 0s, 15m or 1h`,
      );
    }
    return {
      command,
      target,
      deviceId,
      out: values.get('--out') ?? defaultBundleDir(deviceId),
      graceSeconds,
    };
  }
  return { command, target, deviceId };
}

/** The folder claim bundles go under unless `--out` says otherwise (git-ignored: they hold private keys). */
export const DEFAULT_CLAIMS_DIR = 'claims';

/** `claim.json` in a claim bundle: where to provision and how (the certificate files sit beside it). */
export interface ClaimManifest {
  readonly name: string;
  /** The claim certificate's full id: what to deactivate if the vendor's copy leaks. */
  readonly certificateId: string;
  readonly endpoint: string;
  /** The provisioning template's name: the RegisterThing topic is `$aws/provisioning-templates/<it>/provision/json`. */
  readonly templateName: string;
  /** What the MQTT client id must start with while provisioning (the claim policy allows no other). */
  readonly clientIdPrefix: string;
}

/** Checks a parsed `claim.json`; a sentence saying what is wrong otherwise. */
export function readClaimManifest(value: unknown): ClaimManifest | string {
  const manifest = value as Partial<Record<keyof ClaimManifest, unknown>> | null;
  if (typeof manifest !== 'object' || manifest === null) return 'claim.json is not a JSON object';
  for (const field of ['name', 'certificateId', 'endpoint', 'templateName', 'clientIdPrefix'] as const) {
    if (typeof manifest[field] !== 'string') return `claim.json has no ${field}`;
  }
  return manifest as ClaimManifest;
}

/** The folder bundles go under unless `--out` says otherwise (git-ignored: bundles hold private keys). */
export const DEFAULT_BUNDLES_DIR = 'devices';

/** Where a device's bundle goes unless `--out` says otherwise. */
export function defaultBundleDir(deviceId: string): string {
  return `${DEFAULT_BUNDLES_DIR}/${deviceId}`;
}

/** `device.json` in a bundle: what the device (or publish-test) needs besides its certificate and key. */
export interface BundleManifest {
  readonly deviceId: string;
  readonly type: DeviceType;
  readonly endpoint: string;
  readonly topic: string;
}

/** Checks a parsed `device.json`; a sentence saying what is wrong otherwise. */
export function readBundleManifest(value: unknown): BundleManifest | string {
  const manifest = value as Partial<Record<keyof BundleManifest, unknown>> | null;
  if (typeof manifest !== 'object' || manifest === null) return 'device.json is not a JSON object';
  for (const field of ['deviceId', 'type', 'endpoint', 'topic'] as const) {
    if (typeof manifest[field] !== 'string') return `device.json has no ${field}`;
  }
  if (!isDeviceType(manifest.type))
    return `device.json: type '${String(manifest.type)}' is not a device type`;
  return manifest as BundleManifest;
}

/** A plausible reading for each type, as `publish-test` sends (valid against the type's readings schema). */
export const SAMPLE_READINGS: Readonly<Record<DeviceType, Readonly<Record<string, unknown>>>> = {
  'waste-container': { fillingLevel: 0.42 },
  'parking-spot': { status: 'free' },
  'air-quality': { no2: 21.5, pm25: 8.1 },
  'traffic-flow': { intensity: 120, averageVehicleSpeed: 38, occupancy: 0.18, periodSeconds: 300 },
  'water-level': { waterLevel: 0.62 },
};

/** A short form of a certificate id for people (AWS shows ids of 64 hex digits). */
export function shortCertificateId(certificateId: string): string {
  return certificateId.slice(0, 12);
}

/** The certificates of an identity as one line: `3f2a9c01b7de active, 81c0d2e4f5a6 inactive`. */
export function describeCertificates(identity: DeviceIdentity): string {
  if (identity.certificates.length === 0) return 'none';
  return identity.certificates
    .map((certificate) => `${shortCertificateId(certificate.certificateId)} ${certificate.status}`)
    .join(', ');
}

/** How many of an identity's certificates have a status. */
export function countCertificates(identity: DeviceIdentity, status: CertificateStatus): number {
  return identity.certificates.filter((certificate) => certificate.status === status).length;
}
