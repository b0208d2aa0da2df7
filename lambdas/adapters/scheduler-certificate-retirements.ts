import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { CertificateRetirements } from '../domain/certificate-retirements.js';

/** What {@link SchedulerCertificateRetirements} needs from the deployed stack. */
export interface SchedulerCertificateRetirementsOptions {
  readonly scheduler: SchedulerClient;
  /**
   * The role EventBridge Scheduler assumes to set the certificate INACTIVE (the stack's
   * `CertificateRetirementRoleArn` output): it may call `iot:UpdateCertificate` and nothing else. Whoever creates
   * the schedules needs `scheduler:CreateSchedule` and `iam:PassRole` on it.
   */
  readonly roleArn: string;
  /**
   * The schedule group the retirements go in.
   * @default - the account's `default` group
   */
  readonly groupName?: string;
}

/**
 * Scheduler's universal target for IoT's UpdateCertificate: `aws-sdk:<SDK service id>:<action, camelCase>`, with
 * no region or account, in the partition of the role (`aws`, or `aws-cn` in China).
 */
export function updateCertificateTargetArn(partition: string): string {
  return `arn:${partition}:scheduler:::aws-sdk:iot:updateCertificate`;
}

/** What a retirement schedule's name starts with, so an operator listing schedules sees what it is for. */
const NAME_PREFIX = 'retire-';
/** Scheduler's limit on a schedule name. */
const NAME_MAX_LENGTH = 64;
// An IoT certificate id: the SHA-256 fingerprint of the certificate, in lower-case hex.
const CERTIFICATE_ID = /^[0-9a-f]{64}$/;
const ROLE_ARN = /^arn:(aws(?:-[a-z]+)*):iam::\d{12}:role\/[\w+=,.@/-]+$/;
/**
 * How long Scheduler keeps retrying a retirement IoT refused (throttling, an outage): a day, Scheduler's maximum,
 * because a certificate left active is worse than a late retirement. 185 attempts is Scheduler's maximum too.
 */
const RETRY_POLICY = { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 } as const;

function isNamed(error: unknown, name: string): boolean {
  return (error as { name?: unknown } | undefined)?.name === name;
}

/**
 * The schedule's name, from the certificate id alone so asking twice finds the same schedule. A certificate id is
 * 64 characters, Scheduler's whole limit, so the name keeps the prefix and the id's first 57 hex digits (228 bits:
 * two certificates sharing them is not a practical risk).
 */
export function retirementScheduleName(certificateId: string): string {
  return `${NAME_PREFIX}${certificateId}`.slice(0, NAME_MAX_LENGTH);
}

/**
 * `at()` takes whole seconds; rounding up keeps the certificate working for at least the grace period asked for.
 * The expression carries no zone of its own: the schedule says UTC.
 */
export function atExpression(at: Date): string {
  const seconds = new Date(Math.ceil(at.getTime() / 1000) * 1000);
  return `at(${seconds.toISOString().slice(0, 19)})`;
}

/**
 * Certificate retirements as EventBridge Scheduler one-time schedules: at the given time Scheduler itself calls
 * IoT's UpdateCertificate with the certificate INACTIVE, retries if IoT refuses, then deletes the schedule. No
 * process of ours has to be running at that time. The schedule holds only the certificate id, never key material.
 */
export class SchedulerCertificateRetirements implements CertificateRetirements {
  private readonly scheduler: SchedulerClient;
  private readonly roleArn: string;
  private readonly targetArn: string;
  private readonly groupName: string | undefined;

  constructor(options: SchedulerCertificateRetirementsOptions) {
    const partition = ROLE_ARN.exec(options.roleArn)?.[1];
    if (!partition) {
      throw new Error(
        `roleArn must be an IAM role ARN (the stack's CertificateRetirementRoleArn output), got ${JSON.stringify(options.roleArn)}`,
      );
    }
    this.scheduler = options.scheduler;
    this.roleArn = options.roleArn;
    this.targetArn = updateCertificateTargetArn(partition);
    this.groupName = options.groupName;
  }

  async retireAt(deviceId: string, certificateId: string, at: Date): Promise<void> {
    if (!CERTIFICATE_ID.test(certificateId)) {
      throw new Error(
        `Not an IoT certificate id (64 lower-case hex digits): ${JSON.stringify(certificateId)} (device ${deviceId})`,
      );
    }
    if (Number.isNaN(at.getTime())) {
      throw new Error(`Not a valid time to retire certificate ${certificateId} of device ${deviceId}`);
    }
    try {
      await this.scheduler.send(
        new CreateScheduleCommand({
          Name: retirementScheduleName(certificateId),
          ...(this.groupName === undefined ? {} : { GroupName: this.groupName }),
          Description: `Rotation of device ${deviceId}: its old certificate ${certificateId} stops working`,
          ScheduleExpression: atExpression(at),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Target: {
            Arn: this.targetArn,
            RoleArn: this.roleArn,
            // Universal targets take the API's members in PascalCase (as Step Functions' SDK integrations do),
            // not IoT's wire names `certificateId` and `newStatus`: published schedules of `iot:deleteCertificate`
            // pass `CertificateId`, those of `ecs:updateService` (members `cluster`, `desiredCount`) pass
            // `Cluster` and `DesiredCount`, and the CDK's universal target example passes `DbClusterIdentifier`.
            Input: JSON.stringify({ CertificateId: certificateId, NewStatus: 'INACTIVE' }),
            RetryPolicy: RETRY_POLICY,
          },
        }),
      );
    } catch (error) {
      // A schedule of this name is this certificate's retirement, already asked for: nothing more to do.
      if (isNamed(error, 'ConflictException')) return;
      throw error;
    }
  }

  async cancel(certificateId: string): Promise<void> {
    try {
      await this.scheduler.send(
        new DeleteScheduleCommand({
          Name: retirementScheduleName(certificateId),
          ...(this.groupName === undefined ? {} : { GroupName: this.groupName }),
        }),
      );
    } catch (error) {
      // Already carried out (and deleted after completion) or never made: nothing left to call off.
      if (isNamed(error, 'ResourceNotFoundException')) return;
      throw error;
    }
  }
}
