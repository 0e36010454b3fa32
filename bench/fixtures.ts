/**
 * What every benchmark stands on: a temp root, the scripted model in its own process (so the
 * benchmark process only measures), a real `serve` whose runs are held by the contract's idle
 * fake runner (so a benchmark gets a run's real BOT_TOKEN and starts the real runner itself, in
 * its own process tree, timed from spawn to exit), and lean socket clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRunnerCommand } from '../src/control-plane/executor/local.js';
import {
  startServe,
  type ServeHandle,
  type StartServeOptions,
} from '../src/testing/serve-process.js';
import type { Scenario } from '../src/testing/scripted-model/index.js';
import {
  contractRunner,
  createSession,
  PROJECT,
  readWorkspaceJson,
  waitFor,
} from '../src/testing/session-api.js';

export const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
export const API_KEY = 'sk-ant-api03-bench-key-0123456789abcdef';
const OUTPUT_LIMIT = 64 * 1024;

export interface Workdir {
  root: string;
  /** A fresh directory under the root. */
  dir(name: string): string;
  cleanup(): void;
}

export function workdir(): Workdir {
  const root = mkdtempSync(path.join(tmpdir(), 'ccr-bench-'));
  let n = 0;
  return {
    root,
    dir(name) {
      const d = path.join(root, `${name}-${++n}`);
      mkdirSync(d, { recursive: true });
      return d;
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A child process we own: bounded output, its exit, and (Linux) its peak resident memory. */
export interface Child {
  child: ChildProcess;
  /** process.hrtime.bigint() just before spawn. */
  startNs: bigint;
  /** Date.now() just before spawn (to compare with the ISO timestamps of frames). */
  startEpochMs: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; endNs: bigint }>;
  output(): string;
  /** Highest VmHWM seen while it ran, in MiB (NaN where /proc is missing). */
  peakRssMb(): number;
  /** CPU time (user + system) it had used at the last poll before it exited, in ms. */
  cpuMs(): number;
  kill(): void;
}

export function spawnChild(
  argv: string[],
  env: Record<string, string>,
  opts: { cwd?: string; pollRss?: boolean } = {},
): Child {
  const [cmd, ...args] = argv;
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-OUTPUT_LIMIT));
  let peakKb = Number.NaN;
  let cpu = Number.NaN;
  const startEpochMs = Date.now();
  const startNs = process.hrtime.bigint();
  const child = spawn(cmd!, args, { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const poll = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(Number.isNaN(peakKb) ? 0 : peakKb, Number(m[1]));
      cpu = cpuMsOf(child.pid!);
    } catch {
      /* gone, or no /proc */
    }
  };
  const timer = opts.pollRss ? setInterval(poll, 25) : undefined;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; endNs: bigint }>(
    (resolve) =>
      child.once('exit', (code, signal) => {
        const endNs = process.hrtime.bigint();
        if (timer) clearInterval(timer);
        resolve({ code, signal, endNs });
      }),
  );
  return {
    child,
    startNs,
    startEpochMs,
    exit,
    output: () => out,
    peakRssMb: () => peakKb / 1024,
    cpuMs: () => cpu,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** User + system CPU time of a live process in ms, from /proc (Linux clock ticks are 10 ms). */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Waits for the exit, killing the child after `timeoutMs`; throws with its output unless it exited 0. */
export async function finished(c: Child, what: string, timeoutMs: number): Promise<bigint> {
  const timer = setTimeout(() => c.kill(), timeoutMs);
  try {
    const r = await c.exit;
    if (r.code !== 0)
      throw new Error(`${what} exited ${r.code ?? r.signal}:\n${c.output().slice(-3000)}`);
    return r.endNs - c.startNs;
  } finally {
    clearTimeout(timer);
  }
}

/** The scripted model server in a process of its own, with the benchmark scenarios. */
export interface ModelProcess {
  url: string;
  close(): Promise<void>;
}

export async function startModel(work: Workdir, scenarios: Scenario[]): Promise<ModelProcess> {
  const dir = work.dir('scenarios');
  for (const s of scenarios) writeFileSync(path.join(dir, `${s.name}.json`), JSON.stringify(s));
  const c = spawnChild(
    [process.execPath, CLI, 'scripted-model', '--port', '0', '--scenarios', dir, '--quiet'],
    basicEnv(),
  );
  const url = await waitFor(
    () => /^(http:\/\/\S+)$/m.exec(c.output())?.[1],
    'the scripted model to listen',
    20_000,
  );
  return {
    url,
    close: async () => {
      c.child.kill('SIGTERM');
      await Promise.race([c.exit, new Promise((r) => setTimeout(r, 5_000))]);
      c.kill();
    },
  };
}

/** PATH and nothing else of ours: children get only what a benchmark gives them. */
export function basicEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin' };
}

/** The environment of a CLI child the way the harnesses set it: offline, one retry, own home. */
export function cliBasics(home: string, model: ModelProcess): Record<string, string> {
  mkdirSync(path.join(home, 'tmp'), { recursive: true });
  return {
    ...basicEnv(),
    HOME: home,
    CLAUDE_CODE_TMPDIR: path.join(home, 'tmp'),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '1',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: API_KEY,
  };
}

