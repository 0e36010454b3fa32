/**
 * The control plane's redactor: the shared one (serve's secrets by value, token shapes by
 * pattern) plus the shape of our own tokens, so a user or runner token never leaves in a log
 * line, an API answer or a run's output.
 */
import { SECRET_ENV_NAME as SECRET_NAME } from '../config/agent-env.js';
import { REDACTED, Redactor } from '../observability/redact.js';

const OWN_TOKENS = /\bccrb?_[A-Za-z0-9_-]{20,}/g;

export class ControlPlaneRedactor extends Redactor {
  override redact(text: string): string {
    return super.redact(text).replace(OWN_TOKENS, REDACTED);
  }

  /** This redactor plus more values (a session's secret-looking variables). */
  plus(values: Iterable<string>): ControlPlaneRedactor {
    return new ControlPlaneRedactor([...this.secretValues, ...values]);
  }
}

/** Whether an environment variable should be shown as [REDACTED] (by its name or its value). */
export function looksSecret(name: string, value: string, redactor: Redactor): boolean {
  return SECRET_NAME.test(name) || redactor.redact(value) !== value;
}

/** `environmentVariables` as shown in API answers. */
export function redactEnvironment(
  vars: Record<string, string> | undefined,
  redactor: Redactor,
): Record<string, string> | undefined {
  if (!vars) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) out[k] = looksSecret(k, v, redactor) ? REDACTED : v;
  return out;
}

/** The values of a session's secret-looking variables, to redact from its output. */
export function secretValues(
  vars: Record<string, string> | undefined,
  redactor: Redactor,
): string[] {
  return Object.entries(vars ?? {})
    .filter(([k, v]) => looksSecret(k, v, redactor))
    .map(([, v]) => v);
}

/**
 * The redactor for everything a session produces (frames, status, logs): serve's own plus the
 * values of that session's secret-looking variables, which have no token shape to be caught by.
 */
export function sessionRedactor(
  redactor: ControlPlaneRedactor,
  vars: Record<string, string> | undefined,
): ControlPlaneRedactor {
  const values = secretValues(vars, redactor);
  return values.length ? redactor.plus(values) : redactor;
}
