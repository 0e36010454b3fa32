/**
 * The socket hub at `/api/projects/{p}/sessions/{id}/ws`: one runner (its run's token) and any
 * number of watchers (the user token; `?token=` for browsers) per session.
 *
 * Authentication happens before the upgrade: a refused socket gets a plain HTTP answer (401, 403,
 * 404, 400) with a JSON error. Close codes: 4008 watcher too slow (rejoin with the `after_seq` in
 * the reason), 4009 runner replaced by a newer connection of the same run, 4004 session deleted,
 * 4010 run ended, 1001 serve shutting down.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { describeError, RequestError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { sessionRedactor, type ControlPlaneRedactor } from '../redaction.js';
import {
  CAPABILITY_COMMAND_ACKS,
  CLIENT_COMMAND_TYPES,
  parseCommand,
  RUNNER_CAPABILITIES_HEADER,
} from '../../protocol/commands.js';
import { NAME_PATTERN } from '../../protocol/api.js';
import { SOCKET_PATH as WS_PATH } from '../../protocol/paths.js';
import {
  AFTER_SEQ_PARAM,
  CLOSE_REPLACED,
  CLOSE_RUN_ENDED,
  CLOSE_SESSION_DELETED,
  CLOSE_SHUTTING_DOWN,
} from '../../protocol/socket.js';
import { requireSessionAccess, type Auth } from '../auth.js';
import type { CommandDelivery } from '../delivery/commands.js';
import type { Store } from '../store/index.js';
import type { ResultSummary } from '../../protocol/frames.js';
import { CatchUpGate } from './catch-up-gate.js';
import type { HistoryLog } from './history-log.js';
import { RunnerLink } from './runner-link.js';
import { Watcher } from './watcher.js';

const HEARTBEAT_MS = 30_000;

const WATCHER_COMMANDS: ReadonlySet<string> = new Set(CLIENT_COMMAND_TYPES);

export interface HubOptions {
  store: Store;
  auth: Auth;
  history: HistoryLog;
  /** Owns commands to runners: the hub attaches runners to it and hands it watchers' commands. */
  delivery: CommandDelivery;
  redactor: ControlPlaneRedactor;
  logger: Logger;
  maxFrameBytes: number;
  watcherMaxBufferedBytes: number;
  historyPageSize: number;
  /** Watchers catching up with a history at once, serve-wide; the others wait their turn. */
  maxCatchingUp: number;
}

export class Hub {
  private readonly wss: WebSocketServer;
  private readonly runners = new Map<string, RunnerLink>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private readonly heartbeat: NodeJS.Timeout;
  /** Serve-wide: socket watchers and AG-UI streams catching up share it. */
  readonly catchUpGate: CatchUpGate;

