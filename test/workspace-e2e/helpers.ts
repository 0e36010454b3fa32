/**
 * Shared pieces for the workspace end-to-end tests: the real runner process (test/runner/harness)
 * over real git remotes (bare repos on disk, `git http-backend` with basic auth) and the forge
 * stand-in. Helpers read what crossed the wire and search everything for tokens.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { RecordedFrame } from '../support/fake-backend.js';
import { filesContaining } from '../../src/testing/git-fixtures.js';
import type { Harness } from '../runner/harness.js';

export const GIT_TOKEN = 'ghp_E2eGitToken0123456789abcdefghijklmnop';
export const WRONG_TOKEN = 'ghp_E2eWrongToken0123456789abcdefghijklm';
export const GIT_USER = {
  GIT_USER_NAME: 'Session Bot',
  GIT_USER_EMAIL: 'session-bot@example.test',
};

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const isResult = (f: RecordedFrame): boolean =>
  (f.payload as { type?: string }).type === 'result.message';
export const textOf = (f: RecordedFrame): string | undefined =>
  (f.payload as { content?: { text?: string } }).content?.text;
export const toolOf = (f: RecordedFrame): string | undefined =>
  (f.payload as { tool?: string }).tool;

/** Tool results in frame order: `{content (as text), is_error}`. */
export function toolResults(h: Harness): { content: string; is_error: boolean }[] {
  return h.backend.uniqueFrames
    .filter((f) => 'tool_result' in f.payload)
    .map((f) => {
      const r = (f.payload as { tool_result: { content: unknown; is_error: boolean } }).tool_result;
      return {
        content: typeof r.content === 'string' ? r.content : JSON.stringify(r.content),
        is_error: r.is_error,
      };
    });
}

/** `system.message` frames: `{message, level, event, data}`. */
export function systemMessages(
  h: Harness,
): { message: string; level: string; event?: string; data?: Record<string, unknown> }[] {
  return h.backend.uniqueFrames
    .filter((f) => f.type === 'system.message')
    .map(
      (f) =>
        f.payload as {
          message: string;
          level: string;
          event?: string;
          data?: Record<string, unknown>;
        },
    );
}

/** Every `cli.init` frame's working directory, in order. */
export function initCwds(h: Harness): string[] {
  return systemMessages(h)
    .filter((m) => m.event === 'cli.init')
    .map((m) => String((m.data as { cwd?: string } | undefined)?.cwd));
}

/** The CLI session id of every result frame. */
export function resultSessionIds(h: Harness): string[] {
  return h.backend.uniqueFrames
    .filter(isResult)
    .map((f) => (f.payload as { payload: { session_id: string } }).payload.session_id);
}

export function finalStatus(h: Harness): Record<string, unknown> {
  const s = h.backend.statuses.at(-1);
  assert.ok(s, 'a status was reported');
  return s;
}

/** Scripted model calls (no auxiliary ones) since request index `from`. */
export function modelCalls(h: Harness, from = 0) {
  return h.model.requests.slice(from).filter((q) => q.kind === 'messages' && !q.auxiliary);
}

/** The ` - Primary working directory:` the CLI told the model (from its environment block). */
export function primaryCwdOf(body: unknown): string | undefined {
  return /^Primary working directory: ([^\n"\\]+?)(?: \(was [^)]*\))?(?:\\n|$)/.exec(
    environmentOf(body),
  )?.[1];
}

/**
 * The environment the CLI last told the model about (working directory, additional ones). The CLI
 * sends it as a message; after a resume in other directories it adds a newer one
 * ("Primary working directory: B (was A)"), so the last one counts.
 */
function environmentOf(body: unknown): string {
  const text = JSON.stringify(body);
  const at = text.lastIndexOf('Primary working directory: ');
  if (at < 0) return '';
  const end = text.indexOf(' - Platform:', at);
  return text.slice(at, end < 0 ? undefined : end);
}

/** The `system` field of a recorded model request, as one text. */
export function systemPromptOf(body: unknown): string {
  const sys = (body as { system?: unknown }).system;
  if (typeof sys === 'string') return sys;
  if (Array.isArray(sys)) return sys.map((b) => (b as { text?: string }).text ?? '').join('\n');
  return '';
}

/**
 * No token anywhere: frames (every raw frame, repeats included), statuses, REST call bodies, the
 * runner's stdout and stderr, what the model was sent, URLs the git server saw, and every file under
 * `dirs` (the workspace with each repo's `.git/config`, the CLI's state, HOME, temp files).
 */
export async function assertNoToken(
  h: Harness,
  runs: RunResult[],
  opts: { tokens?: string[]; dirs?: string[]; extra?: string[] } = {},
): Promise<void> {
  const tokens = opts.tokens ?? [GIT_TOKEN, WRONG_TOKEN];
  const places: [string, string][] = [
    ['frames', h.backend.rawFrames.join('\n')],
    ['statuses', JSON.stringify(h.backend.statuses)],
    ['REST calls', JSON.stringify(h.backend.calls.map((c) => ({ path: c.path, body: c.body })))],
    [
      'model requests',
      JSON.stringify(
        h.model.requests.map((q) => ({ path: q.path, body: q.body, headers: q.headers })),
      ),
    ],
    ...runs.map((r, i): [string, string] => [`runner ${i + 1} stdout+stderr`, r.stdout + r.stderr]),
    ...(opts.extra ?? []).map((e, i): [string, string] => [`extra ${i + 1}`, e]),
  ];
  const dirs = opts.dirs ?? [h.root];
  for (const token of tokens) {
    for (const [where, text] of places)
      assert.ok(!text.includes(token), `a token (${token.slice(0, 8)}…) is in the ${where}`);
    for (const dir of dirs)
      assert.deepEqual(
        await filesContaining(dir, token),
        [],
        `a file under ${dir} holds a token (${token.slice(0, 8)}…)`,
      );
  }
  // The checks above looked at something: the runs produced output and frames.
  assert.ok(h.backend.rawFrames.length > 0, 'frames were recorded and searched');
}

export function repoDir(h: Harness, name: string): string {
  return path.join(h.workspace, name);
}