/**
 * `serve` on a free port. With `idle` its runner command is the contract's fake runner in idle
 * mode: a run gets a real token and a workspace, and the benchmark plays or starts its runner.
 */
export async function startBenchServe(
  env: Record<string, string>,
  opts: Partial<StartServeOptions> & { idle?: boolean } = {},
): Promise<ServeHandle> {
  const { idle, ...rest } = opts;
  return startServe({
    ...(idle ? { runnerCommand: contractRunner() } : {}),
    graceMs: 5_000,
    maxConcurrent: 32,
    ...rest,
    env: { ...hermetic(), ...env, ...(rest.env ?? {}) },
  });
}

/** What of this process's environment would steer serve or its runners elsewhere: removed. */
const STEERING =
  /^(ANTHROPIC_|CLAUDE_CODE_|CLAUDE_RUNNER_|RUNNER_|LANGFUSE_|VERTEX_|CLOUD_ML_|GOOGLE_|NODE_OPTIONS$|LOG_LEVEL$)/;

function hermetic(): Record<string, undefined> {
  return Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => STEERING.test(k))
      .map((k) => [k, undefined]),
  );
}

export interface HeldRun {
  name: string;
  /** Exactly what serve gave the (idle) runner: BOT_TOKEN, WEBSOCKET_URL, BACKEND_API_URL, … */
  env: Record<string, string>;
  socketUrl: string;
}

/** A session whose run is held by the idle fake runner; its environment is the real runner's. */
export async function heldRun(serve: ServeHandle, body: Record<string, unknown>): Promise<HeldRun> {
  const s = await createSession(serve, {
    ...body,
    environmentVariables: { ...((body.environmentVariables as object) ?? {}), FAKE_MODE: 'idle' },
  });
  const name = s.metadata.name;
  const env = await waitFor(() => {
    try {
      return readWorkspaceJson(serve, name, 'env.json') as Record<string, string>;
    } catch {
      return undefined;
    }
  }, `the run of ${name} to start`);
  delete env.FAKE_MODE;
  return { name, env, socketUrl: env.WEBSOCKET_URL! };
}

export async function deleteSession(serve: ServeHandle, name: string): Promise<void> {
  const res = await serve.api('DELETE', `/projects/${PROJECT}/agentic-sessions/${name}`);
  if (res.status >= 300 && res.status !== 404)
    throw new Error(`delete ${name} answered ${res.status}: ${res.text}`);
}

export function watcherUrl(serve: ServeHandle, name: string, afterSeq = 0): string {
  return `${serve.url.replace(/^http/, 'ws')}/api/projects/${PROJECT}/sessions/${name}/ws${afterSeq ? `?after_seq=${afterSeq}` : ''}`;
}

/** What main hands every benchmark. */
export interface BenchContext {
  quick: boolean;
  work: Workdir;
  model: ModelProcess;
  /** HOME of every CLI (serve's runners and the bare SDK loop alike). */
  home: string;
  log(line: string): void;
}

/**
 * serve's environment for runners that talk to the scripted model. With BENCH_PROFILE=<dir>,
 * serve also writes a CPU profile there (bench/cpu-profile.ts).
 */
export function serveEnv(ctx: BenchContext): Record<string, string> {
  const profile = process.env.BENCH_PROFILE;
  return {
    ...cliBasics(ctx.home, ctx.model),
    ...(profile
      ? {
          BENCH_PROFILE: profile,
          NODE_OPTIONS: `--import=${new URL('./cpu-profile.js', import.meta.url).href}`,
        }
      : {}),
  };
}

/**
 * The runner's command line exactly as serve's local executor starts it (its Node flags
 * included), with `nodeArgs` added before the script. With BENCH_PROFILE=<dir>, each runner also
 * writes a CPU profile there.
 */
export function runnerArgv(nodeArgs: string[] = []): string[] {
  const [node, ...rest] = defaultRunnerCommand();
  const profile = process.env.BENCH_PROFILE;
  return [
    node!,
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
    ...nodeArgs,
    ...rest,
  ];
}

/** Entries of a watcher's arrivals, parsed, with their arrival time. */
export interface ParsedArrival {
  ns: bigint;
  seq: number;
  timestamp: string;
  run?: number;
  runSeq?: number;
  type: string;
  payload: Record<string, unknown>;
}

export function parseArrivals(arrivals: readonly { ns: bigint; raw: string }[]): ParsedArrival[] {
  return arrivals.map((a) => ({ ns: a.ns, ...(JSON.parse(a.raw) as Omit<ParsedArrival, 'ns'>) }));
}

/** Tool results among a run's frames: the proof that the scripted loop really ran. */
export function toolResults(entries: readonly ParsedArrival[]): number {
  return entries.filter((e) => e.type === 'agent.message' && e.payload.tool_result !== undefined)
    .length;
}
