/**
 * A tracer that is built in the background, so that loading OpenTelemetry and the Langfuse SDK
 * (about 100 ms of module loading) neither delays the runner's first frames nor the start of its
 * CLI (measured: docs/benchmarks.md). Loading begins at the first call, which is the first turn,
 * made just after the CLI was spawned: it loads while the CLI starts up. Calls made meanwhile are
 * kept and replayed in order (a turn keeps the time it really started); flush and shutdown wait
 * for the tracer.
 */
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { noopTracer, type TraceOutcome, type Tracer, type TurnStart } from './tracing.js';

export class DeferredTracer implements Tracer {
  private tracer: Tracer | null = null;
  private loading: Promise<Tracer> | null = null;
  private readonly pending: ((tracer: Tracer) => void)[] = [];

  /** `load` must not throw (createTracer does not); if it does, tracing is off. */
  constructor(private readonly load: () => Promise<Tracer>) {}

  startTurn(turn: TurnStart): void {
    const started = { ...turn, startedAt: turn.startedAt ?? new Date() };
    this.call((t) => t.startTurn(started));
  }

  observe(message: SDKMessage): void {
    this.call((t) => t.observe(message));
  }

  async flush(): Promise<void> {
    await (await this.ready()).flush();
  }

  async shutdown(outcome: TraceOutcome): Promise<void> {
    await (await this.ready()).shutdown(outcome);
  }

  private call(fn: (tracer: Tracer) => void): void {
    if (this.tracer) return fn(this.tracer);
    this.pending.push(fn);
    void this.ready();
  }

  private ready(): Promise<Tracer> {
    this.loading ??= this.load()
      .catch(() => noopTracer)
      .then((tracer) => {
        this.tracer = tracer;
        for (const fn of this.pending.splice(0)) fn(tracer);
        return tracer;
      });
    return this.loading;
  }
}
