/**
 * Settings of the API client (`claude-code-runner session …`; the demo reuses `colorEnabled`).
 *
 * Each setting comes from the first of: a flag, an environment variable, the config file
 * (`$XDG_CONFIG_HOME/claude-code-runner/config.json`, else `~/.config/claude-code-runner/config.json`,
 * or `--config` / `CLAUDE_RUNNER_CONFIG`), a default. The token has one more fallback: the token
 * file that `serve` writes into its data dir (`$CLAUDE_RUNNER_DATA_DIR` or `./.claude-runner`),
 * so that `serve` and `session …` started from the same directory work together without setup.
 *
 * The token is never part of an error message; `describeTokenSource` says where it came from.
 */
import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { readProcessEnv } from './process-env.js';
import type { Env } from './env.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';
export const DEFAULT_PROJECT = 'default';
export const TOKEN_FILE = 'token';

export type Source = 'flag' | 'env' | 'config' | 'data-dir' | 'default';

export interface ClientFlags {
  url?: string;
  token?: string;
  project?: string;
  config?: string;
}

export interface ClientConfig {
  /** Base URL of the control plane, without a trailing slash and without `/api`. */
  url: string;
  urlSource: Source;
  token?: string;
  tokenSource?: Exclude<Source, 'default'>;
  /** The file the token was read from (config file or serve's token file). */
  tokenFile?: string;
  project: string;
  /** The config file that was read, if any. */
  configFile?: string;
  /** Non-fatal findings (a config file readable by others), one line each. */
  warnings: string[];
}

interface FileSettings {
  url?: string;
  token?: string;
  project?: string;
}

const FILE_KEYS = new Set(['url', 'token', 'project']);

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

/** Where the config file is looked for (it need not exist). */
export function configFilePath(flags: ClientFlags, env: Env): string {
  const explicit = flags.config ?? str(env, 'CLAUDE_RUNNER_CONFIG');
  if (explicit) return path.resolve(explicit);
  const base =
    str(env, 'XDG_CONFIG_HOME') ?? path.join(str(env, 'HOME') ?? os.homedir(), '.config');
  return path.join(base, 'claude-code-runner', 'config.json');
}

function readConfigFile(
  file: string,
  required: boolean,
  warnings: string[],
): FileSettings | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    throw new ConfigError([
      `config file ${file}: cannot be read (${(e as Error).message}): fix the path or remove --config`,
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([
      `config file ${file}: is not valid JSON (${(e as Error).message}): write {"url": "http://host:8080", "token": "…", "project": "default"} or remove the file`,
    ]);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ConfigError([
      `config file ${file}: must be a JSON object like {"url": "…", "token": "…", "project": "…"}`,
    ]);
  const problems: string[] = [];
  const out: FileSettings = {};
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (!FILE_KEYS.has(k)) {
      problems.push(`config file ${file}: unknown key "${k}": the keys are url, token and project`);
      continue;
    }
    if (typeof v !== 'string' || !v.trim()) {
      problems.push(`config file ${file}: "${k}" must be a non-empty string`);
      continue;
    }
    out[k as keyof FileSettings] = v.trim();
  }
  if (problems.length) throw new ConfigError(problems);
  if (out.token) {
    try {
      if ((statSync(file).mode & 0o077) !== 0)
        warnings.push(
          `config file ${file} holds a token and is readable by others: chmod 600 ${file}`,
        );
    } catch {
      /* raced away: nothing to warn about */
    }
  }
  return out;
}

