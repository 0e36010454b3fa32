/**
 * Runs and phases: the queue and the concurrency limit, launching through the executor, the
 * status a runner reports, stop (SIGTERM, then SIGKILL after the grace period), timeouts, the
 * end of a run, and recovery after a restart of serve.
 *
 * Phases of the current run: Pending (queued) -> Creating (process starting) -> Running (the
 * runner says so) -> Completed | Failed | Stopped. A run holds a slot from launch until its
 * process exits. A runner that exits without reporting a terminal phase ends Failed with its exit
 * code and the tail of its output. Every phase change is also written to the session's history
 * as a `system.message` with `event: "phase.changed"`, so watchers see it in order: a terminal
 * one only once the run's closing frame is stored or its process has ended (and the frames it
 * left in its outbox file were read), never before a runner frame that preceded it.
 */
import { constants as osConstants } from 'node:os';
import type { Logger } from '../observability/logger.js';
import { TERMINAL_PHASES, type Phase, type StatusUpdate } from '../protocol/status.js';
import type { SessionStatus } from '../protocol/api.js';
import type { Auth } from './auth.js';
import { buildRunnerEnv } from './executor/env.js';
import type { Executor, RunExit } from './executor/types.js';
import type { CommandDelivery } from './delivery/commands.js';
import { runnerEntry } from './hub/runner-entry.js';
import type { HistoryLog } from './hub/history-log.js';
import { discardLeftovers, takeLeftovers } from './leftovers.js';
import type { Hub } from './hub/hub.js';
import { sessionRedactor, type ControlPlaneRedactor } from './redaction.js';
import type { SessionRow, StopReason, Store } from './store/index.js';

export interface RunManagerOptions {
  store: Store;
  executor: Executor;
  auth: Auth;
  hub: Hub;
  history: HistoryLog;
  /** Drops the commands a run never received when it ends. */
  delivery: CommandDelivery;
  logger: Logger;
  redactor: ControlPlaneRedactor;
  maxConcurrent: number;
  graceMs: number;
  inheritedEnv: Readonly<Record<string, string>>;
  apiUrl: () => string;
  socketUrl: (project: string, session: string) => string;
}

/** How long a runner may linger after reporting a terminal phase before it is stopped. */
const LINGER_MS = 60_000;
const STOP_MESSAGES: Record<StopReason, string> = {
  user: 'stopped by the user',
  timeout: 'timed out',
  delete: 'stopped: the session is being deleted',
  shutdown: 'stopped: the control plane shut down',
};

export class RunManager {
  private readonly launching = new Map<string, Promise<void>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly lingerTimers = new Map<string, NodeJS.Timeout>();
  private closed = false;
  /** Sessions whose terminal phase.changed waits for their run's closing frame: session → run. */
  private readonly deferredPhase = new Map<string, number>();

  constructor(private readonly o: RunManagerOptions) {
    o.executor.onExit((exit) => this.onExit(exit));
    o.history.onRunClosed((session, run) => this.onRunClosed(session, run));
  }

  /** After a start of serve: adopt runners that are still alive, fail the others, start the queue. */
  recover(): void {
    for (const r of this.o.store.runs.live()) {
      const row = this.o.store.sessions.get(r.session);
      if (!row) continue;
      if (
        r.state === 'active' &&
        r.pid &&
        this.o.executor.adopt({ session: r.session, run: r.run, pid: r.pid })
      ) {
        if (r.tokenHash) this.o.auth.restoreRunnerToken(r.tokenHash, r.session, r.run);
        this.armTimeout(row, r.startedAt);
        // Its terminal phase came before its closing frame: still waiting for that frame.
        if (
          row.currentRun === r.run &&
          TERMINAL_PHASES.has(row.status.phase) &&
          !this.o.store.frames.hasClosingFrame(r.session, r.run)
        )
          this.deferredPhase.set(r.session, r.run);
        this.o.logger.info('adopted a runner started by an earlier serve', {
          session: r.session,
          run: r.run,
          pid: r.pid,
        });
        continue;
      }
      this.o.store.runs.update(r.session, r.run, {
        state: 'ended',
        endedAt: now(),
        tokenHash: null,
      });
      this.o.executor.reapLeftovers({ session: r.session, run: r.run });
      const closedBefore = this.o.store.frames.hasClosingFrame(r.session, r.run);
      const leftStatus = this.collectLeftovers(row, r.run);
      if (row.currentRun !== r.run) continue;
      const cur = this.mustGet(r.session);
      // It ended while no serve watched: its exit code is unknown.
      const exitCode = cur.status.exitCode ?? null;
      if (TERMINAL_PHASES.has(cur.status.phase)) {
        this.o.store.sessions.update(r.session, { status: { ...cur.status, exitCode } });
        // The earlier serve was holding back the phase change for the closing frame.
        if (!closedBefore) this.appendPhaseEvent(r.session, r.run, cur.status);
        continue;
      }
      if (leftStatus?.phase && TERMINAL_PHASES.has(leftStatus.phase)) {
        this.writeStatus(r.session, { ...this.mergeStatus(cur, leftStatus), exitCode });
        continue;
      }
      const tail = this.tail(row, r.run);
      const message =
        r.state === 'launching' || !r.pid
          ? 'the control plane stopped while starting this run'
          : `the runner (pid ${r.pid}) ended while the control plane was down; exit code unknown`;
      this.writeStatus(r.session, {
        ...cur.status,
        phase: 'Failed',
        message: withTail(message, tail),
        completionTime: now(),
        exitCode,
      });
    }
    this.pump();
  }

