import { z } from 'zod';
import {
  fleetProvisioningTopics,
  PROVISIONING_PARAMETERS,
  type ProvisioningOperationTopics,
} from '../lambdas/contracts/provisioning-template.js';
import {
  type AdmissionPorts,
  type AdmissionSettings,
  admitDevice,
  RECLAIM_AFTER_SECONDS,
} from '../lambdas/domain/provisioning-allow-list.js';
import type { FreshDeviceCertificate } from './certificate-authority.js';
import { CertificateOwnershipTokens } from './certificate-ownership-tokens.js';
import type { ClaimAnswer, ClaimProvisioning, ClaimRequest } from './device-broker.js';

/** The `/rejected` payload of the fleet provisioning MQTT API (ErrorResponse). */
export interface ProvisioningRejection {
  readonly statusCode: number;
  readonly errorCode: string;
  readonly errorMessage: string;
}

/** The `/accepted` payload of CreateKeysAndCertificate. The private key is the device's, sent once, never kept. */
export interface CreateKeysAndCertificateAccepted {
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly privateKey: string;
  readonly certificateOwnershipToken: string;
}

/** The `/accepted` payload of RegisterThing: the template's DeviceConfiguration and the thing (device id). */
export interface RegisterThingAccepted {
  readonly deviceConfiguration: Readonly<Record<string, string>>;
  readonly thingName: string;
}

/** What RegisterThing carries: the token from CreateKeysAndCertificate and the template's parameters. */
const registerThingSchema = z.object({
  certificateOwnershipToken: z.string(),
  parameters: z.record(z.string(), z.string()).optional(),
});

/** Options for {@link LocalFleetProvisioning}. */
export interface LocalFleetProvisioningOptions {
  /** The template devices provision on (`provisioningTemplateName` in local.json). */
  readonly templateName: string;
  /** Issues the certificates CreateKeysAndCertificate hands out (the local CA's provisional certificates). */
  readonly issueCertificate: () => Promise<FreshDeviceCertificate>;
  /**
   * The allow-list and the registry, built on first use: the same tables and adapters the AWS hook uses; and the
   * identity register for a provisioned serial's certificate (`LocalClaimedCertificates`).
   */
  readonly ports: () => AdmissionPorts;
  readonly settings: AdmissionSettings;
  /**
   * Records an admitted device's certificate as its active one in the identity register, and resolves once the
   * broker will accept it (the template's `AWS::IoT::Certificate` resource, activated, on AWS).
   */
  readonly recordCertificate: (deviceId: string, certificateId: string) => Promise<void>;
  /** Where decisions are reported: serials, device ids and certificate ids, never a key, certificate or token. */
  readonly log?: (line: string) => void;
  readonly clock?: () => Date;
  /** @default tokens good for an hour, once each */
  readonly tokens?: CertificateOwnershipTokens;
}

/**
 * Fleet provisioning by claim on the local runtime: the two operations of AWS IoT's device provisioning MQTT API a
 * claim certificate may call, answered as AWS IoT answers them, for the broker's claim sessions.
 *
 * - CreateKeysAndCertificate (`$aws/certificates/create/json`): a new key pair and a certificate from the local CA
 *   whose CN names no device yet, with an ownership token (one use, an hour).
 * - RegisterThing (`$aws/provisioning-templates/<template>/provision/json`): the token and `SerialNumber` go to
 *   `admitDevice`, the use case the AWS pre-provisioning hook runs, against the local allow-list and registry
 *   tables. Admitted, the certificate is recorded as the device's in the identity register, so the device connects
 *   with it under its device id, and the answer carries the thing name and the device's telemetry topic (the
 *   template's DeviceConfiguration). Refused, `/rejected` says why, naming the serial (AWS IoT tells a device only
 *   that access was denied; locally the reason is the point). A serial whose certificate was never recorded (the
 *   recording failed after the admission) is admitted again, as the AWS hook admits one whose RegisterThing failed.
 */
