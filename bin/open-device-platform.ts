import type { PlatformTarget } from '../lambdas/domain/device-onboarding-commands.js';
import { awsDevicePlatform } from './aws-device-platform.js';
import type { DeviceCliIo, DevicePlatform, DevicePlatformOptions } from './device-platform.js';
import { localDevicePlatform } from './local-device-platform.js';

/** Opens the platform a command names: the local runtime (`--local`) or the stack deployed to AWS. */
export function openDevicePlatform(
  target: PlatformTarget,
  io: DeviceCliIo,
  options: DevicePlatformOptions = {},
): Promise<DevicePlatform> {
  return target.kind === 'local'
    ? localDevicePlatform(target.dataDir, io, options)
    : awsDevicePlatform(target, io, options);
}
