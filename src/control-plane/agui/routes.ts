/**
 * The AG-UI endpoints (docs/agui.md), as routes of the one route table: auth, scoping and the
 * OpenAPI document come from there like for every other endpoint.
 *
 * - `POST …/sessions/{name}/agui` (RunAgentInput): the last message, the user's, becomes a turn
 *   through the delivery owner (`POST …/messages`' path); the answer is that turn as an SSE run.
 *   A retried POST (the same message id, already in the history) streams the same run again
 *   instead of asking twice.
 * - `POST /projects/{p}/agui`: the same for a new session (created interactive; `threadId`
 *   naming an existing session of the project continues it instead).
 * - `GET …/agui`: follows the session (a snapshot, then live; `Last-Event-ID` resumes exactly).
 * - `POST …/agui/interrupt`, `POST …/agui/end`: the runner's `interrupt` and `end_session`.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { RequestError } from '../../errors.js';
import { CreateSessionRequest, SendMessageResponse } from '../../protocol/api.js';
import { API_PREFIX } from '../../protocol/paths.js';
import type { Route, RouteContext } from '../api/router.js';
import type { HistoryLog } from '../hub/history-log.js';
import type { SessionService } from '../sessions.js';
import { parseOr400 } from '../validation.js';
import { AguiStream, parseEventId, type AguiStreamOptions, type StartPoint } from './stream.js';

/** What the AG-UI routes need: what a stream needs (the keep-alive interval is the stream's). */
export type AguiDeps = Omit<AguiStreamOptions, 'heartbeatMs'>;

const PROJECT = `${API_PREFIX}/projects/{project}`;
const AGUI = `${PROJECT}/sessions/{name}/agui`;

const InputMessage = z.looseObject({
  id: z.string().max(200).optional(),
  role: z.string(),
  content: z.unknown().optional(),
});

/** RunAgentInput (`@ag-ui/core`), as far as serve reads it; other fields are accepted and ignored. */
export const AguiRunInput = z
  .looseObject({
    threadId: z.string().max(200).optional(),
    runId: z.string().max(200).optional(),
    messages: z.array(InputMessage).min(1),
    state: z.unknown().optional(),
    tools: z.array(z.unknown()).optional(),
    context: z.array(z.unknown()).optional(),
    forwardedProps: z
      .looseObject({
        session: z.record(z.string(), z.unknown()).optional().meta({
          description:
            'Create-and-run only: fields of the new session (as in POST …/agentic-sessions)',
        }),
      })
      .optional(),
  })
  .meta({
    description: 'AG-UI RunAgentInput; the last message is the user message of the new turn',
  });
type AguiRunInput = z.infer<typeof AguiRunInput>;

export const AguiFollowQuery = z.strictObject({
  from: z.enum(['snapshot', 'start']).optional().meta({
    description:
      '`snapshot` (default): MESSAGES_SNAPSHOT and STATE_SNAPSHOT, then the open turn and live; `start`: every event from the first entry. A `Last-Event-ID` header (or `lastEventId`) resumes after that event instead.',
  }),
  lastEventId: z
    .string()
    .max(40)
    .optional()
    .meta({ description: 'For clients that cannot set the Last-Event-ID header' }),
});

const SSE = {
  description: 'An AG-UI event stream (text/event-stream); each event has an SSE `id`',
  contentType: 'text/event-stream',
};

