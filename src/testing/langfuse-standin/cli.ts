// `langfuse-standin [--port 3000] [--host 127.0.0.1] [--public-key K] [--secret-key K]`: runs the
// Langfuse stand-in until SIGINT/SIGTERM (for the end-to-end test and for trying tracing by hand).
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startLangfuseStandin } from './server.js';

const USAGE =
  'usage: langfuse-standin [--port 3000] [--host 127.0.0.1] [--public-key KEY] [--secret-key KEY]';

/** Returns the process exit code once the server has been stopped by a signal. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '3000' },
        host: { type: 'string', default: '127.0.0.1' },
        'public-key': { type: 'string' },
        'secret-key': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port must be an integer 0-65535, got "${values.port}"\n${USAGE}\n`);
    return 2;
  }
  let standin;
  try {
    standin = await startLangfuseStandin({
      port,
      host: values.host,
      ...(values['public-key'] ? { publicKey: values['public-key'] } : {}),
      ...(values['secret-key'] ? { secretKey: values['secret-key'] } : {}),
      maxRecorded: 100_000,
    });
  } catch (err) {
    process.stderr.write(`langfuse-standin: ${(err as Error).message}\n`);
    return 1;
  }
  // The keys are test values chosen by the caller (or the stand-in's defaults), not secrets.
  process.stdout.write(
    `${standin.url}\n` +
      `Langfuse stand-in listening: LANGFUSE_HOST=${standin.url} LANGFUSE_PUBLIC_KEY=${standin.publicKey} ` +
      `LANGFUSE_SECRET_KEY=${standin.secretKey}. Ctrl-C stops it.\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await standin.close();
  process.stderr.write(`langfuse-standin: stopped (${signal})\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
