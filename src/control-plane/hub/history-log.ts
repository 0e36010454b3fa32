/**
 * A session's history: append (persist, then fan out), read pages, subscribe.
 *
 * Two numbers name an entry, and code keeps them apart by name: `pos` is its session-wide
 * position (1, 2, …, across runs; the store's `frames.pos`), and `runSeq` is the sequence a runner
 * gave the frame (unique within one run; null for entries the control plane writes). On the wire
 * to watchers and in `GET …/messages` the position is called `seq` (the contract's name, kept) and
 * the runner's own number `runSeq`; the runner's socket also calls its numbers `seq`, and
 * `after_seq`/`lastSeq` are positions. Appends and reads are synchronous
 * (SQLite), so an entry is in the store before any subscriber hears of it: a subscriber that
 * reads the store and then listens, in one tick, misses nothing.
 */
import type { Logger } from '../../observability/logger.js';
import { isClosingFrame } from '../../protocol/history.js';
import type { Store, StoredFrame } from '../store/index.js';

export interface Subscriber {
  offer(pos: number, json: string): void;
}

export interface EntryDraft {
  type: string;
  timestamp?: string;
  payload: unknown;
  partial?: unknown;
  /** Fields a runner added beyond the contract, kept as they are. */
  extra?: Record<string, unknown>;
}

export class HistoryLog {
  private readonly nextPos = new Map<string, number>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly closedListeners: ((session: string, run: number) => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  /** Persists an entry and fans it out; returns its position, or undefined for a repeated runSeq. */
  append(
    session: string,
    run: number,
    runSeq: number | null,
    draft: EntryDraft,
  ): number | undefined {
    const pos = this.peekNext(session);
    const entry: Record<string, unknown> = {
      seq: pos,
      run,
      ...(runSeq !== null ? { runSeq } : {}),
      type: draft.type,
      timestamp: draft.timestamp ?? new Date().toISOString(),
      ...(draft.extra ?? {}),
      payload: draft.payload,
      ...(draft.partial !== undefined ? { partial: draft.partial } : {}),
      sessionId: session,
    };
    const json = JSON.stringify(entry);
    try {
      this.store.frames.append(session, pos, run, runSeq, draft.type, json);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && runSeq !== null) {
        this.logger.debug('repeated frame dropped', { session, run, runSeq });
        return undefined;
      }
      throw e;
    }
    this.nextPos.set(session, pos + 1);
    const subs = this.subscribers.get(session);
    if (subs) for (const s of [...subs]) s.offer(pos, json);
    if (runSeq !== null && isClosingFrame(draft.type, draft.payload))
      for (const l of this.closedListeners) l(session, run);
    return pos;
  }

  /** Calls `listener` after a run's closing frame is stored (and fanned out). */
  onRunClosed(listener: (session: string, run: number) => void): void {
    this.closedListeners.push(listener);
  }

  lastPos(session: string): number {
    return this.peekNext(session) - 1;
  }

  read(session: string, afterPos: number, limit: number): StoredFrame[] {
    return this.store.frames.read(session, afterPos, limit);
  }

  subscribe(session: string, sub: Subscriber): void {
    let subs = this.subscribers.get(session);
    if (!subs) this.subscribers.set(session, (subs = new Set()));
    subs.add(sub);
  }

  unsubscribe(session: string, sub: Subscriber): void {
    const subs = this.subscribers.get(session);
    if (!subs) return;
    subs.delete(sub);
    if (!subs.size) this.subscribers.delete(session);
  }

  /** The session is gone: drop cached state (subscribers are closed by the hub). */
  forget(session: string): void {
    this.nextPos.delete(session);
    this.subscribers.delete(session);
  }

  private peekNext(session: string): number {
    let next = this.nextPos.get(session);
    if (next === undefined) {
      next = this.store.frames.lastPos(session) + 1;
      this.nextPos.set(session, next);
    }
    return next;
  }
}
