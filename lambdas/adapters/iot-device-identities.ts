import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import type { DeviceType } from '../contracts/device-types.js';
import { isDeviceId, laneFor, telemetryTopic } from '../contracts/topics.js';
import type { Device } from '../domain/device.js';
import type {
  CertificateStatus,
  DeviceCredentials,
  DeviceIdentities,
  DeviceIdentity,
} from '../domain/device-onboarding.js';

/** What {@link IotDeviceIdentities} needs from the deployed stack and its configuration. */
export interface IotDeviceIdentitiesOptions {
  readonly iot: IoTClient;
  /** The per-device policy's name (the stack's `DevicePolicyName` output): every device certificate gets it. */
  readonly devicePolicyName: string;
  /**
   * Amazon Root CA 1 in PEM, which signs the `iot:Data-ATS` endpoint's server certificate. It is passed in rather
   * than embedded here: a CA pasted into source cannot be checked against Amazon's published one by a reviewer,
   * so whoever wires this adapter loads it from a file they fetched from Amazon Trust Services and verified.
   */
  readonly rootCaPem: string;
  /** Device types on the essential lane: decides which Basic Ingest topic a device is told to publish to. */
  readonly essentialDeviceTypes: readonly DeviceType[];
}

/** The step of {@link IotDeviceIdentities.issue} that failed, by its IoT API name. */
export type IssueStep =
  | 'DescribeEndpoint'
  | 'DescribeThing'
  | 'CreateThing'
  | 'CreateKeysAndCertificate'
  | 'AttachPolicy'
  | 'AttachThingPrincipal';

/**
 * Issuing a device identity failed. Names the device and the IoT call that failed, and says whether everything
 * this call created was removed again; when it was not, the leftover certificate is named so an operator can
 * delete it. Never carries key material.
 */
export class DeviceIdentityIssueError extends Error {
  constructor(
    readonly deviceId: string,
    readonly step: IssueStep,
    /** Rollback steps that failed, e.g. `DeleteCertificate <id>`; empty when the rollback completed. */
    readonly rollbackFailures: readonly string[],
    cause: unknown,
  ) {
    const rollback =
      rollbackFailures.length === 0
        ? 'everything this call created was rolled back'
        : `rollback incomplete, clean up by hand: ${rollbackFailures.join(', ')}`;
    super(`Issuing an identity for device ${deviceId} failed at ${step}; ${rollback}`, { cause });
    this.name = 'DeviceIdentityIssueError';
  }
}

/** A certificate principal of a thing: its ARN (the target policies attach to) and its id. */
interface CertificatePrincipal {
  readonly arn: string;
  readonly certificateId: string;
}

/** What one `issue` call has created or attached so far: exactly what its rollback must undo. */
interface IssueProgress {
  thingCreated: boolean;
  certificate?: CertificatePrincipal;
  policyAttached: boolean;
  thingAttached: boolean;
}