export class LocalFleetProvisioning implements ClaimProvisioning {
  readonly createKeysAndCertificate: ProvisioningOperationTopics;
  readonly registerThing: ProvisioningOperationTopics;
  readonly requestTopics: ReadonlySet<string>;
  readonly answerTopics: ReadonlySet<string>;
  private readonly tokens: CertificateOwnershipTokens;
  private readonly clock: () => Date;
  private readonly log: (line: string) => void;
  private ports: AdmissionPorts | undefined;

  constructor(private readonly options: LocalFleetProvisioningOptions) {
    const topics = fleetProvisioningTopics(options.templateName);
    this.createKeysAndCertificate = topics.createKeysAndCertificate;
    this.registerThing = topics.registerThing;
    this.requestTopics = new Set([topics.createKeysAndCertificate.request, topics.registerThing.request]);
    this.answerTopics = new Set(
      [topics.createKeysAndCertificate, topics.registerThing].flatMap((t) => [t.accepted, t.rejected]),
    );
    this.tokens = options.tokens ?? new CertificateOwnershipTokens();
    this.clock = options.clock ?? (() => new Date());
    this.log = options.log ?? (() => undefined);
  }

  /**
   * Answers one request published by a claim session on its operation's `/accepted` or `/rejected` topic; a failure
   * of the runtime itself is a 500 on `/rejected`. A topic that is not a request topic is a programming error.
   */
  async answer(request: ClaimRequest): Promise<ClaimAnswer> {
    const operation =
      request.topic === this.createKeysAndCertificate.request
        ? this.createKeysAndCertificate
        : request.topic === this.registerThing.request
          ? this.registerThing
          : undefined;
    if (!operation) throw new Error(`'${request.topic}' is not a fleet provisioning request topic`);
    try {
      return operation === this.registerThing
        ? await this.register(request)
        : await this.createCertificate(request);
    } catch (error) {
      this.log(`fleet provisioning failed: ${request.clientId}: ${(error as Error).message}`);
      return rejected(operation, 500, 'InternalError', 'the request could not be completed; try again');
    }
  }

  private async createCertificate(request: ClaimRequest): Promise<ClaimAnswer> {
    const topics = this.createKeysAndCertificate;
    // The request is `{}`; an empty payload is taken as one too. Anything else is refused, as a typo would be.
    const text = request.payload.toString('utf8').trim();
    if (text !== '' && !isJsonObject(text)) {
      return rejected(
        topics,
        400,
        'InvalidPayload',
        'CreateKeysAndCertificate takes an empty JSON object, {}',
      );
    }
    const issued = await this.options.issueCertificate();
    const token = this.tokens.issue(issued.certificateId, request.claimCertificateId, this.clock());
    if (token === undefined) {
      this.log(`fleet provisioning: ${request.clientId}: too many certificates waiting for RegisterThing`);
      return rejected(
        topics,
        429,
        'Throttling',
        'too many certificates are waiting for RegisterThing; register them or wait for their tokens to expire',
      );
    }
    this.log(`fleet provisioning: ${request.clientId}: new certificate, waiting for RegisterThing`);
    const accepted: CreateKeysAndCertificateAccepted = {
      certificateId: issued.certificateId,
      certificatePem: issued.certPem,
      privateKey: issued.keyPem,
      certificateOwnershipToken: token,
    };
    return { topic: topics.accepted, payload: JSON.stringify(accepted) };
  }

