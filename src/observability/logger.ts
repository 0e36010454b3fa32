/**
 * The process's one logger: leveled lines on stderr, every line redacted. Per-frame events are
 * logged at debug only, so the message path never pays for formatting at the default level.
 */
import { Redactor } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  isDebug(): boolean;
  child(scope: string): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  redactor: Redactor;
  scope?: string;
  /** Where lines go; stderr by default (stdout stays free for a command's own output). */
  write?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions): Logger {
  const threshold = ORDER[opts.level];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const scope = opts.scope ?? 'runner';
  const emit = (
    level: Exclude<LogLevel, 'silent'>,
    msg: string,
    fields?: Record<string, unknown>,
  ) => {
    if (ORDER[level] < threshold) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${scope}: ${msg}`;
    if (fields && Object.keys(fields).length) line += ` ${safeJson(fields)}`;
    write(`${opts.redactor.redact(line)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    isDebug: () => threshold <= ORDER.debug,
    child: (child) => createLogger({ ...opts, scope: `${scope}.${child}` }),
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, val: unknown) =>
      val instanceof Error ? { name: val.name, message: val.message } : val,
    );
  } catch {
    return '[unserialisable]';
  }
}

/** A logger that drops everything; for library use and tests that assert on other outputs. */
export const silentLogger: Logger = createLogger({ level: 'silent', redactor: new Redactor() });
