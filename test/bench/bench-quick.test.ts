// `npm run bench` is not part of the tests (its figures are measurements, not assertions), but
// it must keep working: this runs it in quick mode, as a child process with every part real, and
// checks that each published key is a number and that what is about correctness, not speed, holds
// (no frame lost in the fan-out or the catch-up storm, every concurrent session completed).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../bench/main.js', import.meta.url));
const QUICK = fileURLToPath(new URL('../../../bench/results/quick.json', import.meta.url));
const KEYS = [
  'runner_overhead_ratio',
  'tracing_overhead_ratio',
  'relay_latency_p50_ms',
  'relay_latency_p99_ms',
  'fanout_frames_per_s',
  'fanout_lost',
  'replay_100k_ms',
  'catchup_storm_ack_p99_ms',
  'catchup_storm_health_p99_ms',
  'catchup_storm_lost',
  'concurrent_sessions_completed',
  'runner_rss_mb',
  'cold_start_ms',
];

test('npm run bench -- --quick: every key measured, nothing lost, every session completed', async () => {
  const started = Date.now();
  const child = spawn(process.execPath, [MAIN, '--quick'], {
    env: { ...process.env, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, out.slice(-4000));
  assert.ok(statSync(QUICK).mtimeMs >= started - 1000, 'quick.json was written by this run');
  const result = JSON.parse(readFileSync(QUICK, 'utf8')) as Record<string, unknown>;
  assert.equal(result.quick, true);
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  for (const k of KEYS) assert.equal(typeof result[k], 'number', `${k} is measured`);
  assert.equal(result.fanout_lost, 0, 'no frame lost in the fan-out');
  assert.equal(result.catchup_storm_lost, 0, 'every watcher of the catch-up storm got everything');
  assert.equal(result.concurrent_sessions_completed, 4, 'every concurrent session completed');
  const machine = result.machine as { cores?: unknown; node?: unknown };
  assert.equal(typeof machine.cores, 'number');
  assert.equal(machine.node, process.version);
  assert.match(out, /QUICK RUN: not the published figures/);
});