  private async register(request: ClaimRequest): Promise<ClaimAnswer> {
    const topics = this.registerThing;
    let body: unknown;
    try {
      body = JSON.parse(request.payload.toString('utf8'));
    } catch {
      body = undefined;
    }
    const parsed = registerThingSchema.safeParse(body);
    if (!parsed.success) {
      return rejected(
        topics,
        400,
        'InvalidPayload',
        'RegisterThing takes {"certificateOwnershipToken": string, "parameters": {"SerialNumber": string}}; ' +
          `wrong: ${parsed.error.issues.map((issue) => issue.path.join('.') || '(payload)').join(', ')}`,
      );
    }
    const serialNumber = parsed.data.parameters?.[PROVISIONING_PARAMETERS.serialNumber];
    const forSerial = typeof serialNumber === 'string' ? `serial '${serialNumber.slice(0, 80)}': ` : '';
    const now = this.clock();
    const redemption = this.tokens.redeem(
      parsed.data.certificateOwnershipToken,
      request.claimCertificateId,
      now,
    );
    if (!redemption.ok) {
      const message = `${forSerial}${redemption.reason}; ask for a new certificate ($aws/certificates/create/json)`;
      this.log(`fleet provisioning refused: ${message}`);
      return rejected(topics, 400, 'InvalidCertificateOwnershipToken', message);
    }

    let admission: Awaited<ReturnType<typeof admitDevice>>;
    try {
      this.ports ??= this.options.ports();
      admission = await admitDevice(
        { serialNumber, certificateId: redemption.certificateId },
        this.ports,
        now,
        this.options.settings,
      );
    } catch (error) {
      this.log(`fleet provisioning failed: ${forSerial}${(error as Error).message}`);
      return rejected(
        topics,
        500,
        'InternalError',
        `${forSerial}the allow-list or the registry could not be reached; ask for a new certificate and try again`,
      );
    }
    if (!admission.allowed) {
      this.log(`fleet provisioning refused: ${admission.reason}`);
      return rejected(topics, 403, 'AccessDenied', admission.reason);
    }

    const { deviceId } = admission.device;
    try {
      await this.options.recordCertificate(deviceId, redemption.certificateId);
    } catch (error) {
      // The serial is taken and the device registered, as on AWS when the template fails after its hook. The
      // certificate was not recorded, so it never became the device's: the serial is offered again (admitDevice's
      // re-admission), and the device's next attempt with a new certificate completes the work.
      this.log(
        `fleet provisioning failed: serial '${admission.serialNumber}': device '${deviceId}' is registered but ` +
          `certificate ${redemption.certificateId} could not be recorded: ${(error as Error).message}`,
      );
      return rejected(
        topics,
        500,
        'InternalError',
        `serial '${admission.serialNumber}': device '${deviceId}' is registered but its certificate could not be ` +
          `activated; ask for a new certificate and register again after ${RECLAIM_AFTER_SECONDS} seconds (if ` +
          `that is refused, an administrator can issue one with: npm run device -- rotate --id ${deviceId} --local)`,
      );
    }
    this.log(
      admission.previousCertificateId === undefined
        ? `fleet provisioning: serial '${admission.serialNumber}' admitted as device '${deviceId}' ` +
            `(${admission.device.deviceType})`
        : `fleet provisioning: serial '${admission.serialNumber}' admitted again as device '${deviceId}' ` +
            `(${admission.device.deviceType}): certificate ${redemption.certificateId} replaces ` +
            `${admission.previousCertificateId}, which was never activated`,
    );
    const accepted: RegisterThingAccepted = {
      // The template's DeviceConfiguration: the exact topic, as `add` writes it into a bundle.
      deviceConfiguration: {
        [PROVISIONING_PARAMETERS.telemetryTopic]:
          admission.parameterOverrides[PROVISIONING_PARAMETERS.telemetryTopic],
      },
      thingName: deviceId,
    };
    return { topic: topics.accepted, payload: JSON.stringify(accepted) };
  }
}

function rejected(
  topics: ProvisioningOperationTopics,
  statusCode: number,
  errorCode: string,
  errorMessage: string,
): ClaimAnswer {
  const rejection: ProvisioningRejection = { statusCode, errorCode, errorMessage };
  return { topic: topics.rejected, payload: JSON.stringify(rejection) };
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
