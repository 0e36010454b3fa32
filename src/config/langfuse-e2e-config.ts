/**
 * Settings of the Langfuse end-to-end test (`run-langfuse-test.sh`, src/e2e/langfuse/). Every
 * input is an environment variable, as in the seed's test; every problem is reported at once,
 * each naming the variable and the fix, and no message ever contains a value of a key or token.
 *
 * Two choices follow from what is set:
 * - BACKEND_URL set: the test talks to that control plane (it must already pass LANGFUSE_* to
 *   its runners). Unset: the test starts its own `serve`, with the scripted model unless
 *   ANTHROPIC_API_KEY is set.
 * - LANGFUSE_HOST and both keys set: the test reads that Langfuse. None of them: it starts the
 *   Langfuse stand-in in-process with generated keys. Anything in between is a mistake.
 *
 * Timings default to the seed's (300 s session timeout, 5 s polls, 10 s wait for Langfuse) and
 * are shorter where the test owns the part: a local serve is polled every second, the stand-in
 * stores spans before the runner reports Completed, so the wait for it is short.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { ProjectName } from '../protocol/api.js';
import { normalizeUrl } from './client-config.js';
import type { Env } from './env.js';
import { readProcessEnv } from './process-env.js';

export const DEFAULT_E2E_PROJECT = 'ambient-code';

export type E2eBackend =
  | {
      kind: 'external';
      /** `http(s)://host:port`, without `/api`. */
      url: string;
      token: string;
      tokenVariable: 'CLAUDE_RUNNER_API_TOKEN' | 'BACKEND_TOKEN';
    }
  | {
      kind: 'local';
      /** The token to start serve with; generated when absent. */
      token?: string;
      tokenVariable?: 'CLAUDE_RUNNER_API_TOKEN' | 'BACKEND_TOKEN';
      /** `scripted`: the offline scripted model; `anthropic`: serve's runners use ANTHROPIC_API_KEY. */
      model: 'scripted' | 'anthropic';
      /**
       * Variables of this environment that the local serve must not inherit (it starts from this
       * process's environment): tracing and serve settings always, since the test sets its own;
       * with the scripted model also everything that selects or authenticates another model.
       */
      dropFromServe: string[];
    };

export type E2eLangfuse =
  { kind: 'external'; host: string; publicKey: string; secretKey: string } | { kind: 'standin' };

export interface LangfuseE2eConfig {
  backend: E2eBackend;
  project: string;
  langfuse: E2eLangfuse;
  /** How long the session may take to complete. */
  sessionTimeoutMs: number;
  /** Between two status checks of the session. */
  pollIntervalMs: number;
  /** The "Waiting N seconds for Langfuse" step. */
  langfuseWaitMs: number;
  /** After the wait, how long the trace may take to become readable (retried meanwhile). */
  verifyTimeoutMs: number;
  verifyIntervalMs: number;
  /** Every secret value given (for redaction of everything printed). */
  secrets: string[];
}

export const LANGFUSE_E2E_USAGE = `usage: run-langfuse-test.sh   (or: npm run test:langfuse)

Creates a session through the control plane's API with a unique test-ID marker in its prompt,
waits for it to complete, finds its trace in Langfuse by session id, checks that a generation
has token usage and that the prompt carries the marker, and deletes the session.

environment:
  BACKEND_URL               control plane base URL (e.g. http://localhost:8080); unset: start a
                            local serve (scripted model unless ANTHROPIC_API_KEY is set)
  CLAUDE_RUNNER_API_TOKEN   its API token (BACKEND_TOKEN also works); required with BACKEND_URL
  PROJECT                   project of the session (default ${DEFAULT_E2E_PROJECT})
  LANGFUSE_HOST             Langfuse base URL; with LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY.
                            All three unset: start the local Langfuse stand-in
  E2E_SESSION_TIMEOUT       seconds the session may take (default 300)
  E2E_POLL_INTERVAL         seconds between status checks (default 5; 1 with a local serve)
  E2E_LANGFUSE_WAIT         seconds to wait before reading Langfuse (default 10; 1 for the stand-in)
  E2E_VERIFY_TIMEOUT        seconds the trace may then take to appear (default 120; 10 for the stand-in)

exit status: 0 passed, 1 failed, 2 invalid configuration.
`;

