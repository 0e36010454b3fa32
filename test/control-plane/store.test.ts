import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { mergePatch } from '../../src/control-plane/merge-patch.js';
import { newId, newSessionName } from '../../src/control-plane/ids.js';
import { migrate, openDatabase } from '../../src/control-plane/store/db.js';
import { Store } from '../../src/control-plane/store/index.js';
import { MIGRATIONS, type Migration } from '../../src/control-plane/store/migrations.js';
import { NAME_PATTERN } from '../../src/protocol/api.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ccr-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function session(name: string, workspace = `/ws/${name}`) {
  return {
    name,
    project: 'demo',
    uid: 'u',
    createdAt: new Date().toISOString(),
    spec: { prompt: 'p' },
    labels: {},
    annotations: {},
    status: { phase: 'Pending' as const, run: 0 },
    phase: 'Pending' as const,
    currentRun: 0,
    workspace,
  };
}

describe('store: migrations', () => {
  it('a new store gets every migration, WAL and foreign keys, mode 0600', () => {
    const file = path.join(dir, 'fresh.db');
    const db = openDatabase(file);
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as {
      name: string;
    }[];
    for (const t of ['sessions', 'runs', 'frames', 'messages'])
      assert.ok(
        tables.some((x) => x.name === t),
        t,
      );
    db.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('reopening applies nothing; a later migration is applied to an older store, data kept', () => {
    const file = path.join(dir, 'old.db');
    const v1 = openDatabase(file, MIGRATIONS.slice(0, 1));
    new Store(v1).sessions.insert(session('session-a'));
    v1.close();
    const next: Migration[] = [
      ...MIGRATIONS,
      {
        version: MIGRATIONS.length + 1,
        description: 'test column',
        sql: 'ALTER TABLE sessions ADD COLUMN extra TEXT',
      },
    ];
    const db = openDatabase(file, next);
    assert.equal(db.pragma('user_version', { simple: true }), next.length);
    assert.equal(migrate(db, next), 0);
    assert.equal(
      (db.prepare('SELECT name, extra FROM sessions').get() as { name: string; extra: null }).name,
      'session-a',
    );
    db.close();
  });

  it('a failed migration leaves the store at the previous version, with a message naming it', () => {
    const db = new Database(':memory:');
    const bad: Migration[] = [
      { version: 1, description: 'ok', sql: 'CREATE TABLE a (x)' },
      { version: 2, description: 'broken', sql: 'CREATE TABLE b (x); THIS IS NOT SQL' },
    ];
    assert.throws(() => migrate(db, bad), /migration 2 \(broken\) failed/);
    assert.equal(db.pragma('user_version', { simple: true }), 1);
    assert.equal(
      (
        db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'b'`).get() as {
          n: number;
        }
      ).n,
      0,
    );
    db.close();
  });

  it('a store from a newer version is refused', () => {
    const file = path.join(dir, 'newer.db');
    const db = new Database(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    db.close();
    assert.throws(() => openDatabase(file), /newer claude-code-runner/);
  });
});

describe('store: rows', () => {
  it('deleting a session removes its runs, frames and messages; repeated run seqs are refused', () => {
    const store = Store.open(':memory:');
    store.sessions.insert(session('session-b'));
    store.runs.insert('session-b', 1, new Date().toISOString());
    store.frames.append('session-b', 1, 1, 1, 'agent.running', '{}');
    store.frames.append('session-b', 2, 1, null, 'user_message', '{}');
    assert.throws(() => store.frames.append('session-b', 3, 1, 1, 'agent.running', '{}'), /UNIQUE/);
    store.frames.append('session-b', 3, 2, 1, 'agent.running', '{}'); // seq restarts in a new run
    store.messages.enqueue('session-b', 1, 'user_message', '{}');
    assert.equal(store.frames.lastPos('session-b'), 3);
    assert.equal(store.frames.lastRunSeq('session-b', 1), 1);
    assert.deepEqual(
      store.frames.read('session-b', 1, 10).map((f) => f.pos),
      [2, 3],
    );
    store.sessions.delete('session-b');
    for (const t of ['runs', 'frames', 'messages'])
      assert.equal(
        (store.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n,
        0,
        t,
      );
    store.close();
  });

  it('runs: queue order, live runs, updates', () => {
    const store = Store.open(':memory:');
    store.sessions.insert(session('session-c'));
    store.sessions.insert(session('session-d'));
    store.runs.insert('session-d', 1, '2026-01-01T00:00:00.000Z');
    store.runs.insert('session-c', 1, '2026-01-01T00:00:01.000Z');
    assert.deepEqual(
      store.runs.queued().map((r) => r.session),
      ['session-d', 'session-c'],
    );
    store.runs.update('session-d', 1, { state: 'active', pid: 42, tokenHash: 'h' });
    assert.deepEqual(
      store.runs.live().map((r) => [r.session, r.pid]),
      [['session-d', 42]],
    );
    store.runs.update('session-d', 1, { state: 'ended', tokenHash: null });
    assert.equal(store.runs.get('session-d', 1)?.tokenHash, null);
    store.close();
  });
});

describe('ids', () => {
  it('sort by creation, are unique, and make valid session names', () => {
    const ids = Array.from({ length: 2000 }, () => newId());
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids);
    assert.ok(newId(Date.now() + 60_000) > ids[ids.length - 1]!);
    assert.ok(
      newId(Date.parse('2020-01-01')) > ids[ids.length - 1]!,
      'never goes backwards with the clock',
    );
    const name = newSessionName();
    assert.match(name, /^session-[0-9a-z]{26}$/);
    assert.match(name, NAME_PATTERN);
  });
});

describe('merge patch (RFC 7396)', () => {
  it('merges objects, removes on null, replaces arrays and scalars', () => {
    assert.deepEqual(
      mergePatch(
        { a: 1, b: { c: 2, d: 3 }, e: [1] },
        { a: null, b: { c: null, x: 1 }, e: [2], f: 'n' },
      ),
      {
        b: { d: 3, x: 1 },
        e: [2],
        f: 'n',
      },
    );
    assert.equal(mergePatch({ a: 1 }, 'x'), 'x');
  });
});
