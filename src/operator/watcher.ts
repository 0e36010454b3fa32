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
  private failures = 0;

  constructor(private readonly o: WatcherOptions<T>) {}

  start(): void {
    void this.relist();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
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
    let rv: string | undefined;
    try {
      const list = await this.o.list();
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
    await this.watch(rv);
  }

  private async watch(resourceVersion: string | undefined): Promise<void> {
    if (this.stopped) return;
    let rv = resourceVersion;
    let gone = false;
    const done = (err: unknown) => {
      if (this.stopped) return;
      if (gone) this.o.logger.info('watch expired (410 Gone): relisting', { path: this.o.path });
      // Ended or broken: relist (cheap, and it catches whatever happened in between).
      if (err && !gone) this.retry(`watch ${this.o.path} ended`, err);
      else void this.relist();
    };
    try {
      this.abort = await new Watch(this.o.kc).watch(
        this.o.path,
        {
          allowWatchBookmarks: true,
          ...(rv ? { resourceVersion: rv } : {}),
          ...(this.o.labelSelector ? { labelSelector: this.o.labelSelector } : {}),
        },
        (type: string, obj: T & { code?: number }) => {
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
    } catch (err) {
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

export function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && 'body' in err)
    return `HTTP ${String((err as { code: unknown }).code)}: ${String((err as { body: unknown }).body).slice(0, 300)}`;
  return err instanceof Error ? err.message : String(err);
}
