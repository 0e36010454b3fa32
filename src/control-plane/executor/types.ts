import type { StatusUpdate } from '../../protocol/status.js';

/**
 * How runs get a process. The local executor spawns child processes on this machine; a
 * Kubernetes executor (Jobs on a shared volume) implements the same interface later. Scheduling
 * (the concurrency limit, the queue) and phases are not the executor's business: the run manager
 * does that on top of any executor.
 */
export interface RunRef {
  session: string;
  run: number;
}

export interface LaunchRequest extends RunRef {
  /** The runner's whole environment (contract §2). */
  env: Record<string, string>;
  /** The session's workspace; created if missing. */
  workspace: string;
}

export interface RunExit extends RunRef {
  /** Null when unknown (the process was adopted after a restart) or killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  /** The run was started by an earlier control plane process. */
  adopted: boolean;
  /**
   * What the executor knows of the end when the runner could not report it (Kubernetes: the
   * operator's verdict from the pod, e.g. a missing Secret or OOMKilled).
   */
  outcome?: { phase: 'Completed' | 'Failed' | 'Stopped'; message: string };
}

export interface Executor {
  readonly kind: string;
  /** The executor bounds a run by the session's timeout itself (a Job's deadline). */
  readonly enforcesTimeout?: boolean;
  /** Starts the runner; resolves once it is started (rejects when it cannot be). */
  launch(req: LaunchRequest): Promise<{ pid: number | null }>;
  /**
   * After a restart of the control plane: takes over a run that a previous process started.
   * False when its process is gone.
   */
  adopt(ref: RunRef & { pid: number }): boolean;
  /** SIGTERM (or the equivalent), then a hard kill after graceMs; resolves when the run is gone. */
  stop(ref: RunRef, graceMs: number): Promise<void>;
  isRunning(ref: RunRef): boolean;
  /** The run's output (stdout and stderr), unredacted: the caller redacts. */
  readOutput(ref: RunRef, tailBytes?: number): string;
  /** The last lines of the run's output, for a failure message. */
  outputTail(ref: RunRef, maxChars: number): string;
  /**
   * A run that ended unseen (its runner vanished while the control plane was down, or was never
   * recorded as started): ends whatever it left behind (the CLI, commands of the agent).
   */
  reapLeftovers(ref: RunRef): void;
  removeSession(session: string, workspace: string | undefined): void;
  /** Called once per run when its process ends (also for adopted runs). */
  onExit(listener: (exit: RunExit) => void): void;
  /** Stops watching; leaves processes alone (the run manager stops them first if it wants). */
  close(): void;
  /** Optional: a runner's status report, accepted by the run manager (Kubernetes: into the CR). */
  reportStatus?(ref: RunRef, update: StatusUpdate): void;
}
