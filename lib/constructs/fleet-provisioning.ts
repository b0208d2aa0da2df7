import { ArnFormat, Aws, type CfnResource, Duration, Names, Stack, Token, Validations } from 'aws-cdk-lib';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnPolicy, CfnProvisioningTemplate } from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import type { DeviceType } from '../../lambdas/contracts/device-types.js';
import { ENV } from '../../lambdas/contracts/environment.js';
import {
  CLAIM_CLIENT_ID_PREFIX,
  PRE_PROVISIONING_HOOK_PAYLOAD_VERSION,
  PROVISIONING_PARAMETERS,
} from '../../lambdas/contracts/provisioning-template.js';
import type { BoundingBox } from '../../lambdas/domain/device.js';
import { boundingBoxText } from '../../lambdas/domain/device-registry.js';
import type { LogLevel } from '../config/platform-config.js';
import type { DeviceAccessPolicy } from './device-access-policy.js';
import type { DeviceRegistry } from './device-registry.js';
import { PlatformFunction } from './platform-function.js';
import type { ProvisioningAllowList } from './provisioning-allow-list.js';

/**
 * AWS IoT gives the hook 5 seconds and then refuses the device. A cold start, a read, a certificate status (for a
 * serial already provisioned) and two conditional writes take well under one; 3 seconds leaves room for a slow
 * start while ending a stuck call before IoT stops waiting, and it is what the cost statement prices each run at
 * (every RegisterThing IoT allows, all month).
 */
const HOOK_TIMEOUT = Duration.seconds(3);
/** The platform's usual 128 MB: the hook is a few small DynamoDB calls. */
const HOOK_MEMORY_MB = 128;

/** IoT provisioning template names: 1 to 36 letters, digits, `_` and `-` (CreateProvisioningTemplate). */
const TEMPLATE_NAME_PATTERN = /^[0-9A-Za-z_-]{1,36}$/;

/** The parameter IoT fills with the id of the certificate it made for the device (fleet provisioning). */
const CERTIFICATE_ID_PARAMETER = 'AWS::IoT::Certificate::Id';

/** Props for {@link FleetProvisioning}. */
export interface FleetProvisioningProps {
  /** The serials that may provision, each once (in the data stack). */
  readonly allowList: ProvisioningAllowList;
  /**
   * The registry the hook registers each admitted device in, before IoT creates its thing. If RegisterThing then
   * fails, the device's next attempt is admitted again and the entry kept (see `admitDevice`).
   */
  readonly registry: DeviceRegistry;
  /** The device policy provisioned devices get, exactly as `add` attaches it. */
  readonly deviceAccess: DeviceAccessPolicy;
  /** Device types on the essential lane: decides the telemetry topic each device is told. */
  readonly essentialDeviceTypes: readonly DeviceType[];
  /** The council's area: the hook registers devices only inside it. @default - none: any location */
  readonly councilArea?: BoundingBox;
  readonly logRetentionDays: number;
  readonly logLevel: LogLevel;
  /**
   * Reserved concurrency of the hook. Off by default, like every function's (a new account's concurrency quota of
   * 10 cannot deploy any): IoT invokes the hook once per RegisterThing request, and its RegisterThing throttle is
   * the bound the cost statement prices. @default - none
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * The provisioning template's name, which devices' firmware is configured with (1 to 36 letters, digits, `_`
   * and `-`). @default - `<stack name>-Devices`, or a name unique to this construct's place in the app when that
   * is too long; stable across deployments either way
   */
  readonly templateName?: string;
}

/**
 * Fleet provisioning by claim, for vendors that cannot install a certificate per device: devices carry a shared
 * claim certificate whose policy ({@link claimPolicy}) allows nothing but asking IoT for a certificate of their own
 * and calling RegisterThing on this {@link template}. The template's pre-provisioning hook ({@link hook}) admits only
 * serial numbers on the allow-list, each once, registers the device in the registry, and names the thing after the
 * device id it was listed with; the template then activates the device's certificate, attaches it to the thing and
 * gives it the device policy, so a provisioned device can do exactly what a device onboarded with `add` can. If
 * that fails after the hook, the hook admits the serial again once IoT shows its certificate never became active
 * (DescribeCertificate), so a re-run completes the work instead of finding the serial used up.
 *
 * cdk-nag has no IoT rules: the infra tests assert the template, the claim policy and the provisioning role.
 */
export class FleetProvisioning extends Construct {
  readonly hook: PlatformFunction;
  readonly template: CfnProvisioningTemplate;
  /** The role IoT assumes to carry out the template. */
  readonly provisioningRole: Role;
  /** The policy to attach to claim certificates (and to nothing else). */
  readonly claimPolicy: CfnPolicy;
  readonly templateName: string;

