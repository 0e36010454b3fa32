/**
 * Runs one session end to end: reports Running, prepares the workspace, drives the conversation
 * (one turn per user message, never two at once), maps every SDK message to frames the moment it
 * arrives, handles the backend's commands, and finishes with a final status and an exit code.
 *
 * Its life cycle is the state machine of session-state.ts; every change goes through
 * `transition`, and every wait (for the turn's end, for the stop, for the start) is a wait for a
 * transition, never a poll:
 *
 *   starting ──► idle ◄──► turn         changing: a workspace change between turns
 *                 │  ▲                  ending: end_session, or a one-shot run's last turn
 *                 ▼  │                  stopping: SIGTERM, SIGINT, the session timeout
 *               changing                finishing: results, final frames, final status
 *
 *   (any of those) ──► ending ──► stopping ──► finishing ──► done   (each step may be skipped)
 *
 * Ordering rules that keep the stream honest:
 * - `agent.running` is sent when a turn really starts, `agent.waiting` when an interactive session
 *   is idle; user messages that arrive during a turn wait in our own queue and start the next one.
 * - The final status is reported only after the last frame was queued and acknowledged, and is
 *   retried until it lands or the final-delivery bound passes; what is left unconfirmed then is
 *   saved in the workspace's outbox file for the control plane (docs/runner.md).
 */
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { RunnerConfig } from '../config/runner-config.js';
import { describeError, UserError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Redactor } from '../observability/redact.js';
import type { Tracer } from '../observability/tracing.js';
import { toSdkAgents } from '../protocol/agents.js';
import type { BackendCommand } from '../protocol/commands.js';
import type { FrameDraft, ResultSummary } from '../protocol/frames.js';
import { SDK_SESSION_ANNOTATION, type Phase, type StatusUpdate } from '../protocol/status.js';
import type { PreparedWorkspace, WorkspaceChange, WorkspaceManager } from '../workspace/types.js';
import type { BackendClient } from './backend-client.js';
import type { ClaudeSession, ClaudeSessionOptions } from './claude-session.js';
import { FinalDelivery } from './final-delivery.js';
import { MessageMapper, resultSummary } from './message-mapper.js';
import { summaryForStatus, waitForCaller, withSender } from './session-helpers.js';
import { RunnerStateMachine, type RunnerState, type StopRequest } from './session-state.js';
import type { RunnerSocket } from './socket-client.js';

/** How long a sessions tool waits for its own call to be mapped (to name the calling agent). */
const CALLER_WAIT_MS = 2_000;

/**
 * The parts that load the Agent SDK (1.4 MB of JavaScript, ~100 ms to compile and run) are loaded
 * when the conversation starts, not at process start, so the first frames and the Running status
 * go out first (docs/benchmarks.md, cold start). They wait at most this long for the socket.
 */
const SDK_LOAD_WAIT_MS = 300;

async function loadSdkParts() {
  const [{ ClaudeSession }, tools] = await Promise.all([
    import('./claude-session.js'),
    import('./sessions-tools.js'),
  ]);
  return { ClaudeSession, ...tools };
}

/** How long the CLI's session id annotation is retried while the control plane is unreachable. */
const ANNOTATION_RETRY_MS = 120_000;

export const EXIT_CODES = {
  completed: 0,
  failed: 1,
  config: 2,
  timeout: 124,
  sigint: 130,
  sigterm: 143,
} as const;

export interface RunOutcome {
  phase: Extract<Phase, 'Completed' | 'Failed' | 'Stopped'>;
  message: string;
  exitCode: number;
  result?: ResultSummary;
}

export interface SessionRunnerDeps {
  config: Readonly<RunnerConfig>;
  logger: Logger;
  redactor: Redactor;
  socket: RunnerSocket;
  backend: BackendClient;
  workspace: WorkspaceManager;
  tracer: Tracer;
}

export type { StopRequest } from './session-state.js';

