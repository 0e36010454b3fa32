/**
 * `claude-code-runner session …`: a client of the control plane's API (contract §4) and socket
 * (§3). Subcommands: create, list, get, watch, send, interrupt, stop, delete, logs. `--json`
 * prints machine-readable output everywhere; errors are one line on stderr naming the fix.
 *
 * Exit codes: 0 success (watch: Completed), 1 failure (watch: Failed/Error, or the session was
 * deleted), 2 usage error, 3 (watch) Stopped, 130 interrupted by Ctrl-C.
 */
import { readProcessEnv } from '../config/process-env.js';
import { colorEnabled, loadClientConfig } from '../config/client-config.js';
import { ConfigError } from '../errors.js';
import { ApiClient, ClientError } from './api.js';
import { flag, intFlag, parse, str, usageError } from './args.js';
import type { ClientIO, Context } from './commands/context.js';
import { create } from './commands/create.js';
import { watch } from './commands/follow.js';
import {
  getSession,
  interrupt,
  listSessions,
  logs,
  remove,
  send,
  stop,
} from './commands/session.js';

export type { ClientIO } from './commands/context.js';

export const SESSION_USAGE = `usage: claude-code-runner session <command> [options]

commands:
  create --prompt TEXT [--repo URL[@branch]]… [--interactive] [--model M] [--timeout S]
         [--display-name N] [--env KEY=VALUE]… [--watch]
                          create a session (and with --watch, follow it to the end)
  list                    the sessions of the project
  get NAME                one session: phase, result, turns, tokens, cost
  watch NAME [--after-seq N]
                          follow a session live until it ends (exit 0 Completed,
                          1 Failed/Error, 3 Stopped)
  send NAME TEXT          send a user message to an interactive session ("-": read stdin)
  interrupt NAME          interrupt the agent's current turn
  stop NAME               stop the session's runner (phase Stopped)
  delete NAME             stop it if running, and remove it with its history and workspace
  logs NAME [--run N] [--tail BYTES]
                          the runner's own output (stdout and stderr) of a run

options of every command:
  --url URL        the control plane       [CLAUDE_RUNNER_URL]       (http://127.0.0.1:8080)
  --token T        its API token           [CLAUDE_RUNNER_API_TOKEN] (else ./.claude-runner/token)
  -p, --project P  the project             [CLAUDE_RUNNER_PROJECT]   (default)
  --config FILE    a JSON file with url, token and project
                   [CLAUDE_RUNNER_CONFIG]  (~/.config/claude-code-runner/config.json)
  --json           machine-readable output (watch: one JSON history entry per line)
  --no-color       no colors (also NO_COLOR=1); colors and the spinner need a terminal
  -v, --verbose    also show debug messages while watching
  -h, --help       this text
`;

const COMMANDS = [
  'create',
  'list',
  'get',
  'watch',
  'send',
  'interrupt',
  'stop',
  'delete',
  'logs',
] as const;
type Command = (typeof COMMANDS)[number];

function defaultIO(): ClientIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: readProcessEnv(),
    cwd: process.cwd(),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

export async function main(argv: string[], io: ClientIO = defaultIO()): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    (command ? io.stdout : io.stderr).write(SESSION_USAGE);
    return command ? 0 : 2;
  }
  try {
    if (!(COMMANDS as readonly string[]).includes(command))
      throw usageError(`unknown command "${command}": use one of ${COMMANDS.join(', ')}`);
    return await run(command as Command, rest, io);
  } catch (e) {
    if (e instanceof ClientError) {
      io.stderr.write(`claude-code-runner session: ${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof ConfigError) {
      io.stderr.write(`claude-code-runner session: ${e.problems.join('\n  ')}\n`);
      return 2;
    }
    throw e;
  }
}

const POSITIONALS: Record<Command, string[]> = {
  create: [],
  list: [],
  get: ['NAME'],
  watch: ['NAME'],
  send: ['NAME', 'TEXT'],
  interrupt: ['NAME'],
  stop: ['NAME'],
  delete: ['NAME'],
  logs: ['NAME'],
};

const OPTIONS = {
  create: {
    prompt: { type: 'string' },
    repo: { type: 'string', multiple: true },
    interactive: { type: 'boolean' },
    model: { type: 'string' },
    timeout: { type: 'string' },
    'display-name': { type: 'string' },
    env: { type: 'string', multiple: true },
    watch: { type: 'boolean' },
  },
  list: {},
  get: {},
  watch: { 'after-seq': { type: 'string' } },
  send: {},
  interrupt: {},
  stop: {},
  delete: {},
  logs: { run: { type: 'string' }, tail: { type: 'string' } },
} as const;

async function run(command: Command, argv: string[], io: ClientIO): Promise<number> {
  const { values, positionals } = parse(command, argv, OPTIONS[command], {
    names: POSITIONALS[command],
  });
  if (values.help) {
    io.stdout.write(SESSION_USAGE);
    return 0;
  }
  const config = loadClientConfig(
    {
      ...(str(values, 'url') !== undefined ? { url: str(values, 'url') } : {}),
      ...(str(values, 'token') !== undefined ? { token: str(values, 'token') } : {}),
      ...(str(values, 'project') !== undefined ? { project: str(values, 'project') } : {}),
      ...(str(values, 'config') !== undefined ? { config: str(values, 'config') } : {}),
    },
    io.env,
    io.cwd,
  );
  for (const w of config.warnings) io.stderr.write(`claude-code-runner session: warning: ${w}\n`);
  const json = flag(values, 'json');
  const isTTY = io.stdout.isTTY === true;
  const color = !flag(values, 'no-color') && !json && colorEnabled(isTTY, io.env);
  const terminalWidth = isTTY && io.stdout.columns ? Math.max(io.stdout.columns - 1, 40) : 160;
  const ctx: Context = {
    api: new ApiClient(config),
    config,
    values,
    positionals,
    json,
    style: { color, width: terminalWidth, verbose: flag(values, 'verbose') },
    io,
    out: (line) => io.stdout.write(`${line}\n`),
  };
  switch (command) {
    case 'create':
      return create(ctx);
    case 'list':
      return listSessions(ctx);
    case 'get':
      return getSession(ctx);
    case 'watch':
      return watch(
        ctx,
        positionals[0]!,
        intFlag(values, 'after-seq', 'watch', 0, Number.MAX_SAFE_INTEGER) ?? 0,
      );
    case 'send':
      return send(ctx);
    case 'interrupt':
      return interrupt(ctx);
    case 'stop':
      return stop(ctx);
    case 'delete':
      return remove(ctx);
    case 'logs':
      return logs(ctx);
  }
}