  /** A new run of the session (create, /start): queued as Pending, started when a slot is free. */
  newRun(name: string): void {
    const prev = this.mustGet(name);
    // Frames an earlier run left behind go into the history before the new run's.
    if (prev.currentRun > 0 && !this.isActive(prev)) this.collectLeftovers(prev, prev.currentRun);
    const row = this.mustGet(name);
    const run = row.currentRun + 1;
    this.o.store.tx(() => {
      this.o.store.runs.insert(name, run, now());
      this.o.store.sessions.update(name, { currentRun: run });
    });
    this.writeStatus(name, { phase: 'Pending', run, message: 'waiting for a runner slot' }, true);
    this.pump();
  }

  /** Whether the session's current run is queued or has a process. */
  isActive(row: SessionRow): boolean {
    const r = this.o.store.runs.get(row.name, row.currentRun);
    return !!r && r.state !== 'ended';
  }

  /** Whether the session's current run has (or is getting) a process. */
  hasProcess(row: SessionRow): boolean {
    const r = this.o.store.runs.get(row.name, row.currentRun);
    return !!r && (r.state === 'launching' || r.state === 'active');
  }

  runningCount(): number {
    return this.o.store.runs.live().length;
  }

  /** Starts queued runs while there are free slots. */
  pump(): void {
    if (this.closed) return;
    let live = this.runningCount();
    for (const q of this.o.store.runs.queued()) {
      if (live >= this.o.maxConcurrent) break;
      live++;
      this.launch(q.session, q.run);
    }
  }

  /** `PUT …/status`: merges the contract's fields into the current run's status. */
  reportStatus(name: string, update: StatusUpdate): void {
    const row = this.mustGet(name);
    const next = this.mergeStatus(row, update);
    if (TERMINAL_PHASES.has(next.phase)) {
      const run = this.o.store.runs.get(name, row.currentRun);
      if (run && (run.state === 'active' || run.state === 'launching'))
        this.armLinger(name, row.currentRun);
    }
    this.writeStatus(name, next);
    this.o.executor.reportStatus?.({ session: name, run: row.currentRun }, update);
  }

  /** A status update merged into the session's current status (redacted). */
  private mergeStatus(row: SessionRow, update: StatusUpdate): SessionStatus {
    const name = row.name;
    const cur = row.status;
    const next: SessionStatus = { ...cur };
    for (const [k, v] of Object.entries(update))
      if (k !== 'phase' && v !== undefined) (next as Record<string, unknown>)[k] = v;
    if (update.phase && update.phase !== cur.phase) {
      if (TERMINAL_PHASES.has(cur.phase)) {
        this.o.logger.info('status phase ignored: the run has ended', {
          session: name,
          phase: cur.phase,
          reported: update.phase,
        });
      } else {
        next.phase = update.phase;
        if (update.message === undefined) delete next.message;
      }
    }
    if (next.phase === 'Running' && !next.startTime) next.startTime = now();
    if (TERMINAL_PHASES.has(next.phase)) {
      next.completionTime ??= now();
      const run = this.o.store.runs.get(name, row.currentRun);
      if (next.phase === 'Stopped' && run?.stopReason === 'timeout') {
        next.phase = 'Failed';
        next.message = this.timeoutMessage(row);
      }
    }
    return sessionRedactor(this.o.redactor, row.spec.environmentVariables).redactDeep(next);
  }

