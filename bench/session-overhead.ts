/**
 * runner_overhead_ratio, tracing_overhead_ratio, runner_rss_mb, cold_start_ms.
 *
 * One scripted 50-step tool-loop session, three ways, in rounds (the order rotates every round so
 * that no way always goes first): a bare SDK `query()` loop in its own process (plain `node`);
 * the real `claude-code-runner run`, started with the command line serve's local executor uses,
 * with its socket to a local hub (`serve`), status calls and tracing off; the same runner with
 * Langfuse on, exporting to a local stand-in. Each is timed from spawn to exit by this process. The runner's peak resident memory (VmHWM, its own process only: the CLI
 * is a separate process) is polled while it runs; cold start is spawn to the moment a watcher of
 * the session receives the runner's first frame (so it includes one relay hop).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServeHandle } from '../src/testing/serve-process.js';
import {
  startLangfuseStandin,
  type LangfuseStandin,
} from '../src/testing/langfuse-standin/index.js';
import { LeanWatcher } from './clients.js';
import {
  basicEnv,
  cliBasics,
  cpuMsOf,
  deleteSession,
  finished,
  heldRun,
  parseArrivals,
  runnerArgv,
  type ParsedArrival,
  serveEnv,
  spawnChild,
  startBenchServe,
  toolResults,
  watcherUrl,
  type BenchContext,
} from './fixtures.js';
import { promptFor, TOOL_LOOP } from './scenarios.js';
import type { SdkJob } from './sdk-loop.js';
import { max, median, nsToMs } from './stats.js';

const SDK_LOOP = fileURLToPath(new URL('./sdk-loop.js', import.meta.url));
const SESSION_TIMEOUT_MS = 180_000;

type Way = 'bare' | 'runner' | 'traced';

/**
 * Where a session's time goes (ms): spawn to the first SDK message (start-up, the CLI's own
 * included), first SDK message to the result (the loop), result to exit (the end).
 */
interface Phases {
  startup: number;
  loop: number;
  end: number;
}

export interface OverheadResult {
  runner_overhead_ratio: number;
  tracing_overhead_ratio: number;
  runner_rss_mb: number;
  cold_start_ms: number;
  details: {
    steps: number;
    rounds: number;
    wall_ms: Record<Way, number[]>;
    cold_start_ms: { runner: number[]; traced: number[] };
    rss_mb: { bare: number[]; runner: number[]; traced: number[] };
    /** Medians of each way's phases (runner: from the frames' millisecond timestamps). */
    phases_ms: Record<Way, Phases>;
    /** Median CPU time per session: the runner's own process, and serve's while it ran. */
    cpu_ms: { runner: number; traced: number; serve_per_runner_session: number };
    traced_spans: number;
  };
}

export async function sessionOverhead(
  ctx: BenchContext,
  opts: { rounds: number; steps: number },
): Promise<OverheadResult> {
  const serve = await startBenchServe(serveEnv(ctx), { idle: true });
  const standin = await startLangfuseStandin({ maxRecorded: 10_000 });
  const wall: Record<Way, number[]> = { bare: [], runner: [], traced: [] };
  const cold: Record<'runner' | 'traced', number[]> = { runner: [], traced: [] };
  const rss = { bare: [] as number[], runner: [] as number[], traced: [] as number[] };
  const phases: Record<Way, Phases[]> = { bare: [], runner: [], traced: [] };
  const cpu = { runner: [] as number[], traced: [] as number[], serve: [] as number[] };
  const ways: Way[] = ['bare', 'runner', 'traced'];
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const order = ways.map((_w, i) => ways[(i + round) % ways.length]!);
      for (const way of order) {
        if (way === 'bare') {
          const r = await bareSession(ctx, opts.steps);
          wall.bare.push(r.wallMs);
          rss.bare.push(r.rssMb);
          phases.bare.push(r.phases);
        } else {
          const r = await runnerSession(ctx, serve, way === 'traced' ? standin : null, opts.steps);
          wall[way].push(r.wallMs);
          rss[way].push(r.rssMb);
          cold[way].push(r.coldStartMs);
          phases[way].push(r.phases);
          cpu[way].push(r.cpuMs);
          if (way === 'runner') cpu.serve.push(r.serveCpuMs);
        }
        ctx.log(
          `  round ${round + 1}/${opts.rounds} ${way.padEnd(6)} ${wall[way].at(-1)!.toFixed(0)} ms`,
        );
      }
    }
  } finally {
    await standin.close();
    await serve.stop();
  }
  return {
    runner_overhead_ratio: median(wall.runner) / median(wall.bare),
    tracing_overhead_ratio: median(wall.traced) / median(wall.runner),
    runner_rss_mb: max(rss.runner),
    cold_start_ms: median(cold.runner),
    details: {
      steps: opts.steps,
      rounds: opts.rounds,
      wall_ms: wall,
      cold_start_ms: cold,
      rss_mb: rss,
      phases_ms: {
        bare: medianPhases(phases.bare),
        runner: medianPhases(phases.runner),
        traced: medianPhases(phases.traced),
      },
      cpu_ms: {
        runner: median(cpu.runner),
        traced: median(cpu.traced),
        serve_per_runner_session: median(cpu.serve),
      },
      traced_spans: standin.spans().length,
    },
  };
}

