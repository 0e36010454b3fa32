/**
 * relay_latency_p50_ms, relay_latency_p99_ms: from the runner receiving a message from the SDK
 * to a watcher receiving the frame it became through `serve`.
 *
 * A real runner runs a scripted session (streamed text and a Bash call per step, so every kind of
 * frame is in the sample) against a real `serve`, with bench/relay-probe.js preloaded to note
 * when each SDK message arrived and which frames it became. A watcher connected before the runner
 * starts notes each frame's arrival. Both clocks are process.hrtime (CLOCK_MONOTONIC), one clock
 * for every process of the machine; the samples are joined by the runner's seq.
 *
 * The key figures come from a stream paced like a model's (RELAY_CHUNK_DELAY_MS); one unpaced
 * session, where a whole answer arrives at once, is reported as a detail (`burst`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServeHandle } from '../src/testing/serve-process.js';
import { LeanWatcher } from './clients.js';
import {
  deleteSession,
  finished,
  heldRun,
  parseArrivals,
  runnerArgv,
  serveEnv,
  spawnChild,
  startBenchServe,
  watcherUrl,
  type BenchContext,
} from './fixtures.js';
import { promptFor, RELAY, RELAY_BURST, RELAY_CHUNK_DELAY_MS } from './scenarios.js';
import { max, median, nsToMs, percentile } from './stats.js';

const PROBE = new URL('./relay-probe.js', import.meta.url);

interface Sample {
  ms: number;
  type: string;
  session: number;
  runSeq: number;
}

export interface RelayResult {
  relay_latency_p50_ms: number;
  relay_latency_p99_ms: number;
  details: {
    chunk_delay_ms: number;
    sessions: number;
    samples: number;
    max_ms: number;
    by_type_p50_ms: Record<string, number>;
    by_type_count: Record<string, number>;
    /** The slowest samples: where in the session they were. */
    worst: Sample[];
    burst: { samples: number; p50_ms: number; p90_ms: number; p99_ms: number; max_ms: number };
  };
}

export async function relayLatency(
  ctx: BenchContext,
  opts: { sessions: number },
): Promise<RelayResult> {
  const serve = await startBenchServe(serveEnv(ctx), { idle: true });
  const samples: Sample[] = [];
  let burst: Sample[];
  try {
    for (let i = 1; i <= opts.sessions; i++) {
      samples.push(...(await relaySession(ctx, serve, RELAY, i)));
      ctx.log(`  paced session ${i}/${opts.sessions}: ${samples.length} samples so far`);
    }
    burst = await relaySession(ctx, serve, RELAY_BURST, 0);
    ctx.log(`  unpaced session: ${burst.length} samples`);
  } finally {
    await serve.stop();
  }
  const all = samples.map((s) => s.ms);
  const burstMs = burst.map((s) => s.ms);
  const byType: Record<string, number[]> = {};
  for (const s of samples) (byType[s.type] ??= []).push(s.ms);
  return {
    relay_latency_p50_ms: median(all),
    relay_latency_p99_ms: percentile(all, 0.99),
    details: {
      chunk_delay_ms: RELAY_CHUNK_DELAY_MS,
      sessions: opts.sessions,
      samples: all.length,
      max_ms: max(all),
      by_type_p50_ms: Object.fromEntries(Object.entries(byType).map(([t, v]) => [t, median(v)])),
      by_type_count: Object.fromEntries(Object.entries(byType).map(([t, v]) => [t, v.length])),
      worst: [...samples].sort((a, b) => b.ms - a.ms).slice(0, 10),
      burst: {
        samples: burstMs.length,
        p50_ms: median(burstMs),
        p90_ms: percentile(burstMs, 0.9),
        p99_ms: percentile(burstMs, 0.99),
        max_ms: max(burstMs),
      },
    },
  };
}

/** One runner session with the probe; every frame that came from an SDK message is a sample. */
async function relaySession(
  ctx: BenchContext,
  serve: ServeHandle,
  scenario: string,
  session: number,
): Promise<Sample[]> {
  const run = await heldRun(serve, { prompt: promptFor(scenario) });
  const watcher = new LeanWatcher(watcherUrl(serve, run.name), serve.token, { keep: true });
  try {
    await watcher.opened;
    const stampsFile = path.join(ctx.work.dir('relay'), 'stamps.json');
    const c = spawnChild(runnerArgv(['--import', pathToFileURL(PROBE.pathname).href]), {
      ...run.env,
      BENCH_RELAY_STAMPS: stampsFile,
    });
    await finished(c, 'the runner (relay probe)', 300_000);
    const stamps = new Map(
      (JSON.parse(readFileSync(stampsFile, 'utf8')) as [number, string][]).map(([seq, ns]) => [
        seq,
        BigInt(ns),
      ]),
    );
    await new Promise((r) => setTimeout(r, 200)); // the last frames are still on their way
    const out: Sample[] = [];
    for (const e of parseArrivals(watcher.arrivals)) {
      const at = e.runSeq !== undefined ? stamps.get(e.runSeq) : undefined;
      if (at !== undefined)
        out.push({ ms: nsToMs(e.ns - at), type: e.type, session, runSeq: e.runSeq! });
    }
    if (out.length < stamps.size)
      throw new Error(`the watcher saw ${out.length} of the ${stamps.size} frames the runner sent`);
    return out;
  } finally {
    watcher.close();
    await deleteSession(serve, run.name);
  }
}