// Certificate principals are ARNs ending in cert/<certificate id>; other principal kinds are left alone.
const CERTIFICATE_ARN = /:cert\/([0-9a-f]{64})$/;
// The characters IoT accepts in a thing attribute value (AttributePayload in the IoT API reference).
const ATTRIBUTE_VALUE_DISALLOWED = /[^a-zA-Z0-9_.,@/:#=[\]-]/g;
const ATTRIBUTE_VALUE_MAX_LENGTH = 800;
const MQTTS_PORT = 8883;

function isNamed(error: unknown, name: string): boolean {
  return (error as { name?: unknown } | undefined)?.name === name;
}

/**
 * Thing attributes are labels for people browsing the IoT console, not the source of truth (the registry is), so
 * a ward or site name with characters IoT refuses (spaces, apostrophes) is kept readable with `_` instead of
 * failing the whole onboarding.
 */
function attributeValue(value: string): string {
  return value.replace(ATTRIBUTE_VALUE_DISALLOWED, '_').slice(0, ATTRIBUTE_VALUE_MAX_LENGTH);
}

function certificateStatus(status: string | undefined): CertificateStatus {
  if (status === 'ACTIVE') return 'active';
  if (status === 'REVOKED') return 'revoked';
  // INACTIVE, and the transfer and registration states: none of them lets the device connect.
  return 'inactive';
}

/**
 * Device identities in AWS IoT: one thing per device (the thing name is the device id), one X.509 certificate
 * per issue, created by IoT with a fresh key pair, attached exclusively to the thing and carrying the stack's
 * per-device policy (connect as your own thing, publish to your own telemetry topic).
 */
export class IotDeviceIdentities implements DeviceIdentities {
  private readonly iot: IoTClient;
  private readonly devicePolicyName: string;
  private readonly rootCaPem: string;
  private readonly essentialDeviceTypes: readonly DeviceType[];
  private endpointAddress: string | undefined;

  constructor(options: IotDeviceIdentitiesOptions) {
    if (!options.rootCaPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error('rootCaPem must be a PEM certificate (Amazon Root CA 1)');
    }
    this.iot = options.iot;
    this.devicePolicyName = options.devicePolicyName;
    this.rootCaPem = options.rootCaPem;
    this.essentialDeviceTypes = options.essentialDeviceTypes;
  }

  async issue(device: Device): Promise<DeviceCredentials> {
    const { deviceId } = device;
    if (!isDeviceId(deviceId)) throw new Error(`Not a valid device id: ${JSON.stringify(deviceId)}`);
    const progress: IssueProgress = { thingCreated: false, policyAttached: false, thingAttached: false };
    let step: IssueStep = 'DescribeEndpoint';
    try {
      // Looked up before anything is created, so an endpoint failure leaves nothing to roll back.
      const endpoint = await this.endpoint();
      step = 'DescribeThing';
      const exists = await this.thingExists(deviceId);
      if (!exists) {
        step = 'CreateThing';
        progress.thingCreated = await this.createThing(device);
      }

      step = 'CreateKeysAndCertificate';
      const created = await this.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
      if (created.certificateArn && created.certificateId) {
        progress.certificate = { arn: created.certificateArn, certificateId: created.certificateId };
      }
      const privateKeyPem = created.keyPair?.PrivateKey;
      if (!progress.certificate || !created.certificatePem || !privateKeyPem) {
        throw new Error('CreateKeysAndCertificate returned an incomplete certificate');
      }
      const certificate = progress.certificate;

      step = 'AttachPolicy';
      await this.iot.send(
        new AttachPolicyCommand({ policyName: this.devicePolicyName, target: certificate.arn }),
      );
      progress.policyAttached = true;

      step = 'AttachThingPrincipal';
      // Exclusive: the certificate can only ever belong to this thing, so `iot:Connection.Thing.ThingName` in
      // the policy can only resolve to this device.
      await this.iot.send(
        new AttachThingPrincipalCommand({
          thingName: deviceId,
          principal: certificate.arn,
          thingPrincipalType: 'EXCLUSIVE_THING',
        }),
      );
      progress.thingAttached = true;

      return {
        deviceId,
        certificateId: certificate.certificateId,
        certificatePem: created.certificatePem,
        privateKeyPem,
        rootCaPem: this.rootCaPem,
        endpoint,
        topic: telemetryTopic(
          laneFor(device.deviceType, this.essentialDeviceTypes),
          device.deviceType,
          deviceId,
        ),
      };
    } catch (error) {
      const rollbackFailures = await this.rollBack(deviceId, progress);
      // The SDK error is kept as the cause; it describes the request, never the key pair.
      throw new DeviceIdentityIssueError(deviceId, step, rollbackFailures, error);
    }
  }

  async deactivate(deviceId: string, certificateId: string): Promise<void> {
    const certificates = await this.certificatesOf(deviceId);
    // Only the device's own certificate: an id from another device is a mistake, not something to act on.
    if (!certificates.some((c) => c.certificateId === certificateId)) {
      throw new Error(`Certificate ${certificateId} is not attached to device ${deviceId}`);
    }
    await this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
  }

  async revoke(deviceId: string): Promise<void> {
    for (const { certificateId } of await this.certificatesOf(deviceId)) {
      await this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' }));
    }
  }

  /**
   * Takes the device policy off the device's certificates. The certificates stay valid and attached to the
   * thing, so every attempt the device makes is still authenticated as this device (its TLS handshake succeeds
   * and IoT logs the denial against its thing) but authorises nothing: with the one device policy carrying both
   * `iot:Connect` and `iot:Publish`, a quarantined device can neither connect nor publish on AWS. Revoking
   * instead would be final; this is reversed by {@link release}.
   *
   * Inactive certificates lose the policy too, so reactivating one (an ended rotation undone by hand) cannot
   * bring a quarantined device back.
   */
  async quarantine(deviceId: string): Promise<void> {
    for (const certificate of await this.describedCertificatesOf(deviceId)) {
      if (certificate.status === 'revoked') continue;
      if (await this.hasDevicePolicy(certificate.arn)) {
        await this.iot.send(
          new DetachPolicyCommand({ policyName: this.devicePolicyName, target: certificate.arn }),
        );
      }
    }
  }

  /** Puts the device policy back on the device's active certificates (not on inactive or revoked ones). */
  async release(deviceId: string): Promise<void> {
    for (const certificate of await this.describedCertificatesOf(deviceId)) {
      if (certificate.status !== 'active') continue;
      if (!(await this.hasDevicePolicy(certificate.arn))) {
        await this.iot.send(
          new AttachPolicyCommand({ policyName: this.devicePolicyName, target: certificate.arn }),
        );
      }
    }
  }

  async describe(deviceId: string): Promise<DeviceIdentity> {
    if (!(await this.thingExists(deviceId))) {
      return { deviceId, thing: false, certificates: [], quarantined: false };
    }
    const certificates = await this.describedCertificatesOf(deviceId);
    const active = certificates.filter((c) => c.status === 'active');
    let anyActiveHasPolicy = false;
    for (const certificate of active) {
      if (await this.hasDevicePolicy(certificate.arn)) {
        anyActiveHasPolicy = true;
        break;
      }
    }
    return {
      deviceId,
      thing: true,
      certificates: certificates.map(({ certificateId, status }) => ({ certificateId, status })),
      // A device with no active certificate cannot connect at all; calling it quarantined would hide that.
      quarantined: active.length > 0 && !anyActiveHasPolicy,
    };
  }

  private async endpoint(): Promise<string> {
    if (this.endpointAddress === undefined) {
      const { endpointAddress } = await this.iot.send(
        new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }),
      );
      if (!endpointAddress) throw new Error('DescribeEndpoint returned no endpoint address');
      this.endpointAddress = endpointAddress;
    }
    return `mqtts://${this.endpointAddress}:${MQTTS_PORT}`;
  }

  private async thingExists(deviceId: string): Promise<boolean> {
    try {
      await this.iot.send(new DescribeThingCommand({ thingName: deviceId }));
      return true;
    } catch (error) {
      if (isNamed(error, 'ResourceNotFoundException')) return false;
      throw error;
    }
  }

  /** Creates the thing; false when it appeared since it was looked up (someone else created it: keep it). */
  private async createThing(device: Device): Promise<boolean> {
    const attributes: Record<string, string> = { type: device.deviceType };
    if (device.ward) attributes.ward = attributeValue(device.ward);
    if (device.site) attributes.site = attributeValue(device.site);
    try {
      await this.iot.send(
        new CreateThingCommand({ thingName: device.deviceId, attributePayload: { attributes } }),
      );
      return true;
    } catch (error) {
      if (isNamed(error, 'ResourceAlreadyExistsException')) return false;
      throw error;
    }
  }

  /**
   * Undoes one failed `issue`, most protective step first: the new certificate is made inactive before anything
   * else, so it cannot be used even if a later rollback step fails. Every step is tried; the failures are
   * returned for the error message.
   */
  private async rollBack(deviceId: string, progress: IssueProgress): Promise<string[]> {
    const failures: string[] = [];
    const attempt = async (label: string, action: () => Promise<unknown>) => {
      try {
        await action();
      } catch {
        failures.push(label);
      }
    };
    const certificate = progress.certificate;
    if (certificate) {
      const { certificateId, arn } = certificate;
      await attempt(`UpdateCertificate ${certificateId} INACTIVE`, () =>
        this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' })),
      );
      if (progress.thingAttached) {
        await attempt(`DetachThingPrincipal ${certificateId}`, () =>
          this.iot.send(new DetachThingPrincipalCommand({ thingName: deviceId, principal: arn })),
        );
      }
      if (progress.policyAttached) {
        await attempt(`DetachPolicy ${certificateId}`, () =>
          this.iot.send(new DetachPolicyCommand({ policyName: this.devicePolicyName, target: arn })),
        );
      }
      await attempt(`DeleteCertificate ${certificateId}`, () =>
        this.iot.send(new DeleteCertificateCommand({ certificateId })),
      );
    }
    // Only a thing this call created: an existing thing may carry the device's current, working certificate.
    if (progress.thingCreated) {
      await attempt(`DeleteThing ${deviceId}`, () =>
        this.iot.send(new DeleteThingCommand({ thingName: deviceId })),
      );
    }
    return failures;
  }

  private async certificatesOf(deviceId: string): Promise<CertificatePrincipal[]> {
    const certificates: CertificatePrincipal[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.iot.send(
        new ListThingPrincipalsCommand({ thingName: deviceId, ...(nextToken ? { nextToken } : {}) }),
      );
      for (const arn of page.principals ?? []) {
        const certificateId = CERTIFICATE_ARN.exec(arn)?.[1];
        if (certificateId) certificates.push({ arn, certificateId });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return certificates;
  }

  private async describedCertificatesOf(
    deviceId: string,
  ): Promise<(CertificatePrincipal & { readonly status: CertificateStatus })[]> {
    const described: (CertificatePrincipal & { readonly status: CertificateStatus })[] = [];
    for (const certificate of await this.certificatesOf(deviceId)) {
      const { certificateDescription } = await this.iot.send(
        new DescribeCertificateCommand({ certificateId: certificate.certificateId }),
      );
      described.push({ ...certificate, status: certificateStatus(certificateDescription?.status) });
    }
    return described;
  }

  private async hasDevicePolicy(certificateArn: string): Promise<boolean> {
    let marker: string | undefined;
    do {
      const page = await this.iot.send(
        new ListAttachedPoliciesCommand({ target: certificateArn, ...(marker ? { marker } : {}) }),
      );
      if ((page.policies ?? []).some((p) => p.policyName === this.devicePolicyName)) return true;
      marker = page.nextMarker;
    } while (marker);
    return false;
  }
}
