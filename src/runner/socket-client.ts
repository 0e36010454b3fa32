/**
 * The runner's socket to the backend (contract §3), built so that nothing is lost and the agent
 * never waits on the network:
 *
 * - `send()` numbers the frame (seq from 1), redacts it, serialises it once and queues it; it
 *   never blocks. A pump writes queued frames whenever the socket is open and not backed up.
 * - Frames stay in the outbox until the backend acks them (`ack {seq}`, our extension). After a
 *   reconnect the runner waits briefly for the backend's first ack, then resends everything after
 *   it, in order: no gap, no repeat. A backend that never acks gets the frames of the last
 *   NOACK_RETENTION_MS resent (at-least-once; frames carry seq so it can drop repeats).
 * - The outbox is bounded by bytes. Over the bound, streamed partials go first (their text
 *   arrives again whole in the following agent.message), then the oldest frames; the count of
 *   dropped frames is reported on the socket once it is back.
 * - Reconnects use capped exponential backoff with jitter; a keepalive ping detects dead peers.
 * - Commands the other way: the upgrade announces `command-acks`; a command that carries a
 *   `deliveryId` is acked once taken (`command.ack`) and a repeat of it (resent after a
 *   reconnect or a restart of the backend) is acked again but not acted on: exactly once.
 */
import WebSocket from 'ws';
import type { Logger } from '../observability/logger.js';
import type { Redactor } from '../observability/redact.js';
import {
  CAPABILITY_COMMAND_ACKS,
  COMMAND_ACK,
  parseIncomingCommand,
  RUNNER_CAPABILITIES_HEADER,
  type BackendCommand,
} from '../protocol/commands.js';
import type { FrameDraft } from '../protocol/frames.js';

export const NOACK_RETENTION_MS = 5_000;
const HIGH_WATER_BYTES = 1 << 20;
const KEEPALIVE_MS = 20_000;
const INITIAL_BACKOFF_MS = 200;
/** Delivery ids remembered to drop repeats (far more than a run receives). */
const MAX_REMEMBERED_DELIVERIES = 10_000;

interface Entry {
  seq: number;
  type: string;
  json: string;
  /** 0 until written to a socket. */
  sentAt: number;
}

export interface RunnerSocketOptions {
  url: string;
  botToken?: string;
  logger: Logger;
  redactor: Redactor;
  maxBufferedBytes: number;
  reconnectMaxDelayMs: number;
  /** How long to wait after a reconnect for the backend's first ack before resending. */
  helloWaitMs?: number;
  onCommand: (command: BackendCommand) => void;
}

/** A `flush()` waiting; `settle` ends its wait (and its timer and abort listener). */
type Flusher = { settle: (ok: boolean) => void };

export class RunnerSocket {
  private seq = 0;
  private readonly entries: Entry[] = [];
  /** Index into `entries` of the next frame to write on the current connection. */
  private sendIdx = 0;
  private bytes = 0;
  private lastAck = 0;
  private ackSupported = false;
  private dropped = 0;
  private ws: WebSocket | null = null;
  private open = false;
  private awaitingHello = false;
  private helloTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  /** The connection the pump last wrote to, and how many of its frames are not written out. */
  private writingOn: WebSocket | null = null;
  private unwritten = 0;
  /** The pump stopped at the high-water mark; the next completed write resumes it. */
  private backedUp = false;
  private awaitingPong = false;
  private attempt = 0;
  private closing = false;
  private connectedOnce = false;
  private readonly flushers = new Set<Flusher>();
  /** Waiting for the socket to open (whenOpen). */
  private readonly openWaiters = new Set<(open: boolean) => void>();
  /** Delivery ids of the commands already taken, oldest first. */
  private readonly delivered = new Set<number>();
  private readonly log: Logger;

  constructor(private readonly opts: RunnerSocketOptions) {
    this.log = opts.logger.child('socket');
  }

  /** Frames produced so far (the last seq). */
  get lastSeq(): number {
    return this.seq;
  }

  get connected(): boolean {
    return this.open;
  }

  /** Resolves true once the socket is open (at once if it is), false after `timeoutMs` or on close. */
  whenOpen(timeoutMs: number): Promise<boolean> {
    if (this.open) return Promise.resolve(true);
    if (this.closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (open: boolean) => {
        clearTimeout(timer);
        this.openWaiters.delete(done);
        resolve(open);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.openWaiters.add(done);
    });
  }

  get pendingFrames(): number {
    return this.entries.length;
  }

  /** The JSON texts (redacted) of the frames not yet acknowledged, in order. */
  unconfirmed(): string[] {
    return this.entries.map((e) => e.json);
  }

  start(): void {
    this.connect();
  }