const ALWAYS_DROPPED_PREFIXES = ['LANGFUSE_', 'CLAUDE_RUNNER_'];
const OFFLINE_DROPPED_PREFIXES = ['ANTHROPIC_', 'VERTEX_', 'CLAUDE_CODE_USE_'];
const OFFLINE_DROPPED = [
  'CLOUD_ML_REGION',
  'GOOGLE_APPLICATION_CREDENTIALS',
  'CLAUDE_CODE_SKIP_VERTEX_AUTH',
];

/** Empty or blank counts as unset: platforms often template variables to "". */
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const secret = (name: string) =>
  optionalText.refine((v) => v === undefined || !/\s/.test(v), {
    message: `${name}: contains whitespace: pass the value as a single word`,
  });

const seconds = (name: string, min: number, max: number) =>
  optionalText.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || n < min || n > max) {
      ctx.addIssue({
        code: 'custom',
        message: `${name}: "${v}" is not a number of seconds in ${min}…${max}`,
      });
      return z.NEVER;
    }
    return Math.round(n * 1000);
  });

const EnvSchema = z.object({
  BACKEND_URL: optionalText,
  CLAUDE_RUNNER_API_TOKEN: secret('CLAUDE_RUNNER_API_TOKEN'),
  BACKEND_TOKEN: secret('BACKEND_TOKEN'),
  PROJECT: optionalText,
  LANGFUSE_HOST: optionalText,
  LANGFUSE_PUBLIC_KEY: secret('LANGFUSE_PUBLIC_KEY'),
  LANGFUSE_SECRET_KEY: secret('LANGFUSE_SECRET_KEY'),
  ANTHROPIC_API_KEY: secret('ANTHROPIC_API_KEY'),
  E2E_SESSION_TIMEOUT: seconds('E2E_SESSION_TIMEOUT', 1, 86_400),
  E2E_POLL_INTERVAL: seconds('E2E_POLL_INTERVAL', 0.1, 600),
  E2E_LANGFUSE_WAIT: seconds('E2E_LANGFUSE_WAIT', 0, 3_600),
  E2E_VERIFY_TIMEOUT: seconds('E2E_VERIFY_TIMEOUT', 0, 3_600),
});

