import { Validations } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lambdas/contracts/environment.js';
import { pricesFor } from '../../lambdas/contracts/prices.js';
import {
  CLAIM_CLIENT_ID_PREFIX,
  PROVISIONING_PARAMETERS,
} from '../../lambdas/contracts/provisioning-template.js';
import { TABLES } from '../../lambdas/contracts/tables.js';
import { isDeviceId } from '../../lambdas/contracts/topics.js';
import { analyseCaps, REGISTER_THING_PER_SECOND } from '../../lib/cost/cost-statement.js';
import { type SynthesizedPlatform, synthesizePlatform } from './platform-app.js';

let synthesized: SynthesizedPlatform;
let platform: Template;
let data: Template;

beforeAll(() => {
  synthesized = synthesizePlatform({});
  platform = synthesized.platform;
  data = synthesized.data;
});

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

/** The one resource of a type in the FleetProvisioning construct, with its logical id. */
function only(type: string, idPrefix = 'FleetProvisioning'): [string, Resource] {
  const found = Object.entries(platform.findResources(type)).filter(([id]) => id.startsWith(idPrefix));
  expect(found, `${type} under ${idPrefix}`).toHaveLength(1);
  return found[0] as [string, Resource];
}

const json = (value: unknown) => JSON.stringify(value);
/** A `Fn::Join` of literal strings and references, flattened: references as `<Ref>` or `<Id.Attr>`. */
function flat(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Record<string, unknown>;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map(flat).join(separator);
  }
  if ('Ref' in object) return `<${object.Ref}>`;
  if ('Fn::GetAtt' in object) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
  return json(value);
}

const templateName = () => synthesized.built.platformStack.fleetProvisioning.templateName;
const templateBody = () => {
  const [, template] = only('AWS::IoT::ProvisioningTemplate');
  return JSON.parse(flat(template.Properties.TemplateBody)) as {
    Parameters: Record<string, { Type: string; Default?: string }>;
    Resources: Record<
      string,
      { Type: string; Properties: Record<string, unknown>; OverrideSettings?: unknown }
    >;
    DeviceConfiguration: Record<string, unknown>;
  };
};

describe('provisioning template', () => {
  it('is an enabled fleet provisioning template with the stack-derived name vendors configure', () => {
    expect(templateName()).toBe(`${synthesized.built.platformStack.stackName}-Devices`);
    platform.hasResourceProperties('AWS::IoT::ProvisioningTemplate', {
      TemplateName: templateName(),
      Enabled: true,
      TemplateType: 'FLEET_PROVISIONING',
      ProvisioningRoleArn: {
        'Fn::GetAtt': [only('AWS::IAM::Role', 'FleetProvisioningProvisioningRole')[0], 'Arn'],
      },
    });
  });

  it('runs the hook function on payload version 2020-04-01', () => {
    const [hookId] = only('AWS::Lambda::Function');
    platform.hasResourceProperties('AWS::IoT::ProvisioningTemplate', {
      PreProvisioningHook: { PayloadVersion: '2020-04-01', TargetArn: { 'Fn::GetAtt': [hookId, 'Arn'] } },
    });
  });

  it('declares the serial the device sends, the parameters the hook sets and the certificate id, no defaults', () => {
    const { Parameters } = templateBody();
    expect(Parameters).toEqual({
      SerialNumber: { Type: 'String' },
      DeviceId: { Type: 'String' },
      DeviceType: { Type: 'String' },
      Ward: { Type: 'String' },
      Site: { Type: 'String' },
      TelemetryTopic: { Type: 'String' },
      'AWS::IoT::Certificate::Id': { Type: 'String' },
    });
    expect(Object.values(PROVISIONING_PARAMETERS).sort()).toEqual(
      Object.keys(Parameters)
        .filter((name) => !name.startsWith('AWS::'))
        .sort(),
    );
  });

  it('names the thing by the DeviceId parameter the hook overrides, with type, ward, site and serial attributes', () => {
    const { Resources } = templateBody();
    expect(Resources.thing).toEqual({
      Type: 'AWS::IoT::Thing',
      Properties: {
        ThingName: { Ref: 'DeviceId' },
        AttributePayload: {
          type: { Ref: 'DeviceType' },
          ward: { Ref: 'Ward' },
          site: { Ref: 'Site' },
          serial: { Ref: 'SerialNumber' },
        },
      },
      OverrideSettings: { AttributePayload: 'REPLACE' },
    });
  });

  it('makes the certificate IoT issued ACTIVE', () => {
    expect(templateBody().Resources.certificate).toEqual({
      Type: 'AWS::IoT::Certificate',
      Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
    });
  });

  it('attaches the existing device policy by name, the one add attaches, and no policy document of its own', () => {
    const devicePolicy = Object.keys(platform.findResources('AWS::IoT::Policy')).find((id) =>
      /^DeviceAccessPolicy[0-9A-F]{8}$/.test(id),
    );
    expect(templateBody().Resources.policy).toEqual({
      Type: 'AWS::IoT::Policy',
      Properties: { PolicyName: `<${devicePolicy}>` },
    });
    expect(Object.keys(templateBody().Resources).sort()).toEqual(['certificate', 'policy', 'thing']);
  });

  it('tells the device its telemetry topic in the device configuration', () => {
    expect(templateBody().DeviceConfiguration).toEqual({ TelemetryTopic: { Ref: 'TelemetryTopic' } });
  });

  it('exists only after the permission that lets IoT invoke its hook', () => {
    const [, template] = only('AWS::IoT::ProvisioningTemplate');
    const [permissionId] = only('AWS::Lambda::Permission');
    expect(template.DependsOn).toContain(permissionId);
  });
});

