/**
 * Request validation errors: one 400 that names every invalid field, built from zod issues.
 * Messages never echo values (a value may be a secret).
 */
import type { z } from 'zod';
import { RequestError } from '../errors.js';

export class ValidationError extends RequestError {
  constructor(
    readonly problems: string[],
    readonly fields: string[],
  ) {
    super(400, problems.join('; '));
  }
}

function pathOf(path: readonly PropertyKey[], prefix?: string): string {
  const parts = prefix ? [prefix] : [];
  let out = parts.join('.');
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

export function zodIssuesToError(
  issues: readonly z.core.$ZodIssue[],
  prefix?: string,
): ValidationError {
  const problems: string[] = [];
  const fields: string[] = [];
  for (const issue of issues) {
    const where = pathOf(issue.path, prefix);
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const field = where ? `${where}.${k}` : k;
        fields.push(field);
        problems.push(`${field}: unknown field`);
      }
      continue;
    }
    let message = issue.message.replace(/^Invalid input: /, '');
    if (issue.code === 'invalid_type' && /received undefined$/.test(message))
      message = 'is required';
    const field = where || '(body)';
    fields.push(field);
    problems.push(`${field}: ${message}`);
  }
  return new ValidationError(problems, [...new Set(fields)]);
}

export function parseOr400<S extends z.ZodType>(
  schema: S,
  value: unknown,
  prefix?: string,
): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw zodIssuesToError(r.error.issues, prefix);
  return r.data;
}
