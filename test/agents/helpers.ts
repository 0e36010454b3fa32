/**
 * Shared pieces of the agents tests (not a test file itself): a real `serve` whose runners are
 * the real runner driving the real Claude Code CLI against an in-process scripted model, or the
 * contract fake runner for control-plane-only tests; and readers of histories.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runnerProcesses, startServe, type ServeHandle } from '../../src/control-plane/testing.js';
import {
  startScriptedModelServer,
  type Scenario,
  type ScriptedModelServer,
} from '../../src/testing/scripted-model/index.js';
import { fakeRunner, history, PROJECT, waitFor, type Entry } from '../control-plane/helpers.js';

export {
  createSession,
  getSession,
  history,
  PROJECT,
  waitFor,
  waitForPhase,
  type Entry,
  type SessionJson,
} from '../control-plane/helpers.js';

export const API_KEY = 'sk-ant-api03-agents-e2e-dummy-key-0123456789abcdef';
export const OTHER_PROJECT = 'other';
export const SESSIONS = `/projects/${PROJECT}/agentic-sessions`;

export interface Setup {
  model: ScriptedModelServer;
  readonly serve: ServeHandle;
  dataDir: string;
  root: string;
  /** SIGKILL of serve alone (runners go on), then a new serve on the same port and data dir. */
  restartServe(): Promise<ServeHandle>;
  /** Stops serve (and its runners), proves none is left, removes the temp dirs. */
  close(): Promise<void>;
}

export interface SetupOptions {
  scenarios?: Scenario[];
  maxConcurrent?: number;
  /** Serve's environment on top of the model settings (e.g. the bounds). */
  env?: Record<string, string>;
  /** The contract fake runner instead of the real one (no CLI, no model). */
  fake?: boolean;
}

export async function setup(opts: SetupOptions = {}): Promise<Setup> {
  const model = await startScriptedModelServer({ scenarios: opts.scenarios ?? [], quiet: true });
  const root = mkdtempSync(path.join(tmpdir(), 'ccr-agents-'));
  const dataDir = path.join(root, 'data');
  for (const d of ['home', 'tmp']) mkdirSync(path.join(root, d));
  const env = {
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: API_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '1',
    // Runners inherit these: their own HOME and scratch dir, quick reconnects.
    HOME: path.join(root, 'home'),
    CLAUDE_CODE_TMPDIR: path.join(root, 'tmp'),
    RUNNER_RECONNECT_MAX_DELAY_MS: '300',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const launch = (port?: number, token?: string) =>
    startServe({
      dataDir,
      env,
      graceMs: 3000,
      ...(opts.fake ? { runnerCommand: fakeRunner() } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(opts.maxConcurrent !== undefined ? { maxConcurrent: opts.maxConcurrent } : {}),
    });
  let serve: ServeHandle;
  try {
    serve = await launch();
  } catch (e) {
    await model.close();
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return {
    model,
    get serve() {
      return serve;
    },
    dataDir,
    root,
    restartServe: async () => {
      await serve.kill();
      serve = await launch(serve.port, serve.token);
      return serve;
    },
    close: async () => {
      try {
        await serve.stop();
        await waitFor(() => runnerProcesses(dataDir).length === 0, 'runners to go', 10_000).catch(
          () => undefined,
        );
        assert.deepEqual(runnerProcesses(dataDir), [], 'no process left behind');
      } finally {
        for (const pid of runnerProcesses(dataDir)) kill(pid); // only after a failure: ours, by pid
        await model.close();
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** The BOT_TOKEN of a session run by the fake runner in `idle` mode (it writes its env). */
export function botTokenOf(s: Setup, name: string): Promise<string> {
  return waitFor(() => {
    try {
      const env = JSON.parse(
        readFileSync(path.join(s.dataDir, 'workspaces', name, 'env.json'), 'utf8'),
      ) as Record<string, string>;
      return env.BOT_TOKEN;
    } catch {
      return undefined;
    }
  }, `the runner of ${name} to start`);
}

/** Waits until the session's history holds an entry for which `pred` holds; returns the history. */
export function waitForEntry(
  s: Setup,
  name: string,
  pred: (e: Entry) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<Entry[]> {
  return waitFor(
    async () => {
      const h = await history(s.serve, name);
      return h.some(pred) ? h : undefined;
    },
    what,
    timeoutMs,
    100,
  );
}

/** The states of the messages queued for a session, read from the store (oldest first). */
export function messageStates(s: Setup, session: string): string[] {
  const db = new Database(path.join(s.dataDir, 'store.db'), {
    readonly: true,
    fileMustExist: true,
  });
  try {
    return db
      .prepare<[string], { state: string }>(
        'SELECT state FROM messages WHERE session = ? ORDER BY id',
      )
      .all(session)
      .map((r) => r.state);
  } finally {
    db.close();
  }
}

// --- reading a history ------------------------------------------------------------------------

export interface ToolCall {
  tool: string;
  input: Record<string, unknown>;
  id: string;
  parent_tool_use_id?: string;
  agent?: string;
}

export interface ToolResultEntry {
  tool_result: { tool_use_id: string; content: unknown; is_error: boolean };
  parent_tool_use_id?: string;
  agent?: string;
}

export const toolCalls = (h: Entry[]): ToolCall[] =>
  h
    .filter((e) => e.type === 'agent.message' && typeof e.payload.tool === 'string')
    .map((e) => e.payload as unknown as ToolCall);

export const toolResults = (h: Entry[]): ToolResultEntry[] =>
  h
    .filter((e) => e.type === 'agent.message' && 'tool_result' in e.payload)
    .map((e) => e.payload as unknown as ToolResultEntry);

/** A tool result's content as one text. */
export function resultText(r: ToolResultEntry): string {
  const c = r.tool_result.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((b) => (b as { text?: string }).text ?? '').join('\n');
  return JSON.stringify(c);
}

/** The result of the tool call `id`. */
export function resultFor(h: Entry[], id: string): ToolResultEntry {
  const r = toolResults(h).find((x) => x.tool_result.tool_use_id === id);
  assert.ok(r, `a result for tool call ${id}`);
  return r;
}

export const results = (h: Entry[]): { result: string; is_error: boolean }[] =>
  h
    .filter((e) => e.type === 'agent.message' && e.payload.type === 'result.message')
    .map((e) => e.payload.payload as { result: string; is_error: boolean });

export const events = (h: Entry[], event: string): Entry[] =>
  h.filter((e) => e.type === 'system.message' && e.payload.event === event);
