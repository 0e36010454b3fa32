/**
 * The control plane's configuration (`claude-code-runner serve`): command-line flags first, then
 * `CLAUDE_RUNNER_*` variables, then defaults. Every problem is collected and reported at once
 * (each names the flag or variable and the fix); the result is frozen.
 *
 * This module also selects the part of serve's own environment that runners inherit: the model
 * credentials and endpoint, Vertex settings, CLI tuning (`CLAUDE_CODE_*`), runner tuning
 * (`RUNNER_*`), tracing (`LANGFUSE_*`), `LOG_LEVEL` and the process basics (PATH, HOME, proxies).
 */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { EnvReader, PROCESS_BASICS_ENV, type Env } from './env.js';
import type { LogLevel } from './log-level.js';

export interface ServeLimits {
  /** Largest accepted request body (bytes); bigger bodies get 413. */
  maxBodyBytes: number;
  /** Largest accepted WebSocket message (bytes), runner or watcher. */
  maxFrameBytes: number;
  /** A watcher whose unsent data exceeds this (bytes) is closed with 4008. */
  watcherMaxBufferedBytes: number;
  /** Each run's output log is rotated at this size; at most two files are kept per run. */
  logMaxBytes: number;
  /** History entries read per page when a watcher catches up or a client lists messages. */
  historyPageSize: number;
  /** Watchers catching up with a history at once, serve-wide; the others are queued. */
  maxCatchingUp: number;
}

export interface ServeConfig {
  host: string;
  port: number;
  /** Absolute. */
  dataDir: string;
  /** The user token when given by flag or variable; otherwise it is read from or saved to the data dir. */
  token?: string;
  tokenSource?: 'flag' | 'env';
  maxConcurrent: number;
  /** argv of the runner command; undefined means our own runner (`node dist/src/cli/main.js run`). */
  runnerCommand?: string[];
  /** SIGTERM -> SIGKILL delay when stopping a runner. */
  graceMs: number;
  /** On shutdown, leave runners running (they reconnect to the next serve) instead of stopping them. */
  keepRunners: boolean;
  logLevel: LogLevel;
  /** The server's own GitHub token, handed to runners by `POST …/github/token`. */
  githubToken?: string;
  /** Variables every runner inherits from serve's environment. */
  runnerEnv: Readonly<Record<string, string>>;
  limits: ServeLimits;
  /** Every secret value known at start (for redaction). */
  secrets: string[];
  /** How runners reach this server (`http://<advertiseHost>:<port>/api`). */
  advertiseHost: string;
  /** Bounds on sessions that sessions create (docs/agents.md). */
  sessionLimits: { maxChildrenPerSession: number; maxSessionDepth: number };
  /** Origins allowed to call the API from a browser (CORS, docs/agui.md); empty: CORS off. */
  corsOrigins: string[];
  /** `local`: child processes; `kubernetes`: AgenticSessions reconciled by the operator. */
  executor: 'local' | 'kubernetes';
  /** Kubernetes mode: a kubeconfig file; absent: the pod's service account. */
  kubeconfig?: string;
}

