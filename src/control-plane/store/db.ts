/**
 * Opens the SQLite database: WAL, foreign keys on, migrations applied. A database written by a
 * newer version (more migrations than this build knows) is refused rather than guessed at.
 */
import { chmodSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { SystemError } from '../../errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

export function openDatabase(file: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  const fresh = file !== ':memory:' && !existsSync(file);
  let db: Db;
  try {
    db = new Database(file);
  } catch (e) {
    throw new SystemError('store', `cannot open the store at ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    // Sessions' environment variables live here: only the owner may read the file.
    if (fresh) chmodSync(file, 0o600);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.pragma('user_version', { simple: true }); // reads the header: a damaged file fails here
    } catch (e) {
      throw unreadable(file, e);
    }
    migrate(db, migrations);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** A store SQLite cannot read: name the file and what to do. */
function unreadable(file: string, e: unknown): SystemError {
  const why = (e as Error).message;
  const damaged = /not a database|malformed|corrupt/i.test(why);
  return new SystemError(
    'store',
    `cannot read the store ${file}: ${why}${damaged ? ' (the file is damaged or is not a claude-code-runner store)' : ''}: move it away (or restore it from a backup) and start serve again, which creates a new empty store, or use another --data-dir`,
    { cause: e },
  );
}

/** Applies the migrations the database lacks; returns how many were applied. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new SystemError('store', `migration ${m.version} is out of order (expected ${i + 1})`);
  });
  const current = Number(db.pragma('user_version', { simple: true }));
  if (current > migrations.length)
    throw new SystemError(
      'store',
      `the store is at schema version ${current} but this build knows only ${migrations.length}: it was written by a newer claude-code-runner; upgrade, or use another --data-dir`,
    );
  let applied = 0;
  for (const m of migrations.slice(current)) {
    const apply = db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    });
    try {
      apply();
    } catch (e) {
      throw new SystemError(
        'store',
        `migration ${m.version} (${m.description}) failed: ${(e as Error).message}`,
        { cause: e },
      );
    }
    applied++;
  }
  return applied;
}
