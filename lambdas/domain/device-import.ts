import type { DeviceType } from '../contracts/device-types.js';
import { CsvSyntaxError, parseCsv } from './csv.js';
import type { BoundingBox, DeviceStatus } from './device.js';
import { type DeviceFields, DeviceInputError, readDeviceFields } from './device-onboarding-commands.js';

/**
 * `npm run device -- import`: an asset list (CSV) checked as a whole before anything is made, and what each row
 * needs on this run. Pure: the CLI passes in the file's text and what the platform already holds.
 */

/** The columns an import CSV must have. */
export const REQUIRED_IMPORT_COLUMNS = ['id', 'type', 'lat', 'lon'] as const;
/** The columns it may have; an empty cell is the same as no value. */
export const OPTIONAL_IMPORT_COLUMNS = ['ward', 'site', 'interval'] as const;

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

/** A data row of an asset CSV: its line, and its cells by column name (a blank cell is no value). */
export interface AssetCsvRow {
  readonly line: number;
  cell(column: string): string | undefined;
}

/** An asset CSV whose header is good: its rows of the right width, and a problem for each row that is not. */
export type AssetCsv =
  | { readonly ok: true; readonly rows: readonly AssetCsvRow[]; readonly rowProblems: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Parses an asset CSV (the device list of `import`, the serials of `allow`) and checks its header: every required
 * column present, nothing unknown or repeated, in any order and any case. A file without a good header stops here
 * (its rows cannot be read); rows with the wrong number of values are reported and left out.
 */
export function readAssetCsv(
  csvText: string,
  required: readonly string[],
  optional: readonly string[],
): AssetCsv {
  let records: ReturnType<typeof parseCsv>;
  try {
    records = parseCsv(csvText);
  } catch (error) {
    if (error instanceof CsvSyntaxError) return { ok: false, problems: [error.message] };
    throw error;
  }
  const known = [...required, ...optional];
  const [header, ...body] = records;
  if (!header) {
    return {
      ok: false,
      problems: [`the file is empty: the first line names the columns, e.g. ${required.join(',')}`],
    };
  }
  const columns = header.fields.map((name) => name.trim().toLowerCase());
  const headerProblems: string[] = [];
  const missing = required.filter((name) => !columns.includes(name));
  if (missing.length > 0) {
    headerProblems.push(
      `line ${header.line}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `(the header has ${columns.join(',')}; required: ${required.join(',')})`,
    );
  }
  const unknown = columns.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    headerProblems.push(
      `line ${header.line}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}` +
        ` (the columns are ${known.join(', ')})`,
    );
  }
  const repeated = columns.filter((name, index) => columns.indexOf(name) !== index);
  if (repeated.length > 0) {
    headerProblems.push(`line ${header.line}: column ${[...new Set(repeated)].join(', ')} is given twice`);
  }
  if (headerProblems.length > 0) return { ok: false, problems: headerProblems };
  if (body.length === 0) return { ok: false, problems: ['the file has a header but no devices'] };

  const rows: AssetCsvRow[] = [];
  const rowProblems: string[] = [];
  for (const record of body) {
    if (record.fields.length !== columns.length) {
      rowProblems.push(
        `line ${record.line}: ${record.fields.length} values, the header has ${columns.length} columns`,
      );
      continue;
    }
    rows.push({
      line: record.line,
      cell: (column) => {
        const index = columns.indexOf(column);
        const value = index < 0 ? undefined : record.fields[index];
        return value === undefined || value.trim() === '' ? undefined : value;
      },
    });
  }
  return { ok: true, rows, rowProblems };
}

/**
 * A row's device, checked with `add`'s rules (and the council's area, when given).
 * @throws DeviceInputError naming the device and the field
 */
export function deviceFieldsOfRow(row: AssetCsvRow, councilArea?: BoundingBox): DeviceFields {
  return readDeviceFields(
    {
      id: (row.cell('id') ?? '').trim(),
      type: (row.cell('type') ?? '').trim(),
      lat: row.cell('lat') ?? '',
      lon: row.cell('lon') ?? '',
      ward: row.cell('ward'),
      site: row.cell('site'),
      interval: row.cell('interval'),
    },
    councilArea,
  );
}

/**
 * Reads and checks an import CSV: the header (required columns present, no unknown or repeated column), each
 * row with `add`'s rules, ids repeated within the file (naming both lines) and ids registered with another type
 * or decommissioned, and, given the council's area, rows outside it. Every problem is reported, not just the
 * first, so one fix-up pass is enough.
 */
export function readDeviceImport(
  csvText: string,
  registered: ReadonlyMap<string, RegisteredDevice>,
  councilArea?: BoundingBox,
): ImportReading {
  const csv = readAssetCsv(csvText, REQUIRED_IMPORT_COLUMNS, OPTIONAL_IMPORT_COLUMNS);
  if (!csv.ok) return csv;
  const problems: string[] = [...csv.rowProblems];
  const rows: ImportRow[] = [];
  const firstLineOf = new Map<string, number>();
  for (const row of csv.rows) {
    const prefix = `line ${row.line}: `;
    let fields: DeviceFields;
    try {
      fields = deviceFieldsOfRow(row, councilArea);
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
    firstLineOf.set(deviceId, row.line);
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
    rows.push({ ...fields, line: row.line });
  }
  // Row-width problems first came first in file order too; sorted by line so the report reads top to bottom.
  return problems.length > 0 ? { ok: false, problems: sortedByLine(problems) } : { ok: true, rows };
}

/** Problems in file order (each starts `line N:`). */
export function sortedByLine(problems: readonly string[]): string[] {
  const lineOf = (problem: string) => Number(/^line (\d+):/.exec(problem)?.[1] ?? 0);
  return [...problems].sort((a, b) => lineOf(a) - lineOf(b));
}

/** What a device already has on this machine and platform, as the CLI finds it. */
export interface OnboardingState {
  readonly registered: boolean;
  /** How many certificates its identity has, whatever their status (revoked and inactive ones count). */
  readonly certificates: number;
}

/**
 * What a row needs: `create` (certificate, bundle, registration), `complete` (registered, but no certificate was
 * ever made for it, e.g. registered with `POST /devices`: a certificate and bundle), or `skip` (it has an
 * identity already).
 */
export type ImportStep = 'create' | 'complete' | 'skip';

/**
 * The step for a row from what already exists; re-running an import is safe. A device with any certificate, even
 * revoked or inactive ones or with its bundle gone from this machine, is skipped: a re-run must never undo a
 * revocation or replace the certificate of a device already installed in the street (that is `rotate`'s job).
 */
export function importStep(state: OnboardingState): ImportStep {
  if (!state.registered) return 'create';
  return state.certificates === 0 ? 'complete' : 'skip';
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