export class SessionRunner {
  private session: ClaudeSession | null = null;
  private sdk: Awaited<ReturnType<typeof loadSdkParts>> | null = null;
  private prepared: PreparedWorkspace | null = null;
  private readonly mapper: MessageMapper;
  private readonly machine: RunnerStateMachine;
  /** User messages waiting for the next turn (they came during a turn, a change or the start). */
  private readonly pending: string[] = [];
  private turn = 0;
  private lastResult: ResultSummary | undefined;
  private sdkSessionId: string | undefined;
  /** Workspace changes, applied one after the other. */
  private changeChain: Promise<void> = Promise.resolve();
  /** The last annotation of the CLI's session id, while it is being delivered. */
  private annotated: Promise<void> = Promise.resolve();
  /** The final frames and status being handed over (a stop then cuts it short). */
  private finalDelivery: FinalDelivery | null = null;
  /** Ends what the sessions tools are doing (a wait) when the run ends. */
  private readonly toolsAbort = new AbortController();
  private readonly log: Logger;

  constructor(private readonly deps: SessionRunnerDeps) {
    this.mapper = new MessageMapper(deps.redactor);
    this.log = deps.logger.child('session');
    this.machine = new RunnerStateMachine(this.log);
  }

  private transition(to: RunnerState, why: string): boolean {
    return this.machine.transition(to, why);
  }

  // --- lifecycle -----------------------------------------------------------------------------

  async run(): Promise<RunOutcome> {
    const { config, backend } = this.deps;
    const statusRunning = backend
      .putStatusReliably({ phase: 'Running', message: 'Runner started' }, Date.now() + 30_000)
      .catch(() => false);
    this.system(`Session ${config.session.name} started`, 'system', 'session.started');
    let timeout: NodeJS.Timeout | undefined;
    if (config.session.timeoutMs)
      timeout = setTimeout(
        () =>
          this.stop({
            phase: 'Failed',
            message: `Session timed out after ${config.session.timeoutMs! / 1000} s (TIMEOUT)`,
            exitCode: EXIT_CODES.timeout,
          }),
        config.session.timeoutMs,
      );
    let outcome: RunOutcome;
    try {
      outcome = await this.converse();
    } catch (e) {
      outcome = {
        phase: 'Failed',
        message: describeError(e),
        exitCode: EXIT_CODES.failed,
        ...(this.lastResult ? { result: this.lastResult } : {}),
      };
    } finally {
      if (timeout) clearTimeout(timeout);
      this.toolsAbort.abort();
      await this.session?.terminate(config.runtime.shutdownGraceMs);
    }
    const stop = this.machine.stopRequest();
    if (stop) outcome = { ...stop, ...(this.lastResult ? { result: this.lastResult } : {}) };
    this.transition({ name: 'finishing', stop }, `outcome ${outcome.phase}`);
    await statusRunning;
    try {
      return await this.finish(outcome);
    } finally {
      this.transition({ name: 'done' }, 'final status handed over');
    }
  }

  /** Ends the run from outside (signal, timeout): the CLI is stopped, the outcome is `request`. */
  stop(request: StopRequest): void {
    const state = this.machine.state;
    if (state.name === 'finishing') {
      if (state.stop) return;
      // While the last frames and status are being handed over, a stop leaves the grace period.
      this.transition(
        { name: 'finishing', stop: request },
        `stop while finishing: ${request.message}`,
      );
      this.finalDelivery?.cutShort();
      return;
    }
    if (!this.transition({ name: 'stopping', stop: request }, request.message)) return;
    this.log.info(`stopping: ${request.message}`);
    void this.session?.terminate(this.deps.config.runtime.shutdownGraceMs);
  }

  private async converse(): Promise<RunOutcome> {
    const { config } = this.deps;
    this.prepared = await this.deps.workspace.prepare();
    const resume = await this.resolveResume();
    await this.deps.socket.whenOpen(SDK_LOAD_WAIT_MS);
    this.sdk = await loadSdkParts();
    const early = this.machine.stopRequest();
    if (early) throw new UserError('session', early.message);
    // Commands that came while we started were acked (never sent again): act on them now.
    if (this.machine.is('ending'))
      return {
        phase: 'Completed',
        message: 'Session ended by the user before it started',
        exitCode: EXIT_CODES.completed,
      };
    this.startSession(this.prepared, resume);
    this.transition({ name: 'idle' }, 'conversation started');
    if (config.session.prompt) this.submit(config.session.prompt);
    else {
      this.system('Chat ready', 'system', 'chat.ready');
      const first = this.pending.shift();
      if (first !== undefined) this.submit(first);
      else this.deps.socket.send({ type: 'agent.waiting', payload: {} });
    }
    const stopped = this.machine.until((s) => s.name === 'stopping');
    // A conversation may be replaced (workspace change); wait for the one that is current.
    for (;;) {
      const current = this.session!;
      await Promise.race([
        current.done.catch((e: unknown) => this.onConversationError(e, current)),
        stopped,
      ]);
      const stop = this.machine.stopRequest();
      if (stop) return { ...stop };
      if (this.session === current && !this.machine.is('changing')) break;
      await this.machine.until((s) => s.name !== 'changing');
      if (this.session === current) break;
    }
    return this.conclude();
  }

