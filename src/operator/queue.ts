/**
 * A work queue in controller-runtime's model: keys, not events. A key added while queued is
 * queued once; a key added while being reconciled is reconciled again afterwards (never twice at
 * once); a failed reconcile is retried with exponential backoff per key; a reconcile may ask to be
 * called again after a delay (to poll what it cannot watch).
 */
import { withTimeout } from './watcher.js';

export type Reconcile = (key: string) => Promise<{ requeueAfterMs?: number } | void>;

export interface WorkQueueOptions {
  reconcile: Reconcile;
  onError: (key: string, err: unknown, retryInMs: number) => void;
  /** Keys reconciled at once. */
  workers?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A reconcile taking longer is abandoned and retried. */
  timeoutMs?: number;
}

export class WorkQueue {
  private readonly queued = new Set<string>();
  private readonly order: string[] = [];
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: WorkQueueOptions) {}

  add(key: string): void {
    if (this.closed) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.order.push(key);
    this.pump();
  }

  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    const existing = this.timers.get(key);
    if (existing) clearTimeout(existing);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queued.clear();
    this.order.length = 0;
  }

  /** Resolves when nothing is queued or running (tests). */
  idle(): Promise<void> {
    if (this.running === 0 && this.order.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    const workers = this.o.workers ?? 4;
    while (!this.closed && this.running < workers && this.order.length) {
      const key = this.order.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.work(key);
    }
    if (this.running === 0 && this.order.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async work(key: string): Promise<void> {
    try {
      // A request to an API server that is restarting can hang: a reconcile that does not end
      // in time counts as failed (it is idempotent, the retry picks up where things are).
      const r = await withTimeout(this.o.reconcile(key), this.o.timeoutMs ?? 30_000, 'reconcile');
      this.failures.delete(key);
      if (r?.requeueAfterMs !== undefined) this.addAfter(key, r.requeueAfterMs);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(
        (this.o.baseDelayMs ?? 500) * 2 ** (n - 1),
        this.o.maxDelayMs ?? 60_000,
      );
      this.o.onError(key, err, delay);
      this.addAfter(key, delay);
    } finally {
      this.active.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
