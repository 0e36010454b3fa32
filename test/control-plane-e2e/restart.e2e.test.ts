/**
 * `serve` killed (SIGKILL, serve alone) and restarted on the same port and data dir while two
 * sessions are mid-turn. One runner survives: the new serve adopts it, it reconnects, resends
 * what was not stored, and the session completes with a history holding every frame exactly
 * once. The other runner is killed while serve is down: the new serve finds it gone and ends
 * the session Failed with a clear message, and ends the CLI it left behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertNoneLeft,
  assertWellNumbered,
  createSession,
  getSession,
  history,
  isAlive,
  isResult,
  isToolCall,
  isToolResult,
  resultOf,
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

describe('serve killed and restarted mid-session', () => {
  it('a surviving runner reconnects and completes with a complete history; a vanished one ends Failed', async () => {
    const survivor = (
      await createSession(e2e.serve, { prompt: '[[scenario:cp-slow]] survive the restart' })
    ).metadata.name;
    const vanished = (
      await createSession(e2e.serve, { prompt: '[[scenario:cp-stuck]] vanish during the restart' })
    ).metadata.name;
    // Both are mid-turn: their first tool call is stored and its command runs (the survivor has
    // three more seconds of work ahead; the other one's command would run for two minutes).
    for (const name of [survivor, vanished])
      await waitForEntry(() => e2e.serve, name, isToolCall, `${name}'s first tool call`);
    const storedBefore = (await history(e2e.serve, survivor)).length;
    const gone = await waitForSessionProcesses(e2e.dataDir, vanished);
    const oldPid = e2e.serve.pid;

    await e2e.killServe();
    process.kill(gone.runner, 'SIGKILL');
    await waitFor(() => !isAlive(gone.runner), 'the killed runner to go');
    const serve = await e2e.restartServe();
    assert.notEqual(serve.pid, oldPid, 'a new serve');

    const ended = await waitFor(
      async () => {
        const s = await getSession(serve, survivor);
        return s.status.exitCode !== undefined ? s : undefined;
      },
      'the adopted run to end',
      60_000,
      100,
    );
    assert.equal(ended.status.phase, 'Completed', ended.status.message);
    assert.equal(ended.status.result, 'All steps done: step-3');
    assert.equal(
      ended.status.exitCode,
      null,
      'the exit code of an adopted runner is unknown (it is not our child)',
    );
    const h = await history(serve, survivor);
    assert.ok(h.length > storedBefore, 'frames arrived after the restart');
    assertWellNumbered(h, 'the survivor');
    assert.equal(h.filter(isToolCall).length, 4, 'every tool call, once');
    assert.equal(h.filter(isToolResult).length, 4, 'every tool result, once');
    assert.deepEqual(
      h.filter(isResult).map((e) => resultOf(e).result),
      ['All steps done: step-3'],
    );
    const out = serve.output().stderr;
    assert.match(out, /adopted a runner started by an earlier serve/);
    // It reconnected to the new serve, which told it what was already stored (its ack).
    assert.match(
      out,
      new RegExp(`runner connected \\{"session":"${survivor}","run":1,"resumeAfter":[1-9]`),
    );

    const failed = await getSession(serve, vanished);
    assert.equal(failed.status.phase, 'Failed');
    assert.match(
      String(failed.status.message),
      new RegExp(
        `the runner \\(pid ${gone.runner}\\) ended while the control plane was down; exit code unknown`,
      ),
    );
    // Its CLI, orphaned by the kill, was ended by the new serve rather than left to finish the turn.
    for (const pid of gone.others)
      await waitFor(
        () => !isAlive(pid),
        `process ${pid} (CLI or command) of the vanished session to be ended`,
        10_000,
      );
    await assertNoneLeft(e2e.dataDir);
  });
});
