/**
 * Tracing for the runner: Langfuse when it is configured, otherwise nothing at all.
 *
 * `createTracer` is the only entry point the runner needs. When Langfuse is off it returns
 * `noopTracer` without loading OpenTelemetry or the Langfuse SDK (they are imported dynamically
 * from ./tracer.js only when tracing is on). Layout and guarantees: docs/langfuse.md.
 */
import type { Logger } from '../logger.js';
import type { Redactor } from '../redact.js';
import { noopTracer, type Tracer } from '../tracing.js';

/**
 * What the tracer reads of the runner's configuration. Declared here rather than imported, so
 * that observability/ does not depend on config/ (the runner's `RunnerConfig` fits it).
 */
export interface TraceSettings {
  langfuse: {
    enabled: boolean;
    host?: string;
    publicKey?: string;
    secretKey?: string;
    flushTimeoutMs: number;
    maskMessages: boolean;
  };
  session: {
    id: string;
    name: string;
    namespace: string;
    project: string;
    prompt: string;
    interactive: boolean;
    parentSessionId?: string;
    userId?: string;
    userName?: string;
  };
  model: { name?: string; requested?: string };
}

export interface TracerDeps {
  config: Readonly<TraceSettings>;
  logger: Logger;
  /** Every string the tracer exports goes through it. */
  redactor: Redactor;
  /** When the run started: the root observation's start (default: when the tracer is built). */
  startedAt?: Date;
}

/**
 * The Langfuse tracer when `config.langfuse.enabled` (keys and a valid host present), else
 * `noopTracer`. Never throws: if the tracer cannot be built, one warning and no tracing.
 */
export async function createTracer(deps: TracerDeps): Promise<Tracer> {
  if (!deps.config.langfuse.enabled) return noopTracer;
  try {
    const { createLangfuseTracer } = await import('./tracer.js');
    return createLangfuseTracer(deps);
  } catch (err) {
    deps.logger.warn(
      `Langfuse tracing is off: the tracer could not start (${describe(err)}); the session runs untraced`,
    );
    return noopTracer;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
