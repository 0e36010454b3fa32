/**
 * Argument parsing for `session …` (node:util parseArgs) and the checks that make a usage error
 * (exit 2) say what to type instead.
 */
import { parseArgs } from 'node:util';
import { ClientError } from './api.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}
export type OptionSpecs = Record<string, OptionSpec>;
export type Values = Record<string, string | boolean | string[] | undefined>;

/** Options every subcommand takes. */
export const GLOBAL_OPTIONS: OptionSpecs = {
  url: { type: 'string' },
  token: { type: 'string' },
  project: { type: 'string', short: 'p' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
};

export function usageError(message: string, command?: string): ClientError {
  return new ClientError(
    `${message} (see: claude-code-runner session ${command ? `${command} ` : ''}--help)`,
    2,
  );
}

export function parse(
  command: string,
  argv: string[],
  options: OptionSpecs,
  positionals: { names: string[]; optional?: number },
): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    }) as {
      values: Values;
      positionals: string[];
    };
  } catch (e) {
    const msg = (e as Error).message
      .replace(/\. To specify a positional argument.*$/s, '')
      .replace(/^Unknown option/, 'unknown option');
    throw usageError(msg, command);
  }
  if (parsed.values.help) return parsed;
  const required = positionals.names.length - (positionals.optional ?? 0);
  if (parsed.positionals.length < required)
    throw usageError(
      `missing ${positionals.names.slice(parsed.positionals.length, required).join(' and ')}`,
      command,
    );
  if (parsed.positionals.length > positionals.names.length)
    throw usageError(
      `unexpected argument "${parsed.positionals[positionals.names.length]}"${positionals.names.length === 0 ? '' : ` after ${positionals.names.join(' ')}`}: quote text that contains spaces`,
      command,
    );
  return parsed;
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

/** A whole number flag within bounds. */
export function intFlag(
  values: Values,
  name: string,
  command: string,
  min: number,
  max: number,
): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw usageError(`--${name}: "${raw}" is not a whole number in ${min}…${max}`, command);
  return Number(raw);
}

const SCHEME_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * `URL[@branch]` → `{url, branch?}`. The `@` that starts a branch is the last one, and only
 * when it comes after the host part (`git@host:org/repo`, `https://user@host/…` have an `@` of
 * their own).
 */
export function parseRepoArg(arg: string): { url: string; branch?: string } {
  const at = arg.lastIndexOf('@');
  if (at <= 0 || at === arg.length - 1) return { url: arg };
  let pathStart: number;
  if (SCHEME_URL.test(arg)) {
    const afterScheme = arg.indexOf('://') + 3;
    pathStart = arg.indexOf('/', afterScheme);
  } else {
    pathStart = arg.indexOf(':'); // scp-like: git@host:org/repo
  }
  if (pathStart < 0 || at < pathStart) return { url: arg };
  return { url: arg.slice(0, at), branch: arg.slice(at + 1) };
}

/** `KEY=VALUE` pairs of `--env`. */
export function parseEnvPairs(
  pairs: string[],
  command: string,
): Record<string, string> | undefined {
  if (!pairs.length) return undefined;
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw usageError(`--env: "${p}" is not KEY=VALUE`, command);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}
