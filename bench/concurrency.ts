/**
 * concurrent_sessions_completed: 16 sessions created at once through the API of a real `serve`,
 * each started by the local executor as a real runner with its real CLI against the scripted
 * model (the shipped five-step tool loop), counted when every one has ended.
 */
import { createSession, getSession, TERMINAL, waitFor } from '../src/testing/session-api.js';
import { serveEnv, startBenchServe, type BenchContext } from './fixtures.js';
import { promptFor, SHORT } from './scenarios.js';
import { nsToMs } from './stats.js';

export interface ConcurrencyResult {
  concurrent_sessions_completed: number;
  details: {
    sessions: number;
    wall_ms: number;
    phases: Record<string, number>;
    failures: string[];
  };
}

export async function concurrency(
  ctx: BenchContext,
  opts: { sessions: number },
): Promise<ConcurrencyResult> {
  const serve = await startBenchServe(serveEnv(ctx), { maxConcurrent: opts.sessions });
  try {
    const start = process.hrtime.bigint();
    const created = await Promise.all(
      Array.from({ length: opts.sessions }, () =>
        createSession(serve, { prompt: promptFor(SHORT) }),
      ),
    );
    const names = created.map((s) => s.metadata.name);
    const ended = await waitFor(
      async () => {
        const all = await Promise.all(names.map((n) => getSession(serve, n)));
        return all.every((s) => TERMINAL.includes(s.status.phase)) && all;
      },
      `${opts.sessions} sessions to end`,
      600_000,
      200,
    );
    const wallMs = nsToMs(process.hrtime.bigint() - start);
    const phases: Record<string, number> = {};
    for (const s of ended) phases[s.status.phase] = (phases[s.status.phase] ?? 0) + 1;
    const failures = ended
      .filter((s) => s.status.phase !== 'Completed')
      .map(
        (s) => `${s.metadata.name}: ${s.status.phase}: ${(s.status.message ?? '').slice(0, 300)}`,
      );
    return {
      concurrent_sessions_completed: phases.Completed ?? 0,
      details: { sessions: opts.sessions, wall_ms: wallMs, phases, failures },
    };
  } finally {
    await serve.stop();
  }
}
