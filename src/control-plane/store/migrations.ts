/**
 * The store's schema, as an ordered list of migrations. `PRAGMA user_version` records how many
 * have been applied; opening a store applies the missing ones, each in its own transaction.
 * Append new migrations at the end; never edit one that has shipped.
 */
export interface Migration {
  /** 1-based; must equal its position in the list. */
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'sessions, runs, frames (history), messages (outbox to runners)',
    sql: `
      CREATE TABLE sessions (
        name        TEXT PRIMARY KEY,
        project     TEXT NOT NULL,
        uid         TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        spec        TEXT NOT NULL,
        labels      TEXT NOT NULL,
        annotations TEXT NOT NULL,
        status      TEXT NOT NULL,
        phase       TEXT NOT NULL,
        current_run INTEGER NOT NULL DEFAULT 0,
        workspace   TEXT NOT NULL
      );
      CREATE INDEX sessions_project ON sessions(project, name);

      CREATE TABLE runs (
        session     TEXT NOT NULL REFERENCES sessions(name) ON DELETE CASCADE,
        run         INTEGER NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('queued', 'launching', 'active', 'ended')),
        queued_at   TEXT NOT NULL,
        started_at  TEXT,
        ended_at    TEXT,
        pid         INTEGER,
        token_hash  TEXT,
        exit_code   INTEGER,
        signal      TEXT,
        stop_reason TEXT,
        PRIMARY KEY (session, run)
      );
      CREATE INDEX runs_state ON runs(state, queued_at);

      CREATE TABLE frames (
        session    TEXT NOT NULL REFERENCES sessions(name) ON DELETE CASCADE,
        pos        INTEGER NOT NULL,
        run        INTEGER NOT NULL,
        run_seq    INTEGER,
        type       TEXT NOT NULL,
        frame      TEXT NOT NULL,
        PRIMARY KEY (session, pos)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX frames_run_seq ON frames(session, run, run_seq) WHERE run_seq IS NOT NULL;

      CREATE TABLE messages (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        session    TEXT NOT NULL REFERENCES sessions(name) ON DELETE CASCADE,
        run        INTEGER NOT NULL,
        type       TEXT NOT NULL,
        command    TEXT NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'discarded')),
        created_at TEXT NOT NULL,
        done_at    TEXT
      );
      CREATE INDEX messages_queued ON messages(session, state, id);
    `,
  },
];
