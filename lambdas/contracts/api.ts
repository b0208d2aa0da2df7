import { z } from 'zod';
import { ALERT_STATUSES } from '../../services/shared/alerts.js';
import { JOB_STATUSES } from '../../services/shared/jobs.js';
import { REASON_CODES } from './reason-codes.js';
import { DEVICE_ID_PATTERN } from './topics.js';

/** Bounds that keep every query cheap; the cost statement reads them as hard caps. */
export const API_LIMITS = {
  defaultPageSize: 100,
  maxPageSize: 1000,
  /** Longest range of raw points one request may ask for. */
  maxRawRangeDays: 31,
  maxQuarantineRangeDays: 31,
  defaultRangeHours: 24,
} as const;

/** The city API function's settings; the cost model and the local runtime's Lambda contexts read them too. */
export const API_SETTINGS = {
  functionMemoryMb: 512,
} as const;

export const STAFF_GROUPS = ['admin', 'operator', 'viewer'] as const;
export type StaffGroup = (typeof STAFF_GROUPS)[number];

export const deviceIdParam = z.string().regex(DEVICE_ID_PATTERN, 'letters, digits, _ and -, at most 64');
const isoTime = z.iso.datetime({ offset: true });
const pageSize = z.coerce
  .number()
  .int()
  .min(1)
  .max(API_LIMITS.maxPageSize)
  .default(API_LIMITS.defaultPageSize);
const cursor = z.string().max(2048).optional();

export const devicePathSchema = z.strictObject({ id: deviceIdParam });

export const telemetryQuerySchema = z.strictObject({
  from: isoTime.optional(),
  to: isoTime.optional(),
  measure: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,62}$/, 'a reading name such as fillingLevel or no2')
    .optional(),
  limit: pageSize,
  cursor,
});

export const quarantineQuerySchema = z.strictObject({
  reason: z.enum(REASON_CODES).optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  limit: pageSize,
  cursor,
});

/** Service names in paths and queries: kebab-case, as the blueprint folders are named. */
const serviceName = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'a service name such as waste or air-quality');

export const jobsQuerySchema = z.strictObject({
  service: serviceName.optional(),
  status: z.enum(JOB_STATUSES).optional(),
  ward: z.string().min(1).max(100).optional(),
  limit: pageSize,
  cursor,
});

export const jobPathSchema = z.strictObject({
  id: z.string().regex(/^job_[0-9a-f]{32}$/, 'a job id (job_...)'),
});

/** PATCH /jobs/{id}: the status a crew moves the job to, and why (the note is kept in the job's history). */
export const jobChangeSchema = z.strictObject({
  status: z.enum(JOB_STATUSES),
  note: z.string().trim().min(1, 'a note saying what was done is required').max(1000),
});

export const alertsQuerySchema = z.strictObject({
  service: serviceName.optional(),
  status: z.enum(ALERT_STATUSES).optional(),
  limit: pageSize,
  cursor,
});

export const alertPathSchema = z.strictObject({
  id: z.string().regex(/^alr_[0-9a-f]{32}$/, 'an alert incident id (alr_...)'),
});

/** RFC 9457 problem details, as every error response body. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** The query or path parameter that was wrong, when one was. */
  readonly parameter?: string;
  readonly instance?: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/** Problem types are URNs: stable identifiers that do not pretend to be web pages we host. */
export const PROBLEM_TYPE_BASE = 'urn:civic-iot:problem:';

/**
 * The problem type (after {@link PROBLEM_TYPE_BASE}) and title of each status the API answers with. The handlers
 * and API Gateway's own error responses (authorizer, throttling, unknown routes) both use this table, so a client
 * sees one vocabulary whoever refused the request.
 */
export const PROBLEM_KINDS = {
  400: { slug: 'invalid-request', title: 'Bad request' },
  401: { slug: 'unauthorized', title: 'Unauthorized' },
  403: { slug: 'forbidden', title: 'Forbidden' },
  404: { slug: 'not-found', title: 'Not found' },
  405: { slug: 'method-not-allowed', title: 'Method not allowed' },
  409: { slug: 'conflict', title: 'Conflict' },
  413: { slug: 'payload-too-large', title: 'Payload too large' },
  415: { slug: 'unsupported-media-type', title: 'Unsupported media type' },
  429: { slug: 'too-many-requests', title: 'Too many requests' },
  500: { slug: 'internal-error', title: 'Internal error' },
  504: { slug: 'gateway-timeout', title: 'Gateway timeout' },
} as const satisfies Record<number, { readonly slug: string; readonly title: string }>;

export type ProblemStatus = keyof typeof PROBLEM_KINDS;

/** The `type` and `title` of a problem with this status; a status without its own kind is a generic error. */
export function problemKind(status: number): { readonly type: string; readonly title: string } {
  const kind = (PROBLEM_KINDS as Record<number, { slug: string; title: string } | undefined>)[status];
  return { type: `${PROBLEM_TYPE_BASE}${kind?.slug ?? 'error'}`, title: kind?.title ?? 'Error' };
}