  /**
   * Appends to the history what the run's runner left in its outbox file (frames after the last
   * stored one, in its order, redacted like socket frames) and removes the file. Returns the final
   * status the runner could not deliver, if any.
   */
  private collectLeftovers(row: SessionRow, run: number): StatusUpdate | undefined {
    const name = row.name;
    let left;
    try {
      left = takeLeftovers(row.workspace, name, run, this.o.logger);
    } catch (e) {
      this.o.logger.warn('runner outbox file could not be read', {
        session: name,
        run,
        error: (e as Error).message,
      });
      return undefined;
    }
    if (!left) return undefined;
    const redactor = sessionRedactor(this.o.redactor, row.spec.environmentVariables);
    let last = this.o.store.frames.lastRunSeq(name, run);
    let appended = 0;
    for (const f of left.frames) {
      if (f.seq <= last) continue;
      this.o.history.append(name, run, f.seq, runnerEntry(f, f.raw, redactor));
      last = f.seq;
      appended++;
    }
    this.o.logger.info("read the runner's outbox file", {
      session: name,
      run,
      frames: appended,
      status: left.status?.phase ?? null,
    });
    return left.status;
  }

  /** A run's closing frame is stored: the phase change held back for it follows now. */
  private onRunClosed(name: string, run: number): void {
    if (this.deferredPhase.get(name) !== run) return;
    this.deferredPhase.delete(name);
    const row = this.o.store.sessions.get(name);
    if (row && row.currentRun === run) this.appendPhaseEvent(name, run, row.status);
  }

  /**
   * Stops the current run: a queued run ends at once; a running one gets SIGTERM, then SIGKILL
   * after the grace period. Resolves when it is over. False when nothing was running.
   */
  async stop(name: string, reason: StopReason): Promise<boolean> {
    const row = this.o.store.sessions.get(name);
    if (!row) return false;
    const run = row.currentRun;
    const r = this.o.store.runs.get(name, run);
    if (!r || r.state === 'ended') return false;
    if (r.state === 'queued') {
      this.o.store.runs.update(name, run, { state: 'ended', endedAt: now(), stopReason: reason });
      this.writeStatus(name, {
        ...row.status,
        phase: 'Stopped',
        message: `${STOP_MESSAGES[reason]} before it started`,
        completionTime: now(),
      });
      return true;
    }
    this.o.store.runs.update(name, run, { stopReason: reason });
    this.clearTimers(name);
    const inFlight = this.launching.get(name);
    if (inFlight) await inFlight;
    await this.o.executor.stop({ session: name, run }, this.o.graceMs);
    return true;
  }

  /** Stops what runs, then removes the session, its history, logs and (unless shared) workspace. */
  async remove(name: string): Promise<void> {
    await this.stop(name, 'delete');
    const row = this.o.store.sessions.get(name);
    if (!row) return;
    this.o.store.sessions.delete(name);
    this.clearTimers(name);
    this.deferredPhase.delete(name);
    this.o.auth.revokeSession(name);
    this.o.hub.closeSession(name);
    const shared = this.o.store.sessions.countUsingWorkspace(row.workspace) > 0;
    this.o.executor.removeSession(name, shared ? undefined : row.workspace);
    this.pump();
  }

  /** Stops every running runner (unless they are to be kept) and starts nothing new. */
  async shutdown(keepRunners: boolean): Promise<void> {
    this.closed = true;
    for (const t of [...this.timers.values(), ...this.lingerTimers.values()]) clearTimeout(t);
    if (keepRunners) return;
    await Promise.all(this.o.store.runs.live().map((r) => this.stop(r.session, 'shutdown')));
  }

