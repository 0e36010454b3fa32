/**
 * A stand-in for the platform backend, at the wire level: a real HTTP server and a real
 * WebSocket endpoint on loopback. It records every frame, status and annotation the runner
 * sends, acks frames like the real hub (unless told not to), and lets a test push commands,
 * drop the connection, or make status calls fail. Used by the runner's end-to-end tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface RecordedFrame {
  seq: number;
  type: string;
  timestamp: string;
  payload: Record<string, unknown>;
  partial?: { id: string; index: number; total: number; data: string };
}

export interface RecordedCall {
  method: string;
  path: string;
  authorization?: string;
  body: unknown;
}

export interface FakeBackendOptions {
  /** Token the runner must present; requests without it get 401. */
  botToken?: string;
  /** Ack frames (our hub's behaviour). Default true. */
  ack?: boolean;
  /** Sessions returned by GET …/agentic-sessions/{name}. */
  sessions?: Record<string, unknown>;
}

export class FakeBackend {
  readonly frames: RecordedFrame[] = [];
  /** Every frame as received, repeats included. */
  readonly rawFrames: string[] = [];
  readonly calls: RecordedCall[] = [];
  readonly statuses: Record<string, unknown>[] = [];
  readonly connections: { authorization?: string }[] = [];
  private readonly seen = new Set<number>();
  private readonly waiters = new Set<() => void>();
  private socket: WebSocket | null = null;
  private failStatus = 0;
  private failPatch = 0;
  private refuseSockets = false;
  url = '';
  apiUrl = '';
  wsUrl = '';

  private constructor(
    private readonly server: http.Server,
    private readonly wss: WebSocketServer,
    private readonly opts: FakeBackendOptions,
  ) {}

  static async start(opts: FakeBackendOptions = {}): Promise<FakeBackend> {
    const server = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    const fb = new FakeBackend(server, wss, opts);
    server.on('request', (req, res) => fb.onRequest(req, res));
    server.on('upgrade', (req, sock, head) => {
      if (
        fb.refuseSockets ||
        (opts.botToken && req.headers.authorization !== `Bearer ${opts.botToken}`)
      ) {
        sock.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, sock, head, (ws) => fb.onSocket(ws, req.headers.authorization));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    fb.url = `http://127.0.0.1:${port}`;
    fb.apiUrl = `${fb.url}/api`;
    fb.wsUrl = `ws://127.0.0.1:${port}/api/projects/test/sessions/s1/ws`;
    return fb;
  }

  /** Frames in seq order, each seq once. */
  get uniqueFrames(): RecordedFrame[] {
    return [...this.frames].sort((a, b) => a.seq - b.seq);
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  /** Forgets everything recorded, for the next run (a new run's seq starts at 1 again). */
  reset(): void {
    this.frames.length = 0;
    this.rawFrames.length = 0;
    this.calls.length = 0;
    this.statuses.length = 0;
    this.connections.length = 0;
    this.seen.clear();
  }

  /** Serves this session resource on GET …/agentic-sessions/{name}. */
  setSession(name: string, resource: unknown): void {
    this.opts.sessions = { ...this.opts.sessions, [name]: resource };
  }

  /** Sends a backend -> runner message. */
  command(type: string, payload: Record<string, unknown> = {}): void {
    if (!this.socket) throw new Error('runner not connected');
    this.socket.send(JSON.stringify({ type, payload }));
  }

  sendRaw(text: string): void {
    this.socket?.send(text);
  }

  /** Cuts the runner's connection abruptly (no close frame). */
  drop(): void {
    this.socket?.terminate();
    this.socket = null;
  }

  /** Refuse new socket connections (401) until called with false. */
  refuse(on: boolean): void {
    this.refuseSockets = on;
  }

  /** The next `n` status calls answer 503. */
  failNextStatuses(n: number): void {
    this.failStatus = n;
  }

  /** The next `n` PATCH calls (annotations) answer 503. */
  failNextPatches(n: number): void {
    this.failPatch = n;
  }

  async waitFor<T>(
    probe: () => T | undefined | false,
    timeoutMs = 20_000,
    what = 'condition',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.add(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  waitForFrame(
    pred: (f: RecordedFrame) => boolean,
    timeoutMs?: number,
    what = 'frame',
  ): Promise<RecordedFrame> {
    return this.waitFor(() => this.frames.find(pred), timeoutMs, what);
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
    this.waiters.clear();
  }

  private onSocket(ws: WebSocket, authorization: string | undefined): void {
    this.connections.push(authorization ? { authorization } : {});
    if (this.socket) this.socket.terminate();
    this.socket = ws;
    if (this.opts.ack !== false)
      ws.send(JSON.stringify({ type: 'ack', payload: { seq: this.lastContiguous() } }));
    ws.on('message', (data) => {
      const text = data.toString();
      this.rawFrames.push(text);
      let f: RecordedFrame & { type: string };
      try {
        f = JSON.parse(text) as RecordedFrame;
      } catch {
        return;
      }
      if (typeof f.seq !== 'number') return; // control frames (pong)
      if (!this.seen.has(f.seq)) {
        this.seen.add(f.seq);
        this.frames.push(f);
      }
      if (this.opts.ack !== false && ws.readyState === ws.OPEN)
        ws.send(JSON.stringify({ type: 'ack', payload: { seq: this.lastContiguous() } }));
      this.notify();
    });
    ws.on('close', () => {
      if (this.socket === ws) this.socket = null;
      this.notify();
    });
  }

  /** Highest seq such that every seq up to it was received (what a real hub would ack). */
  private lastContiguous(): number {
    let n = 0;
    while (this.seen.has(n + 1)) n++;
    return n;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      let parsed: unknown;
      try {
        parsed = body ? JSON.parse(body) : undefined;
      } catch {
        parsed = body;
      }
      const path = req.url ?? '';
      this.calls.push({
        method: req.method ?? '',
        path,
        body: parsed,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      });
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (this.opts.botToken && req.headers.authorization !== `Bearer ${this.opts.botToken}`)
        return json(401, { error: 'unauthorized' });
      if (req.method === 'PUT' && path.endsWith('/status')) {
        if (this.failStatus > 0) {
          this.failStatus--;
          this.notify();
          return json(503, { error: 'unavailable' });
        }
        this.statuses.push(parsed as Record<string, unknown>);
        this.notify();
        return json(200, { ok: true });
      }
      const m = /\/agentic-sessions\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && m) {
        const s = this.opts.sessions?.[decodeURIComponent(m[1]!)];
        return s ? json(200, s) : json(404, { error: 'not found' });
      }
      if (req.method === 'PATCH' && m) {
        if (this.failPatch > 0) {
          this.failPatch--;
          this.notify();
          return json(503, { error: 'unavailable' });
        }
        this.notify();
        return json(200, { ok: true });
      }
      if (req.method === 'POST' && path.endsWith('/github/token'))
        return json(404, { error: 'no token' });
      json(404, { error: 'not found' });
    });
  }
}