  constructor(private readonly opts: HubOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      // Frames up to twice the limit are read so that the hub can record a runner frame it refuses
      // for its size in its place (nothing lost without a trace, the runner's ack moves on);
      // beyond that the socket closes with 1009 (message too big).
      maxPayload: opts.maxFrameBytes * 2,
      perMessageDeflate: false,
    });
    this.catchUpGate = new CatchUpGate(opts.maxCatchingUp, opts.logger.child('catch-up'));
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const m = WS_PATH.exec(url.pathname);
      if (!m) throw new RequestError(404, `no socket at ${url.pathname}`);
      const project = decodeURIComponent(m[1]!);
      const name = decodeURIComponent(m[2]!);
      if (!NAME_PATTERN.test(project))
        throw new RequestError(400, `invalid project name "${project.slice(0, 80)}"`);
      if (!NAME_PATTERN.test(name))
        throw new RequestError(400, `invalid session name "${name.slice(0, 80)}"`);
      const principal = this.opts.auth.require(req, url, true);
      requireSessionAccess(principal, name, 'socket');
      const session = this.opts.store.sessions.get(name);
      if (!session || session.project !== project)
        throw new RequestError(404, `session ${project}/${name} not found`);
      let afterSeq = 0;
      const raw = url.searchParams.get(AFTER_SEQ_PARAM);
      if (raw !== null) {
        if (!/^\d+$/.test(raw))
          throw new RequestError(400, 'after_seq: must be a whole number ≥ 0');
        afterSeq = Number(raw);
      }
      if (principal.kind === 'runner' && principal.run !== session.currentRun)
        throw new RequestError(403, 'this runner token belongs to an earlier run');
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.track(ws);
        if (principal.kind === 'runner')
          this.attachRunner(ws, name, principal.run, announcesCommandAcks(req));
        else this.attachWatcher(ws, name, afterSeq);
      });
    } catch (e) {
      const status = e instanceof RequestError ? e.status : 500;
      if (status === 500)
        this.opts.logger.error('socket upgrade failed', { error: describeError(e) });
      const body = JSON.stringify({
        error: status === 500 ? 'internal error' : (e as Error).message,
      });
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
  }

  closeRunner(session: string, code = CLOSE_RUN_ENDED, reason = 'run ended'): void {
    const link = this.runners.get(session);
    if (!link) return;
    this.runners.delete(session);
    this.opts.delivery.detach(session, link);
    link.close(code, reason);
  }

  /** The session is deleted: close every socket of it. */
  closeSession(session: string): void {
    this.closeRunner(session, CLOSE_SESSION_DELETED, 'session deleted');
    for (const w of this.watchers.get(session) ?? [])
      w.close(CLOSE_SESSION_DELETED, 'session deleted');
    this.watchers.delete(session);
    this.opts.history.forget(session);
  }

  watcherCount(session: string): number {
    return this.watchers.get(session)?.size ?? 0;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const link of this.runners.values())
      link.close(CLOSE_SHUTTING_DOWN, 'control plane shutting down');
    for (const set of this.watchers.values())
      for (const w of set) w.close(CLOSE_SHUTTING_DOWN, 'control plane shutting down');
    this.runners.clear();
    this.watchers.clear();
    // Give close frames a moment, then cut whatever is left.
    await new Promise((r) => setTimeout(r, 50));
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private attachRunner(ws: WebSocket, session: string, run: number, commandAcks: boolean): void {
    const previous = this.runners.get(session);
    if (previous) previous.close(CLOSE_REPLACED, 'replaced by a newer connection');
    const lastSeq = this.opts.store.frames.lastRunSeq(session, run);
    const link = new RunnerLink(
      ws,
      session,
      run,
      this.opts.history,
      sessionRedactor(
        this.opts.redactor,
        this.opts.store.sessions.get(session)?.spec.environmentVariables,
      ),
      this.opts.logger,
      lastSeq,
      commandAcks,
    );
    link.onResult = (summary) => this.fillSummary(session, run, summary);
    link.onCommandAck = (id) => this.opts.delivery.ack(session, link, id);
    this.runners.set(session, link);
    this.opts.logger.info('runner connected', { session, run, resumeAfter: lastSeq });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      try {
        link.onMessage(rawText(data), this.opts.maxFrameBytes);
      } catch (e) {
        this.opts.logger.error('runner frame not stored', { session, error: describeError(e) });
      }
    });
    ws.on('close', () => {
      link.dispose();
      if (this.runners.get(session) === link) this.runners.delete(session);
      this.opts.delivery.detach(session, link);
      this.opts.logger.info('runner disconnected', { session, run });
    });
    ws.on('error', (e) =>
      this.opts.logger.debug('runner socket error', { session, error: e.message }),
    );
    link.greet(); // before any command: the runner learns first where to resume
    this.opts.delivery.attach(session, link);
  }

  /**
   * A turn's result frame (redacted) fills the status summary fields the runner's own status report left
   * out (the original runner reports no cost or usage there): what a runner gives is shown, and
   * what no runner gave stays absent rather than 0.
   */
  private fillSummary(session: string, run: number, summary: ResultSummary): void {
    const row = this.opts.store.sessions.get(session);
    if (!row || row.currentRun !== run) return;
    const status: Record<string, unknown> = { ...row.status };
    let changed = false;
    for (const [k, v] of Object.entries(summary))
      if (v !== null && v !== undefined && status[k] === undefined) {
        status[k] = v;
        changed = true;
      }
    if (changed) this.opts.store.sessions.update(session, { status: status as typeof row.status });
  }

  private attachWatcher(ws: WebSocket, session: string, afterSeq: number): void {
    const watcher = new Watcher(ws, session, afterSeq, this.opts.history, {
      maxBufferedBytes: this.opts.watcherMaxBufferedBytes,
      pageSize: this.opts.historyPageSize,
      logger: this.opts.logger,
      gate: this.catchUpGate,
      readStep: (s, afterPos, maxRows, maxBytes) =>
        this.opts.store.frames.readStep(s, afterPos, maxRows, maxBytes),
    });
    let set = this.watchers.get(session);
    if (!set) this.watchers.set(session, (set = new Set()));
    set.add(watcher);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) this.onWatcherMessage(ws, session, rawText(data));
    });
    ws.on('close', () => {
      watcher.detach();
      const s = this.watchers.get(session);
      s?.delete(watcher);
      if (s && !s.size) this.watchers.delete(session);
    });
    ws.on('error', (e) =>
      this.opts.logger.debug('watcher socket error', { session, error: e.message }),
    );
    watcher.start();
  }

  private onWatcherMessage(ws: WebSocket, session: string, raw: string): void {
    const reply = (type: string, payload: Record<string, unknown>) => {
      if (ws.readyState === ws.OPEN)
        ws.send(JSON.stringify({ type, payload, timestamp: new Date().toISOString() }));
    };
    const parsed = parseCommand(raw);
    if (parsed.ok && parsed.command.type === 'ping') return reply('pong', {});
    if (!parsed.ok || !WATCHER_COMMANDS.has(parsed.command.type)) {
      const why = parsed.ok ? `a watcher cannot send ${parsed.command.type}` : parsed.detail;
      return reply('error', { message: `command refused: ${why}` });
    }
    try {
      const result = this.opts.delivery.submit(session, parsed.command, 'watcher');
      // Its `type` is the canonical form, the one the runner gets.
      reply('command.accepted', { ...result });
    } catch (e) {
      reply('error', { message: e instanceof RequestError ? e.message : 'command failed' });
      if (!(e instanceof RequestError))
        this.opts.logger.error('watcher command failed', { session, error: describeError(e) });
    }
  }

  private track(ws: WebSocket): void {
    this.alive.set(ws, true);
    ws.on('pong', () => this.alive.set(ws, true));
  }

  private beat(): void {
    for (const ws of this.wss.clients) {
      if (this.alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
    }
  }
}

/** Whether the upgrading runner said it acks commands (`x-runner-capabilities: command-acks`). */
function announcesCommandAcks(req: IncomingMessage): boolean {
  const h = req.headers[RUNNER_CAPABILITIES_HEADER];
  const values = (Array.isArray(h) ? h.join(',') : (h ?? ''))
    .split(',')
    .map((v) => v.trim().toLowerCase());
  return values.includes(CAPABILITY_COMMAND_ACKS);
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
