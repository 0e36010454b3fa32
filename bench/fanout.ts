/**
 * fanout_frames_per_s, fanout_lost: one session's stream to 100 watchers.
 *
 * The benchmark plays the session's runner with its run's BOT_TOKEN through the runner's own
 * socket client, sends `frames` text frames as fast as the socket takes them, and times from the
 * first send to the moment every watcher has the last one. Delivered per second counts every
 * frame at every watcher; lost is what some watcher never got (a gap, or a watcher closed as too
 * slow), counted per watcher.
 */
import type { ServeHandle } from '../src/testing/serve-process.js';
import { LeanWatcher, RunnerPlayer, textFrame } from './clients.js';
import { PROJECT } from '../src/testing/session-api.js';
import {
  deleteSession,
  heldRun,
  serveEnv,
  startBenchServe,
  watcherUrl,
  type BenchContext,
} from './fixtures.js';
import { nsToMs } from './stats.js';

export interface FanoutResult {
  fanout_frames_per_s: number;
  fanout_lost: number;
  details: {
    watchers: number;
    frames: number;
    frame_bytes: number;
    elapsed_ms: number;
    too_slow_closed: number;
  };
}

export async function fanout(
  ctx: BenchContext,
  opts: { watchers: number; frames: number; frameBytes: number },
): Promise<FanoutResult> {
  const serve = await startBenchServe(serveEnv(ctx), { idle: true });
  try {
    return await measure(serve, opts);
  } finally {
    await serve.stop();
  }
}

async function measure(
  serve: ServeHandle,
  opts: { watchers: number; frames: number; frameBytes: number },
): Promise<FanoutResult> {
  const run = await heldRun(serve, { prompt: 'fan-out' });
  const watchers: LeanWatcher[] = [];
  const player = new RunnerPlayer(run.socketUrl, run.env.BOT_TOKEN!);
  try {
    for (let i = 0; i < opts.watchers; i++)
      watchers.push(new LeanWatcher(watcherUrl(serve, run.name), serve.token));
    await Promise.all([...watchers.map((w) => w.opened), player.connected()]);
    // Everyone has caught up with the history so far (the run's phase changes): start even.
    const before = await waitForHistory(serve, run.name);
    await Promise.all(watchers.map((w) => w.reach(before)));
    const base = watchers.map((w) => w.count);
    const last = before + opts.frames;
    const start = process.hrtime.bigint();
    for (let i = 1; i <= opts.frames; i++) player.send(textFrame(i, opts.frameBytes));
    await Promise.all(watchers.map((w) => w.reach(last)));
    const elapsedMs = nsToMs(process.hrtime.bigint() - start);
    let delivered = 0;
    let lost = 0;
    let tooSlow = 0;
    watchers.forEach((w, i) => {
      const got = w.count - base[i]!;
      delivered += got;
      lost += opts.frames - got + w.outOfOrder;
      if (w.closeCode === 4008) tooSlow++;
    });
    await player.flush(30_000);
    return {
      fanout_frames_per_s: delivered / (elapsedMs / 1000),
      fanout_lost: lost,
      details: {
        watchers: opts.watchers,
        frames: opts.frames,
        frame_bytes: opts.frameBytes,
        elapsed_ms: elapsedMs,
        too_slow_closed: tooSlow,
      },
    };
  } finally {
    for (const w of watchers) w.close();
    await player.close();
    await deleteSession(serve, run.name);
  }
}

/** The last position of a session's history (GET …/messages pages). */
export async function waitForHistory(serve: ServeHandle, name: string): Promise<number> {
  let after = 0;
  for (;;) {
    const res = await serve.api(
      'GET',
      `/projects/${PROJECT}/sessions/${name}/messages?after_seq=${after}&limit=1000`,
    );
    if (res.status !== 200) throw new Error(`history answered ${res.status}: ${res.text}`);
    const page = res.json as { items: { seq: number }[]; hasMore: boolean };
    after = page.items.at(-1)?.seq ?? after;
    if (!page.hasMore) return after;
  }
}