  private conclude(): RunOutcome {
    const { config } = this.deps;
    const r = this.lastResult;
    if (!r)
      return {
        phase: 'Failed',
        message: this.withStderr('Claude Code ended without producing a result'),
        exitCode: EXIT_CODES.failed,
      };
    if (config.session.interactive && this.machine.is('ending'))
      return {
        phase: 'Completed',
        message: 'Session ended by the user',
        exitCode: EXIT_CODES.completed,
        result: r,
      };
    if (r.is_error)
      return {
        phase: 'Failed',
        message: `Claude Code failed (${r.subtype}): ${r.result ?? 'no detail'}`,
        exitCode: EXIT_CODES.failed,
        result: r,
      };
    return {
      phase: 'Completed',
      message: 'Session completed',
      exitCode: EXIT_CODES.completed,
      result: r,
    };
  }

  /**
   * The SDK's iterator throws after an error result (e.g. the model kept answering 529): that
   * result already tells the story, so it decides the outcome. Anything else is a CLI failure.
   */
  private onConversationError(e: unknown, session: ClaudeSession): void {
    if (this.lastResult?.is_error) return;
    if (this.machine.stopRequest()) return;
    throw new Error(this.withStderr(`Claude Code failed: ${describeError(e)}`, session));
  }

  private withStderr(message: string, session = this.session): string {
    const tail = session?.stderr;
    return tail ? `${message}\n${tail.split('\n').slice(-10).join('\n')}` : message;
  }

  /** Workspace results, tracing, final frames and status. Never throws. */
  private async finish(outcome: RunOutcome): Promise<RunOutcome> {
    const { tracer } = this.deps;
    let prUrls: string[] = [];
    if (outcome.phase === 'Completed') {
      try {
        const report = await this.deps.workspace.finalize();
        prUrls = report.prUrls;
        if (report.repos.length)
          this.system(
            `Workspace results: ${report.repos.map((r) => `${r.name} ${r.status}`).join(', ')}`,
            'info',
            'workspace.finalized',
            { repos: report.repos, prUrls },
          );
      } catch (e) {
        this.system(`Pushing results failed: ${describeError(e)}`, 'error', 'workspace.failed');
      }
    }
    await tracer.shutdown({
      ...(outcome.phase !== 'Completed' ? { error: outcome.message } : {}),
      ...(outcome.result ? { result: outcome.result } : {}),
    });
    const event =
      outcome.phase === 'Completed'
        ? 'session.completed'
        : outcome.phase === 'Stopped'
          ? 'session.stopped'
          : 'session.failed';
    this.system(
      outcome.phase === 'Completed' ? outcome.message : `${outcome.phase}: ${outcome.message}`,
      outcome.phase === 'Failed' ? 'error' : 'system',
      event,
    );
    const status: StatusUpdate = {
      phase: outcome.phase,
      completionTime: new Date().toISOString(),
      message: prUrls.length
        ? `${outcome.message}; pull request: ${prUrls.join(', ')}`
        : outcome.message,
      ...(outcome.result ? summaryForStatus(outcome.result) : {}),
    };
    const delivery = new FinalDelivery(this.deps, this.log);
    this.finalDelivery = delivery;
    try {
      await delivery.deliver(status, {
        stopped: () => this.machine.stopRequest() !== null,
        annotated: this.annotated,
      });
    } finally {
      this.finalDelivery = null;
    }
    return outcome;
  }

  // --- the conversation ------------------------------------------------------------------

