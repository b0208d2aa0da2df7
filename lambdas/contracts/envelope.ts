import { z } from 'zod';

/**
 * Limits that apply to every device message. They live in the contract because the local broker,
 * the enrichment step and the docs must agree on them.
 */
export const MESSAGE_LIMITS = {
  /** Largest accepted payload. The envelope is small; anything bigger is a faulty or hostile device. */
  maxPayloadBytes: 8 * 1024,
  /** How much of a rejected payload is kept in the quarantine, so a flood of junk cannot inflate storage. */
  maxQuarantinedPayloadBytes: 4 * 1024,
  /** Clock skew tolerated before a reading counts as from the future. */
  maxFutureSkewSeconds: 300,
  messageIdMaxLength: 64,
} as const;

/** The JSON a device publishes: `{ messageId, observedAt, readings, battery? }`. */
export const envelopeSchema = z.strictObject({
  messageId: z
    .string()
    .min(1)
    .max(MESSAGE_LIMITS.messageIdMaxLength)
    .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only'),
  observedAt: z.iso.datetime({ offset: true }),
  readings: z.record(z.string(), z.unknown()),
  battery: z.number().min(0).max(1).optional(),
});
export type Envelope = z.infer<typeof envelopeSchema>;
