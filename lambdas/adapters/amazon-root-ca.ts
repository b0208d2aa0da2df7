import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';

/**
 * SHA-256 fingerprint of Amazon Root CA 1, the root of the `iot:Data-ATS` endpoints' server certificates, as
 * Amazon Trust Services publishes it (https://www.amazontrust.com/repository/) and Mozilla's root store carries it
 * (Debian: /usr/share/ca-certificates/mozilla/Amazon_Root_CA_1.crt). A reviewer can check it against either.
 */
export const AMAZON_ROOT_CA_1_SHA256 =
  '8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E';

/**
 * Amazon Root CA 1 in PEM, for device bundles (`ca.pem`). Taken from the root store compiled into Node (Mozilla's)
 * rather than a file in this repository or a download at run time, and accepted only if its fingerprint is the one
 * above: a device bundle's trust anchor is never a copy nobody can check.
 */
export function amazonRootCa1Pem(roots: readonly string[] = rootCertificates): string {
  for (const pem of roots) {
    if (new X509Certificate(pem).fingerprint256 === AMAZON_ROOT_CA_1_SHA256)
      return pem.endsWith('\n') ? pem : `${pem}\n`;
  }
  throw new Error(
    `Amazon Root CA 1 (SHA-256 ${AMAZON_ROOT_CA_1_SHA256}) is not in this Node's root store; ` +
      'download it from https://www.amazontrust.com/repository/AmazonRootCA1.pem and check its fingerprint',
  );
}
