/**
 * The session resource: create, read, list, patch, start, stop, delete, status, messages, git
 * token, logs. Validation of request shapes happens in the API layer (zod); what needs the store
 * (a parent that must exist, a session that must not be running) happens here, as RequestErrors
 * that the API maps to HTTP in one place.
 *
 * Sessions creating sessions (docs/agents.md): a runner token may create sessions in its own
 * project; the child is annotated with its creator (`ambient-code.io/parent-session`), takes
 * over its user context, and counts against two bounds (children per session, depth of the
 * chain). Messages a runner sends carry its session as sender and are recorded in both
 * histories.
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
import { MAIN_AGENT, PARENT_SESSION_ANNOTATION } from '../protocol/agents.js';
import { commandFromValue } from '../protocol/commands.js';
import { TERMINAL_PHASES, type Phase, type StatusUpdate } from '../protocol/status.js';
import type { Principal } from './auth.js';
import type { SendResult } from '../protocol/history.js';
import { refuseControlChars, type CommandDelivery } from './delivery/commands.js';
import type { Executor } from './executor/types.js';
import type { HistoryLog } from './hub/history-log.js';
import { newSessionName } from './ids.js';
import { mergePatch } from './merge-patch.js';
import { redactEnvironment, sessionRedactor, type ControlPlaneRedactor } from './redaction.js';
import type { RunManager } from './runs.js';
import type { SessionRow, Store } from './store/index.js';
import { ValidationError, zodIssuesToError } from './validation.js';

export interface SessionServiceOptions {
  store: Store;
  runs: RunManager;
  history: HistoryLog;
  /** Queues and delivers commands to the runner; the hub hands it watchers' commands. */
  delivery: CommandDelivery;
  executor: Executor;
  redactor: ControlPlaneRedactor;
  logger: Logger;
  dataDir: string;
  githubToken?: string;
  historyPageSize: number;
  limits: SessionLimits;
}

/** Bounds on sessions that sessions create, so agents cannot fork without end. */
export interface SessionLimits {
  /** Sessions one session may have created (existing ones count). */
  maxChildrenPerSession: number;
  /** How long a chain of creators may be: a root session is at depth 0, its child at 1, … */
  maxSessionDepth: number;
}

export class SessionService {
  constructor(private readonly o: SessionServiceOptions) {}

