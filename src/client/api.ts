/**
 * The REST side of the client: one method per endpoint of contract §4 that the CLI uses, and the
 * one place where transport and HTTP failures become one-line messages that name the fix.
 * Messages never contain the token.
 */
import type { SessionResource } from '../protocol/api.js';
import type { HistoryEntry, HistoryPage, SendResult } from '../protocol/history.js';
import { API_PREFIX, apiPath, socketUrl } from '../protocol/paths.js';
import { AFTER_SEQ_PARAM } from '../protocol/socket.js';
import { describeTokenSource, type ClientConfig } from '../config/client-config.js';

export type { HistoryEntry, HistoryPage, SendResult, SessionResource };

/** A failure the user sees as one line; `exitCode` 2 is a usage error, 1 anything else. */
export class ClientError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

export type CreateBody = Record<string, unknown> & { prompt: string };

const DEFAULT_TIMEOUT_MS = 30_000;
/** Stop and delete wait for the runner to end (SIGTERM, grace, SIGKILL). */
const SLOW_TIMEOUT_MS = 120_000;

/** `start it with …` hint for an unreachable control plane. */
export function unreachableMessage(url: string, detail: string): string {
  return `cannot reach the control plane at ${url} (${detail}): start it with "claude-code-runner serve", or point the client at it with --url or CLAUDE_RUNNER_URL`;
}

export function unauthorizedMessage(config: ClientConfig, detail?: string): string {
  if (!config.token)
    return `the control plane at ${config.url} needs a token (401): pass the one "serve" printed with --token or CLAUDE_RUNNER_API_TOKEN (serve keeps it in <data-dir>/token)`;
  return `the control plane at ${config.url} refused ${describeTokenSource(config)} (401${detail ? `: ${detail}` : ''}): pass the token "serve" printed with --token or CLAUDE_RUNNER_API_TOKEN (serve keeps it in <data-dir>/token)`;
}

function transportDetail(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'no answer in time';
  const code = err.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host';
  if (code === 'ECONNRESET') return 'connection reset';
  if (code === 'ETIMEDOUT') return 'connection timed out';
  return code ?? err.cause?.message ?? err.message ?? String(e);
}

export class ApiClient {
  constructor(readonly config: ClientConfig) {}

  get apiUrl(): string {
    return `${this.config.url}${API_PREFIX}`;
  }

  sessionsPath(): string {
    return apiPath.sessions(this.config.project);
  }

  sessionPath(name: string): string {
    return apiPath.session(this.config.project, name);
  }

  /** `ws://…/api/projects/{p}/sessions/{name}/ws` (the token goes in a header, never here). */
  socketUrl(name: string, afterSeq: number): string {
    const q = afterSeq > 0 ? `?${AFTER_SEQ_PARAM}=${afterSeq}` : '';
    return `${socketUrl(this.apiUrl, this.config.project, name)}${q}`;
  }

  authHeaders(): Record<string, string> {
    return this.config.token ? { authorization: `Bearer ${this.config.token}` } : {};
  }

  /** A request under /api; returns the parsed JSON (or text) of a 2xx answer, else throws ClientError. */
  async request<T>(
    method: string,
    apiPath: string,
    opts: { body?: unknown; text?: boolean; timeoutMs?: number; session?: string } = {},
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.apiUrl}${apiPath}`, {
        method,
        headers: {
          ...this.authHeaders(),
          accept: opts.text ? 'text/plain' : 'application/json',
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        signal: AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
    } catch (e) {
      throw new ClientError(unreachableMessage(this.config.url, transportDetail(e)));
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new ClientError(
        `the control plane at ${this.config.url} broke off its answer (${transportDetail(e)}): try again`,
      );
    }
    if (res.ok) {
      if (opts.text) return text as T;
      if (!text) return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ClientError(
          `the server at ${this.config.url} answered ${method} ${apiPath} with something that is not JSON: is it a claude-code-runner serve?`,
        );
      }
    }
    throw this.httpError(res.status, text, opts.session);
  }

  httpError(status: number, body: string, session?: string): ClientError {
    let detail = '';
    try {
      const j = JSON.parse(body) as { error?: unknown };
      if (typeof j.error === 'string') detail = j.error;
    } catch {
      detail = body.trim().slice(0, 200);
    }
    if (status === 401)
      return new ClientError(unauthorizedMessage(this.config, detail || undefined), 1, 401);
    if (status === 403)
      return new ClientError(
        `the control plane refused this (403${detail ? `: ${detail}` : ''}): use the user token that "serve" printed`,
        1,
        403,
      );
    if (status === 404 && session)
      return new ClientError(
        `session ${session} not found in project ${this.config.project}: list the sessions with "claude-code-runner session list${this.config.project === 'default' ? '' : ` --project ${this.config.project}`}"`,
        1,
        404,
      );
    if (status === 404 && !detail)
      return new ClientError(
        `the server at ${this.config.url} has no such endpoint (404): is it a claude-code-runner serve?`,
        1,
        404,
      );
    if (status === 400)
      return new ClientError(detail || 'the control plane refused the request (400)', 2, 400);
    return new ClientError(
      detail ? `${detail} (${status})` : `the control plane answered ${status}`,
      1,
      status,
    );
  }

  create(body: CreateBody): Promise<SessionResource> {
    return this.request('POST', this.sessionsPath(), { body });
  }

  async list(): Promise<SessionResource[]> {
    return (await this.request<{ items: SessionResource[] }>('GET', this.sessionsPath())).items;
  }

  get(name: string): Promise<SessionResource> {
    return this.request('GET', this.sessionPath(name), { session: name });
  }

  stop(name: string): Promise<SessionResource> {
    return this.request('POST', apiPath.stop(this.config.project, name), {
      session: name,
      timeoutMs: SLOW_TIMEOUT_MS,
    });
  }

  async delete(name: string): Promise<void> {
    await this.request('DELETE', this.sessionPath(name), {
      session: name,
      timeoutMs: SLOW_TIMEOUT_MS,
    });
  }

  logs(name: string, opts: { run?: number; tail?: number } = {}): Promise<string> {
    const q = new URLSearchParams();
    if (opts.run !== undefined) q.set('run', String(opts.run));
    if (opts.tail !== undefined) q.set('tail', String(opts.tail));
    const qs = q.toString();
    return this.request('GET', `${apiPath.logs(this.config.project, name)}${qs ? `?${qs}` : ''}`, {
      text: true,
      session: name,
    });
  }

  send(name: string, message: Record<string, unknown>): Promise<SendResult> {
    return this.request('POST', apiPath.messages(this.config.project, name), {
      body: message,
      session: name,
    });
  }

  history(name: string, afterSeq = 0, limit?: number): Promise<HistoryPage> {
    const q = new URLSearchParams({ [AFTER_SEQ_PARAM]: String(afterSeq) });
    if (limit !== undefined) q.set('limit', String(limit));
    return this.request('GET', `${apiPath.messages(this.config.project, name)}?${q}`, {
      session: name,
    });
  }
}
