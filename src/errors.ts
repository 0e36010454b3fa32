/**
 * The error hierarchy. Two kinds matter to a user: their own mistakes (bad configuration, bad
 * request), which they can fix and which we report with the fix, and system failures (a backend
 * that is down, a CLI that crashed), which they can only retry or report. `phase` says where it
 * happened, so a message reads "config: …" or "workspace: …" instead of a stack trace.
 */

/** Where a failure happened (not a session's phase, which is protocol/status.ts's `Phase`). */
export type ErrorPhase =
  | 'config'
  | 'workspace'
  | 'connect'
  | 'session'
  | 'status'
  | 'shutdown'
  | 'request'
  | 'store'
  | 'executor';

/** The root of every error this project throws on purpose, runner and control plane alike. */
export abstract class AppError extends Error {
  abstract readonly kind: 'user' | 'system';
  constructor(
    readonly phase: ErrorPhase,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A problem the user can fix: the message says what is wrong and how to fix it. */
export class UserError extends AppError {
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
export class SystemError extends AppError {
  readonly kind = 'system' as const;
}

/** Human-readable one-line summary of any thrown value, with its phase when known. */
export function describeError(err: unknown): string {
  if (err instanceof AppError) return `${err.phase}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
