import {
  type IoTClient,
  ListThingPrincipalsCommand,
  type ListThingPrincipalsCommandOutput,
} from '@aws-sdk/client-iot';

/** A certificate attached to a thing: its ARN (what policies attach to) and its id. */
export interface ThingCertificate {
  readonly arn: string;
  readonly certificateId: string;
}

// Certificate principals are ARNs ending in cert/<certificate id>; other principal kinds are left alone.
const CERTIFICATE_ARN = /:cert\/([0-9a-f]{64})$/;

/**
 * The certificates attached to a thing, across pages. A thing that does not exist (a device registered in the
 * registry only) has none, which is not an error.
 */
export async function thingCertificates(iot: IoTClient, thingName: string): Promise<ThingCertificate[]> {
  const certificates: ThingCertificate[] = [];
  let nextToken: string | undefined;
  do {
    let page: ListThingPrincipalsCommandOutput;
    try {
      page = await iot.send(
        new ListThingPrincipalsCommand({ thingName, ...(nextToken ? { nextToken } : {}) }),
      );
    } catch (error) {
      if ((error as { name?: unknown } | undefined)?.name === 'ResourceNotFoundException') return [];
      throw error;
    }
    for (const arn of page.principals ?? []) {
      const certificateId = CERTIFICATE_ARN.exec(arn)?.[1];
      if (certificateId) certificates.push({ arn, certificateId });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return certificates;
}