  private startSession(prepared: PreparedWorkspace, resume: string | undefined): void {
    // Tokens minted while preparing the workspace are secrets like the ones we were given.
    if (prepared.secrets?.length) this.deps.redactor.add(...prepared.secrets);
    const { config } = this.deps;
    this.session = new this.sdk!.ClaudeSession({
      config,
      prepared,
      ...(resume ? { resume } : {}),
      logger: this.deps.logger,
      redactor: this.deps.redactor,
      onMessage: (m) => this.onSdkMessage(m),
      ...(config.agents.length ? { agents: toSdkAgents(config.agents) } : {}),
      ...this.sessionsTools(),
    });
  }

  /** The `sessions` tools (docs/agents.md), a new server per conversation; none without an API. */
  private sessionsTools(): Pick<ClaudeSessionOptions, 'platformServers'> {
    const { config, backend, logger } = this.deps;
    if (!backend.enabled) return {};
    const { createSessionsServer, SESSIONS_ALLOWED_TOOLS, SESSIONS_SERVER } = this.sdk!;
    const server = createSessionsServer({
      backend,
      project: config.session.project,
      self: config.session.name,
      ...(config.model.requested ? { model: config.model.requested } : {}),
      agentOf: (id) => this.callerOf(id),
      signal: this.toolsAbort.signal,
      logger: logger.child('sessions-tools'),
    });
    return {
      platformServers: {
        servers: { [SESSIONS_SERVER]: server },
        allowedTools: SESSIONS_ALLOWED_TOOLS,
      },
    };
  }

  /** The agent that made a tool call; its assistant message may still be on its way to us. */
  private callerOf(toolUseId: string | undefined): Promise<string> {
    return waitForCaller(this.mapper, toolUseId, CALLER_WAIT_MS, this.toolsAbort.signal);
  }

  private async resolveResume(): Promise<string | undefined> {
    const parent = this.deps.config.session.parentSessionId;
    if (!parent) return undefined;
    try {
      const res = await this.deps.backend.getSession(parent);
      const id = res.metadata?.annotations?.[SDK_SESSION_ANNOTATION];
      if (id) {
        this.system(`Continuing session ${parent}`, 'info', 'session.continued', { parent });
        return id;
      }
      this.system(
        `Session ${parent} has no Claude session to resume; starting a new conversation in its workspace`,
        'warn',
      );
    } catch (e) {
      this.system(
        `Could not read session ${parent} to resume it (${describeError(e)}); starting a new conversation`,
        'warn',
      );
    }
    return undefined;
  }

  /** Starts a turn now if idle, else queues it (behind the running turn, the change, the start). */
  private submit(text: string): void {
    const session = this.session;
    if (!this.machine.is('idle') || !session) {
      this.pending.push(text);
      return;
    }
    this.turn++;
    this.transition({ name: 'turn' }, `turn ${this.turn}`);
    this.deps.tracer.startTurn({ text: this.deps.redactor.redact(text), turn: this.turn });
    this.deps.socket.send({ type: 'agent.running', payload: {} });
    if (!session.send(text)) {
      this.transition({ name: 'idle' }, 'the conversation is closed');
      this.system('The conversation is closed; message not delivered', 'warn');
    }
  }

  private onSdkMessage(message: SDKMessage): void {
    this.deps.tracer.observe(message);
    for (const frame of this.mapper.map(message)) this.deps.socket.send(frame);
    if (message.type === 'system' && message.subtype === 'init')
      this.recordSdkSession(message.session_id);
    if (message.type === 'result') this.onTurnEnd(resultSummary(message));
  }

  private recordSdkSession(id: string): void {
    if (!id || id === this.sdkSessionId) return;
    this.sdkSessionId = id;
    // Retried while the session runs (a continuation resumes through it); `finish` waits for it
    // within its own bound.
    this.annotated = this.deps.backend
      .patchAnnotationsReliably({ [SDK_SESSION_ANNOTATION]: id }, Date.now() + ANNOTATION_RETRY_MS)
      .then((ok) => {
        if (!ok)
          this.log.warn('could not record the Claude session id: a continuation cannot resume it');
      });
  }

  private onTurnEnd(result: ResultSummary): void {
    this.lastResult = result;
    void this.deps.tracer.flush();
    // Ending, stopping, changing: the result is kept, no next turn starts.
    if (this.machine.is('turn')) this.transition({ name: 'idle' }, `turn ${this.turn} ended`);
    else if (!this.machine.is('idle')) return;
    this.nextTurnOrWait();
  }

