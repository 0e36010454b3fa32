/**
 * `claude-code-runner session …`: a client of the control plane's API (contract §4) and socket
 * (§3). Subcommands: create, list, get, watch, send, interrupt, stop, delete, logs. `--json`
 * prints machine-readable output everywhere; errors are one line on stderr naming the fix.
 *
 * Exit codes: 0 success (watch: Completed), 1 failure (watch: Failed/Error, or the session was
 * deleted), 2 usage error, 3 (watch) Stopped, 130 interrupted by Ctrl-C.
 */
import { readProcessEnv } from '../config/process-env.js';
import { colorEnabled, loadClientConfig, type ClientConfig } from '../config/client-config.js';
import type { Env } from '../config/env.js';
import { ConfigError } from '../errors.js';
import { ApiClient, ClientError, type CreateBody } from './api.js';
import {
  flag,
  intFlag,
  list,
  parse,
  parseEnvPairs,
  parseRepoArg,
  str,
  usageError,
  type Values,
} from './args.js';
import { followSession } from './follow.js';
import { renderList, renderSession } from './format.js';
import type { Style } from './render.js';
import { Terminal, type OutStream } from './terminal.js';

export interface ClientIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Env;
  cwd: string;
  readStdin(): Promise<string>;
  /** Aborts a running watch (Ctrl-C); main installs one when not given. */
  signal?: AbortSignal;
}

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

