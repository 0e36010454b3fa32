/**
 * A small router: routes are data (method, path template, auth, body and query schemas,
 * documented responses, handler). The same table validates requests and generates the OpenAPI
 * document, so they cannot disagree.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { RequestError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { NAME_PATTERN } from '../../protocol/api.js';
import { requireProjectAccess, requireSessionAccess, type Auth, type Principal } from '../auth.js';
import { parseOr400 } from '../validation.js';
import { errorReply, HttpError, readJsonBody, send, type Reply } from './http.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
/**
 * `public`: no token; `user`: the user token only; `project*`: the user token, or a runner token
 * of a session in the same project (list/create, read, send messages: docs/agents.md);
 * otherwise a session action a runner token may do on its own session.
 */
export type Access =
  | 'public'
  | 'user'
  | 'project'
  | 'project-read'
  | 'project-message'
  | 'read'
  | 'status'
  | 'annotate'
  | 'git-token'
  | 'manage';

export interface RouteContext<B = unknown, Q = unknown> {
  req: IncomingMessage;
  url: URL;
  params: { project: string; name: string } & Record<string, string>;
  body: B;
  query: Q;
  principal: Principal | undefined;
}

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
  /** Response headers, as OpenAPI header objects. */
  headers?: Record<string, unknown>;
}

export interface Route {
  method: Method;
  /** OpenAPI style: `/api/projects/{project}/agentic-sessions/{name}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  access: Access;
  body?: z.ZodType;
  bodyRequired?: boolean;
  query?: z.ZodType;
  responses: Record<number, ResponseDoc>;
  handler: (ctx: RouteContext<any, any>) => Reply | Promise<Reply>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

interface Compiled {
  route: Route;
  segments: string[];
}

export interface RouterOptions {
  auth: Auth;
  logger: Logger;
  maxBodyBytes: number;
  /** The `parent_session_id` of a session (a runner token may read its parent). */
  parentOf: (session: string) => string | undefined;
  /** The project of a session (a runner token reaches its own project's sessions). */
  projectOf: (session: string) => string | undefined;
}

export class Router {
  private readonly compiled: Compiled[];

  constructor(
    readonly routes: readonly Route[],
    private readonly o: RouterOptions,
  ) {
    this.compiled = routes.map((route) => ({ route, segments: route.path.split('/').slice(1) }));
  }

  async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.handle(req);
    } catch (e) {
      reply = errorReply(e, this.o.logger, `${req.method} ${(req.url ?? '').split('?')[0]}`);
    }
    send(res, reply);
  }

  private async handle(req: IncomingMessage): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const raw = url.pathname.split('/').slice(1);
    let segments: string[];
    try {
      segments = raw.map((s) => decodeURIComponent(s));
    } catch {
      throw new RequestError(400, 'the path is not valid URL encoding');
    }
    if (segments.some((s) => s === '..' || s === '.' || s.includes('/') || s.includes('\\')))
      throw new RequestError(400, 'the path may not contain "..", "." or encoded slashes');
    const matches = this.compiled
      .map((c) => ({ c, params: match(c.segments, segments) }))
      .filter((m): m is { c: Compiled; params: Record<string, string> } => m.params !== undefined);
    if (!matches.length) throw new RequestError(404, `no endpoint at ${url.pathname}`);
    const found = matches.find((m) => m.c.route.method === req.method);
    if (!found) {
      const allow = [...new Set(matches.map((m) => m.c.route.method))].join(', ');
      throw new HttpError(405, `${req.method} is not allowed here: use ${allow}`, { allow });
    }
    const { route } = found.c;
    const params = found.params as RouteContext['params'];
    for (const key of ['project', 'name'] as const) {
      const v = params[key];
      if (v !== undefined && !NAME_PATTERN.test(v))
        throw new RequestError(
          400,
          `invalid ${key === 'name' ? 'session' : 'project'} name "${v.slice(0, 80)}": use lowercase letters, digits and "-"`,
        );
    }

    let principal: Principal | undefined;
    if (route.access !== 'public') {
      principal = this.o.auth.require(req, url, false);
      if (route.access === 'user') {
        if (principal.kind !== 'user')
          throw new RequestError(403, 'a runner token cannot do this: use the user token');
      } else if (
        route.access === 'project' ||
        route.access === 'project-read' ||
        route.access === 'project-message'
      ) {
        const runnerProject =
          principal.kind === 'runner' ? this.o.projectOf(principal.session) : undefined;
        requireProjectAccess(principal, params.project, runnerProject);
      } else {
        const runnerParent =
          principal.kind === 'runner' ? this.o.parentOf(principal.session) : undefined;
        requireSessionAccess(principal, params.name, route.access, runnerParent);
      }
    }

    const queryObject = Object.fromEntries(url.searchParams);
    const query = route.query ? parseOr400(route.query, queryObject) : undefined;
    let body: unknown;
    if (req.method !== 'GET' && req.method !== 'DELETE')
      body = await readJsonBody(req, this.o.maxBodyBytes);
    if (route.body) {
      if (body === undefined && !route.bodyRequired) body = {};
      if (body === undefined) throw new RequestError(400, 'a JSON body is required');
      body = parseOr400(route.body, body);
    }
    return route.handler({ req, url, params, body, query, principal });
  }
}

function match(template: string[], actual: string[]): Record<string, string> | undefined {
  if (template.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const t = template[i]!;
    const a = actual[i]!;
    if (t.startsWith('{') && t.endsWith('}')) {
      if (!a) return undefined;
      params[t.slice(1, -1)] = a;
    } else if (t !== a) return undefined;
  }
  return params;
}