  constructor(scope: Construct, id: string, props: FleetProvisioningProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const iotArn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'iot', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });

    // A name known at synth time, not the template's own Ref: the hook's permission and the claim policy name the
    // template, and the template depends on the permission, so a Ref would be a cycle. Vendors type it into their
    // firmware, so it reads as the stack's when that fits IoT's 36 characters.
    const readable = `${stack.stackName}-Devices`;
    this.templateName =
      props.templateName ??
      (!Token.isUnresolved(stack.stackName) && TEMPLATE_NAME_PATTERN.test(readable)
        ? readable
        : Names.uniqueResourceName(this, { maxLength: 36, separator: '-', allowedSpecialCharacters: '-_' }));
    if (!TEMPLATE_NAME_PATTERN.test(this.templateName)) {
      throw new Error(
        `FleetProvisioning: templateName '${this.templateName}' must be 1 to 36 letters, digits, _ and -`,
      );
    }
    const templateArn = iotArn('provisioningtemplate', this.templateName);

    this.hook = new PlatformFunction(this, 'Hook', {
      handlerName: 'provisioning-hook',
      description:
        'Fleet provisioning pre-provisioning hook: admits allow-listed serial numbers once each and registers the device',
      memorySizeMb: HOOK_MEMORY_MB,
      timeout: HOOK_TIMEOUT,
      logRetentionDays: props.logRetentionDays,
      logLevel: props.logLevel,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      environment: {
        ...props.allowList.environment,
        [ENV.tables.devices]: props.registry.devicesTable.tableName,
        [ENV.essentialDeviceTypes]: props.essentialDeviceTypes.join(','),
        ...(props.councilArea === undefined ? {} : { [ENV.councilArea]: boundingBoxText(props.councilArea) }),
      },
    });
    props.allowList.grantAdmission(this.hook.role);
    props.registry.grantRegister(this.hook.role);
    // A serial already provisioned is offered again only if the certificate that claimed it never became active
    // (RegisterThing failed after the hook): the hook reads that certificate's status, and nothing else of IoT.
    this.hook.role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReadTheClaimedCertificatesStatus',
        actions: ['iot:DescribeCertificate'],
        resources: [iotArn('cert', '*')],
      }),
    );
    Validations.of(this.hook.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:${stack.region}:<AWS::AccountId>:cert/*]`,
      reason:
        'IoT makes each device certificate while the device provisions, after deployment, so its id cannot be ' +
        'listed here. The one action is read-only (DescribeCertificate) and stays within this account and region; ' +
        'the hook reads only the status of the certificate a provisioned serial was claimed with.',
    });

    // Only IoT, only for this template in this account: the confused-deputy guard the hook documentation asks for.
    const permissionId = 'InvokedByProvisioningTemplate';
    this.hook.function.addPermission(permissionId, {
      principal: new ServicePrincipal('iot.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceArn: templateArn,
      sourceAccount: Aws.ACCOUNT_ID,
    });

    this.provisioningRole = new Role(this, 'ProvisioningRole', {
      assumedBy: new ServicePrincipal('iot.amazonaws.com'),
      description: `AWS IoT: carry out provisioning template ${this.templateName} (thing, certificate, device policy)`,
      // What the template needs and no more, instead of the AWSIoTThingsRegistration managed policy (which allows
      // about thirty IoT actions, policy creation and thing groups included, on every resource).
      inlinePolicies: {
        Provision: new PolicyDocument({
          statements: [
            new PolicyStatement({
              sid: 'CreateTheDevicesThing',
              actions: ['iot:CreateThing', 'iot:DescribeThing', 'iot:UpdateThing'],
              resources: [iotArn('thing', '*')],
            }),
            new PolicyStatement({
              sid: 'ActivateAndAttachTheDevicesCertificate',
              // AttachThingPrincipal and AttachPolicy are authorised on the certificate (their target), per the
              // IAM service authorization reference for AWS IoT.
              actions: [
                'iot:DescribeCertificate',
                'iot:UpdateCertificate',
                'iot:AttachThingPrincipal',
                'iot:AttachPolicy',
              ],
              resources: [iotArn('cert', '*')],
            }),
            new PolicyStatement({
              sid: 'ReadTheDevicePolicy',
              actions: ['iot:GetPolicy'],
              resources: [iotArn('policy', props.deviceAccess.policyName)],
            }),
          ],
        }),
      },
    });
    Validations.of(this.provisioningRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:${stack.region}:<AWS::AccountId>:thing/*]`,
      reason:
        'Thing names are device ids from the allow-list, known only when a device provisions, after deployment. ' +
        'The wildcard stays within this account and region, and only IoT can assume the role, for the template, ' +
        'whose hook admits only allow-listed serials, each once.',
    });
    Validations.of(this.provisioningRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:${stack.region}:<AWS::AccountId>:cert/*]`,
      reason:
        'IoT makes each device certificate while the device provisions, so its id cannot be listed here. The ' +
        'wildcard stays within this account and region; the template attaches only the device policy.',
    });

    const P = PROVISIONING_PARAMETERS;
    const templateBody = {
      Parameters: {
        [P.serialNumber]: { Type: 'String' },
        [P.deviceId]: { Type: 'String' },
        [P.deviceType]: { Type: 'String' },
        [P.ward]: { Type: 'String' },
        [P.site]: { Type: 'String' },
        [P.telemetryTopic]: { Type: 'String' },
        [CERTIFICATE_ID_PARAMETER]: { Type: 'String' },
      },
      Resources: {
        thing: {
          Type: 'AWS::IoT::Thing',
          Properties: {
            // The hook's override: the device id from the allow-list, whatever the device sent.
            ThingName: { Ref: P.deviceId },
            AttributePayload: {
              type: { Ref: P.deviceType },
              ward: { Ref: P.ward },
              site: { Ref: P.site },
              serial: { Ref: P.serialNumber },
            },
          },
          // A thing left behind by an earlier, rolled-back onboarding takes the labels the registry now holds.
          OverrideSettings: { AttributePayload: 'REPLACE' },
        },
        certificate: {
          Type: 'AWS::IoT::Certificate',
          Properties: { CertificateId: { Ref: CERTIFICATE_ID_PARAMETER }, Status: 'ACTIVE' },
        },
        // The existing device policy by name (no PolicyDocument): the very policy `add` attaches.
        policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: props.deviceAccess.policyName } },
      },
      // Returned to the device with RegisterThing's answer: where to publish, as `add` writes it into a bundle.
      DeviceConfiguration: { [P.telemetryTopic]: { Ref: P.telemetryTopic } },
    };

    this.template = new CfnProvisioningTemplate(this, 'Template', {
      templateName: this.templateName,
      description: 'Devices with the claim certificate: allow-listed serial numbers only, each once',
      enabled: true,
      templateType: 'FLEET_PROVISIONING',
      provisioningRoleArn: this.provisioningRole.roleArn,
      preProvisioningHook: {
        payloadVersion: PRE_PROVISIONING_HOOK_PAYLOAD_VERSION,
        targetArn: this.hook.function.functionArn,
      },
      templateBody: stack.toJsonString(templateBody),
    });
    // IoT invokes the hook from the first request on; the permission exists before the template does.
    this.template.node.addDependency(
      this.hook.function.permissionsNode.findChild(permissionId) as CfnResource,
    );

    const topic = (name: string) => iotArn('topic', name);
    const topicFilter = (name: string) => iotArn('topicfilter', name);
    // The three MQTT API requests a claim needs, JSON payloads only: a new key and certificate, a certificate for
    // the device's own CSR, and RegisterThing on this one template. The device publishes the requests and hears
    // only their `/accepted` and `/rejected` answers. No other template, no `cbor` topics, no other topic at all.
    const requestTopics = [
      '$aws/certificates/create/json',
      '$aws/certificates/create-from-csr/json',
      `$aws/provisioning-templates/${this.templateName}/provision/json`,
    ];
    const answerTopics = requestTopics.flatMap((request) => [`${request}/accepted`, `${request}/rejected`]);
    this.claimPolicy = new CfnPolicy(this, 'ClaimPolicy', {
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'ConnectToProvision',
            Effect: 'Allow',
            Action: 'iot:Connect',
            // Only client ids starting `claim.`: a device id never contains `.`, so a leaked claim certificate can
            // never connect as a provisioned device and knock it off the broker (IoT drops the older connection
            // of a client id in use).
            Resource: iotArn('client', `${CLAIM_CLIENT_ID_PREFIX}*`),
          },
          {
            Sid: 'AskForACertificateAndRegister',
            Effect: 'Allow',
            Action: 'iot:Publish',
            Resource: requestTopics.map(topic),
          },
          {
            Sid: 'HearTheAnswers',
            Effect: 'Allow',
            Action: 'iot:Receive',
            Resource: answerTopics.map(topic),
          },
          {
            Sid: 'SubscribeToTheAnswers',
            Effect: 'Allow',
            Action: 'iot:Subscribe',
            Resource: answerTopics.map(topicFilter),
          },
        ],
      },
    });
  }

  /** The claim policy's name, to attach to claim certificates. */
  get claimPolicyName(): string {
    return this.claimPolicy.ref;
  }
}
