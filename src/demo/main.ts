/**
 * `claude-code-runner demo`: the whole system on one machine (see docs/demo.md). Offline with
 * the scripted model unless ANTHROPIC_API_KEY or Vertex AI is configured.
 *
 * Ctrl-C (or SIGTERM) stops the watch, the session's runner and everything the demo started,
 * then exits 130 (143); a second one only says that stopping is under way (it is bounded by the
 * runner's grace period), so nothing is left running.
 */
import { readProcessEnv } from '../config/process-env.js';
import { DEMO_USAGE, loadDemoConfig } from '../config/demo-config.js';
import { ClientError } from '../client/api.js';
import { ConfigError, describeError } from '../errors.js';
import { ControlPlaneRedactor } from '../control-plane/redaction.js';
import { runDemo, type DemoIO } from './run.js';

export interface DemoMainIO extends DemoIO {
  cwd: string;
}

function defaultIO(): DemoMainIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: readProcessEnv(),
    cwd: process.cwd(),
  };
}

export async function main(argv: string[], io: DemoMainIO = defaultIO()): Promise<number> {
  let parsed;
  try {
    parsed = loadDemoConfig(argv, io.env, io.cwd);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.stderr.write(`claude-code-runner demo: ${e.problems.join('\n  ')}\n`);
    return 2;
  }
  if (parsed.help) {
    io.stdout.write(DEMO_USAGE);
    return 0;
  }

  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      io.stderr.write(
        'claude-code-runner demo: still stopping (the runner has a few seconds to end)…\n',
      );
      return;
    }
    controller.abort(sig === 'SIGTERM' ? 143 : 130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runDemo(parsed.config, io, controller.signal);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.stderr.write(`claude-code-runner demo: ${e.problems.join('\n  ')}\n`);
      return 2;
    }
    const message = e instanceof ClientError ? e.message : describeError(e);
    // By pattern: a failure message must not carry a key or token, whatever produced it.
    io.stderr.write(`claude-code-runner demo: ${new ControlPlaneRedactor([]).redact(message)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