  private launch(name: string, run: number): void {
    const row = this.o.store.sessions.get(name);
    if (!row || row.currentRun !== run) {
      this.o.store.runs.update(name, run, { state: 'ended', endedAt: now() });
      return;
    }
    discardLeftovers(row.workspace, name, run);
    const { token, digest } = this.o.auth.mintRunnerToken(name, run);
    const startedAt = now();
    this.o.store.runs.update(name, run, { state: 'launching', tokenHash: digest, startedAt });
    this.writeStatus(name, { phase: 'Creating', run, message: 'starting the runner' });
    const env = buildRunnerEnv({
      session: row,
      run,
      botToken: token,
      apiUrl: this.o.apiUrl(),
      websocketUrl: this.o.socketUrl(row.project, name),
      inherited: this.o.inheritedEnv,
    });
    const done = this.o.executor.launch({ session: name, run, env, workspace: row.workspace }).then(
      ({ pid }) => {
        const r = this.o.store.runs.get(name, run);
        if (!r) return;
        this.o.store.runs.update(name, run, { state: 'active', pid });
        this.o.logger.info('runner started', { session: name, run, pid });
        if (!r.stopReason) this.armTimeout(row, startedAt);
      },
      (err: unknown) => {
        this.o.auth.revokeRunnerToken(digest);
        if (!this.o.store.runs.get(name, run)) return;
        this.o.store.runs.update(name, run, { state: 'ended', endedAt: now(), tokenHash: null });
        const message = this.o.redactor.redact(
          `could not start the runner: ${(err as Error).message}`,
        );
        this.o.logger.error(message, { session: name, run });
        this.writeStatus(name, { phase: 'Failed', run, message, completionTime: now() });
        this.pump();
      },
    );
    const tracked = done.finally(() => this.launching.delete(name));
    this.launching.set(name, tracked);
  }

  private onExit(exit: RunExit): void {
    const { session: name, run } = exit;
    this.clearTimers(name);
    const r = this.o.store.runs.get(name, run);
    if (r) {
      this.o.auth.revokeRunnerToken(r.tokenHash);
      this.o.store.runs.update(name, run, {
        state: 'ended',
        endedAt: now(),
        exitCode: exit.exitCode,
        signal: exit.signal,
        tokenHash: null,
      });
    }
    const before = this.o.store.sessions.get(name);
    if (before && r && before.currentRun === run) {
      this.o.hub.closeRunner(name);
      const dropped = this.o.delivery.discard(name);
      if (dropped)
        this.o.logger.warn('messages never delivered to the runner were dropped', {
          session: name,
          run,
          count: dropped,
        });
      const leftStatus = this.collectLeftovers(before, run);
      const row = this.mustGet(name);
      const base =
        leftStatus && !TERMINAL_PHASES.has(row.status.phase)
          ? this.mergeStatus(row, leftStatus)
          : row.status;
      const st: SessionStatus = { ...base, exitCode: exitCodeOf(exit) };
      if (!TERMINAL_PHASES.has(st.phase)) {
        st.completionTime = now();
        if (r.stopReason === 'timeout') {
          st.phase = 'Failed';
          st.message = this.timeoutMessage(row);
        } else if (r.stopReason) {
          st.phase = 'Stopped';
          st.message = STOP_MESSAGES[r.stopReason];
        } else if (exit.outcome) {
          st.phase = exit.outcome.phase;
          st.message = exit.outcome.message;
        } else {
          st.phase = 'Failed';
          st.message = withTail(exitDescription(exit, r.pid), this.tail(row, run));
        }
      } else if (st.phase === 'Stopped' && r.stopReason === 'timeout') {
        st.phase = 'Failed';
        st.message = this.timeoutMessage(row);
      } else if (st.phase === 'Stopped' && !r.stopReason && exit.outcome?.phase === 'Failed') {
        // Nobody here stopped it: the executor knows the cause (a Job's deadline, an OOM kill).
        st.phase = 'Failed';
        st.message = exit.outcome.message;
      }
      // The run is over: a phase change held back for its closing frame is recorded now.
      const held = this.deferredPhase.get(name) === run;
      this.deferredPhase.delete(name);
      this.writeStatus(name, st, held);
      this.writeStatus(name, st);
      this.o.logger.info('run ended', {
        session: name,
        run,
        phase: st.phase,
        exitCode: exit.exitCode,
        signal: exit.signal,
      });
    }
    this.pump();
  }

