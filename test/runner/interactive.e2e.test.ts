// End-to-end: interactive sessions and a backend connection that drops, with the real CLI.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { RecordedFrame } from '../support/fake-backend.js';
import { harness, startRunner, type Harness } from './harness.js';

const isResult = (f: RecordedFrame) => (f.payload as { type?: string }).type === 'result.message';
const textOf = (f: RecordedFrame) => (f.payload as { content?: { text?: string } }).content?.text;

describe('interactive sessions', () => {
  let h: Harness;
  before(async () => {
    h = await harness({
      scenarios: [
        {
          name: 'chat',
          turns: [
            { match: 'first question', steps: [{ text: 'First answer.' }] },
            {
              match: 'take your time',
              steps: [
                {
                  text: 'This is a very long and slow answer that will be interrupted before it ends.',
                  chunkSize: 2,
                  chunkDelayMs: 200,
                },
              ],
            },
            {
              match: 'second question',
              steps: [{ text: 'Second answer, still in the same conversation.' }],
            },
          ],
        },
        {
          name: 'slow-stream',
          turns: [
            {
              steps: [
                {
                  text: 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen',
                  chunkSize: 4,
                  chunkDelayMs: 60,
                },
                { text: 'Finished.' },
              ],
            },
          ],
        },
      ],
    });
  });
  after(async () => h.cleanup());
  beforeEach(() => h.backend.reset());

  test('two user messages with an interrupt in between, then end_session', async () => {
    const p = startRunner(h.env, {
      INTERACTIVE: 'true',
      PROMPT: '[[scenario:chat]] first question',
    });
    try {
      await h.backend.waitForFrame(
        (f) => f.type === 'agent.waiting',
        30_000,
        'agent.waiting after turn 1',
      );
      assert.ok(h.backend.frames.some((f) => textOf(f) === 'First answer.'));

      h.backend.command('user_message', { content: '[[scenario:chat]] take your time' });
      const firstResult = h.backend.frames.findIndex(isResult);
      await h.backend.waitFor(
        () =>
          h.backend.frames.slice(firstResult).filter((f) => f.type === 'message.partial').length >=
          3,
        20_000,
        'slow answer streaming',
      );
      h.backend.command('interrupt');
      await h.backend.waitFor(
        () => h.backend.frames.filter((f) => f.type === 'agent.waiting').length === 2,
        20_000,
        'waiting after interrupt',
      );
      assert.ok(
        !h.backend.frames.some((f) => textOf(f)?.endsWith('before it ends.')),
        'the slow answer was cut short',
      );

      h.backend.command('user.message', { text: '[[scenario:chat]] second question' });
      await h.backend.waitFor(
        () => h.backend.frames.filter((f) => f.type === 'agent.waiting').length === 3,
        20_000,
        'waiting after turn 3',
      );
      assert.ok(
        h.backend.frames.some(
          (f) => textOf(f) === 'Second answer, still in the same conversation.',
        ),
      );

      h.backend.command('end_session');
      const { code } = await p.exit;
      assert.equal(code, 0, p.stderr());
    } finally {
      p.child.kill('SIGKILL');
    }
    const frames = h.backend.uniqueFrames;
    // One conversation: every result carries the same CLI session id.
    const sessionIds = new Set(
      frames
        .filter(isResult)
        .map((f) => (f.payload as { payload: { session_id: string } }).payload.session_id),
    );
    assert.equal(sessionIds.size, 1);
    assert.equal(
      frames.filter((f) => f.type === 'agent.running').length,
      3,
      'a turn start per user message',
    );
    assert.ok(frames.some((f) => f.payload.event === 'interactive.ended'));
    const final = h.backend.statuses.at(-1)!;
    assert.equal(final.phase, 'Completed');
    assert.equal(final.session_id, [...sessionIds][0]);
  });

  test('interactive without a prompt waits for the first message over the socket', async () => {
    const p = startRunner(h.env, { INTERACTIVE: 'true', PROMPT: '' });
    try {
      await h.backend.waitForFrame((f) => f.payload.event === 'chat.ready', 20_000);
      await h.backend.waitForFrame((f) => f.type === 'agent.waiting', 20_000);
      h.backend.command('ping');
      h.backend.command('no_such_type', { x: 1 });
      h.backend.command('user_message', { content: '[[scenario:chat]] first question' });
      await h.backend.waitForFrame((f) => textOf(f) === 'First answer.', 30_000);
      h.backend.command('terminate');
      assert.equal((await p.exit).code, 0, p.stderr());
    } finally {
      p.child.kill('SIGKILL');
    }
    assert.ok(
      p.stderr().includes('ignored a message from the backend: unknown type no_such_type'),
      'unknown types are logged',
    );
  });

  test('commands that arrive while the runner starts (acked at once) are acted on: a first message runs, an end ends it', async () => {
    // The control plane delivers queued commands the moment the runner connects, while the SDK
    // is still loading; the runner acks them then, so none may be left waiting in its queue.
    const atConnect = async (command: Record<string, unknown>) => {
      const p = startRunner(h.env, { INTERACTIVE: 'true', PROMPT: '' });
      await h.backend.waitFor(() => h.backend.connected, 20_000, 'the runner to connect');
      h.backend.sendRaw(JSON.stringify(command));
      return p;
    };
    const first = await atConnect({
      type: 'user_message',
      payload: { content: '[[scenario:chat]] first question' },
      deliveryId: 7,
    });
    try {
      await h.backend.waitForFrame((f) => textOf(f) === 'First answer.', 30_000, 'the answer');
      h.backend.command('terminate');
      assert.equal((await first.exit).code, 0, first.stderr());
    } finally {
      first.child.kill('SIGKILL');
    }
    assert.ok(
      h.backend.rawFrames.some((t) => t.includes('"command.ack"') && t.includes('"id":7')),
      'the message was acked',
    );

    h.backend.reset();
    const ended = await atConnect({ type: 'end_session', payload: {}, deliveryId: 8 });
    const timer = setTimeout(() => ended.child.kill('SIGKILL'), 30_000);
    try {
      assert.equal((await ended.exit).code, 0, ended.stderr());
    } finally {
      clearTimeout(timer);
      ended.child.kill('SIGKILL');
    }
    assert.equal(h.backend.statuses.at(-1)?.phase, 'Completed');
    assert.ok(!h.backend.frames.some((f) => f.type === 'agent.running'), 'no turn was started');
  });

  test('the socket dropped mid-stream, twice: every seq arrives exactly once, in order', async () => {
    const p = startRunner(h.env, { PROMPT: '[[scenario:slow-stream]] go' });
    try {
      for (let drop = 0; drop < 2; drop++) {
        const seen = h.backend.frames.filter((f) => f.type === 'message.partial').length;
        await h.backend.waitFor(
          () => h.backend.frames.filter((f) => f.type === 'message.partial').length >= seen + 3,
          20_000,
          `partials before drop ${drop + 1}`,
        );
        h.backend.drop();
      }
      assert.equal((await p.exit).code, 0, p.stderr());
    } finally {
      p.child.kill('SIGKILL');
    }
    assert.ok(
      h.backend.connections.length >= 3,
      `reconnected twice (connections: ${h.backend.connections.length})`,
    );
    const seqs = h.backend.rawFrames
      .map((r) => (JSON.parse(r) as { seq?: number }).seq)
      .filter((s): s is number => typeof s === 'number');
    const unique = [...new Set(seqs)].sort((a, b) => a - b);
    assert.deepEqual(
      unique,
      unique.map((_s, i) => i + 1),
      'no gap',
    );
    assert.equal(seqs.length, unique.length, 'none twice');
    assert.ok(h.backend.frames.some((f) => f.payload.event === 'session.completed'));
    assert.equal(h.backend.statuses.at(-1)!.phase, 'Completed');
  });
});
