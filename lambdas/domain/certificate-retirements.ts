/**
 * Certificate rotation's grace period: a rotated-out certificate keeps working for a while so a device that
 * reports hourly can pick up its new certificate, then stops. Locally the broker retires it; on AWS nothing of
 * ours stays running to do it, so the retirement is handed to something that will run it later (EventBridge
 * Scheduler), through this port.
 */

/**
 * Port: retire (set INACTIVE) one certificate of a device at a given time. Idempotent: asking again for the same
 * certificate is not an error and does not schedule it twice. Never given key material, only certificate ids.
 */
export interface CertificateRetirements {
  retireAt(deviceId: string, certificateId: string, at: Date): Promise<void>;
  /** Calls off a retirement not yet carried out (a rotation undone); nothing to call off is not an error. */
  cancel(certificateId: string): Promise<void>;
}
