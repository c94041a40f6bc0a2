import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Level, type Logger, type LoggerOptions } from 'pino';

export type LogLevelName = Level | 'silent';

/**
 * Never written, wherever they turn up in a logged object: credentials in headers (ours and
 * Ditto's), and any field named like a secret. pino's redact works on these paths.
 */
export const REDACTED_PATHS = [
  'authorization',
  'password',
  'token',
  'access_token',
  'secret',
  '*.authorization',
  '*.password',
  '*.token',
  '*.access_token',
  '*.secret',
  '*.cookie',
  '*["x-ditto-pre-authenticated"]',
  '*.*.authorization',
  '*.*.cookie',
  '*.*.password',
  '*.*.token',
  '*.*["x-ditto-pre-authenticated"]',
];

/**
 * The process's one pino logger: JSON lines on stdout (or `destination`, for tests), pretty
 * output only when stdout is a terminal and pino-pretty is installed (a dev dependency).
 */
export async function createRootLogger(
  level: LogLevelName,
  destination?: DestinationStream,
): Promise<Logger> {
  const options: LoggerOptions = {
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY) {
    const pretty = await prettyStream();
    if (pretty) return pino(options, pretty);
  }
  // process.stdout rather than pino's own fd writer: synchronous on Linux files and pipes, and
  // whoever replaces process.stdout.write (a test) sees the lines.
  return pino(options, process.stdout);
}

async function prettyStream(): Promise<DestinationStream | undefined> {
  try {
    // Absent from the production image (dev dependency): JSON then, as on any non-terminal.
    const { default: pretty } = await import('pino-pretty');
    return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
  } catch {
    return undefined;
  }
}

/** Nest's log calls (`new Logger('Ctx').log(...)` everywhere) as pino lines with a `context`. */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params, true);
  }

  /**
   * Nest passes the context last (a string), and for errors a stack before it:
   * `error(message, stack?, context?)`, as its ConsoleLogger reads them.
   */
  private write(level: Level, message: unknown, params: unknown[], withStack = false): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = [...params];
    let context: string | undefined;
    let stack: string | undefined;
    if (typeof rest.at(-1) === 'string' && !(withStack && rest.length === 1 && looksLikeStack(rest[0]))) {
      context = rest.pop() as string;
    }
    if (withStack && typeof rest[0] === 'string') stack = rest.shift() as string;
    const fields: Record<string, unknown> = {};
    if (context !== undefined) fields.context = context;
    if (stack !== undefined) fields.stack = stack;
    if (rest.length > 0) fields.details = rest;
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ ...fields, ...(message as Record<string, unknown>) });
    } else {
      this.pino[level](fields, String(message));
    }
  }
}

function looksLikeStack(value: unknown): boolean {
  return typeof value === 'string' && /\n\s+at /.test(value);
}
