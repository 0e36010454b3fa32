/**
 * The local executor: each run is a child process on this machine.
 *
 * Runners are spawned detached, in their own process group, with stdout and stderr going to the
 * run's log file: killing serve does not kill them, and a runner that outlives serve reconnects
 * to the next one (which adopts it by pid). Stop sends SIGTERM to the runner, then SIGKILL to its
 * whole group after the grace period. When a runner exits, whatever it left behind is killed, so
 * no process outlives its run: its own group, and (on Linux) every process tagged with the
 * session's name. The tag matters because the runner starts the Claude Code CLI in a process
 * group of its own, and the CLI its commands in yet others: a runner that was SIGKILLed leaves
 * an orphaned CLI that would otherwise finish the whole turn (model calls, edits, commands) in
 * the workspace on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SystemError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { withLocalIsolation } from './env.js';
import { RunLogs } from './logs.js';
import { hasProcfs, isLiveProcess, liveProcesses, processEnviron, processGroup } from './procfs.js';
import type { Executor, LaunchRequest, RunExit, RunRef } from './types.js';

/**
 * Node flags for a runner. It waits on its CLI nearly all the time, so memory counts and speed
 * hardly does: a 1 MiB young generation, no optimising compiler and V8's size-over-speed mode take
 * its peak resident memory from about 92 to 72 MiB at no measurable cost in CPU time
 * (docs/benchmarks.md). A pod should start the runner with the same flags.
 */
export const RUNNER_NODE_FLAGS = ['--max-semi-space-size=1', '--no-opt', '--optimize-for-size'];

/** Our own runner: `node <flags> <package>/dist/src/cli/main.js run`. */
export function defaultRunnerCommand(): string[] {
  return [
    process.execPath,
    ...RUNNER_NODE_FLAGS,
    fileURLToPath(new URL('../../cli/main.js', import.meta.url)),
    'run',
  ];
}

interface Tracked {
  ref: RunRef;
  pid: number;
  child?: ChildProcess;
  adopted: boolean;
  exited: boolean;
  waiters: (() => void)[];
}

const POLL_MS = 500;
const ROTATE_MS = 2_000;

export class LocalExecutor implements Executor {
  readonly kind = 'local';
  private readonly runs = new Map<string, Tracked>();
  private readonly listeners: ((exit: RunExit) => void)[] = [];
  private readonly logs: RunLogs;
  private readonly poller: NodeJS.Timeout;

  constructor(
    private readonly opts: {
      command: string[];
      logDir: string;
      logMaxBytes: number;
      logger: Logger;
      /** Paths the agents' commands may not read (serve's data dir): see withLocalIsolation. */
      hidden?: readonly string[];
    },
  ) {
    this.logs = new RunLogs(opts.logDir, opts.logMaxBytes);
    let ticks = 0;
    this.poller = setInterval(() => {
      ticks++;
      this.pollAdopted();
      if ((ticks * POLL_MS) % ROTATE_MS === 0)
        for (const t of this.runs.values()) this.logs.rotate(t.ref.session, t.ref.run);
    }, POLL_MS);
    this.poller.unref();
  }

