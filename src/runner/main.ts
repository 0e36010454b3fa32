/**
 * `claude-code-runner run`: a pod's entrypoint. Reads the environment once, wires the parts,
 * runs the session and exits with a code that says how it went:
 *   0 completed · 1 failed · 2 invalid configuration · 124 timed out · 130 SIGINT · 143 SIGTERM.
 */
import {
  loadReportingTarget,
  loadRunnerConfig,
  type RunnerConfig,
} from '../config/runner-config.js';
import { ConfigError, describeError } from '../errors.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { DeferredTracer } from '../observability/deferred-tracer.js';
import { Redactor } from '../observability/redact.js';
import { noopTracer, type Tracer } from '../observability/tracing.js';
import { createWorkspaceManager } from '../workspace/manager.js';
import { BackendClient } from './backend-client.js';
import { EXIT_CODES, SessionRunner } from './session-runner.js';
import { RunnerSocket } from './socket-client.js';
import { readProcessEnv } from '../config/process-env.js';

const HELP = `usage: claude-code-runner run

Runs one Claude Code session from the environment (see README: "The runner's environment").
Required: SESSION_ID, WEBSOCKET_URL, and ANTHROPIC_API_KEY or Vertex AI settings.`;

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const env = readProcessEnv();
  let config: Readonly<RunnerConfig>;
  try {
    config = loadRunnerConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    await reportConfigFailure(env, e);
    return EXIT_CODES.config;
  }
  return runWithConfig(config);
}

export async function runWithConfig(config: Readonly<RunnerConfig>): Promise<number> {
  const startedAt = new Date();
  const redactor = new Redactor(config.secrets);
  const logger = createLogger({ level: config.runtime.logLevel, redactor });
  for (const w of config.warnings) logger.warn(w);

  let runner: SessionRunner | null = null;
  const socket = new RunnerSocket({
    url: config.backend.websocketUrl,
    ...(config.backend.botToken ? { botToken: config.backend.botToken } : {}),
    logger,
    redactor,
    maxBufferedBytes: config.runtime.maxBufferedBytes,
    reconnectMaxDelayMs: config.runtime.reconnectMaxDelayMs,
    onCommand: (cmd) => runner?.handleCommand(cmd),
  });
  const backend = new BackendClient({
    ...(config.backend.apiUrl ? { apiUrl: config.backend.apiUrl } : {}),
    project: config.session.project,
    sessionName: config.session.name,
    ...(config.backend.botToken ? { botToken: config.backend.botToken } : {}),
    logger,
    redactor,
  });
  socket.start();
  for (const w of config.warnings)
    socket.send({ type: 'system.message', payload: { message: w, level: 'warn' } });
  // Tracing loads while the CLI starts, not before (src/observability/deferred-tracer.ts).
  const tracer = config.langfuse.enabled
    ? new DeferredTracer(() => createTracerFor(config, logger, redactor, startedAt))
    : noopTracer;
  const workspace = createWorkspaceManager({
    config,
    logger,
    redactor,
    backend,
    progress: (message, level = 'info', data) =>
      socket.send({
        type: 'system.message',
        payload: { message, level, event: 'workspace.progress', ...(data ? { data } : {}) },
      }),
  });
  runner = new SessionRunner({ config, logger, redactor, socket, backend, workspace, tracer });

  const onSignal = (signal: 'SIGTERM' | 'SIGINT') => () => {
    runner?.stop({
      phase: 'Stopped',
      message:
        signal === 'SIGTERM'
          ? 'Stopped: the runner received SIGTERM'
          : 'Stopped: interrupted (SIGINT)',
      exitCode: signal === 'SIGTERM' ? EXIT_CODES.sigterm : EXIT_CODES.sigint,
    });
  };
  const onTerm = onSignal('SIGTERM');
  const onInt = onSignal('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  try {
    const outcome = await runner.run();
    logger.info(`session ${outcome.phase.toLowerCase()}: ${outcome.message.split('\n')[0]}`);
    return outcome.exitCode;
  } catch (e) {
    logger.error(`runner failed: ${describeError(e)}`);
    return EXIT_CODES.failed;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    await socket.close();
  }
}

async function createTracerFor(
  config: Readonly<RunnerConfig>,
  logger: Logger,
  redactor: Redactor,
  startedAt: Date,
): Promise<Tracer> {
  if (!config.langfuse.enabled) return noopTracer;
  try {
    const mod = (await import('../observability/langfuse/index.js')) as {
      createTracer: (deps: {
        config: Readonly<RunnerConfig>;
        logger: Logger;
        redactor: Redactor;
        startedAt?: Date;
      }) => Tracer | Promise<Tracer>;
    };
    return await mod.createTracer({ config, logger, redactor, startedAt });
  } catch (e) {
    logger.warn(`Langfuse tracing is off: ${describeError(e)}`);
    return noopTracer;
  }
}

/**
 * The run cannot start, but the platform must learn why: the problems go to stderr, to the socket
 * (when WEBSOCKET_URL is usable) and to the status (when the API is reachable). Bounded in time.
 */
async function reportConfigFailure(
  env: Readonly<Record<string, string | undefined>>,
  error: ConfigError,
): Promise<void> {
  const target = loadReportingTarget(env);
  const redactor = new Redactor(target.secrets);
  const logger = createLogger({ level: 'warn', redactor });
  const message = redactor.redact(error.message);
  process.stderr.write(`claude-code-runner: ${message}\n`);
  const deadline = Date.now() + 5_000;
  const tasks: Promise<unknown>[] = [];
  let socket: RunnerSocket | null = null;
  if (target.websocketUrl) {
    socket = new RunnerSocket({
      url: target.websocketUrl,
      ...(target.botToken ? { botToken: target.botToken } : {}),
      logger,
      redactor,
      maxBufferedBytes: 1 << 20,
      reconnectMaxDelayMs: 1_000,
      onCommand: () => undefined,
    });
    socket.start();
    socket.send({
      type: 'system.message',
      payload: {
        message,
        level: 'error',
        event: 'session.failed',
        data: { problems: error.problems.map((p) => redactor.redact(p)) },
      },
    });
    tasks.push(socket.flush(deadline - Date.now()));
  }
  if (target.apiUrl && target.sessionName) {
    const backend = new BackendClient({
      apiUrl: target.apiUrl,
      project: target.project,
      sessionName: target.sessionName,
      ...(target.botToken ? { botToken: target.botToken } : {}),
      logger,
      redactor,
      timeoutMs: 3_000,
    });
    tasks.push(
      backend.putStatusReliably(
        { phase: 'Failed', completionTime: new Date().toISOString(), message },
        deadline,
      ),
    );
  }
  await Promise.allSettled(tasks);
  await socket?.close();
}
