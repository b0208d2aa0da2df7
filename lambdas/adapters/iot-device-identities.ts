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
  UpdateCertificateCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import type { DeviceType } from '../contracts/device-types.js';
import { thingAttributeValue } from '../contracts/thing-attributes.js';
import { isDeviceId, laneFor, telemetryTopic } from '../contracts/topics.js';
import type { CertificateRetirements } from '../domain/certificate-retirements.js';
import type { Device } from '../domain/device.js';
import type {
  CertificateStatus,
  DeviceCredentials,
  DeviceIdentities,
  DeviceIdentity,
} from '../domain/device-onboarding.js';
import { type ThingCertificate, thingCertificates } from './iot-thing-certificates.js';

/** What {@link IotDeviceIdentities} needs from the deployed stack and its configuration. */
export interface IotDeviceIdentitiesOptions {
  readonly iot: IoTClient;
  /** The per-device policy's name (the stack's `DevicePolicyName` output): every device certificate gets it. */
  readonly devicePolicyName: string;
  /**
   * The connect-only policy's name (the stack's `QuarantinePolicyName` output): a quarantined device's
   * certificates carry it in place of the device policy.
   */
  readonly quarantinePolicyName: string;
  /**
   * Amazon Root CA 1 in PEM, which signs the `iot:Data-ATS` endpoint's server certificate (see
   * `amazonRootCa1Pem`, which takes it from Node's bundled root store and checks its fingerprint).
   */
  readonly rootCaPem: string;
  /** Device types on the essential lane: decides which Basic Ingest topic a device is told to publish to. */
  readonly essentialDeviceTypes: readonly DeviceType[];
  /**
   * How long a rotated-out certificate keeps working after `issue` gave its device a new one, so a device that
   * reports now and then can pick up its new certificate. 0 retires the old certificates at once.
   * @default 0
   */
  readonly rotationGraceSeconds?: number;
  /** Carries out the retirements after a grace period; required when `rotationGraceSeconds` is more than 0. */
  readonly retirements?: CertificateRetirements;
  /**
   * The clock a grace period counts from.
   * @default - the system clock
   */
  readonly now?: () => Date;
  /**
   * First wait before retrying a delete IoT refuses while a detach completes (then twice, three times that).
   * @default 1000
   */
  readonly conflictRetryMs?: number;
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

/** The command that retires a certificate by hand, for the warnings when retiring it failed. */
function retireByHand(certificateId: string): string {
  return `aws iot update-certificate --certificate-id ${certificateId} --new-status INACTIVE`;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** What one `issue` call has created or attached so far: exactly what its rollback must undo. */
interface IssueProgress {
  thingCreated: boolean;
  certificate?: ThingCertificate;
  /** The policy attached to the new certificate, once it is. */
  policyAttached?: string;
  thingAttached: boolean;
}

const MQTTS_PORT = 8883;
/**
 * The thing attribute that records a quarantine. It lives on the thing, not only as policies on certificates, so
 * it holds for certificates issued later (a rotate after a revoke) and for a device with none at the moment.
 */
export const QUARANTINE_ATTRIBUTE = 'quarantined';

/** A certificate a rotation retired: set INACTIVE at once, or scheduled to be. */
interface RetiredCertificate {
  readonly certificateId: string;
  readonly scheduled: boolean;
}

interface ThingRecord {
  readonly attributes: Readonly<Record<string, string>>;
}

function isQuarantinedThing(thing: ThingRecord | undefined): boolean {
  return thing?.attributes[QUARANTINE_ATTRIBUTE] === 'true';
}

/** DeleteCertificate attempts while a detach from the thing is still completing. */
const DELETE_ATTEMPTS = 4;

function isNamed(error: unknown, name: string): boolean {
  return (error as { name?: unknown } | undefined)?.name === name;
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
  private readonly quarantinePolicyName: string;
  private readonly rootCaPem: string;
  private readonly essentialDeviceTypes: readonly DeviceType[];
  private readonly rotationGraceSeconds: number;
  private readonly retirements: CertificateRetirements | undefined;
  private readonly now: () => Date;
  private endpointAddress: string | undefined;
  /** What each `issue` of this adapter retired, by the new certificate: what `withdraw` puts back. */
  private readonly rotations = new Map<string, RetiredCertificate[]>();
  private readonly conflictRetryMs: number;

  constructor(options: IotDeviceIdentitiesOptions) {
    if (!options.rootCaPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error('rootCaPem must be a PEM certificate (Amazon Root CA 1)');
    }
    const grace = options.rotationGraceSeconds ?? 0;
    if (!Number.isFinite(grace) || grace < 0) {
      throw new Error(`rotationGraceSeconds must be a number of seconds, 0 or more; got ${grace}`);
    }
    if (grace > 0 && !options.retirements) {
      throw new Error(
        `rotationGraceSeconds is ${grace} but no retirements were given: nothing would retire the old certificates`,
      );
    }
    this.rotationGraceSeconds = grace;
    this.retirements = options.retirements;
    this.now = options.now ?? (() => new Date());
    this.iot = options.iot;
    this.devicePolicyName = options.devicePolicyName;
    this.quarantinePolicyName = options.quarantinePolicyName;
    this.conflictRetryMs = options.conflictRetryMs ?? 1000;
    this.rootCaPem = options.rootCaPem;
    this.essentialDeviceTypes = options.essentialDeviceTypes;
  }

  /**
   * Issuing for a thing that already has active certificates is a rotation: once the new certificate is fully
   * attached, the old active ones are retired (at once, or after `rotationGraceSeconds` through the retirements).
   * A failure to retire them does not undo the new certificate, which the device needs: the credentials come back
   * with a warning naming the certificate still active.
   */
  async issue(device: Device): Promise<DeviceCredentials> {
    const { deviceId } = device;
    if (!isDeviceId(deviceId)) throw new Error(`Not a valid device id: ${JSON.stringify(deviceId)}`);
    const progress: IssueProgress = { thingCreated: false, thingAttached: false };
    let step: IssueStep = 'DescribeEndpoint';
    let credentials: DeviceCredentials;
    let rotatedOut: string[];
    try {
      // Looked up before anything is created, so an endpoint failure leaves nothing to roll back.
      const endpoint = await this.endpoint();
      step = 'DescribeThing';
      const thing = await this.thing(deviceId);
      const exists = thing !== undefined;
      const previous = exists ? await this.describedCertificatesOf(deviceId) : [];
      // Only the active ones: a revoked certificate stays revoked, an inactive one was already retired.
      rotatedOut = previous.filter((c) => c.status === 'active').map((c) => c.certificateId);
      // A new certificate of a quarantined device is quarantined too: rotation (even after a revoke) must not
      // lift a quarantine.
      const policyName =
        isQuarantinedThing(thing) || (await this.anyQuarantined(previous))
          ? this.quarantinePolicyName
          : this.devicePolicyName;
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
      await this.iot.send(new AttachPolicyCommand({ policyName, target: certificate.arn }));
      progress.policyAttached = policyName;

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

      credentials = {
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
    // Outside the rollback on purpose: the new certificate is in place and is what the device needs now.
    const warnings = await this.retireRotatedOut(deviceId, credentials.certificateId, rotatedOut);
    return warnings.length === 0 ? credentials : { ...credentials, warnings };
  }

  /**
   * Retires certificates a rotation replaced: with no grace period sets them INACTIVE now, otherwise asks the
   * retirements to do it when the grace period ends. Every certificate is tried; each one that could not be
   * retired is returned as a warning saying how to retire it by hand.
   */
  private async retireRotatedOut(
    deviceId: string,
    replacement: string,
    certificateIds: readonly string[],
  ): Promise<string[]> {
    const retirements = this.rotationGraceSeconds > 0 ? this.retirements : undefined;
    const at = new Date(this.now().getTime() + this.rotationGraceSeconds * 1000);
    const warnings: string[] = [];
    const done: RetiredCertificate[] = [];
    this.rotations.set(replacement, done);
    for (const certificateId of certificateIds) {
      try {
        if (retirements) await retirements.retireAt(deviceId, certificateId, at);
        else await this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
        done.push({ certificateId, scheduled: retirements !== undefined });
      } catch (error) {
        const what = retirements
          ? `scheduling its retirement at ${at.toISOString()} failed`
          : 'setting it INACTIVE failed';
        warnings.push(
          `device ${deviceId}: old certificate ${certificateId} is still active (${what}: ${reasonOf(error)}); ` +
            `once the device uses its new certificate, retire the old one with: ${retireByHand(certificateId)}`,
        );
      }
    }
    return warnings;
  }

  /**
   * Undoes an issued identity: the certificate is made inactive first (so it is useless even if a later step
   * fails), detached from the thing and its policies, and deleted; the thing goes too when no certificate is left
   * on it. Every step is tried; the ones that failed are named in the error.
   */
  async withdraw(deviceId: string, certificateId: string): Promise<void> {
    const { certificateDescription } = await this.iot.send(new DescribeCertificateCommand({ certificateId }));
    const arn = certificateDescription?.certificateArn;
    if (!arn) throw new Error(`Certificate ${certificateId} of device ${deviceId} was not found`);
    const attachedToThing = (await this.certificatesOf(deviceId)).some(
      (c) => c.certificateId === certificateId,
    );
    const ours = [...(await this.policiesOf(arn))].filter(
      (name) => name === this.devicePolicyName || name === this.quarantinePolicyName,
    );
    const failures = await this.undo(deviceId, { arn, certificateId }, attachedToThing, ours);
    // A rotation undone: the certificates it retired go back to work (this adapter remembers what it did).
    for (const retired of this.rotations.get(certificateId) ?? []) {
      try {
        if (retired.scheduled) await this.retirements?.cancel(retired.certificateId);
        else {
          await this.iot.send(
            new UpdateCertificateCommand({ certificateId: retired.certificateId, newStatus: 'ACTIVE' }),
          );
        }
      } catch {
        failures.push(
          `${retired.scheduled ? 'cancel the retirement of' : 'reactivate'} ${retired.certificateId}`,
        );
      }
    }
    this.rotations.delete(certificateId);
    if (failures.length === 0 && (await this.certificatesOf(deviceId)).length === 0) {
      try {
        await this.iot.send(new DeleteThingCommand({ thingName: deviceId }));
      } catch {
        failures.push(`DeleteThing ${deviceId}`);
      }
    }
    if (failures.length > 0) {
      throw new Error(
        `Withdrawing device ${deviceId}'s certificate was incomplete, clean up by hand: ${failures.join(', ')}`,
      );
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
    for (const { certificateId, status } of await this.describedCertificatesOf(deviceId)) {
      // A revoked certificate's status can never change again; asking would only be refused.
      if (status === 'revoked') continue;
      await this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' }));
    }
  }

  /**
   * Swaps the device policy for the connect-only quarantine policy on every certificate that is not revoked. The
   * certificates stay valid and attached to the thing, so the device still connects as itself (its attempts are
   * logged against its thing) but no publish is authorised; revoking instead would be final, this is reversed by
   * {@link release}. The quarantine policy goes on before the device policy comes off, so a failure halfway
   * leaves the device able to connect, never with both or neither policy for longer than one call.
   *
   * Inactive certificates are swapped too, so reactivating one (an ended rotation undone by hand) cannot bring a
   * quarantined device back.
   */
  async quarantine(deviceId: string): Promise<void> {
    if (!(await this.thingExists(deviceId))) {
      throw new Error(`Device ${deviceId} has no IoT thing: there is nothing to quarantine`);
    }
    // Recorded on the thing first: it outlives the certificates, so a later rotate still issues into quarantine.
    await this.iot.send(
      new UpdateThingCommand({
        thingName: deviceId,
        attributePayload: { attributes: { [QUARANTINE_ATTRIBUTE]: 'true' }, merge: true },
      }),
    );
    for (const certificate of await this.describedCertificatesOf(deviceId)) {
      if (certificate.status === 'revoked') continue;
      const policies = await this.policiesOf(certificate.arn);
      if (!policies.has(this.quarantinePolicyName)) {
        await this.iot.send(
          new AttachPolicyCommand({ policyName: this.quarantinePolicyName, target: certificate.arn }),
        );
      }
      if (policies.has(this.devicePolicyName)) {
        await this.iot.send(
          new DetachPolicyCommand({ policyName: this.devicePolicyName, target: certificate.arn }),
        );
      }
    }
  }

  /**
   * Takes the quarantine policy off every certificate that is not revoked and puts the device policy back on the
   * active ones (an inactive certificate stays without it: it was retired).
   */
  async release(deviceId: string): Promise<void> {
    for (const certificate of await this.describedCertificatesOf(deviceId)) {
      if (certificate.status === 'revoked') continue;
      const policies = await this.policiesOf(certificate.arn);
      if (certificate.status === 'active' && !policies.has(this.devicePolicyName)) {
        await this.iot.send(
          new AttachPolicyCommand({ policyName: this.devicePolicyName, target: certificate.arn }),
        );
      }
      if (policies.has(this.quarantinePolicyName)) {
        await this.iot.send(
          new DetachPolicyCommand({ policyName: this.quarantinePolicyName, target: certificate.arn }),
        );
      }
    }
    if (await this.thingExists(deviceId)) {
      // Last: until every certificate is swapped back, the device still reads as quarantined. An empty value
      // removes the attribute.
      await this.iot.send(
        new UpdateThingCommand({
          thingName: deviceId,
          attributePayload: { attributes: { [QUARANTINE_ATTRIBUTE]: '' }, merge: true },
        }),
      );
    }
  }

  async describe(deviceId: string): Promise<DeviceIdentity> {
    const thing = await this.thing(deviceId);
    if (!thing) return { deviceId, thing: false, certificates: [], quarantined: false };
    const certificates = await this.describedCertificatesOf(deviceId);
    return {
      deviceId,
      thing: true,
      certificates: certificates.map(({ certificateId, status }) => ({ certificateId, status })),
      quarantined: isQuarantinedThing(thing) || (await this.anyQuarantined(certificates)),
    };
  }

  /** Whether any of the certificates that is not revoked carries the quarantine policy. */
  private async anyQuarantined(
    certificates: readonly (ThingCertificate & { readonly status: CertificateStatus })[],
  ): Promise<boolean> {
    for (const certificate of certificates) {
      if (certificate.status === 'revoked') continue;
      if ((await this.policiesOf(certificate.arn)).has(this.quarantinePolicyName)) return true;
    }
    return false;
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

  /** The device's thing with its attributes; undefined when it has none. */
  private async thing(deviceId: string): Promise<ThingRecord | undefined> {
    try {
      const described = await this.iot.send(new DescribeThingCommand({ thingName: deviceId }));
      return { attributes: described.attributes ?? {} };
    } catch (error) {
      if (isNamed(error, 'ResourceNotFoundException')) return undefined;
      throw error;
    }
  }

  private async thingExists(deviceId: string): Promise<boolean> {
    return (await this.thing(deviceId)) !== undefined;
  }

  /** Creates the thing; false when it appeared since it was looked up (someone else created it: keep it). */
  private async createThing(device: Device): Promise<boolean> {
    const attributes: Record<string, string> = { type: device.deviceType };
    if (device.ward) attributes.ward = thingAttributeValue(device.ward);
    if (device.site) attributes.site = thingAttributeValue(device.site);
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
    const failures = progress.certificate
      ? await this.undo(
          deviceId,
          progress.certificate,
          progress.thingAttached,
          progress.policyAttached ? [progress.policyAttached] : [],
        )
      : [];
    // Only a thing this call created: an existing thing may carry the device's current, working certificate.
    if (progress.thingCreated) {
      try {
        await this.iot.send(new DeleteThingCommand({ thingName: deviceId }));
      } catch {
        failures.push(`DeleteThing ${deviceId}`);
      }
    }
    return failures;
  }

  /**
   * Takes a certificate out of use and deletes it, most protective step first: inactive before anything else, so
   * it cannot be used even if a later step fails. Every step is tried; the failures are returned.
   */
  private async undo(
    deviceId: string,
    certificate: ThingCertificate,
    attachedToThing: boolean,
    policyNames: readonly string[],
  ): Promise<string[]> {
    const failures: string[] = [];
    const attempt = async (label: string, action: () => Promise<unknown>) => {
      try {
        await action();
      } catch {
        failures.push(label);
      }
    };
    const { certificateId, arn } = certificate;
    await attempt(`UpdateCertificate ${certificateId} INACTIVE`, () =>
      this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' })),
    );
    if (attachedToThing) {
      await attempt(`DetachThingPrincipal ${certificateId}`, () =>
        this.iot.send(new DetachThingPrincipalCommand({ thingName: deviceId, principal: arn })),
      );
    }
    for (const policyName of policyNames) {
      await attempt(`DetachPolicy ${certificateId}`, () =>
        this.iot.send(new DetachPolicyCommand({ policyName, target: arn })),
      );
    }
    await attempt(`DeleteCertificate ${certificateId}`, async () => {
      // Detaching from a thing completes asynchronously; until it has, IoT refuses the delete with a conflict.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.iot.send(new DeleteCertificateCommand({ certificateId }));
        } catch (error) {
          if (!isNamed(error, 'DeleteConflictException') || attempt >= DELETE_ATTEMPTS) throw error;
          await new Promise((resolve) => setTimeout(resolve, this.conflictRetryMs * attempt));
        }
      }
    });
    return failures;
  }

  /** The certificates attached to the device's thing; none when it has no thing (registered by the API only). */
  private certificatesOf(deviceId: string): Promise<ThingCertificate[]> {
    return thingCertificates(this.iot, deviceId);
  }

  private async describedCertificatesOf(
    deviceId: string,
  ): Promise<(ThingCertificate & { readonly status: CertificateStatus })[]> {
    const described: (ThingCertificate & { readonly status: CertificateStatus })[] = [];
    for (const certificate of await this.certificatesOf(deviceId)) {
      const { certificateDescription } = await this.iot.send(
        new DescribeCertificateCommand({ certificateId: certificate.certificateId }),
      );
      described.push({ ...certificate, status: certificateStatus(certificateDescription?.status) });
    }
    return described;
  }

  /** The names of the policies attached to a certificate. */
  private async policiesOf(certificateArn: string): Promise<Set<string>> {
    const names = new Set<string>();
    let marker: string | undefined;
    do {
      const page = await this.iot.send(
        new ListAttachedPoliciesCommand({ target: certificateArn, ...(marker ? { marker } : {}) }),
      );
      for (const policy of page.policies ?? []) if (policy.policyName) names.add(policy.policyName);
      marker = page.nextMarker;
    } while (marker);
    return names;
  }
}