describe('pre-provisioning hook', () => {
  it('may be invoked by IoT only, for this template, from this account', () => {
    const [hookId] = only('AWS::Lambda::Function');
    const [, permission] = only('AWS::Lambda::Permission');
    expect(permission.Properties).toMatchObject({
      Action: 'lambda:InvokeFunction',
      Principal: 'iot.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [hookId, 'Arn'] },
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    expect(flat(permission.Properties.SourceArn)).toBe(
      `arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:provisioningtemplate/${templateName()}`,
    );
  });

  it('finishes within the 5 seconds IoT waits and reserves no concurrency (the RegisterThing throttle bounds it)', () => {
    const [, hook] = only('AWS::Lambda::Function');
    expect(hook.Properties).toMatchObject({ Timeout: 3, Runtime: 'nodejs22.x', Architectures: ['arm64'] });
    expect(hook.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('knows the allow-list and registry tables, the essential types and the council area', () => {
    const [, hook] = only('AWS::Lambda::Function');
    const variables = (hook.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining([
        ENV.tables['provisioning-allow-list'],
        ENV.tables.devices,
        ENV.essentialDeviceTypes,
        ENV.councilArea,
      ]),
    );
    expect(variables[ENV.essentialDeviceTypes]).toBe(synthesized.built.config.essentialDeviceTypes.join(','));
  });

  const hookStatements = () => {
    const [, policy] = only('AWS::IAM::Policy', 'FleetProvisioningHookRole');
    return (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
  };

  it("may read and claim allow-list entries, register devices and read a certificate's status, nothing else", () => {
    const grants = hookStatements().map((s) => ({ actions: s.Action, resource: json(s.Resource) }));
    expect(grants).toEqual([
      { actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resource: expect.stringMatching(/HookLogs/) },
      {
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resource: expect.stringMatching(/ProvisioningAllowList/),
      },
      {
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resource: expect.stringMatching(/DeviceRegistryDevices/),
      },
      { actions: 'iot:DescribeCertificate', resource: expect.stringMatching(/cert\/\*/) },
    ]);
    // Tables by ARN, no index; the one wildcard is the certificate id (checked next).
    for (const statement of hookStatements().slice(0, 3)) {
      expect(json(statement.Resource)).not.toMatch(/index|\*"/);
    }
  });

  it("may read the status of this account's certificates only, to re-admit a serial IoT never activated", () => {
    const describe = hookStatements().find((s) => s.Action === 'iot:DescribeCertificate');
    expect(describe).toMatchObject({ Effect: 'Allow', Sid: 'ReadTheClaimedCertificatesStatus' });
    expect(flat(describe?.Resource)).toBe('arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:cert/*');
    // Read-only: nothing that changes a certificate, a thing or a policy.
    const actions = hookStatements().flatMap((s) => [s.Action].flat() as string[]);
    expect(actions.filter((action) => action.startsWith('iot:'))).toEqual(['iot:DescribeCertificate']);
  });

  it("acknowledges cdk-nag's wildcard finding for the certificate ARN on the hook's role, with a reason", () => {
    const role = synthesized.built.platformStack.fleetProvisioning.hook.role;
    const acknowledged = role.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(acknowledged).toEqual([
      [
        // Stored with the kind of check in front (`Annotation::`); cdk-nag.test.ts shows nothing is left open.
        expect.stringMatching(
          /AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:cert\/\*\]$/,
        ),
        expect.stringMatching(/read-only \(DescribeCertificate\)/),
      ],
    ]);
  });

  it("is priced in the cost statement at IoT's RegisterThing throttle, each run at its timeout", () => {
    const { lines, uncapped } = analyseCaps(
      { Platform: platform.toJSON() as never },
      {
        prices: pricesFor('eu-west-2'),
        devices: 1000,
        messageIntervalSeconds: 300,
        ceilingUsd: 60,
        busEventsPerSecond: 10,
      },
    );
    const [hookId] = only('AWS::Lambda::Function');
    expect(uncapped.filter((u) => u.resource === hookId)).toEqual([]);
    expect(lines.find((line) => line.resource === hookId)?.cap).toBe(
      `pre-provisioning hook: AWS IoT's RegisterThing throttle, ${REGISTER_THING_PER_SECOND} requests a second, each a run at its timeout`,
    );
  });
});

describe('provisioning role', () => {
  const role = () => only('AWS::IAM::Role', 'FleetProvisioningProvisioningRole')[1];
  const statements = () =>
    (role().Properties.Policies as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]).flatMap(
      (policy) => policy.PolicyDocument.Statement,
    );

  it('is assumed by IoT only and carries no managed policy', () => {
    expect(role().Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'iot.amazonaws.com' } }],
    });
    expect(role().Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('allows the thing, certificate and device policy calls the template needs, scoped to this account', () => {
    expect(
      statements().map((s) => ({
        sid: s.Sid,
        effect: s.Effect,
        actions: s.Action,
        resource: flat(s.Resource),
      })),
    ).toEqual([
      {
        sid: 'CreateTheDevicesThing',
        effect: 'Allow',
        actions: ['iot:CreateThing', 'iot:DescribeThing', 'iot:UpdateThing'],
        resource: 'arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:thing/*',
      },
      {
        sid: 'ActivateAndAttachTheDevicesCertificate',
        effect: 'Allow',
        actions: [
          'iot:AttachPolicy',
          'iot:AttachThingPrincipal',
          'iot:DescribeCertificate',
          'iot:UpdateCertificate',
        ],
        resource: 'arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:cert/*',
      },
      {
        sid: 'ReadTheDevicePolicy',
        effect: 'Allow',
        actions: 'iot:GetPolicy',
        resource: expect.stringMatching(
          /^arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:policy\/<DeviceAccessPolicy[0-9A-F]{8}>$/,
        ),
      },
    ]);
  });

  it('has no wildcard action, and no resource outside IoT in this account', () => {
    for (const statement of statements()) {
      for (const action of [statement.Action].flat() as string[]) {
        expect(action).toMatch(/^iot:[A-Za-z]+$/);
      }
      expect(flat(statement.Resource)).toMatch(/^arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:/);
    }
  });
});

describe('claim policy', () => {
  const claimDocument = () => {
    const [, policy] = only('AWS::IoT::Policy', 'FleetProvisioningClaimPolicy');
    return policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] };
  };
  const arn = (resource: string) => `arn:<AWS::Partition>:iot:eu-west-2:<AWS::AccountId>:${resource}`;
  const requestTopics = () => [
    '$aws/certificates/create/json',
    '$aws/certificates/create-from-csr/json',
    `$aws/provisioning-templates/${templateName()}/provision/json`,
  ];
  const answerTopics = () => requestTopics().flatMap((topic) => [`${topic}/accepted`, `${topic}/rejected`]);

  it('allows exactly connect, publishing the requests, and hearing their answers, nothing else', () => {
    const allowed = claimDocument().Statement.map((s) => ({
      effect: s.Effect,
      actions: [s.Action].flat(),
      resources: [s.Resource].flat().map(flat),
      condition: s.Condition,
    }));
    expect(allowed).toEqual([
      {
        effect: 'Allow',
        actions: ['iot:Connect'],
        resources: [arn(`client/${CLAIM_CLIENT_ID_PREFIX}*`)],
        condition: undefined,
      },
      {
        effect: 'Allow',
        actions: ['iot:Publish'],
        resources: requestTopics().map((topic) => arn(`topic/${topic}`)),
        condition: undefined,
      },
      {
        effect: 'Allow',
        actions: ['iot:Receive'],
        resources: answerTopics().map((topic) => arn(`topic/${topic}`)),
        condition: undefined,
      },
      {
        effect: 'Allow',
        actions: ['iot:Subscribe'],
        resources: answerTopics().map((topic) => arn(`topicfilter/${topic}`)),
        condition: undefined,
      },
    ]);
  });

  it('names this template only, JSON topics only, and no device telemetry or other topic', () => {
    const text = json(claimDocument());
    expect(text).not.toMatch(/\$aws\/rules|civic_|cbor|provisioning-templates\/\*/);
    expect(text).not.toMatch(/"iot:\*"|"\*"/);
  });

  it("cannot connect with a device's client id: the prefix has a character device ids never have", () => {
    expect(isDeviceId(`${CLAIM_CLIENT_ID_PREFIX}bin-1`)).toBe(false);
    expect(isDeviceId('bin-1')).toBe(true);
  });
});

describe('allow-list table and outputs', () => {
  it('is in the data stack: keyed by serial number, encrypted, with point-in-time recovery and caps', () => {
    data.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: TABLES['provisioning-allow-list'].partitionKey.name, KeyType: 'HASH' }],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      WriteOnDemandThroughputSettings: { MaxWriteRequestUnits: 25 },
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          ReadOnDemandThroughputSettings: { MaxReadRequestUnits: 25 },
        }),
      ],
    });
  });

  it('outputs the template, claim policy and allow-list table names for the device CLI', () => {
    const outputs = platform.findOutputs('*');
    expect(outputs.ProvisioningTemplateName?.Value).toBe(templateName());
    expect(outputs.ClaimPolicyName?.Value).toEqual({
      Ref: only('AWS::IoT::Policy', 'FleetProvisioningClaimPolicy')[0],
    });
    expect(json(outputs.ProvisioningAllowListTableName?.Value)).toMatch(/ProvisioningAllowListTable/);
  });
});