  private writeStatus(name: string, next: SessionStatus, forceEvent = false): void {
    const row = this.o.store.sessions.get(name);
    if (!row) return;
    this.o.store.sessions.update(name, { status: next });
    if (next.phase === row.status.phase && !forceEvent) return;
    const run = row.currentRun;
    if (TERMINAL_PHASES.has(next.phase) && this.awaitsClosingFrame(name, run)) {
      // Recorded after the runner's last frame (onRunClosed) or once its process ends (onExit).
      this.deferredPhase.set(name, run);
      return;
    }
    this.appendPhaseEvent(name, run, next);
  }

  /** Whether the run's process may still send frames that precede its end. */
  private awaitsClosingFrame(name: string, run: number): boolean {
    const r = this.o.store.runs.get(name, run);
    if (!r || (r.state !== 'active' && r.state !== 'launching')) return false;
    return !this.o.store.frames.hasClosingFrame(name, run);
  }

  private appendPhaseEvent(name: string, run: number, status: SessionStatus): void {
    const failed = status.phase === 'Failed' || status.phase === 'Error';
    this.o.history.append(name, run, null, {
      type: 'system.message',
      payload: {
        message: `phase ${status.phase}${status.message ? `: ${status.message}` : ''}`,
        level: failed ? 'error' : 'system',
        event: 'phase.changed',
        data: {
          phase: status.phase,
          run,
          ...(status.message ? { message: status.message } : {}),
          // Terminal phases are recorded only once the run's frames are in (see the top).
          ...(TERMINAL_PHASES.has(status.phase) ? { runOver: true } : {}),
        },
      },
    });
  }

  private armTimeout(row: SessionRow, startedAt: string | null): void {
    const seconds = row.spec.timeout;
    if (!seconds || this.o.executor.enforcesTimeout) return;
    const start = startedAt ? Date.parse(startedAt) : Date.now();
    const delay = Math.max(0, start + seconds * 1000 - Date.now());
    const t = setTimeout(() => {
      this.timers.delete(row.name);
      this.o.logger.warn('session timed out: stopping it', { session: row.name, timeout: seconds });
      void this.stop(row.name, 'timeout');
    }, delay);
    t.unref();
    this.timers.set(row.name, t);
  }

  private armLinger(name: string, run: number): void {
    if (this.lingerTimers.has(name)) return;
    const t = setTimeout(() => {
      this.lingerTimers.delete(name);
      if (!this.o.executor.isRunning({ session: name, run })) return;
      this.o.logger.warn('runner still alive long after reporting its end: stopping it', {
        session: name,
        run,
      });
      void this.o.executor.stop({ session: name, run }, this.o.graceMs);
    }, LINGER_MS + this.o.graceMs);
    t.unref();
    this.lingerTimers.set(name, t);
  }

  private clearTimers(name: string): void {
    for (const m of [this.timers, this.lingerTimers]) {
      const t = m.get(name);
      if (t) clearTimeout(t);
      m.delete(name);
    }
  }

  private timeoutMessage(row: SessionRow): string {
    return `timed out after ${row.spec.timeout ?? 0} s`;
  }

  private tail(row: SessionRow, run: number): string {
    try {
      const text = this.o.executor.outputTail({ session: row.name, run }, 1000);
      return sessionRedactor(this.o.redactor, row.spec.environmentVariables).redact(text);
    } catch {
      return '';
    }
  }

  private mustGet(name: string): SessionRow {
    const row = this.o.store.sessions.get(name);
    if (!row) throw new Error(`session ${name} vanished`);
    return row;
  }
}

function now(): string {
  return new Date().toISOString();
}

/** The exit code, or 128 + the signal number for a runner killed by a signal (as shells report it). */
function exitCodeOf(exit: RunExit): number | null {
  if (exit.exitCode !== null) return exit.exitCode;
  const n = exit.signal ? osConstants.signals[exit.signal as NodeJS.Signals] : undefined;
  return n === undefined ? null : 128 + n;
}

function exitDescription(exit: RunExit, pid: number | null): string {
  if (exit.exitCode !== null)
    return `the runner exited with code ${exit.exitCode} without reporting a result`;
  if (exit.signal)
    return `the runner was killed by ${exit.signal} (exit code ${exitCodeOf(exit) ?? '?'}) without reporting a result`;
  return `the runner (pid ${pid ?? '?'}, started by an earlier serve) ended without reporting a result; exit code unknown`;
}

function withTail(message: string, tail: string): string {
  return tail ? `${message}; last output:\n${tail}` : message;
}

export type { Phase };
