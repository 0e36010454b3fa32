/**
 * catchup_storm_ack_p99_ms, catchup_storm_health_p99_ms, catchup_storm_lost: 200 watchers join a
 * session with a large history (100,000 frames) at once with `after_seq=0`, while its runner
 * streams. What is timed is what must not starve meanwhile:
 *
 * - the runner's acks: the benchmark plays the runner on a raw socket with the run's BOT_TOKEN and
 *   sends bursts of ACK_EVERY frames (the hub acks at once on the last of a burst, with no timer
 *   involved); each sample is the time from the burst's last frame to the ack that covers it;
 * - `GET /health`, asked one after another during the storm.
 *
 * The watchers live in a child process (storm-watchers.ts) so that their parsing does not delay
 * these clocks. Lost counts watchers that did not get the whole history in order (closed, a gap).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { ACK_EVERY } from '../src/control-plane/hub/runner-link.js';
import { RunnerPlayer, textFrame } from './clients.js';
import { waitForHistory } from './fanout.js';
import {
  deleteSession,
  heldRun,
  serveEnv,
  startBenchServe,
  watcherUrl,
  type BenchContext,
} from './fixtures.js';
import { max, median, nsToMs, percentile } from './stats.js';

const WATCHERS_MAIN = fileURLToPath(new URL('./storm-watchers.js', import.meta.url));
/** Pause between two bursts of the runner, and between two `/health` calls. */
const BURST_EVERY_MS = 250;
const HEALTH_EVERY_MS = 20;

export interface CatchUpStormResult {
  catchup_storm_ack_p99_ms: number;
  catchup_storm_health_p99_ms: number;
  catchup_storm_lost: number;
  details: {
    watchers: number;
    frames: number;
    frame_bytes: number;
    max_catching_up: number;
    storm_ms: number;
    all_upgraded_ms: number;
    queued_notices: number;
    live_frames: number;
    ack_samples: number;
    ack_p50_ms: number;
    ack_max_ms: number;
    health_samples: number;
    health_p50_ms: number;
    health_max_ms: number;
    closed: Record<string, number>;
  };
}

