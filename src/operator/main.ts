/**
 * `claude-code-runner operator`: reconciles AgenticSessions into Jobs (docs/kubernetes.md) until
 * SIGINT or SIGTERM. Configured by its environment (src/config/operator-config.ts).
 */
import { ConfigError, describeError } from '../errors.js';
import { loadOperatorConfig } from '../config/operator-config.js';
import { readProcessEnv } from '../config/process-env.js';
import { createLogger } from '../observability/logger.js';
import { Redactor } from '../observability/redact.js';
import { Operator } from './operator.js';

const USAGE = `usage: claude-code-runner operator

Reconciles AgenticSession resources (vteam.ambient-code/v1alpha1) into a Secret, a PVC and a Job
per session. Configured by OPERATOR_* variables and KUBECONFIG (in a pod: its service account);
see docs/kubernetes.md.
`;

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length) {
    process.stderr.write(
      `claude-code-runner operator: unexpected argument "${argv[0]}"\n\n${USAGE}`,
    );
    return 2;
  }
  let config;
  try {
    config = loadOperatorConfig(readProcessEnv());
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`claude-code-runner operator: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const logger = createLogger({
    level: config.logLevel,
    redactor: new Redactor([]),
    scope: 'operator',
  });
  let operator: Operator;
  try {
    operator = new Operator({ config, logger });
    await operator.start();
  } catch (e) {
    process.stderr.write(`claude-code-runner operator: ${describeError(e)}\n`);
    return 1;
  }
  logger.info('started', {
    namespaces: config.namespaces.length ? config.namespaces : 'all',
    leaderElection: config.leaderElection.enabled,
    identity: config.leaderElection.identity,
  });
  // Its timers are unref'd and a broken watch holds no socket: without this, a moment with no
  // connection (the API server restarting) would end the process.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  clearInterval(keepAlive);
  await operator.stop();
  return 0;
}
