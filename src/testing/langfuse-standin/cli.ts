// `langfuse-standin [--port 3000] [--host 127.0.0.1] [--public-key K] [--secret-key K]`: runs the
// Langfuse stand-in until SIGINT/SIGTERM (for the end-to-end test and for trying tracing by hand).
import { pathToFileURL } from 'node:url';
import { serveCli } from '../serve-cli.js';
import { startLangfuseStandin } from './server.js';

const USAGE =
  'usage: langfuse-standin [--port 3000] [--host 127.0.0.1] [--public-key KEY] [--secret-key KEY]';

/** Returns the process exit code once the server has been stopped by a signal. */
export function main(argv: string[]): Promise<number> {
  return serveCli(argv, {
    name: 'langfuse-standin',
    usage: USAGE,
    defaultPort: '3000',
    options: {
      'public-key': { type: 'string' },
      'secret-key': { type: 'string' },
    },
    start: (values, port) =>
      startLangfuseStandin({
        port,
        host: values.host,
        ...(values['public-key'] ? { publicKey: values['public-key'] } : {}),
        ...(values['secret-key'] ? { secretKey: values['secret-key'] } : {}),
        maxRecorded: 100_000,
      }),
    // The keys are test values chosen by the caller (or the stand-in's defaults), not secrets.
    banner: (standin) =>
      `${standin.url}\n` +
      `Langfuse stand-in listening: LANGFUSE_HOST=${standin.url} LANGFUSE_PUBLIC_KEY=${standin.publicKey} ` +
      `LANGFUSE_SECRET_KEY=${standin.secretKey}. Ctrl-C stops it.\n`,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
