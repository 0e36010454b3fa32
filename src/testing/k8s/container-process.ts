/**
 * One container of a pod as a local process in its own process group: its output to a log file
 * (and a bounded tail for the termination message), its memory limit enforced by RSS (the whole
 * group's: a kill reports `OOMKilled` like the kernel's cgroup killer would), and how it ended.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import path from 'node:path';
import { listPids, processGroup } from '../../control-plane/executor/procfs.js';
import type { ProcessSpec } from './pod-config.js';

export interface Termination {
  exitCode: number;
  signal?: number;
  /** Completed | Error | OOMKilled | StartError | DeadlineExceeded */
  reason: string;
  message?: string;
  startedAt: Date;
  finishedAt: Date;
}

/** A kubelet's fallback message: the last 80 lines or 2048 bytes of the log, whichever is less. */
const TAIL_LINES = 80;
const TAIL_BYTES = 2048;
const RSS_POLL_MS = 200;

function groupRssBytes(pgid: number): number {
  let total = 0;
  for (const pid of listPids()) {
    if (processGroup(pid) !== pgid) continue;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

export class ContainerProcess {
  readonly startedAt = new Date();
  readonly done: Promise<Termination>;
  private readonly child: ChildProcess;
  private tail = '';
  private killReason: string | undefined;
  private killedByAgent = false;
  private exited = false;
  private rssTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: ProcessSpec,
    logFile: string,
  ) {
    const log = createWriteStream(logFile, { flags: 'a' });
    const [cmd, ...args] = spec.argv;
    this.child = spawn(cmd, args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = (b: Buffer): void => {
      log.write(b);
      this.tail = (this.tail + b.toString()).slice(-4 * TAIL_BYTES);
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    const limit = spec.memoryLimitBytes;
    if (limit && this.child.pid) {
      const pgid = this.child.pid;
      this.rssTimer = setInterval(() => {
        if (groupRssBytes(pgid) > limit) this.kill('SIGKILL', 'OOMKilled');
      }, RSS_POLL_MS);
    }
    this.done = new Promise<Termination>((resolve) => {
      let spawnError: Error | undefined;
      this.child.on('error', (err) => {
        spawnError = err;
      });
      this.child.on('close', (code, signal) => {
        clearInterval(this.rssTimer);
        log.end();
        void this.finish(code, signal, spawnError).then(resolve);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Signals the container's whole process group; `reason` names why (OOMKilled, …). */
  kill(signal: NodeJS.Signals, reason?: string): void {
    if (reason && !this.killReason) this.killReason = reason;
    this.killedByAgent = true;
    this.signalGroup(signal);
    // `podman run` passes SIGTERM on to its container, but a SIGKILL ends only the client.
    if (signal === 'SIGKILL' && this.spec.podmanName && !this.exited) {
      execFile(
        'podman',
        ['rm', '-f', '-t', '0', this.spec.podmanName],
        { env: this.spec.env },
        () => {},
      );
    }
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (!this.child.pid) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  private async finish(
    code: number | null,
    signal: NodeJS.Signals | null,
    spawnError: Error | undefined,
  ): Promise<Termination> {
    const finishedAt = new Date();
    this.exited = true;
    // The leader is gone; anything it left in its group goes with it, as with a container.
    this.signalGroup('SIGKILL');
    if (spawnError || !this.child.pid) {
      return {
        exitCode: 128,
        reason: 'StartError',
        message: `failed to start container process ${path.basename(this.spec.argv[0])}: ${spawnError?.message ?? 'no pid'}`,
        startedAt: this.startedAt,
        finishedAt,
      };
    }
    const signo = signal ? (constants.signals[signal] ?? 9) : undefined;
    const exitCode = signo !== undefined ? 128 + signo : (code ?? 0);
    const oomUnderPodman = this.spec.oomOnExit137 && exitCode === 137 && !this.killedByAgent;
    const reason =
      this.killReason === 'OOMKilled' || this.killReason === 'DeadlineExceeded'
        ? this.killReason
        : oomUnderPodman
          ? 'OOMKilled'
          : exitCode === 0
            ? 'Completed'
            : 'Error';
    let message = '';
    try {
      message = (await readFile(this.spec.terminationLog, 'utf8')).slice(0, 4096);
    } catch {
      // none written
    }
    if (!message && exitCode !== 0 && this.spec.fallbackToLogsOnError) {
      const lines = this.tail.split('\n');
      message = lines
        .slice(-TAIL_LINES - 1)
        .join('\n')
        .slice(-TAIL_BYTES);
    }
    return {
      exitCode,
      ...(signo !== undefined ? { signal: signo } : {}),
      reason,
      ...(message ? { message } : {}),
      startedAt: this.startedAt,
      finishedAt,
    };
  }
}
