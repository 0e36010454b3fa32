/**
 * An interactive session driven only through the REST API (`POST …/messages`): no prompt, two
 * user messages, an interrupt of the second (slow) answer, then an end. The real runner and CLI
 * behind a real serve; the history tells what happened, the status how it ended.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  assertNoneLeft,
  assertWellNumbered,
  createSession,
  eventOf,
  getSession,
  history,
  isResult,
  PROJECT,
  resultOf,
  startE2e,
  waitFor,
  waitForEntry,
  type E2e,
  type Entry,
} from './helpers.js';

let e2e: E2e;
before(async () => {
  e2e = await startE2e();
});
after(async () => {
  await e2e?.close();
});

const textOf = (e: Entry): string | undefined =>
  (e.payload.content as { text?: string } | undefined)?.text;
const count = (h: Entry[], type: string) => h.filter((e) => e.type === type).length;

describe('an interactive session through POST …/messages', () => {
  it('two user messages, an interrupt, an end: Completed, one conversation, all in the history', async () => {
    const { serve } = e2e;
    const s = await createSession(serve, { prompt: '', interactive: true });
    const name = s.metadata.name;
    const messages = `/projects/${PROJECT}/sessions/${name}/messages`;
    const send = async (body: Record<string, unknown>) => {
      const res = await serve.api('POST', messages, body);
      assert.equal(res.status, 202, res.text);
      return res.json as { id: number; type: string; delivered: boolean; seq?: number };
    };
    const entries = (pred: (e: Entry) => boolean, what: string) =>
      waitForEntry(() => e2e.serve, name, pred, what);

    // No prompt: the runner says it is ready and waits.
    await entries((e) => eventOf(e) === 'chat.ready', 'chat ready');
    await entries((e) => e.type === 'agent.waiting', 'waiting for the first message');

    const first = await send({ content: '[[scenario:cp-chat]] first question' });
    assert.equal(first.type, 'user_message');
    assert.equal(typeof first.seq, 'number', 'a user message is part of the history');
    await waitFor(
      async () => count(await history(serve, name), 'agent.waiting') >= 2,
      'the first answer',
      30_000,
      100,
    );

    // The second message gets a slow answer: interrupt it while it streams.
    await send({ type: 'user.message', text: '[[scenario:cp-chat]] take your time' });
    const firstEnd = (await history(serve, name)).filter(isResult)[0]!.seq;
    await waitFor(
      async () =>
        (await history(serve, name)).filter((e) => e.seq > firstEnd && e.type === 'message.partial')
          .length >= 3,
      'the slow answer streaming',
      30_000,
      100,
    );
    assert.equal((await send({ type: 'interrupt' })).type, 'interrupt');
    await waitFor(
      async () => count(await history(serve, name), 'agent.waiting') >= 3,
      'waiting again after the interrupt',
      30_000,
      100,
    );

    await send({ type: 'end_session' });
    const done = await waitFor(
      async () => {
        const cur = await getSession(serve, name);
        return cur.status.exitCode !== undefined ? cur : undefined;
      },
      'the run to end',
      30_000,
      100,
    );
    assert.equal(done.status.phase, 'Completed', done.status.message);
    assert.equal(done.status.message, 'Session ended by the user');
    assert.equal(done.status.exitCode, 0);

    const h = await history(serve, name);
    assertWellNumbered(h, 'interactive history');
    const users = h.filter((e) => e.type === 'user_message');
    assert.deepEqual(
      users.map((e) => [e.payload.content, e.payload.via]),
      [
        ['[[scenario:cp-chat]] first question', 'api'],
        ['[[scenario:cp-chat]] take your time', 'api'],
      ],
      'both user messages, in order, marked as sent through the API',
    );
    assert.ok(
      h.some((e) => textOf(e) === 'First answer.'),
      'the first answer',
    );
    assert.ok(
      !h.some((e) => textOf(e)?.endsWith('before it ends.')),
      'the slow answer was cut short',
    );
    assert.deepEqual(
      h
        .map(eventOf)
        .filter(
          (ev) =>
            ev === 'turn.interrupted' || ev === 'interactive.ended' || ev === 'session.completed',
        ),
      ['turn.interrupted', 'interactive.ended', 'session.completed'],
    );
    assert.equal(count(h, 'agent.running'), 2, 'a turn per user message');
    const results = h.filter(isResult).map(resultOf);
    assert.equal(new Set(results.map((r) => r.session_id)).size, 1, 'one conversation');
    assert.equal(done.status.session_id, results[0]!.session_id);
    // Each user message came before the turn it started.
    const runningSeqs = h.filter((e) => e.type === 'agent.running').map((e) => e.seq);
    assert.ok(
      users[0]!.seq < runningSeqs[0]! && users[1]!.seq < runningSeqs[1]!,
      'message, then its turn',
    );

    // The session is over: more messages are refused with a way out.
    const late = await serve.api('POST', messages, { content: 'anyone?' });
    assert.equal(late.status, 409);
    assert.match(late.text, /start it again/);
    await assertNoneLeft(e2e.dataDir);
  });
});
