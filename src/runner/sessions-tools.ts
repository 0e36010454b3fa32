/**
 * The `sessions` tools (docs/agents.md): an in-process MCP server given to every agent, so a
 * session can see, create, message and wait for the other sessions of its project. Each tool is
 * a REST call to the control plane with the runner's own token; the control plane decides what
 * the token may reach (its own project only) and enforces the bounds on sessions creating
 * sessions. Whatever goes wrong is a tool error with a clear text (isError), never a crash.
 */
import { apiPath } from '../protocol/paths.js';
import { PHASES } from '../protocol/status.js';
import {
  createSdkMcpServer,
  tool,
  type McpSdkServerConfigWithInstance,
} from '@anthropic-ai/claude-agent-sdk';
import { z } from 'zod';
import { describeError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { BackendClient } from './backend-client.js';
import { isTerminal, lastMessages, resultOf, summarize } from './sessions-summary.js';

export const SESSIONS_SERVER = 'sessions';
export const SESSIONS_TOOL_NAMES = [
  'list_sessions',
  'get_session',
  'create_session',
  'send_message',
  'wait_for_session',
] as const;
/** What goes into allowedTools: `mcp__sessions__<tool>` for each. */
export const SESSIONS_ALLOWED_TOOLS = SESSIONS_TOOL_NAMES.map(
  (t) => `mcp__${SESSIONS_SERVER}__${t}`,
);

const WAIT_DEFAULT_SECONDS = 600;
const WAIT_MAX_SECONDS = 24 * 3600;
const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 2_000;

export interface SessionsToolsDeps {
  backend: BackendClient;
  project: string;
  /** This session's name (it is not a target of its own messages). */
  self: string;
  /** The model this session runs (children inherit it unless the tool call names one). */
  model?: string;
  /** Which agent (main or a sub-agent's name) made the tool call with this id. */
  agentOf: (toolUseId: string | undefined) => Promise<string>;
  /** Aborted when the session ends: a wait in progress returns at once. */
  signal: AbortSignal;
  logger: Logger;
}

type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean };

class ToolFailure extends Error {}

export function createSessionsServer(deps: SessionsToolsDeps): McpSdkServerConfigWithInstance {
  return createSdkMcpServer({
    name: SESSIONS_SERVER,
    version: '1.0.0',
    // Never deferred behind tool search: the agent sees these tools from the start.
    alwaysLoad: true,
    tools: sessionsToolDefinitions(deps),
  });
}

