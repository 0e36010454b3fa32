/** Shared helpers of the control-plane tests (not a test file itself). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ServeHandle } from '../../src/testing/serve-process.js';

export const PROJECT = 'demo';

/** argv of the contract-speaking fake runner (see fixtures/fake-runner.ts). */
export function fakeRunner(): string[] {
  return [process.execPath, fileURLToPath(new URL('./fixtures/fake-runner.js', import.meta.url))];
}

/** Our real runner, when it has been built. */
export function realRunnerBuilt(): boolean {
  try {
    readFileSync(fileURLToPath(new URL('../../src/runner/main.js', import.meta.url)));
    return true;
  } catch {
    return false;
  }
}

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface SessionJson {
  metadata: {
    name: string;
    namespace: string;
    annotations: Record<string, string>;
    labels: Record<string, string>;
  };
  spec: Record<string, unknown> & { environmentVariables?: Record<string, string> };
  status: {
    phase: string;
    message?: string;
    exitCode?: number | null;
    run: number;
    result?: string | null;
  } & Record<string, unknown>;
}

export async function createSession(
  serve: ServeHandle,
  body: Record<string, unknown>,
): Promise<SessionJson> {
  const res = await serve.api('POST', `/projects/${PROJECT}/agentic-sessions`, body);
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${res.text}`);
  return res.json as SessionJson;
}

export async function getSession(serve: ServeHandle, name: string): Promise<SessionJson> {
  const res = await serve.api('GET', `/projects/${PROJECT}/agentic-sessions/${name}`);
  if (res.status !== 200) throw new Error(`get answered ${res.status}: ${res.text}`);
  return res.json as SessionJson;
}

export const TERMINAL = ['Completed', 'Failed', 'Stopped', 'Error'];

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

export function readWorkspaceJson(serve: ServeHandle, name: string, file: string): unknown {
  return JSON.parse(readFileSync(path.join(serve.dataDir, 'workspaces', name, file), 'utf8'));
}

/** Asserts that seqs are 1…n with no gap and no repeat (or start after `after`). */
export function contiguous(frames: { seq: number }[], after = 0): boolean {
  return frames.every((f, i) => f.seq === after + i + 1);
}
