/**
 * Every endpoint of the API (contract §4 plus `/health`, `/api/openapi.json` and `…/logs`), as
 * data for the router and the OpenAPI generator.
 */
import { z } from 'zod';
import { RequestError } from '../../errors.js';
import {
  CreateSessionRequest,
  GithubTokenResponse,
  HealthResponse,
  HistoryQuery,
  HistoryResponse,
  ListQuery,
  LogsQuery,
  PatchSessionRequest,
  SendMessageRequest,
  SendMessageResponse,
  SessionList,
  SessionResource,
  StatusUpdateRequest,
  type PatchSessionRequest as PatchBody,
} from '../../protocol/api.js';
import { API_PREFIX, apiPath, ROUTES } from '../../protocol/paths.js';
import { aguiRoutes, type AguiDeps } from '../agui/routes.js';
import type { SessionService } from '../sessions.js';
import { HttpError } from './http.js';
import type { Route, RouteContext } from './router.js';

const SESSIONS = ROUTES.sessions;
const SESSION = ROUTES.session;
const MESSAGES = ROUTES.messages;
export const SOCKET = ROUTES.socket;

export function buildRoutes(
  service: SessionService,
  info: { version: string; openapi: () => unknown },
  agui?: AguiDeps,
): Route[] {
  return [
    ...(agui ? aguiRoutes(service, agui) : []),
    {
      method: 'GET',
      path: '/health',
      operationId: 'health',
      summary: 'Liveness; needs no token',
      access: 'public',
      responses: { 200: { description: 'The control plane is up', schema: HealthResponse } },
      handler: () => ({ status: 200, json: { status: 'ok', version: info.version } }),
    },
    {
      method: 'GET',
      path: '/api/openapi.json',
      operationId: 'openapi',
      summary: 'This API as an OpenAPI 3.1 document; needs no token',
      access: 'public',
      responses: { 200: { description: 'The OpenAPI document' } },
      handler: () => ({ status: 200, json: info.openapi() }),
    },
    {
      method: 'GET',
      path: SESSIONS,
      operationId: 'listSessions',
      summary: 'List the sessions of a project, oldest first (a runner token: its own project)',
      access: 'project',
      query: ListQuery,
      responses: { 200: { description: 'The sessions', schema: SessionList } },
      handler: (ctx: RouteContext<unknown, z.infer<typeof ListQuery>>) => {
        const page = service.page(ctx.params.project, {
          ...(ctx.query.phase ? { phase: ctx.query.phase } : {}),
          ...(ctx.query.labelSelector ? { labels: parseSelector(ctx.query.labelSelector) } : {}),
          ...(ctx.query.limit !== undefined ? { limit: ctx.query.limit } : {}),
          ...(ctx.query.continue ? { after: ctx.query.continue } : {}),
        });
        const paged = ctx.query.limit !== undefined || ctx.query.continue !== undefined;
        return {
          status: 200,
          json: {
            items: page.items,
            ...(paged ? { metadata: page.continue ? { continue: page.continue } : {} } : {}),
          },
        };
      },
    },
    {
      method: 'POST',
      path: SESSIONS,
      operationId: 'createSession',
      summary: 'Create a session; its first run is queued at once (phase Pending)',
      description:
        'A runner token may create sessions in its own project: the child is annotated `ambient-code.io/parent-session`, takes over the user context, and counts against the bounds on children per session and on depth (403 naming the bound).',
      access: 'project',
      body: CreateSessionRequest,
      bodyRequired: true,
      responses: {
        201: {
          description: 'Created; `metadata.name` is generated (`session-<time-sortable id>`)',
          schema: SessionResource,
        },
        409: { description: 'The parent session is still running' },
      },
      handler: (ctx: RouteContext<z.infer<typeof CreateSessionRequest>>) => {
        const session = service.create(ctx.params.project, ctx.body, ctx.principal);
        return {
          status: 201,
          json: session,
          headers: {
            location: `${API_PREFIX}${apiPath.session(ctx.params.project, session.metadata.name)}`,
          },
        };
      },
    },
    {
      method: 'GET',
      path: SESSION,
      operationId: 'getSession',
      summary: 'One session (a runner token: any session of its own project)',
      access: 'project-read',
      responses: { 200: { description: 'The session', schema: SessionResource } },
      handler: (ctx) => ({ status: 200, json: service.get(ctx.params.project, ctx.params.name) }),
    },
    {
      method: 'PATCH',
      path: SESSION,
      operationId: 'patchSession',
      summary: 'JSON merge patch of labels, annotations and (while not running) the spec',
      description: 'A runner token may patch `metadata.annotations` only.',
      access: 'annotate',
      body: PatchSessionRequest,
      bodyRequired: true,
      responses: {
        200: { description: 'The patched session', schema: SessionResource },
        409: { description: 'The spec cannot change while the session runs' },
      },
      handler: (ctx: RouteContext<PatchBody>) => {
        if (
          ctx.principal?.kind === 'runner' &&
          (ctx.body.spec !== undefined || ctx.body.metadata?.labels !== undefined)
        )
          throw new RequestError(403, 'a runner token may patch metadata.annotations only');
        return { status: 200, json: service.patch(ctx.params.project, ctx.params.name, ctx.body) };
      },
    },
    {
      method: 'DELETE',
      path: SESSION,
      operationId: 'deleteSession',
      summary: 'Stop the runner if any, then remove the session, its history, logs and workspace',
      access: 'manage',
      responses: { 204: { description: 'Deleted' } },
      handler: async (ctx) => {
        await service.delete(ctx.params.project, ctx.params.name);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: `${SESSION}/start`,
      operationId: 'startSession',
      summary:
        'Start a new run of a session that is not running (phase Pending until a slot is free)',
      access: 'manage',
      responses: {
        202: { description: 'The new run is queued', schema: SessionResource },
        409: { description: 'The session is already queued or running' },
      },
      handler: (ctx) => ({ status: 202, json: service.start(ctx.params.project, ctx.params.name) }),
    },
    {
      method: 'POST',
      path: `${SESSION}/stop`,
      operationId: 'stopSession',
      summary:
        'Stop the current run: SIGTERM, then SIGKILL after the grace period; answers once it has stopped',
      access: 'manage',
      responses: {
        200: { description: 'Stopped', schema: SessionResource },
        409: { description: 'The session is not running' },
      },
      handler: async (ctx) => ({
        status: 200,
        json: await service.stop(ctx.params.project, ctx.params.name),
      }),
    },
    {
      method: 'PUT',
      path: `${SESSION}/status`,
      operationId: 'putStatus',
      summary:
        "The runner reports its run's status; only the contract's fields are kept, others are dropped",
      access: 'status',
      body: StatusUpdateRequest,
      bodyRequired: true,
      responses: {
        200: { description: 'The session with its new status', schema: SessionResource },
      },
      handler: (ctx: RouteContext<z.infer<typeof StatusUpdateRequest>>) => ({
        status: 200,
        json: service.putStatus(ctx.params.project, ctx.params.name, ctx.body),
      }),
    },
    {
      method: 'POST',
      path: `${SESSION}/github/token`,
      operationId: 'mintGithubToken',
      summary: "A git token for the runner: serve's own GITHUB_TOKEN; 404 when serve has none",
      access: 'git-token',
      responses: {
        200: { description: 'The token', schema: GithubTokenResponse },
        404: { description: 'No GitHub token is configured (or no such session)' },
      },
      handler: (ctx) => ({
        status: 200,
        json: service.githubToken(ctx.params.project, ctx.params.name),
      }),
    },
    {
      method: 'GET',
      path: `${SESSION}/logs`,
      operationId: 'getLogs',
      summary: "Extension: a run's runner output (stdout and stderr), redacted and bounded",
      access: 'manage',
      query: LogsQuery,
      responses: { 200: { description: 'The output as text', contentType: 'text/plain' } },
      handler: (ctx: RouteContext<unknown, z.infer<typeof LogsQuery>>) => ({
        status: 200,
        text: service.logs(ctx.params.project, ctx.params.name, ctx.query.run, ctx.query.tail),
      }),
    },
    {
      method: 'GET',
      path: MESSAGES,
      operationId: 'getHistory',
      summary:
        'The history: runner frames, user messages and phase changes, by position (`seq`); a runner token: its own project',
      access: 'project-read',
      query: HistoryQuery,
      responses: {
        200: { description: 'One page of history after `after_seq`', schema: HistoryResponse },
      },
      handler: (ctx: RouteContext<unknown, z.infer<typeof HistoryQuery>>) => ({
        status: 200,
        json: service.history(
          ctx.params.project,
          ctx.params.name,
          ctx.query.after_seq,
          ctx.query.limit,
          ctx.query.tail,
        ),
      }),
    },
    {
      method: 'POST',
      path: MESSAGES,
      operationId: 'sendMessage',
      summary:
        'Send a command to the runner (default type `user_message`); queued until it connects, delivered once',
      description:
        'A runner token may send user messages to the interactive sessions of its own project; the sender (`from: {session, agent}`) is its session, and both histories record the message.',
      access: 'project-message',
      body: SendMessageRequest,
      bodyRequired: true,
      responses: {
        202: { description: 'Accepted', schema: SendMessageResponse },
        409: {
          description:
            'The session has ended (start it again first), or is not interactive (from a runner token)',
        },
      },
      handler: (ctx: RouteContext<Record<string, unknown>>) => ({
        status: 202,
        json: service.sendMessage(ctx.params.project, ctx.params.name, ctx.body, ctx.principal),
      }),
    },
    {
      method: 'GET',
      path: SOCKET,
      operationId: 'socket',
      summary: 'The WebSocket of a session (runner and watchers); see docs/control-plane.md',
      description:
        'Upgrade with the runner token (the runner) or the user token (a watcher; also `?token=`). Watchers may pass `?after_seq=N`.',
      access: 'read',
      responses: {
        101: { description: 'Switching protocols' },
        426: {
          description: 'Not a WebSocket request: connect with an Upgrade request',
          headers: {
            Upgrade: { description: 'The protocol to upgrade to', schema: { const: 'websocket' } },
          },
        },
      },
      handler: () => {
        throw new HttpError(426, 'this endpoint is a WebSocket: connect with an Upgrade request', {
          upgrade: 'websocket',
        });
      },
    },
  ];
}

function parseSelector(selector: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of selector.split(',')) {
    const [k, v] = part.split('=');
    if (!k || v === undefined)
      throw new RequestError(400, `labelSelector: "${part}" is not key=value`);
    out[k.trim()] = v.trim();
  }
  return out;
}