/** The tools themselves (their handlers are called directly in unit tests). */
export function sessionsToolDefinitions(deps: SessionsToolsDeps) {
  const sessionPath = (name: string) => apiPath.session(deps.project, name);

  /** One REST call; a non-2xx answer becomes a ToolFailure that says what the control plane said. */
  async function call(
    what: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const res = await deps.backend.request(method, path, body);
    if (res.status >= 200 && res.status < 300) return res.json;
    const said = (res.json as { error?: unknown } | undefined)?.error;
    let text = `${what}: ${typeof said === 'string' ? said : 'the control plane refused'} (HTTP ${res.status})`;
    if (res.status === 404 && /not found/.test(text))
      text += `; a session can reach only the sessions of its own project (${deps.project})`;
    throw new ToolFailure(text);
  }

  const run = (name: string, handler: () => Promise<unknown>): Promise<ToolResult> =>
    handler().then(
      (value) => ({ content: [{ type: 'text', text: JSON.stringify(value) }] }),
      (e: unknown) => {
        const text = e instanceof ToolFailure ? e.message : `${name} failed: ${describeError(e)}`;
        deps.logger.info(`sessions tool ${name}: ${text}`);
        return { content: [{ type: 'text', text }], isError: true };
      },
    );

  const tools = [
    tool(
      'list_sessions',
      `List the sessions of this project (${deps.project}), oldest first. Use cursor from nextCursor for the next page.`,
      {
        phase: z.enum(PHASES).optional(),
        limit: z
          .number()
          .int()
          .min(1)
          .max(100)
          .optional()
          .describe('Sessions per page (default 20).'),
        cursor: z.string().max(256).optional().describe('nextCursor of the previous page.'),
      },
      (args) =>
        run('list_sessions', async () => {
          const q = new URLSearchParams({ limit: String(args.limit ?? 20) });
          if (args.phase) q.set('phase', args.phase);
          if (args.cursor) q.set('continue', args.cursor);
          const page = (await call(
            'list_sessions failed',
            'GET',
            `${apiPath.sessions(deps.project)}?${q}`,
          )) as {
            items?: unknown[];
            metadata?: { continue?: string };
          };
          const next = page.metadata?.continue;
          return {
            sessions: (page.items ?? []).map((s) => {
              const sum = summarize(s);
              return sum.name === deps.self ? { ...sum, self: true } : sum;
            }),
            ...(next ? { nextCursor: next } : {}),
          };
        }),
    ),
    tool(
      'get_session',
      'One session of this project: its phase, the result of its last turn, and its last messages.',
      {
        name: z.string().min(1).max(63).describe('The session name (metadata.name).'),
        messages: z
          .number()
          .int()
          .min(0)
          .max(50)
          .optional()
          .describe('How many of the last messages (default 10).'),
      },
      (args) =>
        run('get_session', async () => {
          const resource = await call('get_session failed', 'GET', sessionPath(args.name));
          const history = (await call(
            'get_session failed',
            'GET',
            `${apiPath.messages(deps.project, args.name)}?tail=200`,
          )) as { items?: unknown[] };
          return {
            ...summarize(resource),
            result: resultOf(resource),
            lastMessages: lastMessages(history.items ?? [], args.messages ?? 10),
          };
        }),
    ),
    tool(
      'create_session',
      `Create a new session in this project (${deps.project}) that works on its own task in its own workspace; returns {name, phase}. Use wait_for_session to get its result, or interactive: true and send_message to talk to it.`,
      {
        prompt: z
          .string()
          .max(1_000_000)
          .describe('The task: the first message of the new session.'),
        displayName: z.string().max(256).optional(),
        repos: z
          .array(
            z.object({
              name: z.string().optional(),
              input: z.object({ url: z.string(), branch: z.string().optional() }),
              output: z.object({ url: z.string(), branch: z.string().optional() }).optional(),
            }),
          )
          .max(50)
          .optional()
          .describe(
            'Git repositories to clone into its workspace (the first is its working directory).',
          ),
        interactive: z
          .boolean()
          .optional()
          .describe('Keep it open for messages after its first turn.'),
        model: z
          .string()
          .min(1)
          .max(200)
          .optional()
          .describe('Its model (default: this session’s).'),
      },
      (args) =>
        run('create_session', async () => {
          const model = args.model ?? deps.model;
          const body = {
            prompt: args.prompt,
            ...(args.displayName !== undefined ? { displayName: args.displayName } : {}),
            ...(args.repos ? { repos: args.repos } : {}),
            ...(args.interactive !== undefined ? { interactive: args.interactive } : {}),
            ...(model ? { llmSettings: { model } } : {}),
          };
          const created = summarize(
            await call('create_session failed', 'POST', apiPath.sessions(deps.project), body),
          );
          return { name: created.name, phase: created.phase };
        }),
    ),
    tool(
      'send_message',
      'Send a message to an interactive session of this project; it runs as that session’s next turn (queued until it runs). The receiver sees this session as the sender.',
      {
        name: z.string().min(1).max(63).describe('The receiving session.'),
        content: z.string().min(1).max(1_000_000),
      },
      (args, extra) =>
        run('send_message', async () => {
          const agent = await deps.agentOf(toolUseIdOf(extra));
          const res = (await call(
            'send_message failed',
            'POST',
            apiPath.messages(deps.project, args.name),
            { type: 'user_message', content: args.content, from: { agent } },
          )) as { id?: number; delivered?: boolean };
          return {
            sent: true,
            to: args.name,
            id: res.id,
            ...(res.delivered
              ? { delivered: true }
              : { queued: true, note: 'it is delivered once that session runs' }),
          };
        }),
    ),
    tool(
      'wait_for_session',
      'Wait until a session of this project has ended (Completed, Failed, Stopped or Error), then return its phase and result; returns early with timedOut: true after timeoutSeconds.',
      {
        name: z.string().min(1).max(63),
        timeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(WAIT_MAX_SECONDS)
          .optional()
          .describe(`Default ${WAIT_DEFAULT_SECONDS}.`),
      },
      (args, extra) =>
        run('wait_for_session', () => {
          if (args.name === deps.self)
            throw new ToolFailure('wait_for_session failed: a session cannot wait for itself');
          return waitFor(
            args.name,
            (args.timeoutSeconds ?? WAIT_DEFAULT_SECONDS) * 1000,
            signalOf(extra),
          );
        }),
    ),
  ];

  async function waitFor(
    name: string,
    timeoutMs: number,
    callSignal: AbortSignal | undefined,
  ): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    let delay = POLL_FIRST_MS;
    let last: unknown;
    for (;;) {
      try {
        last = await call('wait_for_session failed', 'GET', sessionPath(name));
        const sum = summarize(last);
        if (isTerminal(sum.phase)) return { ...sum, timedOut: false, result: resultOf(last) };
      } catch (e) {
        // The control plane may be restarting: keep trying until the deadline. A refusal is final.
        if (e instanceof ToolFailure) throw e;
        deps.logger.debug(`wait_for_session: ${describeError(e)}; trying again`);
      }
      const left = deadline - Date.now();
      if (left <= 0 || deps.signal.aborted || callSignal?.aborted) {
        const sum = last ? summarize(last) : { name, phase: 'Unknown' };
        return {
          ...sum,
          timedOut: true,
          ...(sum.phase === 'Pending'
            ? { note: 'it is still waiting for a free runner slot' }
            : {}),
        };
      }
      await sleep(Math.min(delay, left), deps.signal, callSignal);
      delay = Math.min(Math.round(delay * 1.5), POLL_MAX_MS);
    }
  }

  return tools;
}

/** The CLI passes the tool call's id as `_meta["claudecode/toolUseId"]`. */
function toolUseIdOf(extra: unknown): string | undefined {
  const id = (extra as { _meta?: Record<string, unknown> } | undefined)?._meta?.[
    'claudecode/toolUseId'
  ];
  return typeof id === 'string' ? id : undefined;
}

function signalOf(extra: unknown): AbortSignal | undefined {
  const s = (extra as { signal?: unknown } | undefined)?.signal;
  return s instanceof AbortSignal ? s : undefined;
}

/** Sleeps `ms`, or less when a signal aborts; the timer is always cleared. */
function sleep(ms: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
  return new Promise((resolve) => {
    const live = signals.filter((s): s is AbortSignal => !!s);
    const done = () => {
      clearTimeout(timer);
      for (const s of live) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of live) s.addEventListener('abort', done, { once: true });
  });
}
