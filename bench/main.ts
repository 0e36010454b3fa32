/**
 * `npm run bench`: what the runner and the control plane add to a session, measured against the
 * scripted model with real parts (the real CLI, runner, serve, SQLite, sockets on loopback).
 * Prints a table and writes bench/results/latest.json (method and goals: docs/benchmarks.md).
 *
 *   node dist/bench/main.js [--quick] [--only overhead,relay,fanout,replay,catchup,concurrency,web]
 *
 * --quick (or BENCH_QUICK=1) runs every benchmark small, to check that it works, and writes
 * bench/results/quick.json instead: its figures are not the published ones.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { catchUpStorm } from './catch-up-storm.js';
import { concurrency } from './concurrency.js';
import { fanout } from './fanout.js';
import { startModel, workdir, type BenchContext } from './fixtures.js';
import { machine } from './machine.js';
import { relayLatency } from './relay-latency.js';
import { replay } from './replay.js';
import { benchScenarios } from './scenarios.js';
import { sessionOverhead } from './session-overhead.js';
import { round } from './stats.js';
import { webLongSession } from './web-long-session.js';

const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

interface Goal {
  key: string;
  unit: string;
  goal: string;
  ok: (v: number) => boolean;
}

const GOALS: Goal[] = [
  { key: 'runner_overhead_ratio', unit: '×', goal: '≤ 1.03', ok: (v) => v <= 1.03 },
  { key: 'tracing_overhead_ratio', unit: '×', goal: '≤ 1.03', ok: (v) => v <= 1.03 },
  { key: 'relay_latency_p50_ms', unit: 'ms', goal: '—', ok: () => true },
  { key: 'relay_latency_p99_ms', unit: 'ms', goal: '≤ 5', ok: (v) => v <= 5 },
  { key: 'fanout_frames_per_s', unit: '/s', goal: '≥ 50,000', ok: (v) => v >= 50_000 },
  { key: 'fanout_lost', unit: '', goal: '0', ok: (v) => v === 0 },
  { key: 'replay_100k_ms', unit: 'ms', goal: '≤ 1,000', ok: (v) => v <= 1_000 },
  { key: 'catchup_storm_ack_p99_ms', unit: 'ms', goal: '≤ 50', ok: (v) => v <= 50 },
  { key: 'catchup_storm_health_p99_ms', unit: 'ms', goal: '≤ 100', ok: (v) => v <= 100 },
  { key: 'catchup_storm_lost', unit: '', goal: '0', ok: (v) => v === 0 },
  { key: 'concurrent_sessions_completed', unit: '', goal: '16', ok: (v) => v === 16 },
  { key: 'runner_rss_mb', unit: 'MiB', goal: '≤ 80', ok: (v) => v <= 80 },
  { key: 'cold_start_ms', unit: 'ms', goal: '≤ 300', ok: (v) => v <= 300 },
  { key: 'web_open_10k_ms', unit: 'ms', goal: '—', ok: () => true },
  { key: 'web_scroll_frame_p99_ms', unit: 'ms', goal: '—', ok: () => true },
];

type Figures = Record<string, number>;
interface Bench {
  name: string;
  /** Resolves to the figures (numbers, by key) and the benchmark's details. */
  run(ctx: BenchContext): Promise<{ details: unknown }>;
}