  send(draft: FrameDraft): number {
    const seq = ++this.seq;
    const frame = this.opts.redactor.redactDeep({
      seq,
      type: draft.type,
      timestamp: new Date().toISOString(),
      payload: draft.payload,
      ...('partial' in draft ? { partial: draft.partial } : {}),
    });
    const json = JSON.stringify(frame);
    this.entries.push({ seq, type: draft.type, json, sentAt: 0 });
    this.bytes += json.length;
    if (this.bytes > this.opts.maxBufferedBytes) this.enforceBound();
    this.pump();
    return seq;
  }

  /**
   * Resolves true once every frame is acknowledged (or, for a backend that does not ack, written
   * out), false when `timeoutMs` passes or `signal` aborts first.
   */
  flush(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.isFlushed()) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      // Settled by the event that completes it (an ack; for a backend without acks, the write of
      // the last frame to the socket), else by the bound or the signal.
      const f: Flusher = {
        settle: (ok) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', giveUp);
          this.flushers.delete(f);
          resolve(ok);
        },
      };
      const giveUp = () => f.settle(this.isFlushed());
      const timer = setTimeout(giveUp, timeoutMs);
      signal?.addEventListener('abort', giveUp, { once: true });
      this.flushers.add(f);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of [this.reconnectTimer, this.keepaliveTimer, this.helloTimer])
      if (t) clearTimeout(t);
    for (const f of [...this.flushers]) f.settle(this.isFlushed());
    for (const w of [...this.openWaiters]) w(false);
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    if (!ws) return;
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1_000);
      ws.once('close', () => {
        clearTimeout(done);
        resolve();
      });
      try {
        ws.close(1000, 'runner finished');
      } catch {
        ws.terminate();
      }
    });
  }

  // --- connection ------------------------------------------------------------------------

  private connect(): void {
    if (this.closing) return;
    const headers: Record<string, string> = {
      [RUNNER_CAPABILITIES_HEADER]: CAPABILITY_COMMAND_ACKS,
    };
    if (this.opts.botToken) headers.authorization = `Bearer ${this.opts.botToken}`;
    const ws = new WebSocket(this.opts.url, {
      headers,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onMessage(data.toString());
    });
    ws.on('pong', () => {
      this.awaitingPong = false;
    });
    ws.on('unexpected-response', (_req, res) => {
      this.logFailure(`backend refused the socket with HTTP ${res.statusCode}`);
      ws.terminate();
    });
    ws.on('error', (err) => this.logFailure(`socket error: ${err.message}`));
    ws.on('close', () => this.onClose(ws));
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.open = true;
    this.attempt = 0;
    this.log.info(this.connectedOnce ? 'reconnected to the backend' : 'connected to the backend');
    this.connectedOnce = true;
    this.startKeepalive(ws);
    if (this.dropped > 0) {
      const n = this.dropped;
      this.dropped = 0;
      this.send({
        type: 'system.message',
        payload: {
          message: `${n} frame(s) were dropped while the backend was unreachable (outbox limit ${this.opts.maxBufferedBytes} bytes)`,
          level: 'warn',
          event: 'frames.dropped',
          data: { dropped: n },
        },
      });
    }
    // Frames written to an earlier connection may not have arrived: learn from the backend's
    // first ack what it has, then resend the rest. With nothing in flight, start at once.
    const inFlight = this.entries.some((e) => e.sentAt > 0);
    this.sendIdx = 0;
    if (inFlight) {
      this.awaitingHello = true;
      this.helloTimer = setTimeout(
        () => {
          this.awaitingHello = false;
          this.pump();
        },
        this.opts.helloWaitMs ?? (this.ackSupported ? 2_000 : 300),
      );
    } else {
      this.pump();
    }
    for (const w of [...this.openWaiters]) w(true);
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.open = false;
    this.awaitingHello = false;
    for (const t of [this.keepaliveTimer, this.helloTimer]) if (t) clearTimeout(t);
    if (this.closing) return;
    const delay = this.backoff();
    this.logFailure(`backend connection lost; reconnecting in ${delay} ms`);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private backoff(): number {
    const base = Math.min(INITIAL_BACKOFF_MS * 2 ** this.attempt, this.opts.reconnectMaxDelayMs);
    this.attempt++;
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** First failure of a streak at warn, the rest at debug: an outage is one line, not hundreds. */
  private logFailure(message: string): void {
    if (this.closing) return;
    if (this.attempt <= 1) this.log.warn(message);
    else this.log.debug(message);
  }

  private startKeepalive(ws: WebSocket): void {
    this.awaitingPong = false;
    const tick = () => {
      if (ws !== this.ws || !this.open) return;
      if (this.awaitingPong) {
        this.log.warn('backend did not answer a keepalive ping; reconnecting');
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      ws.ping();
      this.keepaliveTimer = setTimeout(tick, KEEPALIVE_MS);
    };
    this.keepaliveTimer = setTimeout(tick, KEEPALIVE_MS);
  }

  // --- incoming --------------------------------------------------------------------------

  /** Each frame is parsed once: its command and its `deliveryId` come from the same parse. */
  private onMessage(raw: string): void {
    const parsed = parseIncomingCommand(raw);
    if (!parsed.ok) {
      this.log.warn(`ignored a message from the backend: ${parsed.detail}`);
      return;
    }
    const cmd = parsed.command;
    if (cmd.type === 'ack') return this.onAck(cmd.payload.seq);
    if (cmd.type === 'ping') {
      this.ws?.send(
        JSON.stringify({ type: 'pong', timestamp: new Date().toISOString(), payload: {} }),
      );
      return;
    }
    const id = parsed.deliveryId;
    if (id === undefined) return this.opts.onCommand(cmd);
    if (this.delivered.has(id)) {
      this.log.debug(`command ${id} was delivered before: acked again, not repeated`);
    } else {
      this.remember(id);
      this.opts.onCommand(cmd);
    }
    // Acked only once taken: if this connection dies first, the backend sends it again.
    this.ws?.send(
      JSON.stringify({ type: COMMAND_ACK, timestamp: new Date().toISOString(), payload: { id } }),
    );
  }

  private remember(id: number): void {
    this.delivered.add(id);
    if (this.delivered.size > MAX_REMEMBERED_DELIVERIES) {
      const oldest = this.delivered.values().next().value;
      if (oldest !== undefined) this.delivered.delete(oldest);
    }
  }

  private onAck(seq: number): void {
    this.ackSupported = true;
    if (seq > this.lastAck) this.lastAck = seq;
    let n = 0;
    while (n < this.entries.length && this.entries[n]!.seq <= this.lastAck) {
      this.bytes -= this.entries[n]!.json.length;
      n++;
    }
    if (n) {
      this.entries.splice(0, n);
      this.sendIdx = Math.max(0, this.sendIdx - n);
    }
    if (this.awaitingHello) {
      this.awaitingHello = false;
      if (this.helloTimer) clearTimeout(this.helloTimer);
      this.sendIdx = 0;
    }
    this.pump();
  }

  // --- outgoing --------------------------------------------------------------------------

  private pump(): void {
    const ws = this.ws;
    if (!ws || !this.open || this.awaitingHello) return;
    if (this.writingOn !== ws) {
      this.writingOn = ws;
      this.unwritten = 0;
    }
    this.backedUp = false;
    const now = Date.now();
    while (this.sendIdx < this.entries.length) {
      if (ws.bufferedAmount > HIGH_WATER_BYTES) {
        // The kernel buffer is full: wait for it to drain instead of piling up in memory twice.
        this.backedUp = true;
        return;
      }
      const e = this.entries[this.sendIdx++]!;
      e.sentAt = now;
      this.unwritten++;
      ws.send(e.json, () => this.onWritten(ws));
    }
    if (!this.ackSupported) this.trimUnacked(now);
    this.settleFlushers();
  }

  /** A frame was written out to `ws` (or failed with it): resume a pump, settle a flush. */
  private onWritten(ws: WebSocket): void {
    if (ws !== this.writingOn) return;
    this.unwritten--;
    if (this.backedUp && ws.bufferedAmount <= HIGH_WATER_BYTES) this.pump();
    else this.settleFlushers();
  }

  /** Without acks we cannot know what arrived; keep only a short window for resending. */
  private trimUnacked(now: number): void {
    let n = 0;
    while (n < this.sendIdx && now - this.entries[n]!.sentAt > NOACK_RETENTION_MS) {
      this.bytes -= this.entries[n]!.json.length;
      n++;
    }
    if (n) {
      this.entries.splice(0, n);
      this.sendIdx -= n;
    }
  }

  private enforceBound(): void {
    // Partials first: their text is repeated by the agent.message that closes the block.
    for (let i = 0; i < this.entries.length && this.bytes > this.opts.maxBufferedBytes;) {
      if (this.entries[i]!.type === 'message.partial' && this.entries.length > 1) this.dropAt(i);
      else i++;
    }
    while (this.bytes > this.opts.maxBufferedBytes && this.entries.length > 1) this.dropAt(0);
  }

  private dropAt(i: number): void {
    const [e] = this.entries.splice(i, 1);
    if (!e) return;
    this.bytes -= e.json.length;
    if (i < this.sendIdx) this.sendIdx--;
    this.dropped++;
  }

  private isFlushed(): boolean {
    if (this.ackSupported) return this.entries.length === 0;
    // Without acks a frame counts once written out to the socket (its send callback).
    const written = this.writingOn !== this.ws || this.unwritten === 0;
    return this.open && this.sendIdx >= this.entries.length && written;
  }

  private settleFlushers(): void {
    if (!this.flushers.size || !this.isFlushed()) return;
    for (const f of [...this.flushers]) f.settle(true);
  }
}
