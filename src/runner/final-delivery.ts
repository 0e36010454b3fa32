/**
 * The run's last act (the runner's `finishing` state): hands the last frames and the final status
 * to the control plane, in that order: the status goes once every frame before it is
 * acknowledged, so the phase change is recorded after them. Both are saved to the outbox file
 * first, so whatever ends the wait (the bound, SIGTERM, a kill) they are left for the control
 * plane to pick up; the file goes once both are confirmed (docs/runner.md).
 */
import type { RunnerConfig } from '../config/runner-config.js';
import type { Logger } from '../observability/logger.js';
import type { StatusUpdate } from '../protocol/status.js';
import type { BackendClient } from './backend-client.js';
import { OutboxFile } from './outbox-file.js';
import type { RunnerSocket } from './socket-client.js';

/** Resolves at `deadline` (epoch ms), without holding the process open. */
function sleepUntil(deadline: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref());
}

export interface FinalDeliveryDeps {
  config: Readonly<RunnerConfig>;
  backend: BackendClient;
  socket: RunnerSocket;
}

export class FinalDelivery {
  /** Ends the wait: the bound, or the grace period after a stop that came meanwhile. */
  private readonly cutoff = new AbortController();

  constructor(
    private readonly deps: FinalDeliveryDeps,
    private readonly log: Logger,
  ) {}

  /** A stop came while delivering: only the grace period is left. */
  cutShort(): void {
    const cutoff = this.cutoff;
    setTimeout(() => cutoff.abort(), this.deps.config.runtime.shutdownGraceMs).unref();
  }

  /**
   * Delivers `status` after the frames. `stopped` tells whether the run is ending for a stop
   * (SIGTERM, timeout): then only the grace period is ours. `annotated` is the CLI session id
   * annotation still being delivered, which goes first within half the grace period.
   */
  async deliver(
    status: StatusUpdate,
    run: { stopped: () => boolean; annotated: Promise<void> },
  ): Promise<void> {
    const { config, backend, socket } = this.deps;
    const grace = Math.max(config.runtime.shutdownGraceMs, 3_000);
    // After SIGTERM only the grace period is ours; else the generous bound.
    const bound = run.stopped()
      ? Math.min(grace, config.runtime.finalDeliveryTimeoutMs)
      : config.runtime.finalDeliveryTimeoutMs;
    const cutoff = this.cutoff;
    const timer = setTimeout(() => cutoff.abort(), bound);
    timer.unref();
    const outbox = backend.enabled
      ? new OutboxFile(
          config.workspace.stateDir,
          config.session.name,
          config.session.run ?? 1,
          this.log,
        )
      : null;
    await outbox?.save(socket.unconfirmed(), socket.lastSeq, backend.statusBody(status));
    try {
      // An annotation still being retried gets half of the grace period; the status comes first.
      await Promise.race([run.annotated, sleepUntil(Date.now() + grace / 2)]);
      const flushed = await socket.flush(bound, cutoff.signal);
      let delivered = false;
      if (flushed) {
        delivered = await backend.putStatusReliably(status, Date.now() + bound, cutoff.signal);
      } else if (!run.stopped()) {
        // The socket never came back within the bound: the status may still land on its own (the
        // control plane then records the phase change once it has the run's last frame).
        this.log.warn(`${socket.pendingFrames} frame(s) not confirmed by the backend`);
        delivered = await backend.putStatusReliably(status, Date.now() + grace);
      }
      if (flushed && delivered) await outbox?.remove();
      else if (outbox)
        this.log.warn(
          `${flushed ? 'the final status was' : `${socket.pendingFrames} frame(s) and the final status were`} not confirmed before exit: left in ${outbox.path} for the control plane`,
        );
      else if (!flushed)
        this.log.warn(`${socket.pendingFrames} frame(s) not confirmed by the backend before exit`);
    } finally {
      clearTimeout(timer);
    }
  }
}
