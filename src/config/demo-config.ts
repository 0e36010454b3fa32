/**
 * The demo's configuration (`claude-code-runner demo`): its flags, which model it uses, and the
 * environment its in-process control plane starts from (runners inherit from that, see
 * serve-config.ts `inheritedRunnerEnv`).
 *
 * Model: Vertex AI when VERTEX_ENABLED / CLAUDE_CODE_USE_VERTEX is true, else the Anthropic API
 * when ANTHROPIC_API_KEY is set, else the scripted model server (offline). Offline, every model,
 * tracing and git-token variable of the user's environment is left out, so nothing can reach the
 * network; the demo then adds the scripted model's endpoint with `offlineModelEnv`.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { EnvReader, type Env } from './env.js';

export const DEFAULT_DEMO_PROMPT =
  'Add a --shout option to greet.js that prints the greeting in capital letters, mention it in README.md, and run the script to show that it works.';

export type DemoModel =
  | { kind: 'scripted' }
  | { kind: 'anthropic'; baseUrl?: string }
  | { kind: 'vertex'; projectId: string; region: string };

export interface DemoConfig {
  /** Absolute; undefined: a new temp dir (removed at the end unless `keep`). */
  dataDir?: string;
  keep: boolean;
  /** The control plane's port; 0: any free port. */
  port: number;
  prompt: string;
  noColor: boolean;
  verbose: boolean;
  model: DemoModel;
  /** Without the model endpoint (offline) and the data-dir paths: see `demoServeEnv`. */
  baseEnv: Readonly<Record<string, string>>;
}

export type DemoParse = { help: true } | { help: false; config: Readonly<DemoConfig> };

export const DEMO_USAGE = `usage: claude-code-runner demo [options]

The whole system on one machine: a control plane, a small git repo, and one session that edits
it, streamed here. Offline with the scripted model unless ANTHROPIC_API_KEY (or Vertex AI:
VERTEX_ENABLED=true, VERTEX_PROJECT_ID, VERTEX_REGION) is set, then against the real API.

options:
  --prompt TEXT    what to ask (default: add a --shout option to greet.js); offline,
                   the scripted model's answers stay the same
  --data-dir DIR   keep the store, the demo repo, workspaces and logs in DIR (kept afterwards)
                   (default: a new temp dir, removed at the end)
  --keep           keep the temp data dir too, and print where it is
  --port N         the control plane's port (default: any free port)
  --no-color       no colors (also NO_COLOR=1, or output that is not a terminal)
  -v, --verbose    also show debug messages and the control plane's info log
  -h, --help       this text

Exit code: 0 when the session completed, 1 when it failed, 3 when it was stopped, 2 for a
usage error, 130 after Ctrl-C (which stops the session and everything the demo started).
`;

/** Variables never handed to the demo's control plane: it is configured by the demo alone. */
const ALWAYS_DROPPED_PREFIXES = ['CLAUDE_RUNNER_'];
/** The demo repo is a local file:// repo: no git token is needed, so none is passed on. */
const ALWAYS_DROPPED = ['GITHUB_TOKEN', 'GITLAB_TOKEN'];
/** Offline: everything that selects or authenticates a model, or sends traces somewhere. */
const OFFLINE_DROPPED_PREFIXES = ['ANTHROPIC_', 'VERTEX_', 'CLAUDE_CODE_USE_', 'LANGFUSE_'];
const OFFLINE_DROPPED = [
  'CLOUD_ML_REGION',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'CLAUDE_CODE_SKIP_VERTEX_AUTH',
];

/** Not a credential: the scripted model accepts any key, and the CLI insists on one. */
export const OFFLINE_API_KEY = 'offline-scripted-model';

const OPTIONS = {
  prompt: { type: 'string' },
  'data-dir': { type: 'string' },
  keep: { type: 'boolean' },
  port: { type: 'string' },
  'no-color': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flags and environment; throws ConfigError with every problem. `cwd` resolves `--data-dir`. */
export function loadDemoConfig(argv: readonly string[], env: Env, cwd: string): DemoParse {
  let values: {
    prompt?: string;
    'data-dir'?: string;
    keep?: boolean;
    port?: string;
    'no-color'?: boolean;
    verbose?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    const msg = (e as Error).message
      .replace(/\. To specify a positional argument.*$/s, '')
      .replace(/^Unknown option/, 'unknown option');
    throw new ConfigError([`${msg} (see: claude-code-runner demo --help)`]);
  }
  if (values.help) return { help: true };

  const problems: string[] = [];
  let port = 0;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65_535) {
      problems.push(`--port: "${values.port}" is not a port: use a whole number in 0…65535`);
      port = 0;
    }
  }
  const prompt = values.prompt ?? DEFAULT_DEMO_PROMPT;
  if (!prompt.trim()) problems.push('--prompt: is empty: give the agent something to do');
  const rawDir = values['data-dir'];
  if (rawDir !== undefined && !rawDir.trim())
    problems.push('--data-dir: is empty: give a directory');

  const r = new EnvReader(env);
  const model = chooseModel(r);
  problems.push(...r.problems);
  if (problems.length) throw new ConfigError(problems);

  return {
    help: false,
    config: Object.freeze({
      ...(rawDir ? { dataDir: path.resolve(cwd, rawDir) } : {}),
      keep: values.keep === true,
      port,
      prompt,
      noColor: values['no-color'] === true,
      verbose: values.verbose === true,
      model,
      baseEnv: Object.freeze(baseEnv(env, model)),
    }),
  };
}