interface Context {
  api: ApiClient;
  config: ClientConfig;
  values: Values;
  positionals: string[];
  json: boolean;
  style: Style;
  io: ClientIO;
  out(line: string): void;
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

async function create(ctx: Context): Promise<number> {
  const v = ctx.values;
  const interactive = flag(v, 'interactive');
  const prompt = str(v, 'prompt');
  if (prompt === undefined && !interactive)
    throw usageError(
      '--prompt is required (or --interactive to send the first message later)',
      'create',
    );
  if (prompt !== undefined && !prompt.trim() && !interactive)
    throw usageError('--prompt is empty: give the agent something to do', 'create');
  const timeout = intFlag(v, 'timeout', 'create', 0, 7 * 24 * 3600);
  const repos = list(v, 'repo').map((r) => {
    if (!r.trim())
      throw usageError(
        '--repo needs a URL, e.g. --repo https://github.com/org/repo.git@main',
        'create',
      );
    const { url, branch } = parseRepoArg(r.trim());
    return { input: { url, ...(branch ? { branch } : {}) } };
  });
  const env = parseEnvPairs(list(v, 'env'), 'create');
  const model = str(v, 'model');
  const displayName = str(v, 'display-name');
  const body: CreateBody = {
    prompt: prompt ?? '',
    ...(interactive ? { interactive: true } : {}),
    ...(model ? { llmSettings: { model } } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    ...(repos.length ? { repos } : {}),
    ...(displayName ? { displayName } : {}),
    ...(env ? { environmentVariables: env } : {}),
  };
  const session = await ctx.api.create(body);
  const name = session.metadata.name;
  if (ctx.json) ctx.out(JSON.stringify(session));
  else {
    ctx.out(
      `created ${name} in project ${session.metadata.namespace} (phase ${session.status.phase})`,
    );
    if (!flag(v, 'watch')) {
      ctx.out(`  watch it:   claude-code-runner session watch ${name}${projectFlag(ctx)}`);
      if (interactive)
        ctx.out(`  talk to it: claude-code-runner session send ${name}${projectFlag(ctx)} "…"`);
    }
  }
  if (!flag(v, 'watch')) return 0;
  return follow(ctx, name, 0, session);
}

function projectFlag(ctx: Context): string {
  return ctx.config.project === 'default' ? '' : ` --project ${ctx.config.project}`;
}

async function watch(ctx: Context, name: string, afterSeq: number): Promise<number> {
  return follow(ctx, name, afterSeq);
}

async function follow(
  ctx: Context,
  name: string,
  afterSeq: number,
  session?: Parameters<typeof followSession>[0]['session'],
): Promise<number> {
  const isTTY = ctx.io.stdout.isTTY === true;
  const terminal = new Terminal(ctx.io.stdout, {
    spinner: isTTY && !ctx.json,
    color: ctx.style.color,
  });
  let controller: AbortController | undefined;
  let signal = ctx.io.signal;
  const onSigint = () => controller?.abort();
  if (!signal) {
    controller = new AbortController();
    signal = controller.signal;
    process.once('SIGINT', onSigint);
  }
  try {
    const r = await followSession({
      api: ctx.api,
      name,
      ...(session ? { session } : {}),
      afterSeq,
      terminal,
      style: { ...ctx.style, session: name },
      json: ctx.json,
      stdout: ctx.io.stdout,
      stderr: ctx.io.stderr,
      signal,
    });
    if (r.phase === undefined)
      ctx.io.stderr.write(
        `\nstopped watching at seq ${r.lastSeq}; the session goes on (watch again: claude-code-runner session watch ${name} --after-seq ${r.lastSeq}; stop it: claude-code-runner session stop ${name})\n`,
      );
    return r.exitCode;
  } finally {
    terminal.close();
    process.off('SIGINT', onSigint);
  }
}

async function listSessions(ctx: Context): Promise<number> {
  const items = await ctx.api.list();
  if (ctx.json) ctx.out(JSON.stringify({ items }));
  else for (const line of renderList(items, ctx.style)) ctx.out(line);
  return 0;
}

async function getSession(ctx: Context): Promise<number> {
  const s = await ctx.api.get(ctx.positionals[0]!);
  if (ctx.json) ctx.out(JSON.stringify(s));
  else for (const line of renderSession(s, ctx.style)) ctx.out(line);
  return 0;
}

async function send(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  let text = ctx.positionals[1]!;
  if (text === '-') text = await ctx.io.readStdin();
  if (!text.trim()) throw usageError('the message is empty', 'send');
  const r = await ctx.api.send(name, { type: 'user_message', content: text });
  if (ctx.json) ctx.out(JSON.stringify(r));
  else
    ctx.out(
      `sent to ${name}${r.delivered ? '' : ' (queued: the runner is not connected yet; it gets the message when it connects)'}`,
    );
  return 0;
}

async function interrupt(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  const r = await ctx.api.send(name, { type: 'interrupt' });
  if (ctx.json) ctx.out(JSON.stringify(r));
  else
    ctx.out(`interrupt sent to ${name}${r.delivered ? '' : ' (queued until the runner connects)'}`);
  return 0;
}

async function stop(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  const s = await ctx.api.stop(name);
  if (ctx.json) ctx.out(JSON.stringify(s));
  else ctx.out(`${name}: ${s.status.phase}${s.status.message ? ` — ${s.status.message}` : ''}`);
  return 0;
}

async function remove(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  await ctx.api.delete(name);
  if (ctx.json) ctx.out(JSON.stringify({ deleted: name }));
  else ctx.out(`deleted ${name}`);
  return 0;
}

async function logs(ctx: Context): Promise<number> {
  const name = ctx.positionals[0]!;
  const runN = intFlag(ctx.values, 'run', 'logs', 1, Number.MAX_SAFE_INTEGER);
  const tail = intFlag(ctx.values, 'tail', 'logs', 1, Number.MAX_SAFE_INTEGER);
  const text = await ctx.api.logs(name, {
    ...(runN !== undefined ? { run: runN } : {}),
    ...(tail !== undefined ? { tail } : {}),
  });
  if (ctx.json)
    ctx.out(
      JSON.stringify({ session: name, ...(runN !== undefined ? { run: runN } : {}), logs: text }),
    );
  else ctx.io.stdout.write(text.endsWith('\n') || !text ? text : `${text}\n`);
  return 0;
}
