/**
 * The control plane's store: one SQLite file (WAL) holding sessions, runs, history and the
 * outbox. Everything is synchronous (better-sqlite3): a read that follows a write in the same
 * tick sees it, which the hub relies on to join history and live stream without a gap.
 */
import { openDatabase, type Db } from './db.js';
import { FrameRepo } from './frames.js';
import { OutboxRepo } from './outbox.js';
import { RunRepo, SessionRepo } from './sessions.js';

export type { SessionRow, RunRow, RunState, StopReason } from './sessions.js';
export type { StoredFrame } from './frames.js';
export type { QueuedMessage } from './outbox.js';

export class Store {
  readonly sessions: SessionRepo;
  readonly runs: RunRepo;
  readonly frames: FrameRepo;
  /** The outbox to runners (table `messages`). */
  readonly messages: OutboxRepo;

  constructor(readonly db: Db) {
    this.sessions = new SessionRepo(db);
    this.runs = new RunRepo(db);
    this.frames = new FrameRepo(db);
    this.messages = new OutboxRepo(db);
  }

  static open(file: string): Store {
    return new Store(openDatabase(file));
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
