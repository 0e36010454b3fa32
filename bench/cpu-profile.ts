/**
 * Preloaded into `serve` when BENCH_PROFILE=<dir> is set (through NODE_OPTIONS, which does not
 * allow --cpu-prof): records a CPU profile with the inspector and writes
 * <dir>/serve-<pid>.cpuprofile when serve is told to stop. Open it in Chrome DevTools or VS Code.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_PROFILE;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable', () =>
    session.post('Profiler.setSamplingInterval', { interval: 250 }, () =>
      session.post('Profiler.start'),
    ),
  );
  let written = false;
  const stop = () => {
    if (written) return;
    written = true;
    session.post('Profiler.stop', (err, res) => {
      if (!err)
        writeFileSync(
          path.join(dir, `serve-${process.pid}.cpuprofile`),
          JSON.stringify(res.profile),
        );
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