/** `http://host:port` (a trailing `/` or `/api` is dropped); a ConfigError names the source. */
export function normalizeUrl(raw: string, source: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError([
      `${source}: "${raw}" is not a URL: use http://host:port, e.g. ${DEFAULT_URL}`,
    ]);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConfigError([
      `${source}: uses ${u.protocol} but must use http: or https: (e.g. ${DEFAULT_URL})`,
    ]);
  if (u.username || u.password)
    throw new ConfigError([
      `${source}: must not carry credentials: pass the token with --token or CLAUDE_RUNNER_API_TOKEN`,
    ]);
  if (u.search || u.hash)
    throw new ConfigError([`${source}: must not have a query or fragment: use http://host:port`]);
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/api$/, '')}`;
}

const PROJECT_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Reads flags, environment, config file and serve's token file, in that order of precedence. */
export function loadClientConfig(
  flags: ClientFlags,
  env: Env = readProcessEnv(),
  cwd = process.cwd(),
): ClientConfig {
  const warnings: string[] = [];
  const file = configFilePath(flags, env);
  const explicitFile = flags.config !== undefined || str(env, 'CLAUDE_RUNNER_CONFIG') !== undefined;
  const fromFile = readConfigFile(file, explicitFile, warnings);

  const pick = (flag: string | undefined, variable: string, key: keyof FileSettings) => {
    if (flag !== undefined && flag.trim()) return { value: flag.trim(), source: 'flag' as const };
    const e = str(env, variable);
    if (e !== undefined) return { value: e, source: 'env' as const };
    const f = fromFile?.[key];
    if (f !== undefined) return { value: f, source: 'config' as const };
    return undefined;
  };
  const sourceName = (s: Source, flag: string, variable: string, key: string) =>
    s === 'flag' ? flag : s === 'env' ? variable : s === 'config' ? `"${key}" in ${file}` : flag;

  const u = pick(flags.url, 'CLAUDE_RUNNER_URL', 'url');
  const url = u
    ? normalizeUrl(u.value, sourceName(u.source, '--url', 'CLAUDE_RUNNER_URL', 'url'))
    : DEFAULT_URL;

  const p = pick(flags.project, 'CLAUDE_RUNNER_PROJECT', 'project');
  const project = p?.value ?? DEFAULT_PROJECT;
  if (!PROJECT_PATTERN.test(project))
    throw new ConfigError([
      `${sourceName(p?.source ?? 'default', '--project', 'CLAUDE_RUNNER_PROJECT', 'project')}: "${project}" is not a project name: use lowercase letters, digits and "-"`,
    ]);

  const t = pick(flags.token, 'CLAUDE_RUNNER_API_TOKEN', 'token');
  let token = t?.value;
  let tokenSource: ClientConfig['tokenSource'] = t?.source;
  let tokenFile = t?.source === 'config' ? file : undefined;
  if (token === undefined) {
    const dataDir = path.resolve(cwd, str(env, 'CLAUDE_RUNNER_DATA_DIR') ?? '.claude-runner');
    const candidate = path.join(dataDir, TOKEN_FILE);
    try {
      const fromDataDir = readFileSync(candidate, 'utf8').trim();
      if (fromDataDir) {
        token = fromDataDir;
        tokenSource = 'data-dir';
        tokenFile = candidate;
      }
    } catch {
      /* no local serve data dir: no token */
    }
  }
  if (token !== undefined && /\s/.test(token))
    throw new ConfigError([
      `${sourceName(tokenSource ?? 'default', '--token', 'CLAUDE_RUNNER_API_TOKEN', 'token')}: the token contains whitespace: pass it as a single word`,
    ]);

  return {
    url,
    urlSource: u?.source ?? 'default',
    ...(token !== undefined ? { token, tokenSource } : {}),
    ...(tokenFile ? { tokenFile } : {}),
    project,
    ...(fromFile ? { configFile: file } : {}),
    warnings,
  };
}

/** One phrase saying where the token came from (never the token itself). */
export function describeTokenSource(c: ClientConfig): string {
  switch (c.tokenSource) {
    case 'flag':
      return 'the token from --token';
    case 'env':
      return 'the token from CLAUDE_RUNNER_API_TOKEN';
    case 'config':
      return `the token from ${c.tokenFile ?? 'the config file'}`;
    case 'data-dir':
      return `the token from ${c.tokenFile ?? "serve's data dir"}`;
    default:
      return 'no token';
  }
}

/** How the terminal should look: colors follow NO_COLOR / FORCE_COLOR, then whether it is a TTY. */
export function colorEnabled(isTTY: boolean, env: Env = readProcessEnv()): boolean {
  if (str(env, 'NO_COLOR') !== undefined) return false;
  const force = str(env, 'FORCE_COLOR');
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (str(env, 'TERM') === 'dumb') return false;
  return isTTY;
}
