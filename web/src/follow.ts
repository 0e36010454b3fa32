/**
 * Follows a session's history over the project's socket, as the terminal client does
 * (src/client/watch.ts): join with `after_seq` = the last `seq` seen, drop anything at or below
 * it (no repeat), and on any drop (network, a restart of serve, 4008 "too slow") reconnect with
 * backoff from the same point (no gap).
 *
 * A browser cannot set an Authorization header on a socket, and a token in the URL would reach
 * logs: the token goes as a subprotocol (`ccr.token.<token>`) beside `ccr.v1`, the one serve
 * selects (docs/web.md).
 */
export interface Entry {
  seq: number;
  type: string;
  timestamp?: string;
  payload?: unknown;
  partial?: unknown;
  run?: number;
  runSeq?: number;
}

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'deleted' | 'closed';

export interface FollowOptions {
  project: string;
  name: string;
  token: string;
  afterSeq: number;
  onEntries(entries: Entry[]): void;
  onConnection(state: Connection, detail?: string): void;
  /**
   * A socket closed without opening: a browser does not say why (a refused upgrade looks like a
   * network error), so the caller asks over REST (a 401 signs out, a 404 ends the follow).
   */
  onRefused?(): void;
}

const CLOSE_SESSION_DELETED = 4004;
const BACKOFF_START_MS = 200;
const BACKOFF_MAX_MS = 5_000;

export function follow(o: FollowOptions): () => void {
  let last = o.afterSeq;
  let ws: WebSocket | undefined;
  let stopped = false;
  let delay = BACKOFF_START_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let batch: Entry[] = [];
  let flushQueued = false;

  // Entries arrive in bursts (a history replay is thousands): hand them on once per frame.
  const flush = () => {
    flushQueued = false;
    const b = batch;
    batch = [];
    if (b.length) o.onEntries(b);
  };

  const connect = (reconnect: boolean) => {
    if (stopped) return;
    o.onConnection(reconnect ? 'reconnecting' : 'connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/api/projects/${encodeURIComponent(o.project)}/sessions/${encodeURIComponent(o.name)}/ws?after_seq=${last}`;
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, ['ccr.v1', `ccr.token.${o.token}`]);
    } catch {
      // A hand-picked token with characters a subprotocol may not carry (docs/web.md).
      o.onConnection(
        'closed',
        'this token cannot open a socket from a browser: use a generated token (letters, digits, "-", "_")',
      );
      return;
    }
    ws = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      delay = BACKOFF_START_MS;
      o.onConnection('live');
    };
    socket.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      let entry: Entry;
      try {
        entry = JSON.parse(ev.data) as Entry;
      } catch {
        return;
      }
      // Control answers (pong, command.accepted, error) carry no seq and are not history.
      if (typeof entry !== 'object' || entry === null || typeof entry.seq !== 'number') return;
      if (entry.seq <= last) return;
      last = entry.seq;
      batch.push(entry);
      if (!flushQueued) {
        flushQueued = true;
        requestAnimationFrame(flush);
        // A hidden tab gets no animation frames: do not let entries wait for one.
        setTimeout(flush, 250);
      }
    };
    socket.onclose = (ev: CloseEvent) => {
      if (ws !== socket) return;
      flush();
      if (stopped) return;
      if (ev.code === CLOSE_SESSION_DELETED) {
        o.onConnection('deleted');
        return;
      }
      if (!opened) o.onRefused?.();
      o.onConnection('reconnecting', ev.reason || `connection lost (${ev.code})`);
      timer = setTimeout(() => connect(true), delay);
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    };
  };

  connect(false);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    ws?.close(1000, 'page closed');
    o.onConnection('closed');
  };
}
