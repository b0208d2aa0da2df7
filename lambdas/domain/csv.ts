/**
 * A small RFC 4180 reader for the asset lists councils export from spreadsheets: comma-separated fields, a field
 * in double quotes may hold commas, line breaks and doubled quotes (`""`). CRLF and LF both end a record, a
 * byte-order mark is ignored, and blank lines are skipped (spreadsheets leave them at the end). Pure.
 */

/** One record with the line it starts on (1-based; a quoted line break makes a record span lines). */
export interface CsvRecord {
  readonly line: number;
  readonly fields: readonly string[];
}

/** Text that is not CSV (an unclosed quote, a quote inside an unquoted field); names the line. */
export class CsvSyntaxError extends Error {
  override readonly name = 'CsvSyntaxError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** Reads every record of `text`. Throws {@link CsvSyntaxError} for malformed quoting. */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const input = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let line = 1;
  let recordLine = 1;
  let fields: string[] = [];
  let field = '';
  // Whether the record so far had a quoted field: `""` alone on a line is a record, a blank line is not.
  let quoted = false;
  let i = 0;

  const endRecord = () => {
    fields.push(field);
    if (quoted || fields.length > 1 || field !== '') records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    quoted = false;
  };

  while (i < input.length) {
    const char = input[i] as string;
    if (char === '"') {
      if (field !== '') {
        throw new CsvSyntaxError(line, 'a quote inside an unquoted field (quote the whole field)');
      }
      const openedOn = line;
      quoted = true;
      i++;
      for (;;) {
        if (i >= input.length) throw new CsvSyntaxError(openedOn, 'a quoted field is not closed');
        const inner = input[i] as string;
        i++;
        if (inner === '"') {
          if (input[i] !== '"') break;
          i++;
        } else if (inner === '\n') {
          line++;
        }
        field += inner;
      }
      const next = input[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new CsvSyntaxError(line, 'text after a closing quote (a quote inside a field is written "")');
      }
      continue;
    }
    if (char === ',') {
      fields.push(field);
      field = '';
      i++;
      continue;
    }
    if (char === '\r' || char === '\n') {
      endRecord();
      i += char === '\r' && input[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    field += char;
    i++;
  }
  if (quoted || fields.length > 0 || field !== '') endRecord();
  return records;
}