  /** `creator`: the principal that asks; a runner's session becomes the child's parent. */
  create(project: string, req: CreateSessionRequest, creator?: Principal): SessionResource {
    const { labels, annotations: requested, ...spec } = req;
    let annotations = requested ?? {};
    let parentDepth: number | undefined;
    const byRunner = creator?.kind === 'runner' ? this.must(project, creator.session) : undefined;
    if (byRunner) {
      parentDepth = this.checkFanOut(byRunner);
      annotations = { ...annotations, [PARENT_SESSION_ANNOTATION]: byRunner.name };
      if (!spec.userContext && byRunner.spec.userContext)
        spec.userContext = byRunner.spec.userContext;
    }
    let workspace: string;
    const name = newSessionName();
    if (spec.parent_session_id) {
      const parent = this.o.store.sessions.get(spec.parent_session_id);
      if (!parent || parent.project !== project)
        throw new ValidationError(
          [`parent_session_id: no session "${spec.parent_session_id}" in project ${project}`],
          ['parent_session_id'],
        );
      if (!TERMINAL_PHASES.has(parent.phase))
        throw new RequestError(
          409,
          `parent_session_id: session ${parent.name} is ${parent.phase}: continue it once it has ended`,
        );
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
      annotations,
      status: { phase: 'Pending', run: 0 },
      phase: 'Pending',
      currentRun: 0,
      workspace,
    });
    this.o.logger.info('session created', {
      session: name,
      project,
      ...(byRunner ? { by: byRunner.name } : {}),
    });
    if (byRunner)
      this.o.history.append(byRunner.name, byRunner.currentRun, null, {
        type: 'system.message',
        payload: {
          message: `created session ${name}`,
          level: 'info',
          event: 'session.child_created',
          data: { child: name, depth: (parentDepth ?? 0) + 1 },
        },
      });
    this.o.runs.newRun(name);
    return this.render(this.must(project, name));
  }

  /**
   * The bounds on a session creating another one; returns the creator's depth. A refusal is a 403
   * that names the bound and its setting, which the agent sees as the tool's error.
   */
  private checkFanOut(parent: SessionRow): number {
    const { maxChildrenPerSession, maxSessionDepth } = this.o.limits;
    const depth = this.depthOf(parent, maxSessionDepth);
    if (depth + 1 > maxSessionDepth)
      throw new RequestError(
        403,
        `session ${parent.name} is at depth ${depth} of a chain of sessions creating sessions, and the deepest allowed is ${maxSessionDepth} (CLAUDE_RUNNER_MAX_SESSION_DEPTH): do this work in this session instead`,
      );
    const children = this.o.store.sessions
      .list(parent.project)
      .filter((s) => s.annotations[PARENT_SESSION_ANNOTATION] === parent.name).length;
    if (children >= maxChildrenPerSession)
      throw new RequestError(
        403,
        `session ${parent.name} has created ${children} session(s), the most one session may create (CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION=${maxChildrenPerSession}): use the sessions it has, or do this work in this session`,
      );
    return depth;
  }

  /** Creators above a session (0 for one nobody created); stops past `max` and at a cycle. */
  private depthOf(row: SessionRow, max: number): number {
    const seen = new Set([row.name]);
    let depth = 0;
    let parent = row.annotations[PARENT_SESSION_ANNOTATION];
    while (parent && depth <= max) {
      const up = this.o.store.sessions.get(parent);
      if (!up || seen.has(up.name)) break;
      seen.add(up.name);
      depth++;
      parent = up.annotations[PARENT_SESSION_ANNOTATION];
    }
    return depth;
  }

  get(project: string, name: string): SessionResource {
    return this.render(this.must(project, name));
  }

  /** The row, for access checks (a runner token may read its parent). */
  row(project: string, name: string): SessionRow {
    return this.must(project, name);
  }

  list(
    project: string,
    filter: { labels?: Record<string, string>; phase?: Phase } = {},
  ): SessionResource[] {
    return this.page(project, filter).items;
  }

  /**
   * One page of the project's sessions, oldest first (names sort by creation time). `after` is
   * the `continue` token of the previous page: the last name it held.
   */
  page(
    project: string,
    filter: { labels?: Record<string, string>; phase?: Phase; limit?: number; after?: string } = {},
  ): { items: SessionResource[]; continue?: string } {
    const rows = this.o.store.sessions
      .list(project)
      .filter((s) => !filter.after || s.name > filter.after)
      .filter((s) => !filter.phase || s.phase === filter.phase)
      .filter((s) => Object.entries(filter.labels ?? {}).every(([k, v]) => s.labels[k] === v));
    const page = filter.limit !== undefined ? rows.slice(0, filter.limit) : rows;
    const more = page.length < rows.length;
    return {
      items: page.map((s) => this.render(s)),
      ...(more ? { continue: page[page.length - 1]!.name } : {}),
    };
  }

  patch(project: string, name: string, patch: PatchSessionRequest): SessionResource {
    const row = this.must(project, name);
    const update: Partial<Pick<SessionRow, 'spec' | 'labels' | 'annotations'>> = {};
    if (patch.metadata && 'labels' in patch.metadata)
      update.labels = mergePatch(row.labels, patch.metadata.labels ?? {}) as Record<string, string>;
    if (patch.metadata?.labels === null) update.labels = {};
    if (patch.metadata && 'annotations' in patch.metadata)
      update.annotations = mergePatch(row.annotations, patch.metadata.annotations ?? {}) as Record<
        string,
        string
      >;
    if (patch.metadata?.annotations === null) update.annotations = {};
    if (patch.spec && Object.keys(patch.spec).length) {
      if (this.o.runs.hasProcess(row))
        throw new RequestError(
          409,
          `session ${name} is ${row.phase}: its spec can change only while it is not running`,
        );
      if (
        'parent_session_id' in patch.spec &&
        patch.spec.parent_session_id !== row.spec.parent_session_id
      )
        throw new ValidationError(
          [
            'spec.parent_session_id: cannot be changed: create a new session to continue another one',
          ],
          ['spec.parent_session_id'],
        );
      const merged = SessionSpec.safeParse(mergePatch(row.spec, patch.spec));
      if (!merged.success) throw zodIssuesToError(merged.error.issues, 'spec');
      update.spec = merged.data;
    }
    this.o.store.sessions.update(name, update);
    return this.render(this.must(project, name));
  }

  start(project: string, name: string): SessionResource {
    const row = this.must(project, name);
    if (this.o.runs.isActive(row))
      throw new RequestError(
        409,
        `session ${name} is ${row.phase}: stop it before starting it again`,
      );
    this.o.runs.newRun(name);
    return this.render(this.must(project, name));
  }

  async stop(project: string, name: string): Promise<SessionResource> {
    const row = this.must(project, name);
    if (!(await this.o.runs.stop(name, 'user')))
      throw new RequestError(409, `session ${name} is not running (phase ${row.phase})`);
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
      throw new RequestError(
        404,
        'no GitHub token is configured: start serve with GITHUB_TOKEN set to let runners clone and push private repos',
      );
    return { token: this.o.githubToken };
  }

  history(
    project: string,
    name: string,
    afterSeq = 0,
    limit = this.o.historyPageSize,
    tail?: number,
  ): { items: unknown[]; lastSeq: number; hasMore: boolean } {
    this.must(project, name);
    if (tail !== undefined) {
      const rows = this.o.store.frames.tail(name, afterSeq, tail);
      return {
        items: rows.map((r) => JSON.parse(r.frame) as unknown),
        lastSeq: rows.length ? rows[rows.length - 1]!.pos : afterSeq,
        hasMore: false,
      };
    }
    const rows = this.o.history.read(name, afterSeq, limit + 1);
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => JSON.parse(r.frame) as unknown),
      lastSeq: page.length ? page[page.length - 1]!.pos : afterSeq,
      hasMore: rows.length > limit,
    };
  }

  /**
   * `POST …/messages`: `{"type"?, ...payload}`, type `user_message` by default. From a runner
   * token (another session of the project): user messages only, to an interactive session, with
   * that session as the sender; the sender's history records it too.
   */
  sendMessage(
    project: string,
    name: string,
    body: Record<string, unknown>,
    sender?: Principal,
  ): SendResult {
    const target = this.must(project, name);
    const { type, ...payload } = body;
    refuseControlChars(payload);
    // The body is already JSON-parsed (and depth-bounded) by the API: validated here, not reparsed.
    const parsed = commandFromValue({ type: type ?? 'user_message', payload });
    if (!parsed.ok) {
      // The body is the payload's fields: name them as the caller wrote them ("name", not
      // "payload.name").
      const detail = parsed.detail.replace(/(^|; )payload\./g, '$1');
      const fields = [...detail.matchAll(/(?:^|; )([^:;]+):/g)].map((m) => m[1]!);
      throw new ValidationError([`invalid message: ${detail}`], fields);
    }
    if (sender?.kind !== 'runner') return this.o.delivery.submit(name, parsed.command, 'api');
    const command = parsed.command;
    if (command.type !== 'user_message' && command.type !== 'user.message')
      throw new RequestError(
        403,
        `a runner token may send user messages only, not ${command.type}`,
      );
    if (name === sender.session)
      throw new RequestError(409, `session ${name} cannot send a message to itself`);
    if (!target.spec.interactive)
      throw new RequestError(
        409,
        `session ${name} is not interactive: it takes no messages (create it with interactive: true to talk to it)`,
      );
    const from = { session: sender.session, agent: agentLabel(command.payload.from?.agent) };
    const result = this.o.delivery.submit(
      name,
      { ...command, payload: { ...command.payload, from } },
      'session',
    );
    const own = this.o.store.sessions.get(sender.session);
    if (own)
      this.o.history.append(own.name, own.currentRun, null, {
        type: 'system.message',
        payload: sessionRedactor(this.o.redactor, own.spec.environmentVariables).redactDeep({
          message: `message sent to session ${name}`,
          level: 'info',
          event: 'session.message_sent',
          data: {
            to: name,
            content: command.payload.content ?? command.payload.text ?? '',
            from,
            id: result.id,
          },
        }),
      });
    return result;
  }

  logs(project: string, name: string, run?: number, tail?: number): string {
    const row = this.must(project, name);
    const n = run ?? row.currentRun;
    if (n < 1 || n > row.currentRun)
      throw new RequestError(404, `session ${name} has no run ${n} (runs 1…${row.currentRun})`);
    const text = this.o.executor.readOutput({ session: name, run: n }, tail);
    return sessionRedactor(this.o.redactor, row.spec.environmentVariables).redact(text);
  }

  private must(project: string, name: string): SessionRow {
    const row = this.o.store.sessions.get(name);
    if (!row || row.project !== project)
      throw new RequestError(404, `session ${project}/${name} not found`);
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

/** The sender agent's name as a runner reports it: a plain name, else the main agent. */
function agentLabel(agent: string | undefined): string {
  return agent && /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(agent) ? agent : MAIN_AGENT;
}
