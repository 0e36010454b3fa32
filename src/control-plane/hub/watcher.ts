/**
 * One watcher of a session: first the history after `after_seq`, then the live stream, with no
 * gap and no repeat.
 *
 * While catching up, the watcher ignores live entries (they are in the store already) and sends
 * the history in steps: each step reads from the store only what it sends (bounded in rows and
 * bytes), and the next step waits until this one has reached the socket and then for its turn of
 * the event loop (catch-up-gate.ts). When a step reaches the end of the history, the watcher
 * switches to live in that same tick, so no entry can fall between the last read and the first
 * live one. Live entries at or below the last sent position are skipped.
 *
 * Catching up is bounded serve-wide: a watcher beyond the bound is told it is queued
 * (`catchup.queued`, a control frame without `seq`) and waits, subscribed, for its turn; a short
 * remainder (one step) is sent at once, without queueing.
 *
 * The queue is the socket's own send buffer (`bufferedAmount`), bounded: a watcher whose unsent
 * data would exceed the bound is closed with 4008 and a reason naming the `after_seq` to rejoin
 * from. Nothing a watcher does makes the runner or other watchers wait.
 */
import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../observability/logger.js';
import { CATCH_UP_QUEUED } from '../../protocol/history.js';
import { CLOSE_TOO_SLOW } from '../../protocol/socket.js';
import type { StoredFrame } from '../store/index.js';
import type { CatchUpGate } from './catch-up-gate.js';
import type { HistoryLog, Subscriber } from './history-log.js';

/**
 * Bytes read and sent per catch-up step. Small enough that one step is a short stretch of the
 * event loop (about a millisecond for 256 KiB of 200-byte frames), large enough to fill a socket.
 */
export const CATCH_UP_STEP_BYTES = 256 * 1024;

export interface WatcherOptions {
  maxBufferedBytes: number;
  /** Most entries read per catch-up step. */
  pageSize: number;
  logger: Logger;
  gate: CatchUpGate;
  /** One catch-up step's read from the store (FrameRepo.readStep). */
  readStep(
    session: string,
    afterPos: number,
    maxRows: number,
    maxBytes: number,
  ): { rows: StoredFrame[]; more: boolean };
}

export class Watcher implements Subscriber {
  private live = false;
  private closed = false;
  private corked = false;
  private lastSent: number;

  constructor(
    private readonly ws: WebSocket,
    private readonly session: string,
    afterSeq: number,
    private readonly history: HistoryLog,
    private readonly opts: WatcherOptions,
  ) {
    this.lastSent = afterSeq;
  }

  start(): void {
    this.history.subscribe(this.session, this);
    void this.catchUp().catch((e: unknown) => {
      this.opts.logger.warn('watcher catch-up failed', {
        session: this.session,
        error: (e as Error).message,
      });
      this.close(1011, 'history could not be read');
    });
  }

  get position(): number {
    return this.lastSent;
  }

  offer(pos: number, json: string): void {
    if (this.closed || pos <= this.lastSent) return;
    // A watcher that stopped reading while still catching up would otherwise wait on its
    // catch-up step for ever; the live stream going on is what tells it is too slow.
    const queued = this.live ? json.length : 0;
    if (this.ws.bufferedAmount + queued > this.opts.maxBufferedBytes) {
      this.tooSlow();
      return;
    }
    if (!this.live) return; // it is in the store: catch-up will read it
    this.corkUntilTickEnds();
    this.ws.send(utf8Of(json), { binary: false });
    this.lastSent = pos;
  }

