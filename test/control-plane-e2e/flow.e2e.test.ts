/**
 * The seed's flow through the real control plane and the real runner, four sessions at once
 * under `--max-concurrent 2`: create, phases seen in order, `Completed` with the result summary,
 * the history with the tool call, its result and the turn's result, delete, 404. One scenario
 * proves the queue too: the last two wait as Pending, and never more than two hold a slot.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SDK_SESSION_ANNOTATION } from '../../src/protocol/status.js';
import {
  API_KEY,
  assertNoneLeft,
  assertWellNumbered,
  createSession,
  eventOf,
  history,
  isResult,
  isToolCall,
  isToolResult,
  phasesOf,
  PROJECT,
  resultOf,
  startE2e,
  waitFor,
  watch,
  type E2e,
  type Entry,
  type SessionJson,
} from './helpers.js';

const LIMIT = 2;
const SESSIONS = 4;
const ORDER = ['Pending', 'Creating', 'Running', 'Completed'];
const S = `/projects/${PROJECT}/agentic-sessions`;

interface Outcome {
  created: SessionJson[];
  final: SessionJson[];
  histories: Entry[][];
  /** Per session, the distinct phases the poller saw, in order. */
  polled: string[][];
  /** The most sessions the poller saw holding a slot (Creating or Running) in one answer. */
  polledMaxLive: number;
  watched: Entry[];
}

let e2e: E2e;
let outcome: Outcome | undefined;

before(async () => {
  e2e = await startE2e({ maxConcurrent: LIMIT });
});
after(async () => {
  await e2e?.close();
});

/** The most intervals open at once; at equal times an end comes first (see the comment below). */
function maxOverlap(intervals: { start: number; end: number }[]): number {
  const points = intervals.flatMap((i) => [
    { t: i.start, d: 1 },
    { t: i.end, d: -1 },
  ]);
  points.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (open += p.d));
  return max;
}

function phaseTime(entries: Entry[], phase: string): number {
  const e = entries.find(
    (x) => x.payload.event === 'phase.changed' && x.payload.data?.phase === phase,
  );
  assert.ok(e, `a ${phase} phase entry`);
  return Date.parse((e as Entry & { timestamp: string }).timestamp);
}

