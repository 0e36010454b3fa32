/**
 * Serve-wide pacing of watchers catching up with a history, so that many of them at once never
 * starve the runners' acks, the live stream or the REST API:
 *
 * - At most `limit` watchers catch up at once; the others wait their turn in arrival order
 *   (`enter`). A watcher that leaves (caught up, closed) frees its place for the next one.
 * - Catch-up steps run one per turn of the event loop, serve-wide (`turn`): between two steps the
 *   loop serves whatever I/O is ready (a runner's frames and their acks, requests, live frames).
 */
import type { Logger } from '../../observability/logger.js';

interface Waiting {
  key: object;
  admit: (admitted: boolean) => void;
}

export class CatchUpGate {
  private readonly holders = new Set<object>();
  private readonly waiting: Waiting[] = [];
  private readonly turns: (() => void)[] = [];
  private turnScheduled = false;

  constructor(
    readonly limit: number,
    private readonly logger: Logger,
  ) {}

  /** Watchers catching up now. */
  get active(): number {
    return this.holders.size;
  }

  /** Watchers waiting for their turn to catch up. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves true once `key` may catch up, or false if it left while waiting. When it must wait,
   * `onQueued` is called at once with its place in line (1: next).
   */
  enter(key: object, onQueued: (position: number) => void): Promise<boolean> {
    if (this.holders.size < this.limit && !this.waiting.length) {
      this.holders.add(key);
      return Promise.resolve(true);
    }
    return new Promise<boolean>((admit) => {
      this.waiting.push({ key, admit });
      this.logger.debug('catch-up queued', this.state());
      onQueued(this.waiting.length);
    });
  }

  /** `key` is done or gone: frees its place, or takes it out of the line. Idempotent. */
  leave(key: object): void {
    if (this.holders.delete(key)) {
      const next = this.waiting.shift();
      if (next) {
        this.holders.add(next.key);
        next.admit(true);
      }
      this.logger.debug('catch-up left', this.state());
      return;
    }
    const i = this.waiting.findIndex((w) => w.key === key);
    if (i < 0) return;
    this.waiting.splice(i, 1)[0]!.admit(false);
    this.logger.debug('catch-up left the queue', this.state());
  }

  /** Resolves on a later turn of the event loop, one caller per turn, first come first served. */
  turn(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.turns.push(resolve);
      this.scheduleTurn();
    });
  }

  private scheduleTurn(): void {
    if (this.turnScheduled || !this.turns.length) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      // The step runs in this callback's microtasks; the next one waits for the next turn.
      this.turns.shift()?.();
      this.scheduleTurn();
    });
  }

  private state(): { catchingUp: number; queued: number; limit: number } {
    return { catchingUp: this.holders.size, queued: this.waiting.length, limit: this.limit };
  }
}