export const SERVE_USAGE = `usage: claude-code-runner serve [options]

The control plane: sessions API, socket hub, SQLite store and local executor.

options (each also settable by the variable in brackets):
  --port N               listen port, 0 for any free port            [CLAUDE_RUNNER_PORT] (8080)
  --host H               listen address                              [CLAUDE_RUNNER_HOST] (127.0.0.1)
  --data-dir DIR         store, token, workspaces and logs           [CLAUDE_RUNNER_DATA_DIR] (./.claude-runner)
  --token T              the user API token (prefer the variable)    [CLAUDE_RUNNER_API_TOKEN]
                         without one, a token is generated on first start, saved in
                         <data-dir>/token (mode 0600) and printed once
  --max-concurrent N     runs at once; the rest wait as Pending      [CLAUDE_RUNNER_MAX_CONCURRENT] (4)
  --runner-command CMD   command that starts a runner                [CLAUDE_RUNNER_RUNNER_COMMAND]
                         (default: this package's \`claude-code-runner run\`)
  --grace-ms N           SIGTERM -> SIGKILL delay when stopping      [CLAUDE_RUNNER_GRACE_MS] (10000)
  --keep-runners         on shutdown leave runners running; they reconnect to the next serve
  --max-children-per-session N
                         sessions one session may create             [CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION] (10)
  --max-catching-up N    watchers catching up with a history at once [CLAUDE_RUNNER_MAX_CATCHING_UP] (8)
                         (all sessions); the others are told they are queued and wait
  --max-session-depth N  how deep a chain of sessions creating       [CLAUDE_RUNNER_MAX_SESSION_DEPTH] (3)
                         sessions may go (a session nobody created is at depth 0)
  --cors-origin O        origins a browser front end may call from   [CLAUDE_RUNNER_CORS_ORIGIN] (off)
                         (comma-separated, e.g. https://app.example.com, or *)
  --log-level L          debug, info, warn, error or silent          [LOG_LEVEL] (info)
  --executor E           local (child processes) or kubernetes       [CLAUDE_RUNNER_EXECUTOR] (local)
                         (AgenticSessions in the project's namespace, run by the operator;
                         docs/kubernetes.md; KUBECONFIG names the cluster, else the pod's account)
  -h, --help             this text

limits (variables only):
  CLAUDE_RUNNER_MAX_BODY_BYTES (1048576), CLAUDE_RUNNER_MAX_FRAME_BYTES (16777216),
  CLAUDE_RUNNER_WATCHER_MAX_BUFFERED_BYTES (4194304), CLAUDE_RUNNER_LOG_MAX_BYTES (1048576)

Runners inherit ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, the Vertex variables, CLAUDE_CODE_*,
RUNNER_*, LANGFUSE_*, LOG_LEVEL and PATH/HOME/proxies from serve's environment.
GITHUB_TOKEN, when set, is handed to runners through POST …/github/token.
`;

/** Variables runners inherit as they are. */
const INHERITED_EXACT = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'ANTHROPIC_BASE_URL',
  'ANTHROPIC_CUSTOM_HEADERS',
  'ANTHROPIC_VERTEX_BASE_URL',
  'ANTHROPIC_VERTEX_PROJECT_ID',
  'CLOUD_ML_REGION',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'LOG_LEVEL',
  'GIT_USER_NAME',
  'GIT_USER_EMAIL',
  ...PROCESS_BASICS_ENV,
];
const INHERITED_PREFIXES = ['VERTEX_', 'CLAUDE_CODE_', 'LANGFUSE_', 'RUNNER_'];
/** Inherited variables whose values are credentials. */
const SECRET_VARIABLES = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'ANTHROPIC_CUSTOM_HEADERS',
  'VERTEX_USER_TOKEN',
  'LANGFUSE_SECRET_KEY',
  'LANGFUSE_PUBLIC_KEY',
  'GITHUB_TOKEN',
  'GITLAB_TOKEN',
];

export function inheritedRunnerEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === '') continue;
    if (INHERITED_EXACT.includes(k) || INHERITED_PREFIXES.some((p) => k.startsWith(p))) out[k] = v;
  }
  return out;
}

interface FlagSpec {
  name: string;
  takesValue: boolean;
}
const FLAGS: FlagSpec[] = [
  { name: 'port', takesValue: true },
  { name: 'host', takesValue: true },
  { name: 'data-dir', takesValue: true },
  { name: 'token', takesValue: true },
  { name: 'max-concurrent', takesValue: true },
  { name: 'runner-command', takesValue: true },
  { name: 'grace-ms', takesValue: true },
  { name: 'log-level', takesValue: true },
  { name: 'keep-runners', takesValue: false },
  { name: 'max-children-per-session', takesValue: true },
  { name: 'max-session-depth', takesValue: true },
  { name: 'max-catching-up', takesValue: true },
  { name: 'cors-origin', takesValue: true },
  { name: 'executor', takesValue: true },
  { name: 'help', takesValue: false },
];