function benches(quick: boolean): Bench[] {
  return [
    {
      name: 'overhead',
      run: (ctx) =>
        sessionOverhead(ctx, quick ? { rounds: 2, steps: 10 } : { rounds: 7, steps: 50 }),
    },
    { name: 'relay', run: (ctx) => relayLatency(ctx, { sessions: quick ? 1 : 3 }) },
    {
      name: 'fanout',
      run: (ctx) => fanout(ctx, { watchers: 100, frames: quick ? 300 : 3_000, frameBytes: 200 }),
    },
    {
      name: 'replay',
      run: (ctx) => replay(ctx, { frames: quick ? 10_000 : 100_000, frameBytes: 200 }),
    },
    {
      name: 'catchup',
      run: (ctx) =>
        catchUpStorm(ctx, {
          watchers: quick ? 50 : 200,
          frames: quick ? 2_000 : 100_000,
          frameBytes: 200,
        }),
    },
    { name: 'concurrency', run: (ctx) => concurrency(ctx, { sessions: quick ? 4 : 16 }) },
    { name: 'web', run: (ctx) => webLongSession(ctx, { entries: 10_000 }) },
  ];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
  });
  const quick = values.quick || process.env.BENCH_QUICK === '1';
  const all = benches(quick);
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only?.filter((n) => !all.some((b) => b.name === n)) ?? [];
  if (unknown.length) {
    process.stderr.write(
      `bench: unknown benchmark ${unknown.join(', ')}: choose from ${all.map((b) => b.name).join(', ')}\n`,
    );
    return 2;
  }
  const selected = only ? all.filter((b) => only.includes(b.name)) : all;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = new Date();
  const result: Record<string, unknown> = {
    date: started.toISOString(),
    machine: machine(),
    quick,
  };
  const figures: Figures = {};
  const details: Record<string, unknown> = {};
  const errors: Record<string, string> = {};

  const work = workdir();
  const model = await startModel(work, benchScenarios(quick ? 10 : 50, quick ? 5 : 20));
  const ctx: BenchContext = { quick, work, model, home: work.dir('home'), log };
  try {
    for (const b of selected) {
      log(`bench: ${b.name}${quick ? ' (quick)' : ''}`);
      const t = Date.now();
      try {
        const { details: d, ...f } = await b.run(ctx);
        Object.assign(figures, f as Figures);
        details[b.name] = d;
      } catch (e) {
        errors[b.name] = e instanceof Error ? e.message : String(e);
        log(`bench: ${b.name} failed: ${errors[b.name]}`);
      }
      log(`bench: ${b.name} took ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
  } finally {
    await model.close();
    work.cleanup();
  }

  for (const g of GOALS)
    if (figures[g.key] !== undefined)
      result[g.key] = round(figures[g.key]!, g.unit === '×' ? 3 : 2);
  // A quick run is too small to be held to the goals.
  if (!quick)
    result.goals_missed = GOALS.filter(
      (g) => figures[g.key] !== undefined && !g.ok(figures[g.key]!),
    ).map((g) => g.key);
  result.details = roundDeep(details);
  if (Object.keys(errors).length) result.errors = errors;
  result.duration_s = round((Date.now() - started.getTime()) / 1000, 1);

  mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, quick ? 'quick.json' : 'latest.json');
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `${table(figures, result.machine as ReturnType<typeof machine>, quick)}\nwritten: ${path.relative(process.cwd(), file)}\n`,
  );
  return Object.keys(errors).length ? 1 : 0;
}

function table(figures: Figures, m: ReturnType<typeof machine>, quick: boolean): string {
  const rows = GOALS.filter((g) => figures[g.key] !== undefined).map((g) => {
    const v = figures[g.key]!;
    const shown =
      g.unit === '×'
        ? v.toFixed(3)
        : Number.isInteger(v)
          ? v.toLocaleString('en-US')
          : v.toLocaleString('en-US', { maximumFractionDigits: 2 });
    const status = quick ? '(quick)' : g.ok(v) ? 'ok' : 'MISS';
    return [g.key, `${shown}${g.unit && g.unit !== '×' ? ` ${g.unit}` : ''}`, g.goal, status];
  });
  const head = ['figure', 'value', 'goal', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    `${m.cores} cores (${m.cpu}), ${m.memory_gb} GiB, Node ${m.node}, load ${m.load_at_start.join(' ')}${quick ? ' — QUICK RUN: not the published figures' : ''}`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

function roundDeep(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? v : round(v, 3);
  if (Array.isArray(v)) return v.map(roundDeep);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundDeep(x)]));
  return v;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
