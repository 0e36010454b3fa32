// `claude-code-runner scripted-model [--port 4599] [--host 127.0.0.1] [--scenarios DIR]
// [--default NAME] [--quiet]`: runs the scripted model server until SIGINT/SIGTERM.
import { serveCli } from '../serve-cli.js';
import { startScriptedModelServer } from './server.js';

const USAGE =
  'usage: claude-code-runner scripted-model [--port 4599] [--host 127.0.0.1] [--scenarios DIR] [--default NAME] [--quiet]';

/** Returns the process exit code once the server has been stopped by a signal. */
export function main(argv: string[]): Promise<number> {
  return serveCli(argv, {
    name: 'scripted-model',
    usage: USAGE,
    defaultPort: '4599',
    options: {
      scenarios: { type: 'string' },
      default: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
    start: (values, port) =>
      startScriptedModelServer({
        port,
        host: values.host,
        ...(values.scenarios === undefined ? {} : { scenarioDir: values.scenarios }),
        ...(values.default === undefined ? {} : { defaultScenario: values.default }),
        quiet: values.quiet,
        // A standalone server may run for days: keep memory flat.
        maxRecorded: 200,
      }),
    banner: (server) =>
      `${server.url}\n` +
      `scripted model listening; point the CLI at it with ANTHROPIC_BASE_URL=${server.url} ` +
      `(or ${server.url}/scenarios/NAME). Ctrl-C stops it.\n`,
  });
}
