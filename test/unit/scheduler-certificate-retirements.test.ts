import {
  ConflictException,
  CreateScheduleCommand,
  SchedulerClient,
  ServiceQuotaExceededException,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  atExpression,
  retirementScheduleName,
  SchedulerCertificateRetirements,
} from '../../lambdas/adapters/scheduler-certificate-retirements.js';

const scheduler = mockClient(SchedulerClient);
const ROLE_ARN = 'arn:aws:iam::111122223333:role/CivicPlatform-CertificateRetirementRole-AB12';
const CERTIFICATE_ID = 'ab'.repeat(32);

function retirements(options: { roleArn?: string; groupName?: string } = {}) {
  return new SchedulerCertificateRetirements({
    scheduler: new SchedulerClient({ region: 'eu-west-2' }),
    roleArn: options.roleArn ?? ROLE_ARN,
    ...(options.groupName === undefined ? {} : { groupName: options.groupName }),
  });
}

const createInputs = () => scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input);

beforeEach(() => scheduler.reset());

describe('SchedulerCertificateRetirements', () => {
  it('creates a one-time UTC schedule that sets the certificate INACTIVE through the universal target', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:eu-west-2:1:schedule/x' });
    await retirements().retireAt('gauge-7', CERTIFICATE_ID, new Date('2025-03-01T11:15:30Z'));

    expect(createInputs()).toEqual([
      {
        Name: `retire-${CERTIFICATE_ID.slice(0, 57)}`,
        Description: `Rotation of device gauge-7: its old certificate ${CERTIFICATE_ID} stops working`,
        ScheduleExpression: 'at(2025-03-01T11:15:30)',
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        Target: {
          Arn: 'arn:aws:scheduler:::aws-sdk:iot:updateCertificate',
          RoleArn: ROLE_ARN,
          Input: JSON.stringify({ CertificateId: CERTIFICATE_ID, NewStatus: 'INACTIVE' }),
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
        },
      },
    ]);
  });

  it('puts the schedule in the group it is given, and targets the role partition', async () => {
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });
    await retirements({
      roleArn: 'arn:aws-cn:iam::111122223333:role/retire',
      groupName: 'civic-retirements',
    }).retireAt('gauge-7', CERTIFICATE_ID, new Date('2025-03-01T11:15:30Z'));

    const [input] = createInputs();
    expect(input?.GroupName).toBe('civic-retirements');
    expect(input?.Target?.Arn).toBe('arn:aws-cn:scheduler:::aws-sdk:iot:updateCertificate');
  });

  it('treats an existing schedule of the same name as already scheduled', async () => {
    scheduler.on(CreateScheduleCommand).rejects(
      new ConflictException({
        Message: 'Schedule already exists.',
        message: 'Schedule already exists.',
        $metadata: {},
      }),
    );
    await expect(
      retirements().retireAt('gauge-7', CERTIFICATE_ID, new Date('2025-03-01T11:15:30Z')),
    ).resolves.toBeUndefined();
  });

  it('passes any other Scheduler failure on', async () => {
    scheduler.on(CreateScheduleCommand).rejects(
      new ServiceQuotaExceededException({
        Message: 'Too many schedules',
        message: 'Too many schedules',
        $metadata: {},
      }),
    );
    await expect(
      retirements().retireAt('gauge-7', CERTIFICATE_ID, new Date('2025-03-01T11:15:30Z')),
    ).rejects.toThrow('Too many schedules');
  });

  it.each([
    ['a certificate ARN', `arn:aws:iot:eu-west-2:111122223333:cert/${CERTIFICATE_ID}`],
    ['upper-case hex', CERTIFICATE_ID.toUpperCase()],
    ['a short id', 'abc123'],
  ])('refuses %s as a certificate id, naming it, and schedules nothing', async (_, certificateId) => {
    await expect(retirements().retireAt('gauge-7', certificateId, new Date())).rejects.toThrow(
      `Not an IoT certificate id (64 lower-case hex digits): "${certificateId}" (device gauge-7)`,
    );
    expect(createInputs()).toEqual([]);
  });

  it('refuses an invalid time', async () => {
    await expect(retirements().retireAt('gauge-7', CERTIFICATE_ID, new Date(Number.NaN))).rejects.toThrow(
      `Not a valid time to retire certificate ${CERTIFICATE_ID} of device gauge-7`,
    );
  });

  it.each([
    ['a role name', 'CertificateRetirementRole'],
    ['a user ARN', 'arn:aws:iam::111122223333:user/alice'],
    ['an empty value', ''],
  ])('refuses %s as the role', (_, roleArn) => {
    expect(() => retirements({ roleArn })).toThrow(
      `roleArn must be an IAM role ARN (the stack's CertificateRetirementRoleArn output), got ${JSON.stringify(roleArn)}`,
    );
  });
});

describe('retirement schedule names and times', () => {
  it('names the schedule from the certificate id within the 64-character limit, the same each time', () => {
    const name = retirementScheduleName(CERTIFICATE_ID);
    expect(name).toHaveLength(64);
    expect(name).toMatch(/^retire-[0-9a-f]{57}$/);
    expect(retirementScheduleName(CERTIFICATE_ID)).toBe(name);
    expect(retirementScheduleName('cd'.repeat(32))).not.toBe(name);
  });

  it.each([
    ['2025-03-01T11:15:30.000Z', 'at(2025-03-01T11:15:30)'],
    // Rounded up, never down: the grace period is at least what was asked for.
    ['2025-03-01T11:15:30.001Z', 'at(2025-03-01T11:15:31)'],
    ['2025-12-31T23:59:59.500Z', 'at(2026-01-01T00:00:00)'],
  ])('writes %s as %s (UTC, whole seconds)', (iso, expression) => {
    expect(atExpression(new Date(iso))).toBe(expression);
  });
});
