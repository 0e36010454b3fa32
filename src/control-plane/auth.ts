/**
 * Who may call what.
 *
 * - The user token (`--token`, `CLAUDE_RUNNER_API_TOKEN`, else `<data-dir>/token`, generated on
 *   first start with mode 0600 and printed once) may do everything.
 * - Each run gets its own runner token (`BOT_TOKEN`). It is valid only for its own session's
 *   socket, status, annotations and git-token endpoints (and reading that session, plus its
 *   parent's, for a continuation), and only until the run ends. Only its SHA-256 is stored, so a
 *   runner that outlives a restart of serve can still be recognised.
 * - Within its own project a runner token may also list sessions, create sessions, read any
 *   session and its history, and send it user messages (the `sessions` tools, docs/agents.md):
 *   `requireProjectAccess`. Never another project's, and never stop, start, delete or patch.
 *
 * Comparisons are constant-time: the user token through `timingSafeEqual` of two digests, runner
 * tokens by looking up the digest of the presented token (timing can only reveal bits of a
 * digest, never of the token). Tokens are never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { RequestError } from '../errors.js';

export type Principal = { kind: 'user' } | { kind: 'runner'; session: string; run: number };

export const USER_TOKEN_FILE = 'token';

export function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function newToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export interface LoadedUserToken {
  token: string;
  source: 'flag' | 'env' | 'file' | 'generated';
  file?: string;
}

/** The user token: as configured, else from the data dir, else generated and saved there. */
export function loadUserToken(
  dataDir: string,
  configured?: { token: string; source: 'flag' | 'env' },
): LoadedUserToken {
  if (configured) return { token: configured.token, source: configured.source };
  const file = path.join(dataDir, USER_TOKEN_FILE);
  let existing: string | undefined;
  try {
    existing = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (existing) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { token: existing, source: 'file', file };
  }
  const token = newToken('ccr_');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, source: 'generated', file };
}

export class Auth {
  private readonly userDigest: Buffer;
  /** digest -> the run it belongs to; only live runs are here. */
  private readonly runnerTokens = new Map<string, { session: string; run: number }>();

  constructor(userToken: string) {
    this.userDigest = Buffer.from(digest(userToken), 'hex');
  }

  /** A new runner token for a run; returns the token (for BOT_TOKEN) and its digest (for the store). */
  mintRunnerToken(session: string, run: number): { token: string; digest: string } {
    const token = newToken('ccrb_');
    const d = digest(token);
    this.runnerTokens.set(d, { session, run });
    return { token, digest: d };
  }

  /** Re-admits a stored runner token digest (after a restart of serve). */
  restoreRunnerToken(tokenDigest: string, session: string, run: number): void {
    this.runnerTokens.set(tokenDigest, { session, run });
  }

  revokeRunnerToken(tokenDigest: string | null | undefined): void {
    if (tokenDigest) this.runnerTokens.delete(tokenDigest);
  }

  /** Revokes every token of a session (delete). */
  revokeSession(session: string): void {
    for (const [d, owner] of this.runnerTokens)
      if (owner.session === session) this.runnerTokens.delete(d);
  }

  authenticate(token: string | undefined): Principal | undefined {
    if (!token) return undefined;
    const d = digest(token);
    if (timingSafeEqual(Buffer.from(d, 'hex'), this.userDigest)) return { kind: 'user' };
    const owner = this.runnerTokens.get(d);
    return owner ? { kind: 'runner', session: owner.session, run: owner.run } : undefined;
  }

  /**
   * Authenticates a request: the bearer header, else (sockets only) the token as a subprotocol
   * (`Sec-WebSocket-Protocol: ccr.v1, ccr.token.<token>`, what a browser can send without putting
   * it in the URL), else `?token=`. Throws 401.
   */
  require(req: IncomingMessage, url: URL, allowSocketToken: boolean): Principal {
    const token =
      bearer(req) ??
      (allowSocketToken
        ? (subprotocolToken(req) ?? url.searchParams.get('token') ?? undefined)
        : undefined);
    if (!token)
      throw new RequestError(401, 'missing credentials: send "Authorization: Bearer <token>"');
    const principal = this.authenticate(token);
    if (!principal) throw new RequestError(401, 'invalid or expired token');
    return principal;
  }
}

/** The subprotocol a browser offers first: the one the hub selects (never the token one). */
export const SOCKET_SUBPROTOCOL = 'ccr.v1';
export const TOKEN_SUBPROTOCOL_PREFIX = 'ccr.token.';

/** The token offered as the subprotocol `ccr.token.<token>`, if any. */
export function subprotocolToken(req: IncomingMessage): string | undefined {
  const h = req.headers['sec-websocket-protocol'];
  if (!h) return undefined;
  for (const p of (Array.isArray(h) ? h.join(',') : h).split(',')) {
    const v = p.trim();
    if (v.startsWith(TOKEN_SUBPROTOCOL_PREFIX) && v.length > TOKEN_SUBPROTOCOL_PREFIX.length)
      return v.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
  }
  return undefined;
}

export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/** What a runner token may do: its own session only (and read its parent, for a continuation). */
export function requireSessionAccess(
  principal: Principal,
  session: string,
  action: 'read' | 'socket' | 'status' | 'annotate' | 'git-token' | 'manage',
  /** The `parent_session_id` of the runner's own session, if any. */
  runnerParent?: string,
): void {
  if (principal.kind === 'user') return;
  const own = principal.session === session;
  const allowed =
    (own && action !== 'manage') ||
    (action === 'read' && runnerParent !== undefined && runnerParent === session);
  if (!allowed)
    throw new RequestError(
      403,
      own
        ? 'a runner token cannot do this: use the user token'
        : `this runner token belongs to session ${principal.session}, not ${session}`,
    );
}

/**
 * The project scope of runner tokens (docs/agents.md): a runner may reach the sessions of its
 * own project (list, create, read, history, messages), never another project's.
 */
export function requireProjectAccess(
  principal: Principal,
  project: string,
  /** The project of the runner's own session. */
  runnerProject: string | undefined,
): void {
  if (principal.kind === 'user') return;
  if (runnerProject !== undefined && runnerProject === project) return;
  throw new RequestError(
    403,
    `this runner token belongs to session ${principal.session} of project ${runnerProject ?? '(unknown)'}: it cannot reach project ${project}`,
  );
}