  /** In `idle`: the next queued message starts a turn, else the session waits (or ends). */
  private nextTurnOrWait(): void {
    const next = this.pending.shift();
    if (next !== undefined) return this.submit(next);
    if (this.deps.config.session.interactive)
      this.deps.socket.send({ type: 'agent.waiting', payload: {} });
    else this.endConversation('the one-shot turn ended');
  }

  private endConversation(why: string): void {
    this.transition({ name: 'ending' }, why);
    this.session?.endInput();
  }

  // --- commands from the backend -----------------------------------------------------------

  handleCommand(cmd: BackendCommand): void {
    switch (cmd.type) {
      case 'user_message':
      case 'user.message': {
        const text = withSender(cmd);
        if (!this.deps.config.session.interactive) {
          this.system(
            'This session is not interactive (INTERACTIVE is not true): message ignored',
            'warn',
          );
          return;
        }
        if (!this.machine.is('starting', 'idle', 'turn', 'changing')) return;
        this.submit(text);
        return;
      }
      case 'interrupt':
        if (!this.machine.is('turn')) return;
        this.pending.length = 0;
        this.system('Interrupted by the user', 'system', 'turn.interrupted');
        this.session
          ?.interrupt()
          .catch((e: unknown) => this.log.warn(`interrupt failed: ${describeError(e)}`));
        return;
      case 'end_session':
      case 'terminate':
      case 'stop': {
        if (!this.machine.is('starting', 'idle', 'turn', 'changing')) return;
        this.system('Ending the session', 'system', 'interactive.ended');
        this.pending.length = 0;
        if (this.machine.is('turn')) this.session?.interrupt().catch(() => undefined);
        this.endConversation(`${cmd.type} from the backend`);
        return;
      }
      case 'repo_added':
      case 'repo_removed':
      case 'workflow_change':
        this.changeChain = this.changeChain.then(() =>
          this.applyChange({ type: cmd.type, ...cmd.payload } as WorkspaceChange),
        );
        return;
      default:
        return;
    }
  }

  /**
   * Applies a workspace change between turns, then continues the same Claude session (resume)
   * with the new directories so the agent keeps its context.
   */
  private async applyChange(change: WorkspaceChange): Promise<void> {
    // A change acked while the runner was starting is applied once the first turn has begun
    // (then after it, like any change): never against a half-prepared workspace.
    await this.machine.until((s) => s.name !== 'starting');
    await this.waitIdle();
    // Ended, stopped or finished meanwhile: there is no conversation left to change.
    if (!this.transition({ name: 'changing' }, change.type)) return;
    try {
      const applied = await this.deps.workspace.apply(change);
      this.system(applied.summary, 'info', `workspace.${change.type}`);
      const old = this.session;
      old?.endInput();
      await old?.done.catch(() => undefined);
      if (!this.machine.is('changing')) return;
      this.prepared = applied;
      this.startSession(applied, this.sdkSessionId);
      this.transition({ name: 'idle' }, `${change.type} applied`);
      if (applied.startupPrompt) this.submit(applied.startupPrompt);
      else {
        const next = this.pending.shift();
        if (next !== undefined) this.submit(next);
        else if (this.deps.config.session.interactive)
          this.deps.socket.send({ type: 'agent.waiting', payload: {} });
      }
    } catch (e) {
      this.system(
        `Could not apply ${change.type}: ${describeError(e)}`,
        'error',
        'workspace.change_failed',
      );
      // The conversation before the change goes on; messages queued meanwhile are its next turns.
      if (this.transition({ name: 'idle' }, `${change.type} failed`)) {
        const next = this.pending.shift();
        if (next !== undefined) this.submit(next);
      }
    }
  }

  /** Resolves once no turn is running: at once, or on the transition that ends the turn. */
  private async waitIdle(): Promise<void> {
    await this.machine.until((s) => s.name !== 'turn');
  }

  private system(
    message: string,
    level: 'info' | 'debug' | 'warn' | 'error' | 'system',
    event?: string,
    data?: Record<string, unknown>,
  ): void {
    const frame: FrameDraft = {
      type: 'system.message',
      payload: { message, level, ...(event ? { event } : {}), ...(data ? { data } : {}) },
    };
    this.deps.socket.send(frame);
    if (level === 'warn' || level === 'error') this.log[level](message);
  }
}