/** `--flag value` and `--flag=value`; every problem collected. */
export function parseFlags(argv: readonly string[], problems: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') {
      out.set('help', 'true');
      continue;
    }
    if (!arg.startsWith('--')) {
      problems.push(`${arg}: unexpected argument: serve takes only --flags (see --help)`);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = FLAGS.find((f) => f.name === name);
    if (!spec) {
      problems.push(`--${name}: unknown flag (see --help)`);
      continue;
    }
    if (!spec.takesValue) {
      if (eq >= 0) problems.push(`--${name}: takes no value`);
      out.set(name, 'true');
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i];
    if (value === undefined || value === '') {
      problems.push(`--${name}: needs a value`);
      continue;
    }
    out.set(name, value);
  }
  return out;
}

/** Splits a command line into argv: whitespace separates, quotes group, backslash escapes. */
export function splitCommand(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) return undefined;
  if (has) out.push(cur);
  return out;
}

export type ServeParse = { help: true } | { help: false; config: Readonly<ServeConfig> };

/**
 * Reads flags and environment. Throws ConfigError with every problem; `cwd` resolves a relative
 * data dir.
 */
export function loadServeConfig(
  argv: readonly string[],
  env: Env,
  cwd = process.cwd(),
): ServeParse {
  const r = new EnvReader(env);
  const flags = parseFlags(argv, r.problems);
  if (flags.has('help')) return { help: true };

  const flagNumber = (
    flag: string,
    variable: string,
    opts: { min: number; max: number },
  ): number | undefined => {
    const raw = flags.get(flag);
    if (raw === undefined) return r.number(variable, { ...opts, integer: true });
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < opts.min || n > opts.max) {
      r.problems.push(`--${flag}: "${raw}" is not a whole number in ${opts.min}…${opts.max}`);
      return undefined;
    }
    return n;
  };

  const port = flagNumber('port', 'CLAUDE_RUNNER_PORT', { min: 0, max: 65_535 }) ?? 8080;
  const host = flags.get('host') ?? r.str('CLAUDE_RUNNER_HOST') ?? '127.0.0.1';
  const dataDir = path.resolve(
    cwd,
    flags.get('data-dir') ?? r.str('CLAUDE_RUNNER_DATA_DIR') ?? '.claude-runner',
  );
  const flagToken = flags.get('token');
  const envToken = r.str('CLAUDE_RUNNER_API_TOKEN');
  const token = flagToken ?? envToken;
  if (token !== undefined && token.length < 16)
    r.problems.push(
      `${flagToken ? '--token' : 'CLAUDE_RUNNER_API_TOKEN'}: is too short: use at least 16 characters (or omit it to have one generated)`,
    );
  if (token !== undefined && /\s/.test(token))
    r.problems.push(
      `${flagToken ? '--token' : 'CLAUDE_RUNNER_API_TOKEN'}: contains whitespace: use a single word`,
    );
  const maxConcurrent =
    flagNumber('max-concurrent', 'CLAUDE_RUNNER_MAX_CONCURRENT', { min: 1, max: 1000 }) ?? 4;
  const graceMs =
    flagNumber('grace-ms', 'CLAUDE_RUNNER_GRACE_MS', { min: 0, max: 600_000 }) ?? 10_000;
  const sessionLimits = {
    maxChildrenPerSession:
      flagNumber('max-children-per-session', 'CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION', {
        min: 0,
        max: 10_000,
      }) ?? 10,
    maxSessionDepth:
      flagNumber('max-session-depth', 'CLAUDE_RUNNER_MAX_SESSION_DEPTH', { min: 0, max: 100 }) ?? 3,
  };
  const commandLine = flags.get('runner-command') ?? r.str('CLAUDE_RUNNER_RUNNER_COMMAND');
  let runnerCommand: string[] | undefined;
  if (commandLine !== undefined) {
    runnerCommand = splitCommand(commandLine);
    if (!runnerCommand || runnerCommand.length === 0) {
      r.problems.push(
        `--runner-command: "${commandLine}" is not a usable command line (unbalanced quotes or empty)`,
      );
      runnerCommand = undefined;
    }
  }
  const levels = ['debug', 'info', 'warn', 'error', 'silent'] as const;
  const flagLevel = flags.get('log-level');
  let logLevel: LogLevel = r.oneOf('LOG_LEVEL', levels, 'info');
  if (flagLevel !== undefined) {
    if ((levels as readonly string[]).includes(flagLevel)) logLevel = flagLevel as LogLevel;
    else r.problems.push(`--log-level: "${flagLevel}" is not one of ${levels.join(', ')}`);
  }
  const limits: ServeLimits = {
    maxBodyBytes:
      r.number('CLAUDE_RUNNER_MAX_BODY_BYTES', { min: 1024, max: 1 << 30, integer: true }) ??
      1024 * 1024,
    maxFrameBytes:
      r.number('CLAUDE_RUNNER_MAX_FRAME_BYTES', { min: 65_536, max: 1 << 30, integer: true }) ??
      16 * 1024 * 1024,
    watcherMaxBufferedBytes:
      r.number('CLAUDE_RUNNER_WATCHER_MAX_BUFFERED_BYTES', {
        min: 1024,
        max: 1 << 30,
        integer: true,
      }) ?? 4 * 1024 * 1024,
    logMaxBytes:
      r.number('CLAUDE_RUNNER_LOG_MAX_BYTES', { min: 4096, max: 1 << 30, integer: true }) ??
      1024 * 1024,
    historyPageSize: 500,
    maxCatchingUp:
      flagNumber('max-catching-up', 'CLAUDE_RUNNER_MAX_CATCHING_UP', { min: 1, max: 10_000 }) ?? 8,
  };
  const corsOrigins = parseCorsOrigins(
    flags.get('cors-origin') ?? r.str('CLAUDE_RUNNER_CORS_ORIGIN'),
    flags.has('cors-origin') ? '--cors-origin' : 'CLAUDE_RUNNER_CORS_ORIGIN',
    r.problems,
  );
  const executor = flags.get('executor') ?? r.str('CLAUDE_RUNNER_EXECUTOR') ?? 'local';
  if (executor !== 'local' && executor !== 'kubernetes')
    r.problems.push(`--executor: "${executor}" is not one of local, kubernetes`);
  const kubeconfig = r.str('KUBECONFIG');
  const githubToken = r.str('GITHUB_TOKEN');
  const runnerEnv = inheritedRunnerEnv(env);

  if (r.problems.length) throw new ConfigError(r.problems);

  const secrets = [token, ...SECRET_VARIABLES.map((k) => r.str(k))].filter((s): s is string => !!s);
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const advertiseHost = wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const config: ServeConfig = {
    host,
    port,
    dataDir,
    ...(token !== undefined
      ? { token, tokenSource: flagToken ? ('flag' as const) : ('env' as const) }
      : {}),
    maxConcurrent,
    ...(runnerCommand ? { runnerCommand } : {}),
    graceMs,
    keepRunners: flags.has('keep-runners'),
    logLevel,
    ...(githubToken ? { githubToken } : {}),
    runnerEnv,
    limits,
    secrets,
    advertiseHost,
    sessionLimits,
    corsOrigins,
    executor: executor === 'kubernetes' ? 'kubernetes' : 'local',
    ...(kubeconfig ? { kubeconfig } : {}),
  };
  return { help: false, config: deepFreeze(config) };
}

/** `*` or a comma-separated list of `scheme://host[:port]` origins; absent or empty: CORS off. */
function parseCorsOrigins(value: string | undefined, name: string, problems: string[]): string[] {
  if (value === undefined || value.trim() === '') return [];
  const origins = value
    .split(',')
    .map((o) => o.trim().replace(/\/$/, ''))
    .filter(Boolean);
  for (const o of origins)
    if (o !== '*' && !/^https?:\/\/[^\s/?#]+$/.test(o))
      problems.push(
        `${name}: "${o.slice(0, 80)}" is not an origin: use scheme://host[:port] (e.g. https://app.example.com) or *`,
      );
  return origins;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