/** `http(s)://host[:port][/path]` without a trailing slash; no credentials, query or fragment. */
function langfuseHost(raw: string, problems: string[]): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    problems.push(`LANGFUSE_HOST: "${raw}" is not a URL: use e.g. http://localhost:3000`);
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    problems.push(`LANGFUSE_HOST: uses ${u.protocol} but must use http: or https:`);
    return undefined;
  }
  if (u.username || u.password) {
    problems.push(
      'LANGFUSE_HOST: must not carry credentials: pass LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY',
    );
    return undefined;
  }
  if (u.search || u.hash) {
    problems.push('LANGFUSE_HOST: must not have a query or fragment: use http(s)://host:port');
    return undefined;
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** Reads the environment; throws ConfigError with every problem. */
export function loadLangfuseE2eConfig(env: Env = readProcessEnv()): LangfuseE2eConfig {
  // Field by field, so that a bad value and a missing partner are reported together.
  const problems: string[] = [];
  const e: Partial<z.infer<typeof EnvSchema>> = {};
  const invalid = new Set<string>();
  for (const [name, schema] of Object.entries(EnvSchema.shape)) {
    const r = schema.safeParse(env[name]);
    if (r.success) (e as Record<string, unknown>)[name] = r.data;
    else {
      invalid.add(name);
      problems.push(...r.error.issues.map((i) => i.message));
    }
  }

  const tokenVariable = e.CLAUDE_RUNNER_API_TOKEN
    ? ('CLAUDE_RUNNER_API_TOKEN' as const)
    : e.BACKEND_TOKEN
      ? ('BACKEND_TOKEN' as const)
      : undefined;
  const token = e.CLAUDE_RUNNER_API_TOKEN ?? e.BACKEND_TOKEN;

  let backend: E2eBackend | undefined;
  if (e.BACKEND_URL !== undefined) {
    let url: string | undefined;
    try {
      url = normalizeUrl(e.BACKEND_URL, 'BACKEND_URL');
    } catch (err) {
      problems.push(...((err as ConfigError).problems ?? [String(err)]));
    }
    if (
      token === undefined &&
      !invalid.has('CLAUDE_RUNNER_API_TOKEN') &&
      !invalid.has('BACKEND_TOKEN')
    )
      problems.push(
        'CLAUDE_RUNNER_API_TOKEN: is required with BACKEND_URL: pass the API token of that control plane (BACKEND_TOKEN also works), or unset BACKEND_URL to start a local one',
      );
    if (url !== undefined && token !== undefined && tokenVariable !== undefined)
      backend = { kind: 'external', url, token, tokenVariable };
  } else {
    // serve refuses shorter tokens; say so here, before anything starts.
    if (token !== undefined && token.length < 16)
      problems.push(
        `${tokenVariable}: is too short for a local serve: use at least 16 characters (or unset it to have one generated)`,
      );
    const model = e.ANTHROPIC_API_KEY ? ('anthropic' as const) : ('scripted' as const);
    const prefixes = [
      ...ALWAYS_DROPPED_PREFIXES,
      ...(model === 'scripted' ? OFFLINE_DROPPED_PREFIXES : []),
    ];
    backend = {
      kind: 'local',
      ...(token !== undefined && tokenVariable !== undefined ? { token, tokenVariable } : {}),
      model,
      dropFromServe: Object.keys(env).filter(
        (k) =>
          prefixes.some((p) => k.startsWith(p)) ||
          (model === 'scripted' && OFFLINE_DROPPED.includes(k)),
      ),
    };
  }

  const project = e.PROJECT ?? DEFAULT_E2E_PROJECT;
  if (!ProjectName.safeParse(project).success)
    problems.push(
      `PROJECT: "${project.slice(0, 80)}" is not a project name: use lowercase letters, digits and "-" (at most 63)`,
    );

  let langfuse: E2eLangfuse | undefined;
  const given = {
    LANGFUSE_HOST: e.LANGFUSE_HOST,
    LANGFUSE_PUBLIC_KEY: e.LANGFUSE_PUBLIC_KEY,
    LANGFUSE_SECRET_KEY: e.LANGFUSE_SECRET_KEY,
  };
  // A value that failed its own check is present (and already reported), not missing.
  const missing = Object.entries(given)
    .filter(([k, v]) => v === undefined && !invalid.has(k))
    .map(([k]) => k);
  if (missing.length === 3) langfuse = { kind: 'standin' };
  else if (missing.length > 0)
    problems.push(
      `${missing.join(' and ')}: ${missing.length > 1 ? 'are' : 'is'} missing: set LANGFUSE_HOST, LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY together to test a real Langfuse, or none of them to use the local stand-in`,
    );
  else {
    const host =
      e.LANGFUSE_HOST !== undefined ? langfuseHost(e.LANGFUSE_HOST, problems) : undefined;
    if (host && e.LANGFUSE_PUBLIC_KEY && e.LANGFUSE_SECRET_KEY)
      langfuse = {
        kind: 'external',
        host,
        publicKey: e.LANGFUSE_PUBLIC_KEY,
        secretKey: e.LANGFUSE_SECRET_KEY,
      };
  }

  if (problems.length || !backend || !langfuse) throw new ConfigError(problems);

  const standin = langfuse.kind === 'standin';
  const config: LangfuseE2eConfig = {
    backend,
    project,
    langfuse,
    sessionTimeoutMs: e.E2E_SESSION_TIMEOUT ?? 300_000,
    pollIntervalMs: e.E2E_POLL_INTERVAL ?? (backend.kind === 'local' ? 1_000 : 5_000),
    langfuseWaitMs: e.E2E_LANGFUSE_WAIT ?? (standin ? 1_000 : 10_000),
    verifyTimeoutMs: e.E2E_VERIFY_TIMEOUT ?? (standin ? 10_000 : 120_000),
    verifyIntervalMs: standin ? 500 : 5_000,
    secrets: [token, e.LANGFUSE_PUBLIC_KEY, e.LANGFUSE_SECRET_KEY, e.ANTHROPIC_API_KEY].filter(
      (s): s is string => s !== undefined,
    ),
  };
  return Object.freeze(config);
}
