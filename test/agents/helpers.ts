/**
 * Shared pieces of the agents tests (not a test file itself): a real `serve` whose runners are
 * the real runner driving the real Claude Code CLI against an in-process scripted model, or the
 * contract fake runner for control-plane-only tests; and readers of histories.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PROJECT, waitFor, type Entry } from '../control-plane/helpers.js';
import {
  eventOf,
  isResult,
  isToolCall,
  isToolResult,
  startE2e,
  waitForEntry as waitForHistoryEntry,
  type E2e,
  type E2eOptions,
} from '../control-plane-e2e/helpers.js';

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

export const OTHER_PROJECT = 'other';
export const SESSIONS = `/projects/${PROJECT}/agentic-sessions`;

/** A real `serve` (see startE2e); `restartServe()` after `killServe()` brings it back. */
export type Setup = E2e;

/** As startE2e, except that the model has no scenarios unless given some. */
export function setup(opts: E2eOptions = {}): Promise<Setup> {
  return startE2e({ ...opts, scenarios: opts.scenarios ?? [] });
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
  return waitForHistoryEntry(() => s.serve, name, pred, what, timeoutMs);
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
  h.filter(isToolCall).map((e) => e.payload as unknown as ToolCall);

export const toolResults = (h: Entry[]): ToolResultEntry[] =>
  h.filter(isToolResult).map((e) => e.payload as unknown as ToolResultEntry);

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
  h.filter(isResult).map((e) => e.payload.payload as { result: string; is_error: boolean });

export const events = (h: Entry[], event: string): Entry[] => h.filter((e) => eventOf(e) === event);
