// Entry of the Langfuse end-to-end test (`./run-langfuse-test.sh`, `npm run test:langfuse`):
// `node dist/src/e2e/langfuse/main.js [--help]`. Settings: src/config/langfuse-e2e-config.ts.
import { pathToFileURL } from 'node:url';
import { LANGFUSE_E2E_USAGE, loadLangfuseE2eConfig } from '../../config/langfuse-e2e-config.js';
import { ConfigError } from '../../errors.js';
import { runLangfuseE2e } from './run.js';

/** 0 passed, 1 failed, 2 invalid configuration or arguments. */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(LANGFUSE_E2E_USAGE);
    return 0;
  }
  if (argv.length) {
    process.stderr.write(
      `langfuse e2e test: unexpected argument "${argv[0]}": it takes its settings from the environment\n\n${LANGFUSE_E2E_USAGE}`,
    );
    return 2;
  }
  let config;
  try {
    config = loadLangfuseE2eConfig();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`langfuse e2e test: ${e.message}\n(see --help)\n`);
    return 2;
  }

  // Ctrl-C or a CI cancel: stop waiting, delete the session, stop what we started, then exit.
  const interrupt = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    interrupt.abort(Object.assign(new Error(`interrupted by ${signal}`), { name: 'AbortError' }));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await runLangfuseE2e(config, {
      write: (t) => process.stdout.write(t),
      signal: interrupt.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(
        `langfuse e2e test: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
