/**
 * A session's history (frames) and its outbox to the runner (messages).
 *
 * History: every entry has a session-wide position `pos` (1, 2, …, across runs); entries that
 * came from a runner also keep that runner's own `run_seq`, unique within (session, run), which
 * is how repeats are recognised. The stored `frame` is the JSON sent to watchers, as is.
 */
import type { Db } from './db.js';

export interface StoredFrame {
  pos: number;
  frame: string;
}

export interface QueuedMessage {
  id: number;
  session: string;
  run: number;
  type: string;
  command: string;
}

export class FrameRepo {
  private readonly insertStmt;
  private readonly lastPosStmt;
  private readonly lastRunSeqStmt;
  private readonly readStmt;
  private readonly tailStmt;
  private readonly closedStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      'INSERT INTO frames (session, pos, run, run_seq, type, frame) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.lastPosStmt = db.prepare<[string], { p: number | null }>(
      'SELECT MAX(pos) AS p FROM frames WHERE session = ?',
    );
    this.lastRunSeqStmt = db.prepare<[string, number], { s: number | null }>(
      'SELECT MAX(run_seq) AS s FROM frames WHERE session = ? AND run = ?',
    );
    this.readStmt = db.prepare<[string, number, number], StoredFrame>(
      'SELECT pos, frame FROM frames WHERE session = ? AND pos > ? ORDER BY pos LIMIT ?',
    );
    this.tailStmt = db.prepare<[string, number, number], StoredFrame>(
      'SELECT pos, frame FROM frames WHERE session = ? AND pos > ? ORDER BY pos DESC LIMIT ?',
    );
    // Uses the (session, run, run_seq) index, then looks only at the run's system messages.
    this.closedStmt = db.prepare<[string, number], { one: number }>(
      `SELECT 1 AS one FROM frames WHERE session = ? AND run = ? AND run_seq IS NOT NULL
         AND type = 'system.message'
         AND json_extract(frame, '$.payload.event') IN ('session.completed', 'session.failed', 'session.stopped')
       LIMIT 1`,
    );
  }

  append(
    session: string,
    pos: number,
    run: number,
    runSeq: number | null,
    type: string,
    frame: string,
  ): void {
    this.insertStmt.run(session, pos, run, runSeq, type, frame);
  }

  lastPos(session: string): number {
    return this.lastPosStmt.get(session)?.p ?? 0;
  }

  lastRunSeq(session: string, run: number): number {
    return this.lastRunSeqStmt.get(session, run)?.s ?? 0;
  }

  /** Whether the runner's closing frame of the run (`session.completed|failed|stopped`) is stored. */
  hasClosingFrame(session: string, run: number): boolean {
    return this.closedStmt.get(session, run) !== undefined;
  }

  read(session: string, afterPos: number, limit: number): StoredFrame[] {
    return this.readStmt.all(session, afterPos, limit);
  }

  /**
   * The entries after `afterPos`, in order: at most `maxRows`, and no more once `maxBytes` of
   * frames have been read (at least one entry, however large). Rows are fetched one at a time, so
   * what is returned is all that is read. `more` is false when the history certainly ended (it may
   * be true at the very end: the next read then returns nothing).
   */
  readStep(
    session: string,
    afterPos: number,
    maxRows: number,
    maxBytes: number,
  ): { rows: StoredFrame[]; more: boolean } {
    const rows: StoredFrame[] = [];
    let bytes = 0;
    for (const row of this.readStmt.iterate(session, afterPos, maxRows)) {
      rows.push(row);
      bytes += row.frame.length;
      if (bytes >= maxBytes) return { rows, more: true }; // leaving the loop ends the read
    }
    return { rows, more: rows.length === maxRows };
  }

  /** The last `limit` entries after `afterPos`, in order. */
  tail(session: string, afterPos: number, limit: number): StoredFrame[] {
    return this.tailStmt.all(session, afterPos, limit).reverse();
  }
}

export class MessageRepo {
  private readonly insertStmt;
  private readonly queuedStmt;
  private readonly markStmt;
  private readonly discardStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO messages (session, run, type, command, state, created_at) VALUES (?, ?, ?, ?, 'queued', ?)`,
    );
    this.queuedStmt = db.prepare<[string, number], QueuedMessage>(
      `SELECT id, session, run, type, command FROM messages WHERE session = ? AND run = ? AND state = 'queued' ORDER BY id`,
    );
    // Only a queued message of that session: a repeated or stray ack changes nothing.
    this.markStmt = db.prepare<[string, string, number, string]>(
      `UPDATE messages SET state = ?, done_at = ? WHERE id = ? AND session = ? AND state = 'queued'`,
    );
    this.discardStmt = db.prepare<[string, string]>(
      `UPDATE messages SET state = 'discarded', done_at = ? WHERE session = ? AND state = 'queued'`,
    );
  }

  enqueue(session: string, run: number, type: string, command: string): number {
    return Number(
      this.insertStmt.run(session, run, type, command, new Date().toISOString()).lastInsertRowid,
    );
  }

  /** What the session's run `run` has not received yet, oldest first. */
  queued(session: string, run: number): QueuedMessage[] {
    return this.queuedStmt.all(session, run);
  }

  markDelivered(id: number, session: string): void {
    this.markStmt.run('delivered', new Date().toISOString(), id, session);
  }

  /** Drops what a finished run never received; returns how many. */
  discardQueued(session: string): number {
    return this.discardStmt.run(new Date().toISOString(), session).changes;
  }
}
