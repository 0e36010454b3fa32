/**
 * A session's history, one row per entry (table `frames`).
 *
 * Two numbers, never to be confused: `pos` is the entry's session-wide position (1, 2, …, across
 * runs), which watchers and `GET …/messages` see as `seq` (the contract's name); `run_seq` (`runSeq`
 * in code) is the runner's own sequence of the frame, unique within (session, run), which is how
 * repeats are recognised, and null for entries the control plane wrote itself. The stored `frame`
 * is the JSON sent to watchers, as is.
 */
import { CLOSING_EVENTS } from '../../protocol/history.js';
import type { Db } from './db.js';

export interface StoredFrame {
  pos: number;
  frame: string;
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
         AND json_extract(frame, '$.payload.event') IN (${[...CLOSING_EVENTS].map((e) => `'${e}'`).join(', ')})
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
