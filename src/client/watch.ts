/**
 * The socket side of the client: follows a session's history over
 * `/api/projects/{p}/sessions/{id}/ws?after_seq=N` (the token in the Authorization header, never
 * in the URL) and hands each entry to `onEntry` once, in `seq` order.
 *
 * If the socket drops (network, a restart of serve, or the hub closing a watcher that fell
 * behind, code 4008), it reconnects with `after_seq` = the last `seq` seen, with backoff, until
 * `maxOutageMs` has passed without a connection. Entries at or below the last seen `seq` are
 * dropped, so there is no repeat; the hub replays everything after `after_seq`, so there is no gap.
 */
import WebSocket from 'ws';
import { CLOSE_SESSION_DELETED, CLOSE_TOO_SLOW } from '../protocol/socket.js';
import { ClientError, unreachableMessage, type ApiClient, type HistoryEntry } from './api.js';

export interface WatchOptions {
  api: ApiClient;
  name: string;
  /** Entries after this `seq` (default 0: the whole history). */
  afterSeq?: number;
  onEntry(entry: HistoryEntry): void;
  /** Checked after each entry: true ends the watch. */
  isDone(): boolean;
  /** The socket dropped and a new one is being opened. */
  onReconnect?(info: { attempt: number; afterSeq: number; reason: string }): void;
  /** A new socket is open (also the first). */
  onOpen?(info: { afterSeq: number; reconnect: boolean }): void;
  signal?: AbortSignal;
  /** Give up after this long without a connection (default 120 s). */
  maxOutageMs?: number;
  /** Close a socket that has been silent this long (default 75 s; the hub pings every 30 s). */
  idleTimeoutMs?: number;
}

export interface WatchResult {
  reason: 'done' | 'deleted' | 'aborted';
  lastSeq: number;
  reconnects: number;
}

const BACKOFF_START_MS = 200;
const BACKOFF_MAX_MS = 5_000;

type Attempt =
  | { kind: 'done' | 'deleted' | 'aborted' }
  | { kind: 'dropped'; reason: string; opened: boolean; immediate: boolean }
  | { kind: 'fatal'; error: ClientError };

export async function watchSession(opts: WatchOptions): Promise<WatchResult> {
  let lastSeq = opts.afterSeq ?? 0;
  let reconnects = 0;
  let delay = BACKOFF_START_MS;
  let outageSince: number | undefined;
  const maxOutage = opts.maxOutageMs ?? 120_000;
  const url = opts.api.config.url;

  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) return { reason: 'aborted', lastSeq, reconnects };
    const r = await connectOnce(opts, lastSeq, attempt > 0, (seq) => (lastSeq = seq));
    if (r.kind === 'fatal') throw r.error;
    if (r.kind !== 'dropped') return { reason: r.kind, lastSeq, reconnects };
    if (r.opened) {
      outageSince = undefined;
      delay = BACKOFF_START_MS;
    }
    outageSince ??= Date.now();
    if (Date.now() - outageSince > maxOutage) {
      throw new ClientError(
        attempt === 0 && !r.opened
          ? unreachableMessage(url, r.reason)
          : `lost the connection to ${url} and could not reconnect for ${Math.round(maxOutage / 1000)} s (${r.reason}); the session goes on: watch it again with "claude-code-runner session watch ${opts.name} --after-seq ${lastSeq}"`,
      );
    }
    if (attempt === 0 && !r.opened && r.reason.startsWith('connection refused'))
      throw new ClientError(unreachableMessage(url, r.reason));
    reconnects++;
    opts.onReconnect?.({ attempt: reconnects, afterSeq: lastSeq, reason: r.reason });
    if (!r.immediate) {
      await sleep(delay, opts.signal);
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function connectOnce(
  opts: WatchOptions,
  afterSeq: number,
  reconnect: boolean,
  seen: (seq: number) => void,
): Promise<Attempt> {
  return new Promise<Attempt>((resolve) => {
    let last = afterSeq;
    let opened = false;
    let settled = false;
    let idleTimer: NodeJS.Timeout | undefined;
    const idleMs = opts.idleTimeoutMs ?? 75_000;
    const ws = new WebSocket(opts.api.socketUrl(opts.name, afterSeq), {
      headers: opts.api.authHeaders(),
      perMessageDeflate: false,
      handshakeTimeout: 15_000,
    });

    const finish = (a: Attempt) => {
      if (settled) return;
      settled = true;
      if (idleTimer) clearTimeout(idleTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(a);
    };
    const alive = () => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        ws.terminate();
        finish({
          kind: 'dropped',
          reason: `no data for ${Math.round(idleMs / 1000)} s`,
          opened,
          immediate: true,
        });
      }, idleMs);
      idleTimer.unref();
    };
    const onAbort = () => {
      ws.terminate();
      finish({ kind: 'aborted' });
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    ws.on('open', () => {
      opened = true;
      alive();
      opts.onOpen?.({ afterSeq, reconnect });
    });
    ws.on('ping', alive);
    ws.on('message', (data, isBinary) => {
      if (settled || isBinary) return;
      alive();
      let entry: HistoryEntry;
      try {
        entry = JSON.parse(String(data)) as HistoryEntry;
      } catch {
        return;
      }
      // Control answers (pong, command.accepted, error) carry no seq and are not history.
      if (typeof entry !== 'object' || entry === null || typeof entry.seq !== 'number') return;
      if (entry.seq <= last) return;
      last = entry.seq;
      seen(entry.seq);
      opts.onEntry(entry);
      if (opts.isDone()) {
        ws.close(1000, 'done');
        finish({ kind: 'done' });
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d.slice(0, 4096)));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        ws.terminate();
        if (status >= 500 || status === 0)
          finish({
            kind: 'dropped',
            reason: `the server answered ${status}`,
            opened,
            immediate: false,
          });
        else finish({ kind: 'fatal', error: opts.api.httpError(status, body, opts.name) });
      });
      res.on('error', () =>
        finish({
          kind: 'dropped',
          reason: 'the upgrade answer broke off',
          opened,
          immediate: false,
        }),
      );
    });
    ws.on('error', (err: Error & { code?: string }) => {
      const reason = err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message);
      finish({ kind: 'dropped', reason, opened, immediate: false });
    });
    ws.on('close', (code: number, reasonBuf: Buffer) => {
      const reason = reasonBuf.toString('utf8');
      if (code === CLOSE_SESSION_DELETED) return finish({ kind: 'deleted' });
      finish({
        kind: 'dropped',
        reason: `socket closed (${code}${reason ? `: ${reason}` : ''})`,
        opened,
        immediate: code === CLOSE_TOO_SLOW,
      });
    });
  });
}
