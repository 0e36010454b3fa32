// The shared shape of the standalone stand-in CLIs (scripted model, Langfuse stand-in): parse
// `--port/--host/--help` plus the server's own options, start it, print its banner, and serve
// until SIGINT/SIGTERM.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

const COMMON_OPTIONS = {
  host: { type: 'string', default: '127.0.0.1' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type ServeOptions<O extends ParseArgsOptionsConfig> = O &
  typeof COMMON_OPTIONS & { port: { type: 'string'; default: string } };

/** The parsed values: the common options and the server's own, typed as parseArgs types them. */
export type ServeValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: ServeOptions<O>; strict: true }>
>['values'];

export interface ServeCli<O extends ParseArgsOptionsConfig, S> {
  /** Prefixes the start-failure and stopped messages. */
  name: string;
  usage: string;
  defaultPort: string;
  /** The server's own options, next to --port, --host and --help. */
  options: O;
  start(values: ServeValues<O>, port: number): Promise<S>;
  /** Printed to stdout once listening; must start with the URL line callers wait for. */
  banner(server: S): string;
}

/** Returns the process exit code once the server has been stopped by a signal. */
export async function serveCli<
  O extends ParseArgsOptionsConfig,
  S extends { close(): Promise<void> },
>(argv: string[], cli: ServeCli<O, S>): Promise<number> {
  let values: ServeValues<O>;
  try {
    const options = {
      port: { type: 'string', default: cli.defaultPort },
      ...COMMON_OPTIONS,
      ...cli.options,
    } as ServeOptions<O>;
    ({ values } = parseArgs({ args: argv, options, strict: true }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${cli.usage}\n`);
    return 2;
  }
  // The generic values type stays unresolved here; --port and --help are in every ServeOptions.
  const common = values as { port: string; help: boolean };
  if (common.help) {
    process.stdout.write(`${cli.usage}\n`);
    return 0;
  }
  const port = Number(common.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port must be an integer 0-65535, got "${common.port}"\n${cli.usage}\n`);
    return 2;
  }
  let server: S;
  try {
    server = await cli.start(values, port);
  } catch (err) {
    process.stderr.write(`${cli.name}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(cli.banner(server));
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await server.close();
  process.stderr.write(`${cli.name}: stopped (${signal})\n`);
  return 0;
}
