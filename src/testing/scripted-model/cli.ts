// `claude-code-runner scripted-model [--port 4599] [--host 127.0.0.1] [--scenarios DIR]
// [--default NAME] [--quiet]`: runs the scripted model server until SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { startScriptedModelServer } from './server.js';

const USAGE =
  'usage: claude-code-runner scripted-model [--port 4599] [--host 127.0.0.1] [--scenarios DIR] [--default NAME] [--quiet]';

/** Returns the process exit code once the server has been stopped by a signal. */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '4599' },
        host: { type: 'string', default: '127.0.0.1' },
        scenarios: { type: 'string' },
        default: { type: 'string' },
        quiet: { type: 'boolean', default: false },
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
  let server;
  try {
    server = await startScriptedModelServer({
      port,
      host: values.host,
      ...(values.scenarios === undefined ? {} : { scenarioDir: values.scenarios }),
      ...(values.default === undefined ? {} : { defaultScenario: values.default }),
      quiet: values.quiet,
      // A standalone server may run for days: keep memory flat.
      maxRecorded: 200,
    });
  } catch (err) {
    process.stderr.write(`scripted-model: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `${server.url}\n` +
      `scripted model listening; point the CLI at it with ANTHROPIC_BASE_URL=${server.url} ` +
      `(or ${server.url}/scenarios/NAME). Ctrl-C stops it.\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await server.close();
  process.stderr.write(`scripted-model: stopped (${signal})\n`);
  return 0;
}