export function aguiRoutes(service: SessionService, deps: AguiDeps): Route[] {
  const stream = (session: string, from: StartPoint) => (res: ServerResponse) =>
    void new AguiStream(res, session, from, deps).start();
  const run = (ctx: RouteContext<AguiRunInput>, name: string) => {
    const message = lastUserMessage(ctx.body);
    const known = message.id ? findUserMessage(deps.history, name, message.id) : undefined;
    const fromPos =
      known ??
      service.sendMessage(
        ctx.params.project,
        name,
        { content: message.text, ...(message.id ? { id: message.id } : {}) },
        ctx.principal,
      ).seq;
    if (fromPos === undefined) throw new Error('a user message was not recorded in the history');
    return { status: 200, stream: stream(name, { kind: 'run', fromPos }) };
  };
  return [
    {
      method: 'POST',
      path: AGUI,
      operationId: 'aguiRun',
      summary: 'AG-UI: run a turn of the session (the thread); answers with the run as SSE',
      description:
        "Body: RunAgentInput. The last message must be the user's; it is sent like `POST …/messages` and the answer streams that turn from RUN_STARTED to RUN_FINISHED or RUN_ERROR (docs/agui.md). A message whose id is already in the history is not sent again: its run is streamed.",
      access: 'project-message',
      body: AguiRunInput,
      bodyRequired: true,
      responses: {
        200: SSE,
        409: { description: 'The session has ended or is not interactive' },
      },
      handler: (ctx: RouteContext<AguiRunInput>) => {
        service.row(ctx.params.project, ctx.params.name);
        return run(ctx, ctx.params.name);
      },
    },
    {
      method: 'POST',
      path: `${PROJECT}/agui`,
      operationId: 'aguiCreateAndRun',
      summary: 'AG-UI: create an interactive session and run its first turn (SSE)',
      description:
        'Body: RunAgentInput. A `threadId` naming a session of the project continues that session; otherwise a new interactive session is created (fields from `forwardedProps.session`), whose name is the `threadId` of the events.',
      access: 'project-message',
      body: AguiRunInput,
      bodyRequired: true,
      responses: { 200: SSE },
      handler: (ctx: RouteContext<AguiRunInput>) => {
        lastUserMessage(ctx.body);
        const thread = ctx.body.threadId;
        let name: string | undefined;
        if (thread) {
          try {
            name = service.row(ctx.params.project, thread).name;
          } catch {
            name = undefined;
          }
        }
        if (!name) {
          const spec = parseOr400(CreateSessionRequest, {
            prompt: '',
            interactive: true,
            ...(ctx.body.forwardedProps?.session ?? {}),
          });
          name = service.create(ctx.params.project, spec, ctx.principal).metadata.name;
        }
        return run(ctx, name);
      },
    },
    {
      method: 'GET',
      path: AGUI,
      operationId: 'aguiFollow',
      summary: "AG-UI: follow the session's events (SSE), resumable with Last-Event-ID",
      access: 'project-read',
      query: AguiFollowQuery,
      responses: { 200: SSE },
      handler: (ctx: RouteContext<unknown, z.infer<typeof AguiFollowQuery>>) => {
        service.row(ctx.params.project, ctx.params.name);
        const header = ctx.req.headers['last-event-id'];
        const after = parseEventId(
          (Array.isArray(header) ? header[0] : header) ?? ctx.query.lastEventId,
        );
        const from: StartPoint = after
          ? { kind: 'after', ...after }
          : ctx.query.from === 'start'
            ? { kind: 'start' }
            : { kind: 'snapshot' };
        return { status: 200, stream: stream(ctx.params.name, from) };
      },
    },
    ...(
      [
        [
          'interrupt',
          'interrupt',
          'aguiInterrupt',
          "AG-UI: interrupt the turn (the runner's `interrupt`)",
        ],
        ['end', 'end_session', 'aguiEnd', 'AG-UI: end the interactive session (`end_session`)'],
      ] as const
    ).map(([suffix, type, operationId, summary]): Route => ({
      method: 'POST',
      path: `${AGUI}/${suffix}`,
      operationId,
      summary,
      access: 'project-message',
      responses: {
        202: { description: 'Queued for the runner, delivered once', schema: SendMessageResponse },
        409: { description: 'The session has ended' },
      },
      handler: (ctx) => ({
        status: 202,
        json: service.sendMessage(ctx.params.project, ctx.params.name, { type }, ctx.principal),
      }),
    })),
  ];
}

/** The new turn's request: the last message, which must be the user's, as text. */
function lastUserMessage(input: AguiRunInput): { id?: string; text: string } {
  const last = input.messages[input.messages.length - 1]!;
  if (last.role !== 'user')
    throw new RequestError(
      400,
      `messages: the last message must be the user's new message (role "user"), not "${last.role.slice(0, 20)}"`,
    );
  const c = last.content;
  const text =
    typeof c === 'string'
      ? c
      : Array.isArray(c)
        ? c
            .map((p) => (p && typeof p === 'object' && 'text' in p ? String(p.text) : ''))
            .filter(Boolean)
            .join('\n')
        : '';
  if (!text.trim())
    throw new RequestError(400, 'messages: the user message has no text (content, or text parts)');
  return { ...(last.id ? { id: last.id } : {}), text };
}

/** The history position of the user message with this id, if it was sent already. */
function findUserMessage(history: HistoryLog, session: string, id: string): number | undefined {
  const needle = JSON.stringify(id);
  for (let after = 0; ;) {
    const rows = history.read(session, after, 1000);
    if (!rows.length) return undefined;
    for (const row of rows) {
      if (!row.frame.includes(needle) || !row.frame.includes('"user_message"')) continue;
      const e = JSON.parse(row.frame) as { type?: string; payload?: { id?: unknown } };
      if (e.type === 'user_message' && e.payload?.id === id) return row.pos;
    }
    after = rows[rows.length - 1]!.pos;
  }
}