export async function catchUpStorm(
  ctx: BenchContext,
  opts: { watchers: number; frames: number; frameBytes: number; maxCatchingUp?: number },
): Promise<CatchUpStormResult> {
  const serve = await startBenchServe(serveEnv(ctx), {
    idle: true,
    ...(opts.maxCatchingUp ? { args: ['--max-catching-up', String(opts.maxCatchingUp)] } : {}),
  });
  try {
    const run = await heldRun(serve, { prompt: 'catch-up storm' });
    const player = new RunnerPlayer(run.socketUrl, run.env.BOT_TOKEN!);
    try {
      await player.connected();
      for (let i = 1; i <= opts.frames; i++) player.send(textFrame(i, opts.frameBytes));
      await player.flush(600_000);
    } finally {
      await player.close();
    }
    const entries = await waitForHistory(serve, run.name);
    ctx.log(`  ${entries} entries stored; ${opts.watchers} watchers join from the start`);

    const runner = new BurstRunner(run.socketUrl, run.env.BOT_TOKEN!, opts.frameBytes);
    const watchers = spawn(
      process.execPath,
      [WATCHERS_MAIN, watcherUrl(serve, run.name), String(opts.watchers), String(entries)],
      { env: { ...process.env, BENCH_TOKEN: serve.token }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await runner.ready(opts.frames);
      const events = childEvents(watchers);
      const start = process.hrtime.bigint();
      let stormOver = false;
      const health: number[] = [];
      const healthLoop = (async () => {
        while (!stormOver) {
          const t = process.hrtime.bigint();
          const res = await fetch(`${serve.url}/health`);
          await res.text();
          if (res.status !== 200) throw new Error(`/health answered ${res.status}`);
          health.push(nsToMs(process.hrtime.bigint() - t));
          await sleep(HEALTH_EVERY_MS);
        }
      })();
      healthLoop.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      const acks: number[] = [];
      const runnerLoop = (async () => {
        while (!stormOver) {
          acks.push(await runner.burst(ACK_EVERY));
          await sleep(BURST_EVERY_MS);
        }
      })();
      runnerLoop.catch(() => undefined);
      let opened: { ms: number } | undefined;
      let done: StormDone | undefined;
      try {
        opened = (await events.next('open')) as { ms: number };
        done = (await events.next('done')) as StormDone;
      } finally {
        stormOver = true;
        await Promise.allSettled([healthLoop, runnerLoop]);
      }
      await Promise.all([healthLoop, runnerLoop]);
      const stormMs = nsToMs(process.hrtime.bigint() - start);
      const lost = opts.watchers - done.caughtUp + done.outOfOrder;
      return {
        catchup_storm_ack_p99_ms: percentile(acks, 0.99),
        catchup_storm_health_p99_ms: percentile(health, 0.99),
        catchup_storm_lost: lost,
        details: {
          watchers: opts.watchers,
          frames: opts.frames,
          frame_bytes: opts.frameBytes,
          max_catching_up: opts.maxCatchingUp ?? 8,
          storm_ms: stormMs,
          all_upgraded_ms: opened.ms,
          queued_notices: done.queued,
          live_frames: runner.sent,
          ack_samples: acks.length,
          ack_p50_ms: median(acks),
          ack_max_ms: max(acks),
          health_samples: health.length,
          health_p50_ms: median(health),
          health_max_ms: max(health),
          closed: done.closed,
        },
      };
    } finally {
      if (watchers.exitCode === null) watchers.kill('SIGKILL');
      runner.close();
      await deleteSession(serve, run.name);
    }
  } finally {
    await serve.stop();
  }
}

interface StormDone {
  caughtUp: number;
  outOfOrder: number;
  queued: number;
  closed: Record<string, number>;
}

/** The child's JSON lines, awaited one event at a time; its exit before them is an error. */
function childEvents(child: ReturnType<typeof spawn>) {
  const seen = new Map<string, unknown>();
  const waiting = new Map<string, (v: unknown) => void>();
  let failure: Error | undefined;
  const fail = new Set<(e: Error) => void>();
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      const o = JSON.parse(line) as { event: string };
      seen.set(o.event, o);
      waiting.get(o.event)?.(o);
    }
  });
  child.once('exit', (code) => {
    failure = new Error(`the storm's watchers exited ${code} early: ${err}`);
    for (const f of fail) f(failure);
  });
  return {
    next(event: string): Promise<unknown> {
      if (seen.has(event)) return Promise.resolve(seen.get(event));
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        waiting.set(event, resolve);
        fail.add(reject);
      });
    },
  };
}

/** The session's runner on a raw socket: numbered frames in bursts, each timed to its ack. */
class BurstRunner {
  private readonly ws: WebSocket;
  private lastAck = -1;
  private seq = 0;
  sent = 0;
  private waiter: { seq: number; resolve: () => void } | undefined;

  constructor(
    url: string,
    token: string,
    private readonly frameBytes: number,
  ) {
    this.ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    this.ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as { type: string; payload?: { seq?: number } };
      if (m.type !== 'ack') return;
      this.lastAck = Number(m.payload?.seq ?? 0);
      if (this.waiter && this.lastAck >= this.waiter.seq) this.waiter.resolve();
    });
    this.ws.on('error', () => undefined);
  }

  /** Resolves on the hub's greeting, which must acknowledge the `frames` already sent. */
  async ready(frames: number): Promise<void> {
    await this.until(0);
    if (this.lastAck !== frames)
      throw new Error(`the hub greeted the runner with ack ${this.lastAck}, not ${frames}`);
    this.seq = this.lastAck;
  }

  /** Sends `n` frames; resolves to the ms from the last one to its ack. */
  async burst(n: number): Promise<number> {
    for (let i = 0; i < n; i++) {
      const draft = textFrame(++this.seq, this.frameBytes);
      this.ws.send(
        JSON.stringify({ seq: this.seq, timestamp: new Date().toISOString(), ...draft }),
      );
    }
    this.sent += n;
    const t = process.hrtime.bigint();
    await this.until(this.seq);
    return nsToMs(process.hrtime.bigint() - t);
  }

  close(): void {
    this.ws.terminate();
  }

  private until(seq: number): Promise<void> {
    if (this.lastAck >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ack of ${seq} from the hub within 120 s`)),
        120_000,
      );
      this.waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve();
        },
      };
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
