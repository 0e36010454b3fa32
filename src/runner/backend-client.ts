/**
 * The runner's REST calls to the backend (contract §4): status, annotations, the parent's
 * session, a git token. Every call carries the bot token, is bounded in time, and reports
 * failures without echoing secrets. Status updates are retried: the final status must land.
 */
import { SystemError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Redactor } from '../observability/redact.js';
import type { SessionResource } from '../protocol/api.js';
import { apiPath } from '../protocol/paths.js';
import { pickStatusFields, type StatusUpdate } from '../protocol/status.js';
import { httpRequest, type HttpAnswer } from './http-request.js';

export interface BackendClientOptions {
  apiUrl?: string;
  project: string;
  sessionName: string;
  botToken?: string;
  logger: Logger;
  redactor: Redactor;
  /** Per-request timeout. */
  timeoutMs?: number;
}

export class BackendClient {
  constructor(private readonly opts: BackendClientOptions) {}

  get enabled(): boolean {
    return !!this.opts.apiUrl;
  }

  private sessionUrl(name = this.opts.sessionName): string {
    return `${this.opts.apiUrl}${apiPath.session(this.opts.project, name)}`;
  }

  /** One authenticated JSON request; throws SystemError (of `phase`) only when no answer came. */
  private async send(
    phase: 'status' | 'session',
    method: string,
    url: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = contentType;
    if (this.opts.botToken) headers.authorization = `Bearer ${this.opts.botToken}`;
    try {
      return await httpRequest(method, url, {
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: this.opts.timeoutMs ?? 10_000,
      });
    } catch (e) {
      throw new SystemError(phase, `${method} ${url} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** A call of the runner's own: an error status is an error. */
  private async call(
    method: string,
    url: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<unknown> {
    const res = await this.send('status', method, url, body, contentType);
    const text = res.text;
    if (!res.ok) {
      const detail = this.opts.redactor.redact(text.slice(0, 300));
      throw new SystemError('status', `${method} ${url} answered ${res.status}: ${detail}`);
    }
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /**
   * Any call under the API base (`path` starts with `/projects/…`), for the sessions tools: the
   * answer's status and JSON body, whatever the status. Throws SystemError only when no answer
   * came (network, timeout).
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    if (!this.enabled)
      throw new SystemError('session', 'no BACKEND_API_URL: the control plane cannot be reached');
    const res = await this.send('session', method, `${this.opts.apiUrl}${path}`, body);
    let json: unknown;
    try {
      json = res.text ? JSON.parse(res.text) : undefined;
    } catch {
      json = { error: this.opts.redactor.redact(res.text.slice(0, 300)) };
    }
    return { status: res.status, json };
  }

  /** The body of a status PUT: only the contract's fields, redacted. */
  statusBody(update: StatusUpdate): Record<string, unknown> {
    return this.opts.redactor.redactDeep(pickStatusFields(update as Record<string, unknown>));
  }

  /** PUT …/status with only the contract's fields, redacted. */
  async putStatus(update: StatusUpdate): Promise<void> {
    if (!this.enabled) return;
    await this.call(
      'PUT',
      `${this.opts.apiUrl}${apiPath.status(this.opts.project, this.opts.sessionName)}`,
      this.statusBody(update),
    );
  }

  /**
   * PUT status with retries (capped exponential backoff) until `deadline` (epoch ms) or `signal`
   * aborts. Returns whether it landed; never throws, so it can run in `finally`.
   */
  putStatusReliably(
    update: StatusUpdate,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    return this.retry(
      `status ${update.phase ?? ''}`,
      () => this.putStatus(update),
      deadline,
      signal,
    );
  }

  /** The annotations, retried like the status: a continuation depends on them. */
  patchAnnotationsReliably(
    annotations: Record<string, string>,
    deadline: number,
  ): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    return this.retry('annotation', () => this.patchAnnotations(annotations), deadline);
  }

  private async retry(
    what: string,
    op: () => Promise<void>,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    let delay = 200;
    for (let attempt = 1; ; attempt++) {
      try {
        await op();
        return true;
      } catch (e) {
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted) {
          this.opts.logger.error(
            `${what} not delivered after ${attempt} attempts: ${(e as Error).message}`,
          );
          return false;
        }
        this.opts.logger.warn(
          `${what} update failed (attempt ${attempt}), retrying: ${(e as Error).message}`,
        );
        await sleep(Math.min(delay, left), signal);
        delay = Math.min(delay * 2, 3_000);
      }
    }
  }

  /** JSON merge patch of this session's annotations. */
  async patchAnnotations(annotations: Record<string, string>): Promise<void> {
    if (!this.enabled) return;
    await this.call(
      'PATCH',
      this.sessionUrl(),
      { metadata: { annotations } },
      'application/merge-patch+json',
    );
  }

  async getSession(name: string): Promise<SessionResource> {
    if (!this.enabled)
      throw new SystemError('session', 'no BACKEND_API_URL: cannot read another session');
    return (await this.call('GET', this.sessionUrl(name))) as SessionResource;
  }

  /** A short-lived git token minted by the backend for this session. */
  async mintGitToken(): Promise<string | undefined> {
    if (!this.enabled) return undefined;
    const url = `${this.opts.apiUrl}${apiPath.gitToken(this.opts.project, this.opts.sessionName)}`;
    const body = (await this.call('POST', url, {})) as { token?: unknown } | undefined;
    return typeof body?.token === 'string' && body.token ? body.token : undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
