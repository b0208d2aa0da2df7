import { Logger } from '@aws-lambda-powertools/logger';
import type { LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types';

/**
 * Bytes Lambda's JSON log format and Powertools' Lambda context add to each line (function name, ARN, memory,
 * request id, cold start, X-Ray id), which a local invocation does not have in full: an estimate.
 */
const CONTEXT_BYTES_PER_LINE = 300;

/** One line a handler logged, as the local runtime sees it. */
export interface LoggedLine {
  readonly level: 'INFO' | 'WARN' | 'ERROR';
  readonly message: string;
  /** The extra keys the handler passed (objects only). */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** About what the line would cost in CloudWatch Logs ingestion on AWS. */
  readonly bytes: number;
}

type Message = LogItemMessage;
type Extra = LogItemExtraInput;

/**
 * A handler's logger as the local runtime gives it: every line is reported with its level and approximate size, so
 * the usage meter can count what the deployed function would ingest at its configured level, and the runtime can
 * read the counts the handler only logs (readings sampled out). What is printed follows the local log level, WARN
 * by default, since the status line already says what the per-batch INFO lines say.
 */
export class LocalFunctionLogger extends Logger {
  private observer: ((line: LoggedLine) => void) | undefined;
  private readonly service: string;

  constructor(serviceName: string, observe: (line: LoggedLine) => void) {
    super({
      serviceName,
      logLevel: (process.env.POWERTOOLS_LOG_LEVEL as 'INFO' | undefined) ?? 'WARN',
    });
    this.service = serviceName;
    this.observer = observe;
  }

  override info(input: Message, ...extra: Extra): void {
    this.observe('INFO', input, extra);
    super.info(input, ...extra);
  }

  override warn(input: Message, ...extra: Extra): void {
    this.observe('WARN', input, extra);
    super.warn(input, ...extra);
  }

  override error(input: Message, ...extra: Extra): void {
    this.observe('ERROR', input, extra);
    super.error(input, ...extra);
  }

  private observe(level: LoggedLine['level'], input: Message, extra: Extra): void {
    // The base constructor may log before the observer is set.
    if (!this.observer) return;
    const attributes: Record<string, unknown> = {};
    if (typeof input === 'object') Object.assign(attributes, input);
    for (const item of extra as readonly unknown[]) {
      if (item instanceof Error) attributes.error = { name: item.name, message: item.message };
      else if (typeof item === 'object' && item !== null) Object.assign(attributes, item);
    }
    const message = typeof input === 'string' ? input : String(input.message ?? '');
    const line = JSON.stringify({
      level,
      message,
      timestamp: new Date().toISOString(),
      service: this.service,
      ...attributes,
    });
    this.observer({ level, message, attributes, bytes: Buffer.byteLength(line) + CONTEXT_BYTES_PER_LINE });
  }
}
