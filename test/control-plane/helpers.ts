/** Shared helpers of the control-plane tests (not a test file itself). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ServeHandle } from '../../src/testing/serve-process.js';
import { getSession, PROJECT, waitFor, type SessionJson } from '../../src/testing/session-api.js';

export {
  contractRunner as fakeRunner,
  createSession,
  getSession,
  PROJECT,
  readWorkspaceJson,
  TERMINAL,
  waitFor,
  type SessionJson,
} from '../../src/testing/session-api.js';

/** Our real runner, when it has been built. */
export function realRunnerBuilt(): boolean {
  try {
    readFileSync(fileURLToPath(new URL('../../src/runner/main.js', import.meta.url)));
    return true;
  } catch {
    return false;
  }
}

export function waitForPhase(
  serve: ServeHandle,
  name: string,
  phases: string[],
  timeoutMs = 30_000,
): Promise<SessionJson> {
  return waitFor(
    async () => {
      const s = await getSession(serve, name);
      return phases.includes(s.status.phase) ? s : undefined;
    },
    `${name} to reach ${phases.join('|')}`,
    timeoutMs,
    50,
  );
}

export interface Entry {
  seq: number;
  run: number;
  runSeq?: number;
  type: string;
  sessionId: string;
  payload: Record<string, unknown> & {
    message?: string;
    event?: string;
    data?: Record<string, unknown>;
  };
}

export async function history(serve: ServeHandle, name: string, afterSeq = 0): Promise<Entry[]> {
  const out: Entry[] = [];
  let after = afterSeq;
  for (;;) {
    const res = await serve.api(
      'GET',
      `/projects/${PROJECT}/sessions/${name}/messages?after_seq=${after}&limit=1000`,
    );
    if (res.status !== 200) throw new Error(`history answered ${res.status}: ${res.text}`);
    const page = res.json as { items: Entry[]; lastSeq: number; hasMore: boolean };
    out.push(...page.items);
    after = page.lastSeq;
    if (!page.hasMore) return out;
  }
}

export function phasesOf(entries: Entry[]): string[] {
  return entries
    .filter((e) => e.payload.event === 'phase.changed')
    .map((e) => String(e.payload.data?.phase));
}

export interface WatcherClient {
  ws: WebSocket;
  frames: Entry[];
  /** Non-history frames (pong, error, command.accepted). */
  notices: { type: string; payload: Record<string, unknown> }[];
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  send(cmd: unknown): void;
}

export function watch(
  serve: ServeHandle,
  name: string,
  opts: { afterSeq?: number; token?: string; queryToken?: boolean } = {},
): WatcherClient {
  const token = opts.token ?? serve.token;
  const q = new URLSearchParams();
  if (opts.afterSeq !== undefined) q.set('after_seq', String(opts.afterSeq));
  if (opts.queryToken) q.set('token', token);
  const url = `${serve.url.replace(/^http/, 'ws')}/api/projects/${PROJECT}/sessions/${name}/ws${q.size ? `?${q}` : ''}`;
  const ws = new WebSocket(
    url,
    opts.queryToken ? {} : { headers: { authorization: `Bearer ${token}` } },
  );
  const frames: Entry[] = [];
  const notices: WatcherClient['notices'] = [];
  ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as Entry;
    if (typeof f.seq === 'number') frames.push(f);
    else notices.push(f as unknown as WatcherClient['notices'][number]);
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`socket refused: HTTP ${res.statusCode}`)),
    );
    ws.once('error', reject);
  });
  opened.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return { ws, frames, notices, opened, closed, send: (cmd) => ws.send(JSON.stringify(cmd)) };
}

/** Asserts that seqs are 1…n with no gap and no repeat (or start after `after`). */
export function contiguous(frames: { seq: number }[], after = 0): boolean {
  return frames.every((f, i) => f.seq === after + i + 1);
}
