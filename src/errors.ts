/**
 * The error hierarchy. Two kinds matter to a user: their own mistakes (bad configuration, bad
 * request), which they can fix and which we report with the fix, and system failures (a backend
 * that is down, a CLI that crashed), which they can only retry or report. `phase` says where it
 * happened, so a message reads "config: …" or "workspace: …" instead of a stack trace.
 */

export type Phase =
  | 'config'
  | 'workspace'
  | 'connect'
  | 'session'
  | 'status'
  | 'shutdown'
  | 'request'
  | 'store'
  | 'executor';

export abstract class RunnerError extends Error {
  abstract readonly kind: 'user' | 'system';
  constructor(
    readonly phase: Phase,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A problem the user can fix: the message says what is wrong and how to fix it. */
export class UserError extends RunnerError {
  readonly kind = 'user' as const;
}

/** Every configuration problem at once, one line each, naming the variable and the fix. */
export class ConfigError extends UserError {
  constructor(readonly problems: readonly string[]) {
    super('config', `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** A bad request to the control plane's API; `status` is the HTTP status it maps to. */
export class RequestError extends UserError {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('request', message, options);
  }
}

/** Something outside the user's control failed. */
export class SystemError extends RunnerError {
  readonly kind = 'system' as const;
}

/** Human-readable one-line summary of any thrown value, with its phase when known. */
export function describeError(err: unknown): string {
  if (err instanceof RunnerError) return `${err.phase}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
