/** Sessions and their runs. Rows are plain objects; JSON columns are parsed here. */
import type { Db } from './db.js';
import type { Phase } from '../../protocol/status.js';
import type { SessionSpec, SessionStatus } from '../../protocol/api.js';

export interface SessionRow {
  name: string;
  project: string;
  uid: string;
  createdAt: string;
  spec: SessionSpec;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: SessionStatus;
  phase: Phase;
  currentRun: number;
  /** Absolute path of the workspace (a continuation shares its parent's). */
  workspace: string;
}

export type RunState = 'queued' | 'launching' | 'active' | 'ended';
export type StopReason = 'user' | 'timeout' | 'delete' | 'shutdown';

export interface RunRow {
  session: string;
  run: number;
  state: RunState;
  queuedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  pid: number | null;
  tokenHash: string | null;
  exitCode: number | null;
  signal: string | null;
  stopReason: StopReason | null;
}

interface SessionRecord {
  name: string;
  project: string;
  uid: string;
  created_at: string;
  spec: string;
  labels: string;
  annotations: string;
  status: string;
  phase: string;
  current_run: number;
  workspace: string;
}

interface RunRecord {
  session: string;
  run: number;
  state: string;
  queued_at: string;
  started_at: string | null;
  ended_at: string | null;
  pid: number | null;
  token_hash: string | null;
  exit_code: number | null;
  signal: string | null;
  stop_reason: string | null;
}

function toSession(r: SessionRecord): SessionRow {
  return {
    name: r.name,
    project: r.project,
    uid: r.uid,
    createdAt: r.created_at,
    spec: JSON.parse(r.spec) as SessionSpec,
    labels: JSON.parse(r.labels) as Record<string, string>,
    annotations: JSON.parse(r.annotations) as Record<string, string>,
    status: JSON.parse(r.status) as SessionStatus,
    phase: r.phase as Phase,
    currentRun: r.current_run,
    workspace: r.workspace,
  };
}

function toRun(r: RunRecord): RunRow {
  return {
    session: r.session,
    run: r.run,
    state: r.state as RunState,
    queuedAt: r.queued_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    pid: r.pid,
    tokenHash: r.token_hash,
    exitCode: r.exit_code,
    signal: r.signal,
    stopReason: r.stop_reason as StopReason | null,
  };
}

export class SessionRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly listStmt;
  private readonly deleteStmt;
  private readonly countWorkspaceStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO sessions (name, project, uid, created_at, spec, labels, annotations, status, phase, current_run, workspace)
       VALUES (@name, @project, @uid, @created_at, @spec, @labels, @annotations, @status, @phase, @current_run, @workspace)`,
    );
    this.getStmt = db.prepare<[string], SessionRecord>('SELECT * FROM sessions WHERE name = ?');
    this.listStmt = db.prepare<[string], SessionRecord>(
      'SELECT * FROM sessions WHERE project = ? ORDER BY name',
    );
    this.deleteStmt = db.prepare<[string]>('DELETE FROM sessions WHERE name = ?');
    this.countWorkspaceStmt = db.prepare<[string], { n: number }>(
      'SELECT COUNT(*) AS n FROM sessions WHERE workspace = ?',
    );
  }

  insert(s: SessionRow): void {
    this.insertStmt.run({
      name: s.name,
      project: s.project,
      uid: s.uid,
      created_at: s.createdAt,
      spec: JSON.stringify(s.spec),
      labels: JSON.stringify(s.labels),
      annotations: JSON.stringify(s.annotations),
      status: JSON.stringify(s.status),
      phase: s.phase,
      current_run: s.currentRun,
      workspace: s.workspace,
    });
  }

  get(name: string): SessionRow | undefined {
    const r = this.getStmt.get(name);
    return r ? toSession(r) : undefined;
  }

  list(project: string): SessionRow[] {
    return this.listStmt.all(project).map(toSession);
  }

  update(
    name: string,
    patch: Partial<Pick<SessionRow, 'spec' | 'labels' | 'annotations' | 'status' | 'currentRun'>>,
  ): void {
    const sets: string[] = [];
    const values: Record<string, unknown> = { name };
    const set = (column: string, value: unknown) => {
      sets.push(`${column} = @${column}`);
      values[column] = value;
    };
    if (patch.spec) set('spec', JSON.stringify(patch.spec));
    if (patch.labels) set('labels', JSON.stringify(patch.labels));
    if (patch.annotations) set('annotations', JSON.stringify(patch.annotations));
    if (patch.status) {
      set('status', JSON.stringify(patch.status));
      set('phase', patch.status.phase);
    }
    if (patch.currentRun !== undefined) set('current_run', patch.currentRun);
    if (!sets.length) return;
    this.db.prepare(`UPDATE sessions SET ${sets.join(', ')} WHERE name = @name`).run(values);
  }

  delete(name: string): void {
    this.deleteStmt.run(name);
  }

  countUsingWorkspace(workspace: string): number {
    return this.countWorkspaceStmt.get(workspace)?.n ?? 0;
  }
}

export class RunRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly byStateStmt;
  private readonly queuedStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO runs (session, run, state, queued_at) VALUES (@session, @run, 'queued', @queued_at)`,
    );
    this.getStmt = db.prepare<[string, number], RunRecord>(
      'SELECT * FROM runs WHERE session = ? AND run = ?',
    );
    this.byStateStmt = db.prepare<[], RunRecord>(
      `SELECT * FROM runs WHERE state IN ('launching', 'active') ORDER BY queued_at`,
    );
    this.queuedStmt = db.prepare<[], RunRecord>(
      `SELECT * FROM runs WHERE state = 'queued' ORDER BY queued_at, session`,
    );
  }

  insert(session: string, run: number, queuedAt: string): void {
    this.insertStmt.run({ session, run, queued_at: queuedAt });
  }

  get(session: string, run: number): RunRow | undefined {
    const r = this.getStmt.get(session, run);
    return r ? toRun(r) : undefined;
  }

  /** Runs that have (or had, before a restart) a process. */
  live(): RunRow[] {
    return this.byStateStmt.all().map(toRun);
  }

  /** Runs waiting for a slot, oldest first. */
  queued(): RunRow[] {
    return this.queuedStmt.all().map(toRun);
  }

  update(
    session: string,
    run: number,
    patch: Partial<Omit<RunRow, 'session' | 'run' | 'queuedAt'>>,
  ): void {
    const columns: Record<string, string> = {
      state: 'state',
      startedAt: 'started_at',
      endedAt: 'ended_at',
      pid: 'pid',
      tokenHash: 'token_hash',
      exitCode: 'exit_code',
      signal: 'signal',
      stopReason: 'stop_reason',
    };
    const sets: string[] = [];
    const values: Record<string, unknown> = { session, run };
    for (const [k, v] of Object.entries(patch)) {
      const col = columns[k];
      if (!col || v === undefined) continue;
      sets.push(`${col} = @${col}`);
      values[col] = v;
    }
    if (!sets.length) return;
    this.db
      .prepare(`UPDATE runs SET ${sets.join(', ')} WHERE session = @session AND run = @run`)
      .run(values);
  }
}
