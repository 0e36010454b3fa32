/**
 * The runner process SIGKILLed mid-turn (no chance to report or to stop its CLI): serve ends the
 * session `Failed` with the exit code and the tail of the runner's output, and ends the CLI and
 * the command it was running, which would otherwise go on with the turn on their own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertNoneLeft,
  createSession,
  getSession,
  history,
  isAlive,
  isToolCall,
  phasesOf,
  startE2e,
  waitFor,
  waitForEntry,
  waitForSessionProcesses,
  type E2e,
} from './helpers.js';

let e2e: E2e;
before(async () => {
  e2e = await startE2e();
});
after(async () => {
  await e2e?.close();
});

describe('the runner process killed', () => {
  it('ends the session Failed with exit code 137 and the output tail; its CLI is not left behind', async () => {
    const { serve } = e2e;
    const name = (await createSession(serve, { prompt: '[[scenario:cp-stuck]] lose your runner' }))
      .metadata.name;
    await waitForEntry(() => serve, name, isToolCall, 'the first tool call');
    // Mid-turn: the runner, its CLI and the CLI's `sleep` are all alive.
    const procs = await waitForSessionProcesses(e2e.dataDir, name);
    process.kill(procs.runner, 'SIGKILL');

    const s = await waitFor(
      async () => {
        const cur = await getSession(serve, name);
        return cur.status.phase !== 'Running' ? cur : undefined;
      },
      'the session to end',
      30_000,
      100,
    );
    assert.equal(s.status.phase, 'Failed');
    assert.equal(s.status.exitCode, 137, '128 + SIGKILL, as a shell reports it');
    const message = String(s.status.message);
    assert.match(
      message,
      /^the runner was killed by SIGKILL \(exit code 137\) without reporting a result; last output:\n/,
    );
    assert.match(
      message,
      /runner\.socket: connected to the backend/,
      'the tail of what the runner wrote',
    );
    assert.ok(s.status.completionTime, 'a completion time');

    const h = await history(serve, name);
    assert.deepEqual(phasesOf(h), ['Pending', 'Creating', 'Running', 'Failed']);
    const failed = h.at(-1)!;
    assert.equal(failed.payload.level, 'error', 'the failure is an error in the history');
    assert.equal(failed.payload.data?.message, message);

    for (const pid of procs.others)
      await waitFor(() => !isAlive(pid), `process ${pid} (CLI or command) to be ended`, 10_000);
    await assertNoneLeft(e2e.dataDir);
  });
});
