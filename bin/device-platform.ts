import type { BoundingBox, Device } from '../lambdas/domain/device.js';
import type { ClaimCertificates, DeviceIdentities } from '../lambdas/domain/device-onboarding.js';
import type { DeviceFields } from '../lambdas/domain/device-onboarding-commands.js';
import type { ProvisioningAllowList } from '../lambdas/domain/provisioning-allow-list.js';
import type { TelemetryPoint } from '../lambdas/domain/telemetry.js';

/** Where the CLI writes and which directory relative paths start from (tests pass a temp dir). */
export interface DeviceCliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly cwd: string;
  /**
   * A one-line progress indicator that redraws in place; given only when stderr is a terminal, so logs and pipes
   * get the summary alone. Called with '' to clear it.
   */
  readonly progress?: (line: string) => void;
}

/** The device registry as the CLI uses it: its errors are `DeviceInputError`s naming the device and the field. */
export interface RegistryAccess {
  get(deviceId: string): Promise<Device | undefined>;
  register(device: DeviceFields): Promise<Device>;
  list(): Promise<Device[]>;
  /**
   * Takes a device out of service for good, as `DELETE /devices/{id}` does: its certificates revoked first, then the
   * entry marked decommissioned (entry and data kept).
   */
  decommission(deviceId: string): Promise<Device>;
  /** The device's newest reading as the API's `GET /devices/{id}/latest` answers it; undefined before the first. */
  latest(deviceId: string): Promise<TelemetryPoint | undefined>;
}

/**
 * One platform the `npm run device` commands work on: the local runtime or a stack deployed to AWS. The commands
 * are written once against this; only how the registry and the identities are reached differs.
 */
export interface DevicePlatform {
  readonly registry: RegistryAccess;
  readonly identities: DeviceIdentities;
  /**
   * The council's area (config `councilArea`) when the platform has one: `add` and `import` refuse a device
   * outside it before anything is made.
   */
  readonly councilArea?: BoundingBox;
  /**
   * Whether a rotated-out certificate stops as soon as the device connects with its new one (the local broker sees
   * every connection) or only when the grace period ends (AWS: a scheduled retirement, nothing watches connections).
   */
  readonly retiresOnConnect: boolean;
  /** How soon a revoked certificate's connections end, in words: the local broker checks within seconds. */
  readonly revocationTakesEffect: string;
  /** What `list` and `show` say of a registered device with no identity managed by the CLI. */
  readonly noIdentity: string;
  /**
   * Fleet provisioning by claim. A function so that the commands that do not use it work on a platform without it
   * (an older stack); throws a `DeviceInputError` saying what is missing.
   */
  provisioning(): FleetProvisioning;
}

/** The platform's fleet provisioning by claim, as the `allow`, `claim` and `provision-test` commands use it. */
export interface FleetProvisioning {
  readonly allowList: ProvisioningAllowList;
  /** The provisioning template a claim bundle names (its RegisterThing topic). */
  readonly templateName: string;
  readonly claims: ClaimCertificates;
}

/** What opening a platform may be told beyond its target. */
export interface DevicePlatformOptions {
  /** How long a certificate replaced by `rotate` keeps working if the device does not connect with the new one. */
  readonly rotationGraceSeconds?: number;
}
