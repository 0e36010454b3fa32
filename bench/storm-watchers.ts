/**
 * The watchers of the catch-up storm (bench/catch-up-storm.ts), in a process of their own so
 * that parsing their frames does not delay the benchmark's own clocks (the runner's acks, the
 * `/health` answers). Opens every watcher at once with `after_seq=0`, waits until each has reached
 * the target seq (or closed), and writes one JSON line per event on stdout:
 *
 *   {"event":"open","ms":…}   every socket upgraded (ms since start)
 *   {"event":"done","ms":…,"caughtUp":…,"outOfOrder":…,"queued":…,"closed":{code:count}}
 *
 *   node dist/bench/storm-watchers.js <socket url> <watchers> <target seq>   (token: BENCH_TOKEN)
 */
import { LeanWatcher } from './clients.js';

async function main(): Promise<void> {
  const [url, count, target] = process.argv.slice(2);
  const token = process.env.BENCH_TOKEN;
  if (!url || !count || !target || !token)
    throw new Error('usage: storm-watchers <url> <watchers> <target seq> (BENCH_TOKEN set)');
  const start = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - start) / 1e6;
  const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
  let queued = 0;
  const watchers = Array.from(
    { length: Number(count) },
    () =>
      new LeanWatcher(url, token, {
        onNotice: (raw) => {
          if (raw.includes('"catchup.queued"')) queued++;
        },
      }),
  );
  try {
    await Promise.all(watchers.map((w) => w.opened));
    say({ event: 'open', ms: ms() });
    await Promise.all(watchers.map((w) => w.reach(Number(target))));
    const closed: Record<string, number> = {};
    for (const w of watchers)
      if (w.closeCode !== undefined) closed[w.closeCode] = (closed[w.closeCode] ?? 0) + 1;
    say({
      event: 'done',
      ms: ms(),
      caughtUp: watchers.filter((w) => w.lastSeq >= Number(target) && w.closeCode === undefined)
        .length,
      outOfOrder: watchers.reduce((n, w) => n + w.outOfOrder, 0),
      queued,
      closed,
    });
  } finally {
    for (const w of watchers) w.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`storm-watchers: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
