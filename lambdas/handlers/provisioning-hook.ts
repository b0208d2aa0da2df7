import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import type { Environment } from '../adapters/ports-from-environment.js';
import {
  admissionPortsFromEnvironment,
  admissionSettingsFromEnvironment,
} from '../adapters/provisioning-ports-from-environment.js';
import { PROVISIONING_PARAMETERS } from '../contracts/provisioning-template.js';
import {
  type AdmissionPorts,
  type AdmissionSettings,
  admitDevice,
} from '../domain/provisioning-allow-list.js';
import { createLogger } from './logger.js';

/**
 * What AWS IoT sends the pre-provisioning hook (payload version 2020-04-01) when a device calls RegisterThing on
 * the template. `certificatePem` is the device's new certificate: public, but it is neither used nor logged here,
 * since ids are enough to trace a request and logs are no place for certificates.
 */
export interface PreProvisioningHookEvent {
  readonly claimCertificateId: string;
  readonly certificateId: string;
  readonly certificatePem?: string;
  readonly templateArn: string;
  readonly clientId: string;
  readonly parameters?: Readonly<Record<string, string>>;
}

/** The hook's answer. Provisioning goes ahead only with `allowProvisioning: true`. */
export interface PreProvisioningHookResponse {
  readonly allowProvisioning: boolean;
  /** Added to the device's RegisterThing parameters (replacing any it sent with the same name). */
  readonly parameterOverrides?: Readonly<Record<string, string>>;
}

const hookEventSchema = z.object({
  claimCertificateId: z.string().min(1),
  certificateId: z.string().min(1),
  templateArn: z.string().min(1),
  clientId: z.string(),
  parameters: z.record(z.string(), z.string()).optional(),
});

export interface ProvisioningHookHandlerOptions {
  /** Built on first use, so a cold start that is never invoked costs nothing. */
  readonly ports: () => AdmissionPorts;
  readonly settings: () => AdmissionSettings;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

/**
 * The fleet provisioning template's pre-provisioning hook: admits a device that provisions itself with the
 * claim certificate only when its serial number is on the allow-list and unused, or used by a certificate IoT
 * never activated (a RegisterThing that failed after the hook: see `admitDevice`). One log line per request with
 * the decision, the serial, the device, the ids of the certificates and, when refused, the reason. A
 * malformed event is refused, naming the fields at fault; a failure reaching the tables is thrown (IoT then
 * answers the device ACCESS_DENIED, as for a refusal, and logs the error).
 */
export function createProvisioningHookHandler(options: ProvisioningHookHandlerOptions) {
  const logger = options.logger ?? createLogger('provisioning-hook');
  let ports: AdmissionPorts | undefined;
  let settings: AdmissionSettings | undefined;

  return (
    middy(async (event: PreProvisioningHookEvent): Promise<PreProvisioningHookResponse> => {
      const parsed = hookEventSchema.safeParse(event);
      if (!parsed.success) {
        logger.warn('provisioning refused', {
          // Field paths only: the values are the device's, and one of them is a certificate.
          reason: `malformed pre-provisioning hook event: ${parsed.error.issues
            .map((issue) => issue.path.join('.') || '(event)')
            .join(', ')}`,
        });
        return { allowProvisioning: false };
      }
      const request = parsed.data;
      ports ??= options.ports();
      settings ??= options.settings();
      const trace = {
        certificateId: request.certificateId,
        claimCertificateId: request.claimCertificateId,
        clientId: request.clientId,
        templateArn: request.templateArn,
      };
      const admission = await admitDevice(
        {
          serialNumber: request.parameters?.[PROVISIONING_PARAMETERS.serialNumber],
          certificateId: request.certificateId,
        },
        ports,
        options.now?.() ?? new Date(),
        settings,
      );
      if (!admission.allowed) {
        logger.warn('provisioning refused', {
          ...(admission.serialNumber === undefined ? {} : { serialNumber: admission.serialNumber }),
          reason: admission.reason,
          ...trace,
        });
        return { allowProvisioning: false };
      }
      logger.info(admission.previousCertificateId === undefined ? 'device admitted' : 'device re-admitted', {
        serialNumber: admission.serialNumber,
        deviceId: admission.device.deviceId,
        deviceType: admission.device.deviceType,
        // A re-admission: the certificate that claimed the serial before and never became the device's.
        ...(admission.previousCertificateId === undefined
          ? {}
          : { previousCertificateId: admission.previousCertificateId }),
        ...trace,
      });
      return { allowProvisioning: true, parameterOverrides: admission.parameterOverrides };
    })
      // The event is never logged, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it carries the certificate PEM.
      .use(injectLambdaContext(logger, { logEvent: false }))
  );
}

/** The hook as deployed: the tables and settings from the environment. */
export function provisioningHookHandlerFromEnvironment(env: Environment, logger?: Logger) {
  return createProvisioningHookHandler({
    ports: () => admissionPortsFromEnvironment(env),
    settings: () => admissionSettingsFromEnvironment(env),
    ...(logger ? { logger } : {}),
  });
}

let deployed: ReturnType<typeof provisioningHookHandlerFromEnvironment> | undefined;

/** Reads the environment on the first invocation, so importing this module never needs it. */
export const handler = (
  event: PreProvisioningHookEvent,
  context: Context,
): Promise<PreProvisioningHookResponse> => {
  deployed ??= provisioningHookHandlerFromEnvironment(process.env);
  return deployed(event, context);
};
