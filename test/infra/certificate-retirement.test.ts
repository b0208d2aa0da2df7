import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type SynthesizedPlatform, synthesizePlatform } from './platform-app.js';

let synthesized: SynthesizedPlatform;
let platform: Template;

beforeAll(() => {
  synthesized = synthesizePlatform();
  platform = synthesized.platform;
});

/** The retirement role's logical id: the one role Scheduler may assume to update certificates. */
function retirementRoleId(): string {
  const ids = Object.keys(
    platform.findResources('AWS::IAM::Role', {
      Properties: { Description: Match.stringLikeRegexp('retire rotated-out device certificates') },
    }),
  );
  expect(ids).toHaveLength(1);
  return ids[0] as string;
}

describe('CertificateRetirement', () => {
  it('is assumable by EventBridge Scheduler only, and only for schedules in this account', () => {
    const role = platform.findResources('AWS::IAM::Role')[retirementRoleId()];
    expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
  });

  it("may call iot:UpdateCertificate on this account's certificates in the stack's region, and nothing else", () => {
    const id = retirementRoleId();
    const role = platform.findResources('AWS::IAM::Role')[id];
    const region = synthesized.built.platformStack.region;
    expect(role?.Properties.Policies).toEqual([
      {
        PolicyName: 'RetireCertificates',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Action: 'iot:UpdateCertificate',
              Effect: 'Allow',
              Resource: {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    `:iot:${region}:`,
                    { Ref: 'AWS::AccountId' },
                    ':cert/*',
                  ],
                ],
              },
            },
          ],
        },
      },
    ]);
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    // No separate policy adds to it either.
    const attached = Object.values(platform.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties.Roles ?? []).includes(`"${id}"`),
    );
    expect(attached).toEqual([]);
  });

  it('hands its ARN to the CLI as the CertificateRetirementRoleArn output', () => {
    platform.hasOutput('CertificateRetirementRoleArn', {
      Value: { 'Fn::GetAtt': [retirementRoleId(), 'Arn'] },
    });
  });
});