describe(`the seed's flow: ${SESSIONS} sessions with --max-concurrent ${LIMIT}`, () => {
  it('each goes Pending → Creating → Running → Completed with the result summary; never more than 2 run at once', async () => {
    const { serve } = e2e;
    const created: SessionJson[] = [];
    for (let i = 0; i < SESSIONS; i++)
      created.push(
        await createSession(serve, {
          prompt: `[[scenario:write-file]] Create hello.txt (${i + 1})`,
        }),
      );
    const names = created.map((s) => s.metadata.name);
    const watcher = watch(serve, names[0]!);
    await watcher.opened;

    // The first two got a slot while being created; the others wait for one.
    assert.deepEqual(
      created.map((s) => s.status.phase),
      ['Creating', 'Creating', 'Pending', 'Pending'],
    );
    assert.equal(created[2]!.status.message, 'waiting for a runner slot');

    // Poll as the seed's test does, until every run is over (its process gone: exitCode is set).
    const polled = names.map((): string[] => []);
    let polledMaxLive = 0;
    const final = await waitFor(
      async () => {
        const res = await serve.api('GET', S);
        assert.equal(res.status, 200);
        const mine = names.map((n) =>
          (res.json as { items: SessionJson[] }).items.find((s) => s.metadata.name === n)!,
        );
        polledMaxLive = Math.max(
          polledMaxLive,
          mine.filter((s) => ['Creating', 'Running'].includes(s.status.phase)).length,
        );
        mine.forEach(
          (s, i) => polled[i]!.at(-1) !== s.status.phase && polled[i]!.push(s.status.phase),
        );
        return mine.every((s) => s.status.exitCode !== undefined) ? mine : undefined;
      },
      'every run to end',
      120_000,
      50,
    );
    const histories = await Promise.all(names.map((n) => history(serve, n)));
    await waitFor(
      () => watcher.frames.length >= histories[0]!.length,
      'the watcher to see the whole history',
    );
    watcher.ws.close();
    outcome = { created, final, histories, polled, polledMaxLive, watched: watcher.frames };

    for (const [i, s] of final.entries()) {
      const what = `session ${i + 1}`;
      assert.equal(s.status.phase, 'Completed', `${what}: ${s.status.message}`);
      assert.equal(s.status.message, 'Session completed');
      assert.equal(s.status.exitCode, 0);
      assert.deepEqual(phasesOf(histories[i]!), ORDER, `${what}: phase changes in the history`);
      assert.deepEqual(
        polled[i]!.filter((p) => !ORDER.includes(p)),
        [],
        `${what}: only expected phases polled`,
      );
      assert.deepEqual(
        polled[i],
        ORDER.filter((p) => polled[i]!.includes(p)),
        `${what}: polled phases in order`,
      );
      // The result summary of contract §4, as the runner reported it.
      const st = s.status as Record<string, unknown> & {
        usage?: { input_tokens: number; output_tokens: number };
      };
      assert.equal(st.subtype, 'success');
      assert.equal(st.is_error, false);
      assert.equal(st.num_turns, 2, 'the Write call and the answer');
      assert.equal(typeof st.total_cost_usd, 'number');
      assert.ok(
        (st.usage?.input_tokens ?? 0) > 0 && (st.usage?.output_tokens ?? 0) > 0,
        'usage counted',
      );
      const cwd = path.join(e2e.dataDir, 'workspaces', s.metadata.name, 'artifacts');
      assert.equal(st.result, `Done: I wrote hello.txt in ${cwd}.`);
      assert.equal(
        readFileSync(path.join(cwd, 'hello.txt'), 'utf8'),
        'Hello from the scripted model!\n',
      );
      assert.ok(typeof st.session_id === 'string' && st.session_id, 'the CLI session id');
      assert.equal(
        s.metadata.annotations[SDK_SESSION_ANNOTATION],
        st.session_id,
        'the runner recorded its CLI session for a continuation',
      );
    }

    // The limit, by the phase timestamps serve wrote: a run holds its slot from Creating until its
    // process has exited, which is after it reported Completed; serve writes the next run's
    // Creating only after that exit, so at an equal millisecond the end came first.
    const intervals = histories.map((h) => ({
      start: phaseTime(h, 'Creating'),
      end: phaseTime(h, 'Completed'),
    }));
    assert.equal(
      maxOverlap(intervals),
      LIMIT,
      `at most ${LIMIT} (and, with 4 queued, exactly ${LIMIT}) runs at once`,
    );
    assert.ok(polledMaxLive <= LIMIT, `the poller saw ${polledMaxLive} sessions running at once`);
    for (const late of intervals.slice(LIMIT))
      assert.ok(
        intervals.slice(0, LIMIT).some((early) => early.end <= late.start),
        'a queued session started only once a slot was freed',
      );
  });

  it('the history holds the tool call, its result and the turn result, numbered without gap or repeat; watchers saw the same', () => {
    assert.ok(outcome, 'the sessions ran');
    for (const [i, h] of outcome.histories.entries()) {
      const what = `session ${i + 1}`;
      assertWellNumbered(h, what);
      const call = h.find(isToolCall);
      assert.ok(call, `${what}: a tool call`);
      assert.equal(call.payload.tool, 'Write');
      assert.match(
        String((call.payload.input as { file_path?: string }).file_path),
        /\/artifacts\/hello\.txt$/,
      );
      const result = h.find(isToolResult);
      assert.ok(result, `${what}: a tool result`);
      const tr = result.payload.tool_result as { tool_use_id: string; is_error: boolean };
      assert.equal(tr.tool_use_id, call.payload.id, 'the result answers that call');
      assert.equal(tr.is_error, false);
      const end = h.filter(isResult);
      assert.equal(end.length, 1, `${what}: one result.message`);
      assert.ok(
        call.seq < result.seq && result.seq < end[0]!.seq,
        'call, result, end of turn: in that order',
      );
      const r = resultOf(end[0]!);
      const status = outcome.final[i]!.status as Record<string, unknown>;
      for (const k of ['num_turns', 'session_id', 'result', 'total_cost_usd'] as const)
        assert.deepEqual(r[k], status[k], `${what}: ${k} as in the status`);
      assert.deepEqual(
        h.map(eventOf).filter((ev) => ev === 'session.started' || ev === 'session.completed'),
        ['session.started', 'session.completed'],
      );
      assert.ok(h.every((e) => e.sessionId === outcome!.final[i]!.metadata.name && e.run === 1));
      assert.ok(!JSON.stringify(h).includes(API_KEY), 'the API key is nowhere in the history');
    }
    // A watcher from the start received exactly the stored history, live.
    assert.deepEqual(outcome.watched, outcome.histories[0]);
  });

  it('delete: 204, then 404 for the session and its history; workspace and logs gone; no process left', async () => {
    assert.ok(outcome, 'the sessions ran');
    const { serve } = e2e;
    for (const s of outcome.final) {
      const name = s.metadata.name;
      assert.equal((await serve.api('DELETE', `${S}/${name}`)).status, 204);
      assert.equal((await serve.api('GET', `${S}/${name}`)).status, 404);
      assert.equal(
        (await serve.api('GET', `/projects/${PROJECT}/sessions/${name}/messages`)).status,
        404,
      );
      assert.equal(
        existsSync(path.join(e2e.dataDir, 'workspaces', name)),
        false,
        'workspace removed',
      );
      assert.equal(existsSync(path.join(e2e.dataDir, 'logs', name)), false, 'logs removed');
    }
    const list = (await serve.api('GET', S)).json as { items: unknown[] };
    assert.deepEqual(list.items, []);
    await assertNoneLeft(e2e.dataDir);
  });
});
