/**
 * A session's outbox to its runner (table `messages`): commands queued with the run they are for,
 * as the JSON that is sent, until the runner has them (`delivered`) or the run ended without them
 * (`discarded`). The rows outlive a restart of serve, which sends what is still queued again.
 * Only src/control-plane/delivery/commands.ts uses this: it owns delivery.
 */
import type { Db } from './db.js';

export interface QueuedMessage {
  id: number;
  session: string;
  run: number;
  type: string;
  command: string;
}

export class OutboxRepo {
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