  /**
   * Live entries that arrive in one tick (a runner's frames come in bursts, parsed from one read)
   * leave in one write at the end of the tick instead of one system call each: with 200 watchers
   * the calls, not the bytes, were what kept the event loop busy (docs/benchmarks.md).
   */
  private corkUntilTickEnds(): void {
    if (this.corked) return;
    const socket = rawSocket(this.ws);
    if (!socket) return;
    socket.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  private tooSlow(): void {
    this.close(
      CLOSE_TOO_SLOW,
      `too slow: fell ${this.opts.maxBufferedBytes} bytes behind; rejoin with ?after_seq=${this.lastSent}`,
    );
  }

  /** Stops listening (the socket closed or the hub closes it). */
  detach(): void {
    this.closed = true;
    this.history.unsubscribe(this.session, this);
    this.opts.gate.leave(this); // its place, or its spot in line, goes to the next one
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.detach();
    // The close frame queues behind what is buffered; ws destroys the socket if the peer never
    // answers it (30 s).
    this.ws.close(code, reason.slice(0, 120));
  }

  private async catchUp(): Promise<void> {
    // A short remainder (a watcher rejoining near the end) is one step: no reason to queue it.
    if (this.history.lastPos(this.session) - this.lastSent <= this.opts.pageSize) {
      const step = this.step();
      if (step.done) return;
      await step.flushed;
    }
    const admitted = await this.opts.gate.enter(this, (position) =>
      this.notice(CATCH_UP_QUEUED, {
        position,
        afterSeq: this.lastSent,
        catchingUp: this.opts.gate.active,
        limit: this.opts.gate.limit,
      }),
    );
    if (!admitted) return; // it closed while waiting
    try {
      for (;;) {
        await this.opts.gate.turn();
        if (this.closed) return;
        const step = this.step();
        if (step.done) return;
        // Wait until the socket has taken this step (a slow reader slows only its own catch-up).
        await step.flushed;
      }
    } finally {
      this.opts.gate.leave(this);
    }
  }

  /**
   * Reads and sends one step of history; `done` once it reached the end, and then the watcher is
   * live (same tick as the read: nothing can have been appended in between).
   */
  private step(): { done: boolean; flushed: Promise<void> } {
    if (this.closed) return { done: true, flushed: Promise.resolve() };
    // A step never exceeds the watcher's bound, so a healthy watcher is never taken for slow.
    const maxBytes = Math.min(CATCH_UP_STEP_BYTES, this.opts.maxBufferedBytes);
    const { rows, more } = this.opts.readStep(
      this.session,
      this.lastSent,
      this.opts.pageSize,
      maxBytes,
    );
    let flushed: Promise<void> = Promise.resolve();
    // One write for the whole step instead of a system call per frame (measured: 100,000 frames
    // took 0.3 s of writev alone, docs/benchmarks.md). ws corks around each frame it sends;
    // nested corks hold until ours is released.
    const socket = rawSocket(this.ws);
    socket?.cork();
    try {
      rows.forEach((row, i) => {
        if (i === rows.length - 1)
          flushed = new Promise((resolve) => this.ws.send(row.frame, () => resolve()));
        else this.ws.send(row.frame);
        this.lastSent = row.pos;
      });
    } finally {
      socket?.uncork();
    }
    if (!more) this.live = true;
    return { done: !more, flushed };
  }

  /** A control frame (no `seq`: not history). */
  private notice(type: string, payload: Record<string, unknown>): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify({ type, payload, timestamp: new Date().toISOString() }));
  }
}

/**
 * The UTF-8 bytes of a live entry, encoded once for all its watchers (the hub offers the same
 * string to each of them in a row) instead of once per watcher inside `ws.send`.
 */
let lastJson: string | undefined;
let lastBytes: Buffer = Buffer.alloc(0);
function utf8Of(json: string): Buffer {
  if (json !== lastJson) {
    lastBytes = Buffer.from(json, 'utf8');
    lastJson = json;
  }
  return lastBytes;
}

/** The TCP socket under a ws connection (ws keeps it as `_socket`; absent once closed). */
function rawSocket(ws: WebSocket): Writable | undefined {
  const socket = (ws as unknown as { _socket?: unknown })._socket;
  return socket instanceof Writable ? socket : undefined;
}
