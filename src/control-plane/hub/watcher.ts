/**
 * One watcher of a session: first the history after `after_seq`, then the live stream, with no
 * gap and no repeat.
 *
 * While catching up, the watcher ignores live entries (they are in the store already) and reads
 * pages from the store, waiting for each page to reach the socket before reading the next. When
 * a page comes back short, it has reached the end: it switches to live in that same tick, so no
 * entry can fall between the last read and the first live one. Live entries at or below the last
 * sent position are skipped.
 *
 * The queue is the socket's own send buffer (`bufferedAmount`), bounded: a watcher whose unsent
 * data would exceed the bound is closed with 4008 and a reason naming the `after_seq` to rejoin
 * from. Nothing a watcher does makes the runner or other watchers wait.
 */
import { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../observability/logger.js';
import type { HistoryLog, Subscriber } from './history.js';

export const CLOSE_TOO_SLOW = 4008;
/** Bytes sent per catch-up step before waiting for the socket to take them. */
const CATCH_UP_STEP_BYTES = 1024 * 1024;

export class Watcher implements Subscriber {
  private live = false;
  private closed = false;
  private lastSent: number;

  constructor(
    private readonly ws: WebSocket,
    private readonly session: string,
    afterSeq: number,
    private readonly history: HistoryLog,
    private readonly opts: { maxBufferedBytes: number; pageSize: number; logger: Logger },
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
    this.ws.send(json);
    this.lastSent = pos;
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
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.detach();
    // The close frame queues behind what is buffered; ws destroys the socket if the peer never
    // answers it (30 s).
    this.ws.close(code, reason.slice(0, 120));
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const rows = this.history.read(this.session, this.lastSent, this.opts.pageSize);
      let bytes = 0;
      let i = 0;
      let flushed: Promise<void> = Promise.resolve();
      // A step never exceeds the watcher's bound, so a healthy watcher is never taken for slow.
      const step = Math.min(CATCH_UP_STEP_BYTES, this.opts.maxBufferedBytes);
      // One write for the whole step instead of a system call per frame (measured: 100,000 frames
      // took 0.3 s of writev alone, docs/benchmarks.md). ws corks around each frame it sends;
      // nested corks hold until ours is released.
      const socket = rawSocket(this.ws);
      socket?.cork();
      try {
        for (; i < rows.length && bytes < step; i++) {
          const row = rows[i]!;
          const last = i === rows.length - 1 || bytes + row.frame.length >= step;
          if (last) flushed = new Promise((resolve) => this.ws.send(row.frame, () => resolve()));
          else this.ws.send(row.frame);
          this.lastSent = row.pos;
          bytes += row.frame.length;
        }
      } finally {
        socket?.uncork();
      }
      if (i === rows.length && rows.length < this.opts.pageSize) {
        this.live = true; // same tick as the read: nothing can have been appended in between
        return;
      }
      // Wait until the socket has taken this step (a slow reader slows only its own catch-up).
      await flushed;
    }
  }
}

/** The TCP socket under a ws connection (ws keeps it as `_socket`; absent once closed). */
function rawSocket(ws: WebSocket): Writable | undefined {
  const socket = (ws as unknown as { _socket?: unknown })._socket;
  return socket instanceof Writable ? socket : undefined;
}
