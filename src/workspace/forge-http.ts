/**
 * One JSON call to a forge's REST API (GitHub, GitLab) through `fetch`, bounded in time. The
 * token goes in the Authorization header only; what comes back is redacted before it can reach
 * a message.
 */
import type { Redactor } from '../observability/redact.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ForgeHttp {
  fetch: FetchLike;
  redactor: () => Redactor;
  timeoutMs: number;
}

export interface ForgeResponse {
  status: number;
  ok: boolean;
  json: unknown;
  /** Redacted, bounded: fit for a message. */
  detail: string;
}

/** Raised for a forge call that failed; the message is safe to show. */
export class ForgeError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ForgeError';
  }
}

export async function forgeCall(
  http: ForgeHttp,
  req: {
    forge: string;
    method: string;
    url: string;
    token?: string;
    headers?: Record<string, string>;
    body?: unknown;
  },
): Promise<ForgeResponse> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'claude-code-runner',
    ...req.headers,
  };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  if (req.token) headers.authorization = `Bearer ${req.token}`;
  let res: Response;
  try {
    res = await http.fetch(req.url, {
      method: req.method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: AbortSignal.timeout(http.timeoutMs),
      redirect: 'error',
    });
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new ForgeError(
      http.redactor().redact(`cannot reach the ${req.forge} API at ${origin(req.url)}: ${cause}`),
    );
  }
  const text = await res.text().catch(() => '');
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return {
    status: res.status,
    ok: res.ok,
    json,
    detail: http.redactor().redact(describeBody(json, text)),
  };
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the configured address';
  }
}

/** GitHub: `message` + `errors[].message`; GitLab: `message` (string, array or object) or `error`. */
function describeBody(json: unknown, text: string): string {
  if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    const parts: string[] = [];
    const msg = o.message ?? o.error;
    if (typeof msg === 'string') parts.push(msg);
    else if (Array.isArray(msg)) parts.push(msg.map(String).join('; '));
    else if (msg && typeof msg === 'object')
      parts.push(
        Object.entries(msg as Record<string, unknown>)
          .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : String(v)}`)
          .join('; '),
      );
    if (Array.isArray(o.errors))
      for (const e of o.errors) {
        if (e && typeof e === 'object') {
          const em = (e as Record<string, unknown>).message;
          if (typeof em === 'string') parts.push(em);
        } else if (typeof e === 'string') parts.push(e);
      }
    if (parts.length) return parts.join(': ').slice(0, 300);
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200) || '(empty answer)';
}

/** A hint for the statuses that mean "your token" rather than "our request". */
export function statusAdvice(status: number, tokenVar: string): string {
  if (status === 401) return ` (check ${tokenVar})`;
  if (status === 403 || status === 404)
    return ` (the token may lack access to the repository, or the repository does not exist: check ${tokenVar})`;
  return '';
}
