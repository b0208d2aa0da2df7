import type { DeviceType } from '../contracts/device-types.js';
import { CsvSyntaxError, parseCsv } from './csv.js';
import type { DeviceStatus } from './device.js';
import { type DeviceFields, DeviceInputError, readDeviceFields } from './device-onboarding-commands.js';

/**
 * `npm run device -- import`: an asset list (CSV) checked as a whole before anything is made, and what each row
 * needs on this run. Pure: the CLI passes in the file's text and what the platform already holds.
 */

/** The columns an import CSV must have. */
export const REQUIRED_IMPORT_COLUMNS = ['id', 'type', 'lat', 'lon'] as const;
/** The columns it may have; an empty cell is the same as no value. */
export const OPTIONAL_IMPORT_COLUMNS = ['ward', 'site', 'interval'] as const;
type ImportColumn = (typeof REQUIRED_IMPORT_COLUMNS)[number] | (typeof OPTIONAL_IMPORT_COLUMNS)[number];
const KNOWN_COLUMNS: readonly string[] = [...REQUIRED_IMPORT_COLUMNS, ...OPTIONAL_IMPORT_COLUMNS];

/** One good row: the device as `add` would register it and the CSV line it came from. */
export interface ImportRow extends DeviceFields {
  readonly line: number;
}

/** What the registry already holds for a device. */
export interface RegisteredDevice {
  readonly deviceType: DeviceType;
  readonly status: DeviceStatus;
}

/** Either every row, good, or every problem found, one sentence each starting with its line. */
export type ImportReading =
  | { readonly ok: true; readonly rows: readonly ImportRow[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Reads and checks an import CSV: the header (required columns present, no unknown or repeated column), each
 * row with `add`'s rules, ids repeated within the file (naming both lines) and ids registered with another type
 * or decommissioned. Every problem is reported, not just the first, so one fix-up pass is enough.
 */
export function readDeviceImport(
  csvText: string,
  registered: ReadonlyMap<string, RegisteredDevice>,
): ImportReading {
  let records: ReturnType<typeof parseCsv>;
  try {
    records = parseCsv(csvText);
  } catch (error) {
    if (error instanceof CsvSyntaxError) return { ok: false, problems: [error.message] };
    throw error;
  }
  const [header, ...body] = records;
  if (!header) {
    return {
      ok: false,
      problems: [`the file is empty: the first line names the columns, e.g. id,type,lat,lon`],
    };
  }
  const columns = header.fields.map((name) => name.trim().toLowerCase());
  const headerProblems: string[] = [];
  const missing = REQUIRED_IMPORT_COLUMNS.filter((name) => !columns.includes(name));
  if (missing.length > 0) {
    headerProblems.push(
      `line ${header.line}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `(the header has ${columns.join(',')}; required: ${REQUIRED_IMPORT_COLUMNS.join(',')})`,
    );
  }
  const unknown = columns.filter((name) => !KNOWN_COLUMNS.includes(name));
  if (unknown.length > 0) {
    headerProblems.push(
      `line ${header.line}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}` +
        ` (the columns are ${KNOWN_COLUMNS.join(', ')})`,
    );
  }
  const repeated = columns.filter((name, index) => columns.indexOf(name) !== index);
  if (repeated.length > 0) {
    headerProblems.push(`line ${header.line}: column ${[...new Set(repeated)].join(', ')} is given twice`);
  }
  if (headerProblems.length > 0) return { ok: false, problems: headerProblems };
  if (body.length === 0) return { ok: false, problems: ['the file has a header but no devices'] };

  const problems: string[] = [];
  const rows: ImportRow[] = [];
  const firstLineOf = new Map<string, number>();
  for (const record of body) {
    const prefix = `line ${record.line}: `;
    if (record.fields.length !== columns.length) {
      problems.push(`${prefix}${record.fields.length} values, the header has ${columns.length} columns`);
      continue;
    }
    const cell = (name: ImportColumn): string | undefined => {
      const index = columns.indexOf(name);
      const value = index < 0 ? undefined : record.fields[index];
      return value === undefined || value.trim() === '' ? undefined : value;
    };
    let fields: DeviceFields;
    try {
      fields = readDeviceFields({
        id: (cell('id') ?? '').trim(),
        type: (cell('type') ?? '').trim(),
        lat: cell('lat') ?? '',
        lon: cell('lon') ?? '',
        ward: cell('ward'),
        site: cell('site'),
        interval: cell('interval'),
      });
    } catch (error) {
      if (!(error instanceof DeviceInputError)) throw error;
      problems.push(`${prefix}${error.message}`);
      continue;
    }
    const { deviceId } = fields;
    const earlier = firstLineOf.get(deviceId);
    if (earlier !== undefined) {
      problems.push(`${prefix}device '${deviceId}': id is also on line ${earlier}; each device once`);
      continue;
    }
    firstLineOf.set(deviceId, record.line);
    const existing = registered.get(deviceId);
    if (existing && existing.deviceType !== fields.deviceType) {
      problems.push(
        `${prefix}device '${deviceId}': already registered as ${existing.deviceType}, not ${fields.deviceType}`,
      );
      continue;
    }
    if (existing?.status === 'decommissioned') {
      problems.push(`${prefix}device '${deviceId}': is decommissioned; remove the row or use a new id`);
      continue;
    }
    rows.push({ ...fields, line: record.line });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rows };
}

/** What a device already has on this machine and platform, as the CLI finds it. */
export interface OnboardingState {
  readonly registered: boolean;
  readonly activeCertificate: boolean;
  /** Its bundle folder holds this device's `device.json`. */
  readonly bundle: boolean;
}

/**
 * What a row needs: `create` (certificate, bundle, registration), `complete` (registered by an earlier run that
 * stopped before its certificate or bundle was made: a new certificate and bundle), or `skip` (done already).
 */
export type ImportStep = 'create' | 'complete' | 'skip';

/** The step for a row from what already exists; re-running an import is safe. */
export function importStep(state: OnboardingState): ImportStep {
  if (!state.registered) return 'create';
  return state.activeCertificate && state.bundle ? 'skip' : 'complete';
}

/** Counts for the summary line. */
export interface ImportTally {
  readonly created: number;
  readonly completed: number;
  readonly skipped: number;
  readonly failed: number;
}

/** The summary line: `import: 1000 rows: 998 created, 0 completed, 1 skipped (already onboarded), 1 failed`. */
export function describeImportTally(tally: ImportTally): string {
  const rows = tally.created + tally.completed + tally.skipped + tally.failed;
  return (
    `import: ${rows} row${rows === 1 ? '' : 's'}: ${tally.created} created, ${tally.completed} completed, ` +
    `${tally.skipped} skipped (already onboarded), ${tally.failed} failed`
  );
}
