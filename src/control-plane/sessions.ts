/**
 * The session resource: create, read, list, patch, start, stop, delete, status, messages, git
 * token, logs. Validation of request shapes happens in the API layer (zod); what needs the store
 * (a parent that must exist, a session that must not be running) happens here, as RequestErrors
 * that the API maps to HTTP in one place.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { RequestError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import {
  API_VERSION,
  SESSION_KIND,
  SessionSpec,
  type CreateSessionRequest,
  type PatchSessionRequest,
  type SessionResource,
} from '../protocol/api.js';
import { parseCommand, type BackendCommand } from '../protocol/commands.js';
import { TERMINAL_PHASES, type Phase, type StatusUpdate } from '../protocol/status.js';
import type { Executor } from './executor/types.js';
import type { HistoryLog } from './hub/history.js';
import type { CommandSink, Hub } from './hub/hub.js';
import { newSessionName } from './ids.js';
import { mergePatch } from './merge-patch.js';
import { redactEnvironment, secretValues, type ControlPlaneRedactor } from './redaction.js';
import type { RunManager } from './runs.js';
import type { SessionRow, Store } from './store/index.js';
import { ValidationError, zodIssuesToError } from './validation.js';

export interface SessionServiceOptions {
  store: Store;
  runs: RunManager;
  hub: Hub;
  history: HistoryLog;
  executor: Executor;
  redactor: ControlPlaneRedactor;
  logger: Logger;
  dataDir: string;
  githubToken?: string;
  historyPageSize: number;
}

export interface SendResult {
  id: number;
  type: string;
  delivered: boolean;
  seq?: number;
}

export class SessionService implements CommandSink {
  constructor(private readonly o: SessionServiceOptions) {}

  create(project: string, req: CreateSessionRequest): SessionResource {
    const { labels, annotations, ...spec } = req;
    let workspace: string;
    const name = newSessionName();
    if (spec.parent_session_id) {
      const parent = this.o.store.sessions.get(spec.parent_session_id);
      if (!parent || parent.project !== project)
        throw new ValidationError([`parent_session_id: no session "${spec.parent_session_id}" in project ${project}`], ['parent_session_id']);
      if (!TERMINAL_PHASES.has(parent.phase))
        throw new RequestError(409, `parent_session_id: session ${parent.name} is ${parent.phase}: continue it once it has ended`);
      workspace = parent.workspace;
    } else {
      workspace = path.join(this.o.dataDir, 'workspaces', name);
    }
    this.o.store.sessions.insert({
      name,
      project,
      uid: randomUUID(),
      createdAt: new Date().toISOString(),
      spec,
      labels: labels ?? {},
      annotations: annotations ?? {},
      status: { phase: 'Pending', run: 0 },
      phase: 'Pending',
      currentRun: 0,
      workspace,
    });
    this.o.logger.info('session created', { session: name, project });
    this.o.runs.newRun(name);
    return this.render(this.must(project, name));
  }

  get(project: string, name: string): SessionResource {
    return this.render(this.must(project, name));
  }

  /** The row, for access checks (a runner token may read its parent). */
  row(project: string, name: string): SessionRow {
    return this.must(project, name);
  }

  list(project: string, filter: { labels?: Record<string, string>; phase?: Phase } = {}): SessionResource[] {
    return this.o.store.sessions
      .list(project)
      .filter((s) => !filter.phase || s.phase === filter.phase)
      .filter((s) => Object.entries(filter.labels ?? {}).every(([k, v]) => s.labels[k] === v))
      .map((s) => this.render(s));
  }

  patch(project: string, name: string, patch: PatchSessionRequest): SessionResource {
    const row = this.must(project, name);
    const update: Partial<Pick<SessionRow, 'spec' | 'labels' | 'annotations'>> = {};
    if (patch.metadata && 'labels' in patch.metadata)
      update.labels = mergePatch(row.labels, patch.metadata.labels ?? {}) as Record<string, string>;
    if (patch.metadata?.labels === null) update.labels = {};
    if (patch.metadata && 'annotations' in patch.metadata)
      update.annotations = mergePatch(row.annotations, patch.metadata.annotations ?? {}) as Record<string, string>;
    if (patch.metadata?.annotations === null) update.annotations = {};
    if (patch.spec && Object.keys(patch.spec).length) {
      if (this.o.runs.hasProcess(row))
        throw new RequestError(409, `session ${name} is ${row.phase}: its spec can change only while it is not running`);
      if ('parent_session_id' in patch.spec && patch.spec.parent_session_id !== row.spec.parent_session_id)
        throw new ValidationError(['spec.parent_session_id: cannot be changed: create a new session to continue another one'], ['spec.parent_session_id']);
      const merged = SessionSpec.safeParse(mergePatch(row.spec, patch.spec));
      if (!merged.success) throw zodIssuesToError(merged.error.issues, 'spec');
      update.spec = merged.data;
    }
    this.o.store.sessions.update(name, update);
    return this.render(this.must(project, name));
  }

  start(project: string, name: string): SessionResource {
    const row = this.must(project, name);
    if (this.o.runs.isActive(row)) throw new RequestError(409, `session ${name} is ${row.phase}: stop it before starting it again`);
    this.o.runs.newRun(name);
    return this.render(this.must(project, name));
  }

  async stop(project: string, name: string): Promise<SessionResource> {
    const row = this.must(project, name);
    if (!(await this.o.runs.stop(name, 'user'))) throw new RequestError(409, `session ${name} is not running (phase ${row.phase})`);
    return this.render(this.must(project, name));
  }

  async delete(project: string, name: string): Promise<void> {
    this.must(project, name);
    await this.o.runs.remove(name);
    this.o.logger.info('session deleted', { session: name, project });
  }

  putStatus(project: string, name: string, update: StatusUpdate): SessionResource {
    this.must(project, name);
    this.o.runs.reportStatus(name, update);
    return this.render(this.must(project, name));
  }

  githubToken(project: string, name: string): { token: string } {
    this.must(project, name);
    if (!this.o.githubToken)
      throw new RequestError(404, 'no GitHub token is configured: start serve with GITHUB_TOKEN set to let runners clone and push private repos');
    return { token: this.o.githubToken };
  }

  history(project: string, name: string, afterSeq = 0, limit = this.o.historyPageSize): { items: unknown[]; lastSeq: number; hasMore: boolean } {
    this.must(project, name);
    const rows = this.o.history.read(name, afterSeq, limit + 1);
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => JSON.parse(r.frame) as unknown),
      lastSeq: page.length ? page[page.length - 1]!.pos : afterSeq,
      hasMore: rows.length > limit,
    };
  }

  /** `POST …/messages`: `{"type"?, ...payload}`, type `user_message` by default. */
  sendMessage(project: string, name: string, body: Record<string, unknown>): SendResult {
    this.must(project, name);
    const { type, ...payload } = body;
    const parsed = parseCommand(JSON.stringify({ type: type ?? 'user_message', payload }));
    if (!parsed.ok) throw new ValidationError([`invalid message: ${parsed.detail}`], []);
    return this.sendCommand(name, parsed.command, 'api');
  }

  sendCommand(name: string, command: BackendCommand, via: string): SendResult {
    const row = this.o.store.sessions.get(name);
    if (!row) throw new RequestError(404, `session ${name} not found`);
    if (command.type === 'ack' || command.type === 'ping') throw new ValidationError([`type: ${command.type} is the control plane's own`], ['type']);
    // A runner that has reported a terminal phase is about to exit: a message queued now would
    // never be read, so it is refused rather than silently lost.
    if (!this.o.runs.isActive(row) || TERMINAL_PHASES.has(row.phase))
      throw new RequestError(409, `session ${name} is ${row.phase}: start it again (POST …/start) before sending messages`);
    let seq: number | undefined;
    let outgoing: BackendCommand = command;
    if (command.type === 'user_message' || command.type === 'user.message') {
      const content = command.payload.content ?? command.payload.text ?? '';
      const from = command.payload.from ?? { user: row.spec.userContext?.userId ?? 'user' };
      outgoing = { ...command, payload: { ...command.payload, from } };
      seq = this.o.history.append(name, row.currentRun, null, {
        type: 'user_message',
        payload: this.o.redactor.redactDeep({ content, from, via, ...(command.payload.id ? { id: command.payload.id } : {}) }),
      });
    }
    const id = this.o.store.messages.enqueue(name, row.currentRun, command.type, JSON.stringify(outgoing));
    const delivered = this.o.hub.runnerConnected(name);
    this.o.hub.deliverQueued(name);
    return { id, type: command.type, delivered, ...(seq !== undefined ? { seq } : {}) };
  }

  logs(project: string, name: string, run?: number, tail?: number): string {
    const row = this.must(project, name);
    const n = run ?? row.currentRun;
    if (n < 1 || n > row.currentRun) throw new RequestError(404, `session ${name} has no run ${n} (runs 1…${row.currentRun})`);
    const text = this.o.executor.readOutput({ session: name, run: n }, tail);
    return this.o.redactor.plus(secretValues(row.spec.environmentVariables, this.o.redactor)).redact(text);
  }

  private must(project: string, name: string): SessionRow {
    const row = this.o.store.sessions.get(name);
    if (!row || row.project !== project) throw new RequestError(404, `session ${project}/${name} not found`);
    return row;
  }

  private render(row: SessionRow): SessionResource {
    const r = this.o.redactor;
    const env = redactEnvironment(row.spec.environmentVariables, r);
    return {
      apiVersion: API_VERSION,
      kind: SESSION_KIND,
      metadata: {
        name: row.name,
        namespace: row.project,
        uid: row.uid,
        labels: row.labels,
        annotations: r.redactDeep(row.annotations),
        creationTimestamp: row.createdAt,
      },
      spec: { ...row.spec, ...(env ? { environmentVariables: env } : {}) },
      status: r.redactDeep(row.status),
    };
  }
}
