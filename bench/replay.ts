/**
 * replay_100k_ms: a new watcher joins a session with 100,000 persisted frames and is timed until
 * it has them all (every entry up to the last, in order).
 *
 * The history is written the way it is in production: the benchmark plays the session's runner
 * (the runner's own socket client, with the run's BOT_TOKEN) and sends the frames through the hub,
 * which validates, redacts and persists each one; that rate is reported as a detail.
 */
import { LeanWatcher, RunnerPlayer, textFrame } from './clients.js';
import { waitForHistory } from './fanout.js';
import {
  deleteSession,
  heldRun,
  serveEnv,
  startBenchServe,
  watcherUrl,
  type BenchContext,
} from './fixtures.js';
import { nsToMs } from './stats.js';

export interface ReplayResult {
  replay_100k_ms: number;
  details: {
    frames: number;
    entries: number;
    frame_bytes: number;
    ingest_frames_per_s: number;
    out_of_order: number;
  };
}

export async function replay(
  ctx: BenchContext,
  opts: { frames: number; frameBytes: number },
): Promise<ReplayResult> {
  const serve = await startBenchServe(serveEnv(ctx), { idle: true });
  try {
    const run = await heldRun(serve, { prompt: 'replay' });
    const player = new RunnerPlayer(run.socketUrl, run.env.BOT_TOKEN!);
    let ingest: number;
    try {
      await player.connected();
      const start = process.hrtime.bigint();
      for (let i = 1; i <= opts.frames; i++) player.send(textFrame(i, opts.frameBytes));
      await player.flush(600_000);
      ingest = opts.frames / (nsToMs(process.hrtime.bigint() - start) / 1000);
    } finally {
      await player.close();
    }
    const entries = await waitForHistory(serve, run.name);
    ctx.log(`  ${entries} entries persisted (${ingest.toFixed(0)} frames/s through the hub)`);
    const start = process.hrtime.bigint();
    const watcher = new LeanWatcher(watcherUrl(serve, run.name), serve.token);
    try {
      await watcher.reach(entries);
      const ms = nsToMs(process.hrtime.bigint() - start);
      if (watcher.count !== entries || watcher.outOfOrder)
        throw new Error(
          `the watcher got ${watcher.count} of ${entries} entries (${watcher.outOfOrder} out of order; closed ${watcher.closeCode ?? 'no'})`,
        );
      return {
        replay_100k_ms: ms,
        details: {
          frames: opts.frames,
          entries,
          frame_bytes: opts.frameBytes,
          ingest_frames_per_s: ingest,
          out_of_order: watcher.outOfOrder,
        },
      };
    } finally {
      watcher.close();
      await deleteSession(serve, run.name);
    }
  } finally {
    await serve.stop();
  }
}