  launch(req: LaunchRequest): Promise<{ pid: number | null }> {
    mkdirSync(req.workspace, { recursive: true, mode: 0o700 });
    const fd = this.logs.open(req.session, req.run);
    const [cmd, ...args] = this.opts.command;
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(cmd!, args, {
          env: withLocalIsolation(req.env, this.opts.hidden ?? []),
          cwd: req.workspace,
          detached: true,
          stdio: ['ignore', fd, fd],
        });
      } catch (e) {
        closeSync(fd);
        reject(
          new SystemError('executor', `cannot start ${cmd}: ${(e as Error).message}`, { cause: e }),
        );
        return;
      }
      child.once('error', (e) => {
        closeSync(fd);
        reject(new SystemError('executor', `cannot start ${cmd}: ${e.message}`, { cause: e }));
      });
      child.once('spawn', () => {
        closeSync(fd);
        const pid = child.pid!;
        const tracked: Tracked = {
          ref: { session: req.session, run: req.run },
          pid,
          child,
          adopted: false,
          exited: false,
          waiters: [],
        };
        this.runs.set(key(req), tracked);
        child.once('exit', (code, signal) => this.finish(tracked, code, signal));
        child.unref();
        resolve({ pid });
      });
    });
  }

  adopt(ref: RunRef & { pid: number }): boolean {
    if (!isAlive(ref.pid) || !belongsTo(ref.pid, ref.session)) return false;
    this.runs.set(key(ref), {
      ref: { session: ref.session, run: ref.run },
      pid: ref.pid,
      adopted: true,
      exited: false,
      waiters: [],
    });
    return true;
  }

  isRunning(ref: RunRef): boolean {
    const t = this.runs.get(key(ref));
    return !!t && !t.exited;
  }

  async stop(ref: RunRef, graceMs: number): Promise<void> {
    const t = this.runs.get(key(ref));
    if (!t || t.exited) return;
    const gone = new Promise<void>((resolve) => t.waiters.push(resolve));
    signal(t.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (t.exited) return;
      this.opts.logger.warn('runner did not stop in time: killing it', {
        session: ref.session,
        run: ref.run,
        graceMs,
      });
      signal(-t.pid, 'SIGKILL');
      signal(t.pid, 'SIGKILL');
    }, graceMs);
    try {
      await gone;
    } finally {
      clearTimeout(timer);
    }
  }

  readOutput(ref: RunRef, tailBytes?: number): string {
    return this.logs.read(ref.session, ref.run, tailBytes);
  }

  outputTail(ref: RunRef, maxChars: number): string {
    return this.logs.tail(ref.session, ref.run, maxChars);
  }

  removeSession(session: string, workspace: string | undefined): void {
    this.logs.removeSession(session);
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  }

  reapLeftovers(ref: RunRef): void {
    this.reap(ref, 'killed processes a vanished runner left behind');
  }

  onExit(listener: (exit: RunExit) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    clearInterval(this.poller);
  }

  private pollAdopted(): void {
    for (const t of this.runs.values())
      if (t.adopted && !t.exited && !isAlive(t.pid)) this.finish(t, null, null);
  }

  private reap(ref: RunRef, what: string): void {
    const count = killSessionProcesses(ref.session);
    if (count) this.opts.logger.warn(what, { session: ref.session, run: ref.run, count });
  }

  private finish(t: Tracked, code: number | null, sig: NodeJS.Signals | null): void {
    if (t.exited) return;
    t.exited = true;
    this.runs.delete(key(t.ref));
    signal(-t.pid, 'SIGKILL'); // leftovers of the run's process group
    this.reap(t.ref, 'killed processes the runner left behind');
    try {
      this.logs.rotate(t.ref.session, t.ref.run);
    } catch {
      /* the session may be deleted already */
    }
    const exit: RunExit = { ...t.ref, exitCode: code, signal: sig, adopted: t.adopted };
    for (const l of this.listeners) {
      try {
        l(exit);
      } catch (e) {
        this.opts.logger.error('run exit handler failed', {
          session: t.ref.session,
          error: (e as Error).message,
        });
      }
    }
    for (const w of t.waiters) w();
  }
}

function key(ref: RunRef): string {
  return `${ref.session}#${ref.run}`;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return isLiveProcess(pid) ?? true; // a zombie is dead for our purposes; no /proc: trust kill(0)
}

/** On Linux, checks that the pid is really this session's runner (pids are reused). */
function belongsTo(pid: number, session: string): boolean {
  if (!hasProcfs()) return true; // no /proc: trust the recorded pid
  return processEnviron(pid)?.includes(`SESSION_ID=${session}`) ?? false; // gone, or another user's
}

/**
 * Kills every live process tagged with the session's name (SESSION_ID for the runner,
 * AGENTIC_SESSION_NAME for the CLI and the commands it runs), with its process group when it
 * leads one. A few passes catch a child forked while the sweep ran. Returns how many it killed.
 */
function killSessionProcesses(session: string): number {
  const tags = new Set([`SESSION_ID=${session}`, `AGENTIC_SESSION_NAME=${session}`]);
  const killed = new Set<number>();
  for (let pass = 0; pass < 3; pass++) {
    const pids = liveProcesses((pid) => processEnviron(pid)?.some((kv) => tags.has(kv)) ?? false);
    if (!pids.length) break;
    for (const pid of pids) {
      if (processGroup(pid) === pid) signal(-pid, 'SIGKILL');
      signal(pid, 'SIGKILL');
      killed.add(pid);
    }
  }
  return killed.size;
}
