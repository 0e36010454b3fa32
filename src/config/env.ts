/**
 * Small typed readers for environment variables. Each pushes a problem (naming the variable and
 * the fix) instead of throwing, so a configuration module can report every problem at once.
 * Empty strings count as unset: platforms often template variables to "".
 */
import { z } from 'zod';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The process basics and network settings (locale, temp dir, proxies, CA files) that child
 * processes get as they are: the runner passes them to the CLI, serve to the runners it starts.
 */
export const PROCESS_BASICS_ENV: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LANG',
  'LC_ALL',
  'TZ',
  'TMPDIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
];

export class EnvReader {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  constructor(private readonly env: Env) {}

  str(name: string): string | undefined {
    const v = this.env[name];
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  /** The raw value, untrimmed (a prompt may legitimately start with spaces or newlines). */
  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  }

  required(name: string, fix: string): string | undefined {
    const v = this.str(name);
    if (v === undefined) this.problems.push(`${name}: is required: ${fix}`);
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.str(name);
    if (v === undefined) return fallback;
    const parsed = z.stringbool().safeParse(v);
    if (!parsed.success) {
      this.problems.push(`${name}: "${v}" is not a boolean: use true or false`);
      return fallback;
    }
    return parsed.data;
  }

  number(
    name: string,
    opts: { min?: number; max?: number; integer?: boolean; fix?: string } = {},
  ): number | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    const range = `${opts.min ?? '-∞'}…${opts.max ?? '∞'}`;
    const fix = opts.fix ?? `use ${opts.integer ? 'a whole number' : 'a number'} in ${range}`;
    if (!/^-?\d+(\.\d+)?$/.test(v) || !Number.isFinite(n)) {
      this.problems.push(`${name}: "${v}" is not a number: ${fix}`);
      return undefined;
    }
    if (opts.integer && !Number.isInteger(n)) {
      this.problems.push(`${name}: "${v}" is not a whole number: ${fix}`);
      return undefined;
    }
    if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
      this.problems.push(`${name}: ${v} is out of range: ${fix}`);
      return undefined;
    }
    return n;
  }

  url(name: string, protocols: readonly string[]): string | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    return this.checkUrl(name, v, protocols);
  }

  checkUrl(name: string, v: string, protocols: readonly string[]): string | undefined {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      this.problems.push(
        `${name}: "${v}" is not a URL: use ${protocols.map((p) => `${p}//host…`).join(' or ')}`,
      );
      return undefined;
    }
    if (!protocols.includes(u.protocol)) {
      this.problems.push(`${name}: uses ${u.protocol} but must use ${protocols.join(' or ')}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const v = this.str(name);
    if (v === undefined) return fallback;
    if (!(values as readonly string[]).includes(v)) {
      this.problems.push(`${name}: "${v}" is not one of ${values.join(', ')}`);
      return fallback;
    }
    return v as T;
  }
}

/**
 * Untrusted display text (USER_NAME and the like): control characters removed, whitespace
 * folded, length bounded, so it is safe in logs, prompts, trace metadata and git identities.
 */
export function sanitizeText(v: string | undefined, max = 128): string | undefined {
  if (v === undefined) return undefined;
  const cleaned = v
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max);
  return cleaned || undefined;
}

/** Untrusted identifiers (USER_ID): only characters that are safe in ids, tags and headers. */
export function sanitizeId(v: string | undefined, max = 128): string | undefined {
  if (v === undefined) return undefined;
  const cleaned = v.replace(/[^A-Za-z0-9@._:+-]/g, '_').slice(0, max);
  return cleaned.replace(/_+/g, '_') || undefined;
}