function chooseModel(r: EnvReader): DemoModel {
  if (r.bool('VERTEX_ENABLED', false) || r.bool('CLAUDE_CODE_USE_VERTEX', false)) {
    const projectId = r.str('VERTEX_PROJECT_ID') ?? r.str('ANTHROPIC_VERTEX_PROJECT_ID');
    const region = r.str('VERTEX_REGION') ?? r.str('CLOUD_ML_REGION');
    if (!projectId)
      r.problems.push(
        'VERTEX_PROJECT_ID: is required with Vertex AI: set it (or ANTHROPIC_VERTEX_PROJECT_ID), or unset VERTEX_ENABLED to run offline',
      );
    if (!region)
      r.problems.push(
        'VERTEX_REGION: is required with Vertex AI: set it (or CLOUD_ML_REGION), e.g. us-east5',
      );
    if (!r.str('VERTEX_USER_TOKEN') && !r.str('GOOGLE_APPLICATION_CREDENTIALS'))
      r.problems.push(
        'VERTEX_USER_TOKEN: Vertex AI needs credentials: set VERTEX_USER_TOKEN or GOOGLE_APPLICATION_CREDENTIALS',
      );
    return { kind: 'vertex', projectId: projectId ?? '', region: region ?? '' };
  }
  if (r.str('ANTHROPIC_API_KEY') !== undefined) {
    const baseUrl = r.url('ANTHROPIC_BASE_URL', ['http:', 'https:']);
    return { kind: 'anthropic', ...(baseUrl ? { baseUrl } : {}) };
  }
  return { kind: 'scripted' };
}

function baseEnv(env: Env, model: DemoModel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || v === '') continue;
    if (ALWAYS_DROPPED.includes(k) || ALWAYS_DROPPED_PREFIXES.some((p) => k.startsWith(p)))
      continue;
    if (
      model.kind === 'scripted' &&
      (OFFLINE_DROPPED.includes(k) || OFFLINE_DROPPED_PREFIXES.some((p) => k.startsWith(p)))
    )
      continue;
    out[k] = v;
  }
  // The CLI's optional traffic (telemetry, update checks) is never needed for the demo.
  out.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC ??= '1';
  return out;
}

/** The scripted model as the runners' (and so the CLI's) Anthropic endpoint. */
export function offlineModelEnv(modelUrl: string): Record<string, string> {
  return {
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: OFFLINE_API_KEY,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    // A local server answers at once; one retry is plenty, and a broken setup fails fast.
    CLAUDE_CODE_MAX_RETRIES: '1',
  };
}

/**
 * The environment of the demo's control plane: the base, the scripted model's endpoint when
 * offline, and the CLI's scratch files inside the data dir (so removing it leaves nothing).
 */
export function demoServeEnv(
  config: Readonly<DemoConfig>,
  dataDir: string,
  modelUrl?: string,
): Record<string, string> {
  return {
    ...config.baseEnv,
    ...(modelUrl ? offlineModelEnv(modelUrl) : {}),
    CLAUDE_CODE_TMPDIR: path.join(dataDir, 'tmp'),
    // The demo's first command needs nothing but Node and git: the agent runs in Claude Code's
    // sandbox where bubblewrap is installed, and without it (a warning in the stream) where it is
    // not. `serve` itself requires it unless told otherwise.
    RUNNER_SANDBOX: config.baseEnv.RUNNER_SANDBOX ?? 'auto',
  };
}

/** One line saying which model the demo talks to (never a credential). */
export function describeModel(model: DemoModel, modelUrl?: string): string {
  switch (model.kind) {
    case 'scripted':
      return `the scripted model at ${modelUrl ?? '(starting)'}, offline (set ANTHROPIC_API_KEY for the real API)`;
    case 'anthropic':
      return `the Anthropic API${model.baseUrl ? ` at ${model.baseUrl}` : ''} (ANTHROPIC_API_KEY)`;
    case 'vertex':
      return `Vertex AI, project ${model.projectId}, region ${model.region}`;
  }
}