async function bareSession(
  ctx: BenchContext,
  steps: number,
): Promise<{ wallMs: number; rssMb: number; phases: Phases }> {
  const dir = ctx.work.dir('bare');
  const cwd = path.join(dir, 'artifacts');
  const job: SdkJob = {
    prompt: promptFor(TOOL_LOOP),
    cwd,
    env: { ...cliBasics(ctx.home, ctx.model), CLAUDE_CONFIG_DIR: path.join(dir, '.claude') },
  };
  mkdirSync(cwd, { recursive: true });
  const c = spawnChild(
    [process.execPath, SDK_LOOP],
    { ...basicEnv(), BENCH_SDK_JOB: JSON.stringify(job) },
    { pollRss: true },
  );
  const ns = await finished(c, 'the bare SDK loop', SESSION_TIMEOUT_MS);
  const summary = JSON.parse(c.output().trim().split('\n').at(-1) ?? '{}') as {
    subtype?: string;
    toolResults?: number;
    at?: { firstMessage?: number; result?: number };
  };
  if (summary.subtype !== 'success' || summary.toolResults !== steps)
    throw new Error(
      `the bare SDK loop did not run ${steps} tool calls to success: ${c.output().slice(-2000)}`,
    );
  const first = summary.at?.firstMessage ?? Number.NaN;
  const result = summary.at?.result ?? Number.NaN;
  const wallMs = nsToMs(ns);
  return {
    wallMs,
    rssMb: c.peakRssMb(),
    phases: { startup: first, loop: result - first, end: wallMs - result },
  };
}

/** One runner session, timed; `nodeArgs` and `env` are for profiling it (docs/benchmarks.md). */
export async function runnerSession(
  ctx: BenchContext,
  serve: ServeHandle,
  standin: LangfuseStandin | null,
  steps: number,
  extra: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<{
  wallMs: number;
  rssMb: number;
  coldStartMs: number;
  phases: Phases;
  cpuMs: number;
  serveCpuMs: number;
}> {
  const run = await heldRun(serve, { prompt: promptFor(TOOL_LOOP) });
  const watcher = new LeanWatcher(watcherUrl(serve, run.name), serve.token, { keep: true });
  try {
    await watcher.opened;
    const tracing: Record<string, string> = standin
      ? {
          LANGFUSE_ENABLED: 'true',
          LANGFUSE_HOST: standin.url,
          LANGFUSE_PUBLIC_KEY: standin.publicKey,
          LANGFUSE_SECRET_KEY: standin.secretKey,
        }
      : {};
    const spansBefore = standin?.spans().length ?? 0;
    const serveCpu = cpuMsOf(serve.pid);
    const c = spawnChild(
      runnerArgv(extra.nodeArgs),
      { ...run.env, ...tracing, ...extra.env },
      { pollRss: true },
    );
    const ns = await finished(c, 'the runner', SESSION_TIMEOUT_MS);
    const serveCpuMs = cpuMsOf(serve.pid) - serveCpu;
    // The watcher sees the last frames a moment after the runner exits.
    const entries = await settle(watcher, (e) =>
      e.some((x) => x.payload.event === 'session.completed'),
    );
    const first = entries.find((e) => e.runSeq !== undefined);
    if (!first) throw new Error('the watcher saw no frame of the runner');
    if (toolResults(entries) !== steps)
      throw new Error(`expected ${steps} tool results, the watcher saw ${toolResults(entries)}`);
    if (standin && standin.spans().length <= spansBefore)
      throw new Error('tracing was on but the Langfuse stand-in received no span');
    const wallMs = nsToMs(ns);
    const at = (e: ParsedArrival | undefined) =>
      e ? Date.parse(e.timestamp) - c.startEpochMs : Number.NaN;
    const init = at(entries.find((e) => e.payload.event === 'cli.init'));
    const result = at(
      entries.find((e) => (e.payload as { type?: unknown }).type === 'result.message'),
    );
    return {
      wallMs,
      rssMb: c.peakRssMb(),
      coldStartMs: nsToMs(first.ns - c.startNs),
      phases: { startup: init, loop: result - init, end: wallMs - result },
      cpuMs: c.cpuMs(),
      serveCpuMs,
    };
  } finally {
    watcher.close();
    await deleteSession(serve, run.name);
  }
}

async function settle(
  watcher: LeanWatcher,
  done: (entries: ReturnType<typeof parseArrivals>) => boolean,
) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const entries = parseArrivals(watcher.arrivals);
    if (done(entries) || Date.now() > deadline) return entries;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function medianPhases(list: Phases[]): Phases {
  return {
    startup: median(list.map((p) => p.startup)),
    loop: median(list.map((p) => p.loop)),
    end: median(list.map((p) => p.end)),
  };
}
