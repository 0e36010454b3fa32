/**
 * `claude-code-runner serve`: the control plane (sessions API, socket hub, SQLite store, local
 * executor) until SIGINT or SIGTERM. Prints `listening on <url>` on stdout once it accepts
 * requests, and the user token once, when it generates one, with the web page's sign-in URL.
 */
import { ConfigError, describeError } from '../errors.js';
import { readProcessEnv } from '../config/process-env.js';
import { loadServeConfig, SERVE_USAGE } from '../config/serve-config.js';
import { createLogger } from '../observability/logger.js';
import { startControlPlane } from './app.js';
import { ControlPlaneRedactor } from './redaction.js';

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = loadServeConfig(argv, readProcessEnv());
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`claude-code-runner serve: ${e.message}\n\n${SERVE_USAGE}`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  const config = parsed.config;
  const logger = createLogger({
    level: config.logLevel,
    redactor: new ControlPlaneRedactor(config.secrets),
    scope: 'serve',
  });

  let cp;
  try {
    cp = await startControlPlane(config, logger);
  } catch (e) {
    process.stderr.write(`claude-code-runner serve: ${describeError(e)}\n`);
    return 1;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (cp.token.source === 'generated') {
    out(`generated an API token (saved in ${cp.token.file}, mode 0600; shown only this once):`);
    out(`  ${cp.token.token}`);
    // The token rides in the fragment, which a browser never sends to the server; the page
    // moves it to session storage and clears it from the address bar at once (docs/web.md).
    out(`open the web page, signed in: ${cp.url}/#token=${cp.token.token}`);
  } else if (cp.token.source === 'file') {
    out(`API token: read from ${cp.token.file}`);
  }
  out(`claude-code-runner serve: listening on ${cp.url} (data dir ${config.dataDir})`);
  if (cp.token.source !== 'generated') out(`web page: ${cp.url}/ (sign in with the API token)`);

  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      logger.info(`${sig}: shutting down${config.keepRunners ? ' (runners keep running)' : ''}`);
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  // A second signal while shutting down: leave at once.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  await cp.close();
  return 0;
}
