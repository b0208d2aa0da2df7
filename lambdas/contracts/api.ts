import { z } from 'zod';
import { ALERT_SEVERITIES, ALERT_STATUSES } from '../../services/shared/alerts.js';
import { JOB_STATUSES } from '../../services/shared/jobs.js';
import { DEVICE_STATUSES } from '../domain/device.js';
import { SPENDING_TIERS } from '../domain/spending-guard.js';
import { deviceTypeSchema } from './device-types.js';
import { REASON_CODES } from './reason-codes.js';
import { DEVICE_ID_PATTERN, LANES } from './topics.js';

/** Bounds that keep every query cheap; the cost statement reads them as hard caps. */
export const API_LIMITS = {
  defaultPageSize: 100,
  maxPageSize: 1000,
  /** Longest range of raw points one request may ask for. */
  maxRawRangeDays: 31,
  /**
   * Longest range one aggregated history answer may cover, per interval. An answer reads every stored bucket item
   * in its range in one go (no cursor; DynamoDB bills a Query on whole items and returns up to 1 MB a page), so
   * these bound its requests and read units: at the store's cap of 300 readings a device-hour (up to 40 KB of
   * items an hour) 3, 31 and 92 days are at most 3, 30 and 90 pages; a device reporting every 5 minutes (under
   * 2 KB an hour) needs 1, 2 and 5. They also keep an answer within one page of buckets (at most 865).
   */
  maxAggregateRangeDays: { '5m': 3, '1h': 31, '1d': 92 },
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
/** `limit` of a list route: how many `things` a page holds. */
export function pageSizeParam(things = 'Items') {
  return z.coerce
    .number()
    .int()
    .min(1)
    .max(API_LIMITS.maxPageSize)
    .default(API_LIMITS.defaultPageSize)
    .describe(`${things} per page, 1 to ${API_LIMITS.maxPageSize}`);
}

/** `cursor` of a list route: the previous page's `nextCursor`, to continue the same query. */
export function cursorParam(sameWhat = 'the same query') {
  return z.string().max(2048).optional().describe(`The previous page's nextCursor, to continue ${sameWhat}`);
}

const pageSize = pageSizeParam();
const cursor = cursorParam();

export const devicePathSchema = z.strictObject({ id: deviceIdParam });

/** History answers: the readings themselves, or buckets of 5 minutes, an hour or a day on the UTC clock. */
export const TELEMETRY_INTERVALS = ['raw', '5m', '1h', '1d'] as const;
/** What an aggregated bucket says about its readings. */
export const TELEMETRY_STATS = ['avg', 'min', 'max', 'count'] as const;

export const telemetryQuerySchema = z.strictObject({
  from: isoTime.optional(),
  to: isoTime.optional(),
  measure: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{0,62}$/, 'a reading name such as fillingLevel or no2')
    .optional()
    .describe('One reading; required with an aggregate interval, which takes numeric readings only'),
  interval: z
    .enum(TELEMETRY_INTERVALS)
    .default('raw')
    .describe(
      `raw: the readings, paged. 5m, 1h, 1d: one bucket per interval (UTC), empty ones included; an aggregate ` +
        `covers from (inclusive) to to (exclusive), at most ${API_LIMITS.maxAggregateRangeDays['5m']}, ` +
        `${API_LIMITS.maxAggregateRangeDays['1h']} and ${API_LIMITS.maxAggregateRangeDays['1d']} days, in one page`,
    ),
  stat: z
    .enum(TELEMETRY_STATS)
    .optional()
    .describe('With an aggregate interval only: what each bucket gives (default avg)'),
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
export const problemSchema = z
  .object({
    type: z.string().describe('A URN naming the kind of problem (urn:civic-iot:problem:...)'),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string().describe('What went wrong, for a person; never internal names or stack traces'),
    parameter: z.string().optional().describe('The query or path parameter that was wrong, when one was'),
    instance: z.string().optional().describe('The path of the request'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

export type Problem = Readonly<z.output<typeof problemSchema>>;

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

// Responses: what each route answers, field for field. The OpenAPI document is generated from these and the
// contract test holds the running API to them, so a field a handler starts to send without a schema fails there.

/** Every time the API answers with: ISO-8601 in UTC, as the stores keep it. */
export const timestampSchema = z.iso
  .datetime({ offset: true })
  .meta({ id: 'Timestamp', description: 'ISO-8601 date and time' });

export const locationSchema = z
  .object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
  .meta({ id: 'Location', description: 'WGS 84 degrees' });

/** A list page: `nextCursor` is absent on the last page. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().optional().describe('Pass as cursor for the next page; absent on the last page'),
  });
}

/** A page of a time-ranged list, with the range it covers (the defaults filled in). */
export function rangedPageSchema<T extends z.ZodType>(item: T) {
  return pageSchema(item).extend({ from: timestampSchema, to: timestampSchema });
}

export const healthSchema = z.object({ status: z.literal('ok') });

export const deviceSchema = z
  .object({
    deviceId: z.string(),
    deviceType: deviceTypeSchema,
    status: z.enum(DEVICE_STATUSES),
    location: locationSchema,
    ward: z.string().optional(),
    site: z.string().optional(),
    expectedIntervalSeconds: z.number().positive().optional(),
    settings: z
      .record(z.string(), z.number())
      .optional()
      .describe("Per-device rule settings by name (a bin's fullThreshold, a gauge's warningLevel)"),
    registeredAt: timestampSchema,
    updatedAt: timestampSchema.optional(),
    decommissionedAt: timestampSchema.optional(),
    revision: z.number().int().min(0).optional().describe('Counts changes made through the registry'),
  })
  .meta({ id: 'Device', description: 'A registered street device' });

export const readingsSchema = z.record(z.string(), z.union([z.number(), z.string()])).meta({
  id: 'Readings',
  description: 'Measures by Smart Data Models name: numbers, or strings for statuses',
});

export const telemetryPointSchema = z
  .object({
    deviceId: z.string(),
    deviceType: deviceTypeSchema,
    messageId: z.string(),
    observedAt: timestampSchema,
    receivedAt: timestampSchema,
    readings: readingsSchema,
    battery: z.number().min(0).max(1).optional(),
    ward: z.string().optional(),
    site: z.string().optional(),
    location: locationSchema.optional(),
  })
  .meta({ id: 'TelemetryPoint', description: 'One reading of one device' });

export const quarantineEntrySchema = z
  .object({
    reason: z.enum(REASON_CODES),
    detail: z.string(),
    deviceId: z.string(),
    deviceType: z.string().optional(),
    clientId: z.string().optional(),
    messageId: z.string().optional(),
    receivedAt: timestampSchema,
    sourceId: z.string(),
    payload: z.string(),
    payloadEncoding: z.enum(['utf8', 'base64']),
    payloadBytes: z.number().int().min(0),
    payloadTruncated: z.boolean(),
  })
  .meta({ id: 'QuarantineEntry', description: 'A message that was not stored, with the reason' });

const jobHistoryEntrySchema = z.object({
  at: timestampSchema,
  status: z.enum(JOB_STATUSES),
  note: z.string(),
});

export const jobSchema = z
  .object({
    id: z.string(),
    service: z.string(),
    kind: z.string().describe('collection, hazard, maintenance ...'),
    deviceId: z.string(),
    ward: z.string().optional(),
    site: z.string().optional(),
    location: locationSchema.optional(),
    priority: z.enum(['routine', 'urgent']),
    status: z.enum(JOB_STATUSES),
    reason: z.string(),
    openedAt: timestampSchema,
    updatedAt: timestampSchema,
    closedAs: z.enum(['completed', 'emptied', 'back-online']).optional(),
    history: z.array(jobHistoryEntrySchema),
  })
  .meta({ id: 'Job', description: 'A work order, with its history of notes' });

export const alertSchema = z
  .object({
    incidentId: z.string(),
    key: z.string(),
    service: z.string(),
    summary: z.string(),
    status: z.enum(ALERT_STATUSES),
    severity: z.enum(ALERT_SEVERITIES),
    peakSeverity: z.enum(ALERT_SEVERITIES),
    deviceId: z.string().optional(),
    site: z.string().optional(),
    ward: z.string().optional(),
    openedAt: timestampSchema,
    acknowledgedAt: timestampSchema.optional(),
    acknowledgedBy: z.string().optional(),
    clearedAt: timestampSchema.optional(),
    quietSince: timestampSchema.optional(),
    flaps: z.number().int().min(0),
    lastSignalAt: timestampSchema,
  })
  .meta({ id: 'Alert', description: 'An alert incident' });

const spendingTier = z.enum(SPENDING_TIERS);
const lane = z.enum(LANES);
/** Money in US dollars; a ceiling the council did not set is null. */
const usd = z.number();

const guardActionSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('notify'),
    threshold: z.union([z.number(), z.literal('forecast')]),
    tier: spendingTier,
    message: z.string(),
  }),
  z.object({ kind: z.literal('sample-lane'), lane, sampleRate: z.number().min(0).max(1) }),
  z.object({ kind: z.literal('narrow-open-data'), narrowed: z.boolean() }),
  z.object({ kind: z.literal('disable-rule'), lane }),
  z.object({ kind: z.literal('enable-rule'), lane }),
  z.object({ kind: z.literal('pause-consumer'), lane }),
  z.object({ kind: z.literal('resume-consumer'), lane }),
  z.object({ kind: z.literal('settle'), seconds: z.number().min(0) }),
  z.object({ kind: z.literal('manual-restore'), by: z.string() }),
  z.object({ kind: z.literal('budget-notice'), subject: z.string(), message: z.string() }),
  z.object({
    kind: z.enum(['deactivate-device', 'report-runaway-device']),
    deviceId: z.string(),
    refusals: z.number().int().min(0),
    certificates: z.number().int().min(0).optional(),
  }),
]);

export const guardAuditEntrySchema = z
  .object({
    at: timestampSchema,
    action: guardActionSchema,
    reading: z.object({
      monthToDateUsd: usd,
      forecastUsd: usd,
      ceilingUsd: usd.nullable(),
      tier: spendingTier,
    }),
    outcome: z.enum(['done', 'failed']),
    error: z.string().optional(),
  })
  .meta({
    id: 'GuardAuditEntry',
    description: 'What the spending guard did, when, and the reading that led to it',
  });

export const costReportSchema = z.object({
  month: z.string().regex(/^\d{4}-\d{2}$/, 'YYYY-MM'),
  monthToDateUsd: usd,
  forecastUsd: usd,
  burnRateUsdPerHour: usd,
  ceilingUsd: usd.nullable().describe('null when the council set no ceiling'),
  tier: spendingTier,
  meteredUntil: timestampSchema.optional(),
  degrade: z.object({
    sampleRates: z.partialRecord(lane, z.number().min(0).max(1)).describe('Share of readings kept per lane'),
    openDataNarrowed: z.boolean(),
  }),
  recentActions: z.array(guardAuditEntrySchema),
});

export const restoreResultSchema = z.object({
  tier: spendingTier,
  complete: z.boolean().describe('false when an action failed; the usage meter retries it'),
  detail: z.string().optional(),
  monthToDateUsd: usd,
  forecastUsd: usd,
  actions: z.array(guardAuditEntrySchema),
});

/** A service's open data: its name and its sites' public views (`item` is one site, from the blueprint). */
export function openDataResponseSchema<T extends z.ZodType>(item: T) {
  return z.object({ service: z.string(), items: z.array(item) });
}
