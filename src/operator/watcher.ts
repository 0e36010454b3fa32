/**
 * An informer in client-go's model: list, then watch from the list's resourceVersion, keeping a
 * cache of the objects; on 410 Gone (the watch's resourceVersion expired) or any broken watch,
 * list again and carry on. Every object seen (added, changed, deleted, or present at a relist) is
 * handed to `onChange`, which only enqueues a key: the reconcile reads the cache.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';

export interface KubeObject {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    ownerReferences?: { uid: string; kind: string; name: string }[];
    labels?: Record<string, string>;
  };
}

export interface WatcherOptions<T extends KubeObject> {
  kc: KubeConfig;
  /** The collection's path, e.g. `/apis/batch/v1/jobs` or `/apis/batch/v1/namespaces/p/jobs`. */
  path: string;
  labelSelector?: string;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  onChange: (obj: T, deleted: boolean) => void;
  logger: Logger;
  /**
   * Each watch ends after this long (the server's `timeoutSeconds`, and a client-side bound in
   * case the server never says): a watch that went silent is replaced within this time, as
   * client-go's reflector does.
   */
  watchTimeoutSeconds?: number;
}

export const objectKey = (o: KubeObject) =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class Watcher<T extends KubeObject> {
  readonly cache = new Map<string, T>();
  private abort: AbortController | undefined;
  private stopped = false;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Bumped by every relist: callbacks of an older list or watch are ignored. */
  private generation = 0;

  constructor(private readonly o: WatcherOptions<T>) {}

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchTimer);
    this.abort?.abort();
  }

  /** Resolves once the first list is in the cache. */
  hasSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  values(): T[] {
    return [...this.cache.values()];
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    let rv: string | undefined;
    try {
      // A request to an API server that is still starting can hang: bound it and try again.
      const list = await withTimeout(this.o.list(), REQUEST_TIMEOUT_MS, 'list');
      if (generation !== this.generation) return;
      const seen = new Set<string>();
      for (const item of list.items) {
        const k = objectKey(item);
        seen.add(k);
        this.cache.set(k, item);
        this.o.onChange(item, false);
      }
      for (const [k, old] of this.cache)
        if (!seen.has(k)) {
          this.cache.delete(k);
          this.o.onChange(old, true);
        }
      rv = list.metadata?.resourceVersion;
      this.failures = 0;
      if (!this.synced) {
        this.synced = true;
        for (const w of this.syncWaiters.splice(0)) w();
      }
    } catch (err) {
      this.retry(`list ${this.o.path} failed`, err);
      return;
    }
    await this.watch(rv, generation);
  }

  private async watch(resourceVersion: string | undefined, generation: number): Promise<void> {
    if (this.stopped) return;
    let rv = resourceVersion;
    let gone = false;
    const done = (err: unknown) => {
      if (this.stopped || generation !== this.generation) return;
      if (gone) this.o.logger.info('watch expired (410 Gone): relisting', { path: this.o.path });
      // Ended or broken: relist (cheap, and it catches whatever happened in between).
      if (err && !gone) this.retry(`watch ${this.o.path} ended`, err);
      else void this.relist();
    };
    try {
      const started = new Watch(this.o.kc).watch(
        this.o.path,
        {
          allowWatchBookmarks: true,
          timeoutSeconds: this.o.watchTimeoutSeconds ?? 300,
          ...(rv ? { resourceVersion: rv } : {}),
          ...(this.o.labelSelector ? { labelSelector: this.o.labelSelector } : {}),
        },
        (type: string, obj: T & { code?: number }) => {
          if (generation !== this.generation) return;
          if (type === 'ERROR') {
            if (obj.code === 410) gone = true;
            this.abort?.abort();
            return;
          }
          if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          const k = objectKey(obj);
          if (type === 'DELETED') this.cache.delete(k);
          else this.cache.set(k, obj);
          this.o.onChange(obj, type === 'DELETED');
        },
        done,
      );
      // Its headers may never come from a half-started API server: give up on it and relist.
      started.then(
        (abort) => {
          if (generation !== this.generation || this.stopped) abort.abort();
        },
        () => undefined,
      );
      this.abort = await withTimeout(started, REQUEST_TIMEOUT_MS, 'watch');
      const abort = this.abort;
      clearTimeout(this.watchTimer);
      this.watchTimer = setTimeout(
        () => {
          if (generation !== this.generation || this.stopped) return;
          this.o.logger.debug('watch timed out client-side: relisting', { path: this.o.path });
          this.generation++;
          abort.abort();
          void this.relist();
        },
        ((this.o.watchTimeoutSeconds ?? 300) + 5) * 1000,
      );
      this.watchTimer.unref();
    } catch (err) {
      if (generation !== this.generation) return;
      this.generation++;
      this.retry(`watch ${this.o.path} failed`, err);
    }
  }

  private retry(what: string, err: unknown): void {
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(200 * 2 ** Math.min(this.failures, 8), 30_000);
    this.o.logger.warn(`${what}; retrying in ${delay} ms`, { error: describe(err) });
    this.retryTimer = setTimeout(() => void this.relist(), delay);
    this.retryTimer.unref();
  }
}

const REQUEST_TIMEOUT_MS = 30_000;

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && 'body' in err)
    return `HTTP ${String((err as { code: unknown }).code)}: ${String((err as { body: unknown }).body).slice(0, 300)}`;
  return err instanceof Error ? err.message : String(err);
}
