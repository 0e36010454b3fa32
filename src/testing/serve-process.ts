/**
 * For tests, benchmarks and the e2e program that need a real control plane: `startServe()` launches
 * `claude-code-runner serve` as a child process on a free port with a temp data dir and returns
 * its URL and token; `runnerProcesses()` finds the processes of a data dir's sessions (runners,
 * their CLIs and the agents' commands: to prove that none is left behind).
 *
 *   const serve = await startServe({ env: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'x' } });
 *   try {
 *     const res = await serve.api('POST', '/projects/demo/agentic-sessions', { prompt: 'hi' });
 *   } finally {
 *     await serve.stop();
 *   }
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readProcessEnv } from '../config/process-env.js';
import { liveProcesses, processCwd, processEnviron } from '../control-plane/executor/procfs.js';

export interface StartServeOptions {
  /** Default 0: any free port (a restart passes the previous `port` so runners find it again). */
  port?: number;
  /** Default: a new temp dir, removed by `stop()` unless `keepDataDir`. */
  dataDir?: string;
  keepDataDir?: boolean;
  /** Default: a random token (passed as CLAUDE_RUNNER_API_TOKEN). */
  token?: string;
  /** No token given: serve generates one and prints it (with the web page's sign-in URL). */
  generateToken?: boolean;
  maxConcurrent?: number;
  /** argv, or one command line; default: this package's runner. */
  runnerCommand?: string[] | string;
  graceMs?: number;
  /** Added to serve's environment (runners inherit ANTHROPIC_*, CLAUDE_CODE_*, LOG_LEVEL, …); undefined removes. */
  env?: Record<string, string | undefined>;
  /** More serve flags. */
  args?: string[];
  /** Bound on the start (default 20 s). */
  startTimeoutMs?: number;
}

export interface ServeHandle {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `http://127.0.0.1:<port>/api` */
  apiUrl: string;
  port: number;
  token: string;
  dataDir: string;
  pid: number;
  /** What serve wrote so far (bounded). */
  output(): { stdout: string; stderr: string };
  /** A JSON call with the user token (`path` under /api); `body` is JSON-encoded. */
  api(
    method: string,
    apiPath: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; json: unknown; text: string }>;
  /** SIGTERM (serve stops its runners), waits for the exit, removes a temp data dir. */
  stop(): Promise<void>;
  /** SIGKILL of serve alone: runners go on; the data dir stays (restart with the same port and dataDir). */
  kill(): Promise<void>;
}

const OUTPUT_LIMIT = 1 << 20;

function cliPath(): string {
  return fileURLToPath(new URL('../cli/main.js', import.meta.url));
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export async function startServe(opts: StartServeOptions = {}): Promise<ServeHandle> {
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'ccr-serve-'));
  let token = opts.token ?? `ccr_test_${randomBytes(24).toString('base64url')}`;
  const args = [
    cliPath(),
    'serve',
    '--port',
    String(opts.port ?? 0),
    '--host',
    '127.0.0.1',
    '--data-dir',
    dataDir,
  ];
  if (opts.maxConcurrent !== undefined) args.push('--max-concurrent', String(opts.maxConcurrent));
  if (opts.graceMs !== undefined) args.push('--grace-ms', String(opts.graceMs));
  if (opts.runnerCommand !== undefined)
    args.push(
      '--runner-command',
      Array.isArray(opts.runnerCommand)
        ? opts.runnerCommand.map(quote).join(' ')
        : opts.runnerCommand,
    );
  args.push(...(opts.args ?? []));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({
    ...readProcessEnv(),
    ...(opts.env ?? {}),
    CLAUDE_RUNNER_API_TOKEN: opts.generateToken ? undefined : token,
  }))
    if (v !== undefined) env[k] = v;

  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const keep = (s: string, add: string) => (s + add).slice(-OUTPUT_LIMIT);
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout = keep(stdout, d)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = keep(stderr, d)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let url: string;
  try {
    url = await waitForListening(
      child,
      () => stdout,
      () => stderr,
      opts.startTimeoutMs ?? 20_000,
    );
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    if (ownDir && !opts.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const port = Number(new URL(url).port);
  if (opts.generateToken) {
    const printed = /#token=(\S+)/.exec(stdout)?.[1];
    if (!printed) throw new Error(`serve printed no sign-in URL:\n${stdout.slice(-2000)}`);
    token = printed;
  }

  const handle: ServeHandle = {
    url,
    apiUrl: `${url}/api`,
    port,
    token,
    dataDir,
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    api: async (method, apiPath, body, tok = token) => {
      const res = await fetch(`${url}/api${apiPath}`, {
        method,
        headers: {
          authorization: `Bearer ${tok}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text };
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      if (ownDir && !opts.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
  return handle;
}

function waitForListening(
  child: ChildProcess,
  out: () => string,
  err: () => string,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(out());
      if (m) {
        cleanup();
        resolve(m[1]!);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`serve exited (${code}) before listening:\n${err().slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`serve did not listen within ${timeoutMs} ms:\n${err().slice(-2000)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout!.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

/**
 * Pids of the live processes of a data dir's sessions: those whose environment puts
 * WORKSPACE_PATH (runners) or CLAUDE_CONFIG_DIR (the CLI and the commands it runs) under
 * `<dataDir>/workspaces`, or whose working directory is there. Linux only (empty elsewhere).
 */
export function runnerProcesses(dataDir: string): number[] {
  const root = path.join(dataDir, 'workspaces');
  const prefixes = [`WORKSPACE_PATH=${root}${path.sep}`, `CLAUDE_CONFIG_DIR=${root}${path.sep}`];
  return liveProcesses((pid) => {
    if (processEnviron(pid)?.some((kv) => prefixes.some((p) => kv.startsWith(p)))) return true;
    const cwd = processCwd(pid);
    return cwd !== undefined && (cwd === root || cwd.startsWith(`${root}${path.sep}`));
  });
}
