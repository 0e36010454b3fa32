/**
 * The socket hub against a real `serve` hosting the fake runner (or the test playing the runner
 * with a run's BOT_TOKEN): fan-out, after_seq, slow watchers, acks, repeats, queued messages.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { runnerProcesses, startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import {
  contiguous,
  createSession,
  fakeRunner,
  history,
  PROJECT,
  readWorkspaceJson,
  waitFor,
  waitForPhase,
  watch,
  type Entry,
  type WatcherClient,
} from './helpers.js';

const S = `/projects/${PROJECT}/agentic-sessions`;
const ended = (w: WatcherClient, phase = 'Completed') =>
  w.frames.some((f) => f.payload.event === 'phase.changed' && f.payload.data?.phase === phase);

function socketUrl(serve: ServeHandle, name: string, query = ''): string {
  return `${serve.url.replace(/^http/, 'ws')}/api/projects/${PROJECT}/sessions/${name}/ws${query}`;
}

/** A raw client playing the runner. */
function runnerSocket(serve: ServeHandle, name: string, token: string) {
  const ws = new WebSocket(socketUrl(serve, name), {
    headers: { authorization: `Bearer ${token}` },
  });
  const received: { type: string; payload: Record<string, unknown> }[] = [];
  ws.on('message', (d) => received.push(JSON.parse(d.toString()) as (typeof received)[number]));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  opened.catch(() => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const frame = (seq: number, type = 'agent.running', payload: unknown = {}) =>
    JSON.stringify({ seq, type, timestamp: new Date().toISOString(), payload });
  return {
    ws,
    received,
    opened,
    closed,
    frame,
    acks: () => received.filter((m) => m.type === 'ack').map((m) => Number(m.payload.seq)),
  };
}

async function idleSession(serve: ServeHandle): Promise<{ name: string; botToken: string }> {
  const s = await createSession(serve, {
    prompt: 'idle',
    environmentVariables: { FAKE_MODE: 'idle' },
  });
  const env = await waitFor(() => {
    try {
      return readWorkspaceJson(serve, s.metadata.name, 'env.json') as Record<string, string>;
    } catch {
      return undefined;
    }
  }, 'env.json');
  return { name: s.metadata.name, botToken: env.BOT_TOKEN! };
}

describe('hub: fan-out and history', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({ runnerCommand: fakeRunner(), graceMs: 2000 });
  });
  after(async () => {
    const dir = serve.dataDir;
    await serve.stop();
    assert.deepEqual(runnerProcesses(dir), []);
  });

  it('two watchers receive identical streams; a late watcher with after_seq misses nothing', async () => {
    const s = await createSession(serve, {
      prompt: 'p',
      environmentVariables: { FAKE_MODE: 'trickle', FAKE_FRAMES: '40', FAKE_INTERVAL_MS: '10' },
    });
    const name = s.metadata.name;
    const a = watch(serve, name);
    const b = watch(serve, name, { queryToken: true });
    await Promise.all([a.opened, b.opened]);
    const k = await waitFor(
      () =>
        a.frames.filter((f) => f.type === 'agent.message').length >= 10 &&
        a.frames[a.frames.length - 1]!.seq,
      'some frames',
    );
    const late = watch(serve, name, { afterSeq: k });
    await late.opened;
    await waitFor(() => ended(a) && ended(b) && ended(late), 'all three to see the end');
    const all = await history(serve, name);
    assert.ok(all.length > 45);
    assert.ok(contiguous(a.frames), 'no gap, no repeat');
    assert.deepEqual(a.frames, all);
    assert.deepEqual(b.frames, a.frames);
    assert.deepEqual(
      late.frames,
      a.frames.filter((f) => f.seq > k),
    );
    for (const f of a.frames) assert.equal(f.sessionId, name);
    const runnerFrames = a.frames.filter((f) => f.runSeq !== undefined);
    assert.deepEqual(
      runnerFrames.map((f) => f.runSeq),
      runnerFrames.map((_f, i) => i + 1),
      "runSeq is the runner's own 1…n",
    );
    assert.ok(runnerFrames.every((f) => f.run === 1));
    for (const w of [a, b, late]) w.ws.close();
  });

  it('the runner protocol: ack on connect and after frames, repeats and invalid frames dropped, pongs not stored', async () => {
    const { name, botToken } = await idleSession(serve);
    const watcher = watch(serve, name);
    await watcher.opened;
    const r1 = runnerSocket(serve, name, botToken);
    await r1.opened;
    await waitFor(() => r1.acks().length > 0, 'the greeting ack');
    assert.equal(r1.acks()[0], 0);
    r1.ws.send(r1.frame(1));
    r1.ws.send(
      r1.frame(2, 'agent.message', {
        type: 'agent_message',
        content: { type: 'text_block', text: 'hi sk-ant-api03-abcdefghijklmnop' },
      }),
    );
    r1.ws.send(r1.frame(2)); // a repeat
    r1.ws.send(JSON.stringify({ seq: 3, type: 'agent.message', payload: { nonsense: true } })); // invalid
    r1.ws.send('not json');
    r1.ws.send(JSON.stringify({ type: 'pong', timestamp: new Date().toISOString(), payload: {} }));
    r1.ws.send(r1.frame(3, 'agent.waiting'));
    await waitFor(() => r1.acks().includes(3), 'ack 3');
    const h = (await history(serve, name)).filter((e) => e.runSeq !== undefined);
    assert.deepEqual(
      h.map((e) => [e.runSeq, e.type]),
      [
        [1, 'agent.running'],
        [2, 'agent.message'],
        [3, 'agent.waiting'],
      ],
    );
    assert.doesNotMatch(JSON.stringify(h), /sk-ant-api03/, 'stored frames are redacted');
    await waitFor(() => watcher.frames.some((f) => f.runSeq === 3), 'the watcher to see frame 3');
    assert.deepEqual(
      watcher.frames.filter((f) => f.runSeq).map((f) => f.runSeq),
      [1, 2, 3],
    );

    // a second connection of the same run replaces the first and resumes after 3
    const r2 = runnerSocket(serve, name, botToken);
    await r2.opened;
    assert.equal(await r1.closed, 4009);
    await waitFor(() => r2.acks().length > 0, 'greeting on reconnect');
    assert.equal(r2.acks()[0], 3);
    r2.ws.send(r2.frame(3)); // resent after reconnect: dropped
    r2.ws.send(r2.frame(4));
    await waitFor(() => r2.acks().includes(4), 'ack 4');
    assert.deepEqual(
      (await history(serve, name)).filter((e) => e.runSeq).map((e) => e.runSeq),
      [1, 2, 3, 4],
    );

    // watcher commands reach the runner; pings are answered; bad commands get an error notice
    watcher.send({ type: 'user_message', payload: { content: 'hello runner' } });
    watcher.send({ type: 'interrupt', payload: {} });
    watcher.send({ type: 'ping' });
    watcher.send({ type: 'ack', payload: { seq: 1 } });
    watcher.send({ type: 'bogus' });
    await waitFor(
      () => r2.received.some((m) => m.type === 'interrupt'),
      'the interrupt at the runner',
    );
    const um = r2.received.find((m) => m.type === 'user_message')!;
    assert.equal(um.payload.content, 'hello runner');
    await waitFor(
      () =>
        watcher.notices.filter((n) => n.type === 'error').length === 2 &&
        watcher.notices.some((n) => n.type === 'pong'),
      'notices',
    );
    const userEntry = await waitFor(
      () => watcher.frames.find((f) => f.type === 'user_message'),
      'the user message in the history',
    );
    assert.equal(userEntry.payload.content, 'hello runner');
    assert.ok(userEntry.payload.from);

    // a new run: its runner seq starts at 1 again, history positions go on
    await serve.api('POST', `${S}/${name}/stop`);
    assert.notEqual(await r2.closed, undefined);
    const before = (await history(serve, name)).length;
    await serve.api('POST', `${S}/${name}/start`);
    const env2 = await waitFor(() => {
      try {
        const e = readWorkspaceJson(serve, name, 'env.json') as Record<string, string>;
        return e.BOT_TOKEN !== botToken && e;
      } catch {
        return undefined;
      }
    }, 'the second run');
    const r3 = runnerSocket(serve, name, env2.BOT_TOKEN!);
    await r3.opened;
    await waitFor(() => r3.acks().length > 0, 'greeting of run 2');
    assert.equal(r3.acks()[0], 0);
    r3.ws.send(r3.frame(1));
    await waitFor(() => r3.acks().includes(1), 'ack of run 2');
    const run2 = (await history(serve, name)).filter((e) => e.run === 2 && e.runSeq !== undefined);
    assert.deepEqual(
      run2.map((e) => e.runSeq),
      [1],
    );
    assert.ok(run2[0]!.seq > before);
    // the old run's token no longer opens anything
    const stale = runnerSocket(serve, name, botToken);
    await assert.rejects(stale.opened, /HTTP 401/);
    r3.ws.close();
    watcher.ws.close();
    await serve.api('DELETE', `${S}/${name}`);
  });

  it("socket auth: 401 without or with a wrong token, 403 for another session's runner token, 404 for no session", async () => {
    const a = await idleSession(serve);
    const b = await idleSession(serve);
    await assert.rejects(
      watch(serve, a.name, { token: 'wrong-token-xxxxxxxxxxxx' }).opened,
      /HTTP 401/,
    );
    const anon = new WebSocket(socketUrl(serve, a.name));
    await assert.rejects(
      new Promise(
        (res, rej) => (
          anon.once('unexpected-response', (_q, r) => rej(new Error(`HTTP ${r.statusCode}`))),
          anon.once('open', res)
        ),
      ),
      /HTTP 401/,
    );
    await assert.rejects(runnerSocket(serve, b.name, a.botToken).opened, /HTTP 403/);
    await assert.rejects(watch(serve, 'session-missing').opened, /HTTP 404/);
    await assert.rejects(watch(serve, a.name, { afterSeq: -1 as number }).opened, /HTTP 400/);
    assert.equal((await fetch(`${serve.url}/health`)).status, 200);
    await serve.api('DELETE', `${S}/${a.name}`);
    await serve.api('DELETE', `${S}/${b.name}`);
  });
});

describe('hub: slow watchers', () => {
  const BOUND = 65_536;
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({
      runnerCommand: fakeRunner(),
      env: { CLAUDE_RUNNER_WATCHER_MAX_BUFFERED_BYTES: String(BOUND) },
    });
  });
  after(async () => {
    const dir = serve.dataDir;
    await serve.stop();
    assert.deepEqual(runnerProcesses(dir), []);
  });

  it('a watcher that stops reading is closed with 4008 and can rejoin from its last seq; the other is not slowed', async () => {
    // 64 MB: more than loopback's kernel buffers (up to 32 MB of receive window) can hide. The
    // test plays the runner and sends the next batch once the fast watcher has the last one, so
    // the fast watcher never falls a whole bound behind, however loaded the machine: only the
    // watcher that stopped reading can be the slow one.
    const frames = 4000;
    const batch = 3; // 48 KB < BOUND
    const text = 'x'.repeat(16_384);
    const { name, botToken } = await idleSession(serve);
    const fast = watch(serve, name);
    const slow = watch(serve, name);
    const runner = runnerSocket(serve, name, botToken);
    try {
      await Promise.all([fast.opened, slow.opened, runner.opened]);
      await waitFor(() => runner.acks().length > 0, 'the greeting ack');
      // Both watchers are live (nothing to catch up) before the slow one stops reading.
      const sofar = (await history(serve, name)).length;
      await waitFor(
        () => fast.frames.length >= sofar && slow.frames.length >= sofar,
        'both watchers in place',
      );
      (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      for (let seq = 1; seq <= frames; seq++) {
        runner.ws.send(
          runner.frame(seq, 'agent.message', {
            type: 'agent_message',
            content: { type: 'text_block', text: `${seq} ${text}` },
          }),
        );
        if (seq % batch === 0 || seq === frames)
          await waitFor(
            () => (fast.frames[fast.frames.length - 1]?.runSeq ?? 0) >= seq,
            `the fast watcher to get frame ${seq}`,
            60_000,
            1,
          );
      }
      await waitFor(() => runner.acks().includes(frames), 'the last ack', 60_000);
      const all = await history(serve, name);
      assert.deepEqual(fast.frames, all, 'the fast watcher got everything, in order');
      assert.equal(fast.ws.readyState, WebSocket.OPEN, 'the fast watcher was never dropped');

      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      const close = await slow.closed;
      assert.equal(close.code, 4008);
      const m = /after_seq=(\d+)/.exec(close.reason);
      assert.ok(m, close.reason);
      const last = Number(m[1]);
      assert.ok(last < all.length, 'it was dropped before the end');
      assert.ok(contiguous(slow.frames), 'what it got has no gap');
      assert.equal(slow.frames[slow.frames.length - 1]?.seq ?? 0, last);

      const again = watch(serve, name, { afterSeq: last });
      try {
        await waitFor(
          () => again.frames.length >= all.length - last,
          'the rejoined watcher to catch up',
          60_000,
        );
        assert.deepEqual(
          [...slow.frames, ...again.frames],
          all,
          'rejoining from the last seq: complete, no repeat',
        );
      } finally {
        again.ws.close();
      }
    } finally {
      fast.ws.close();
      slow.ws.close();
      runner.ws.close();
      await serve.api('DELETE', `${S}/${name}`);
    }
  });
});

describe('hub: messages for a runner that is not connected yet', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({ runnerCommand: fakeRunner(), maxConcurrent: 1, graceMs: 2000 });
  });
  after(async () => {
    const dir = serve.dataDir;
    await serve.stop();
    assert.deepEqual(runnerProcesses(dir), []);
  });

  it('are queued, delivered once when it connects, in order; later ones go at once', async () => {
    const blocker = await idleSession(serve);
    const s = await createSession(serve, {
      prompt: 'chat',
      interactive: true,
      environmentVariables: { FAKE_MODE: 'interactive' },
    });
    const name = s.metadata.name;
    assert.equal((await serve.api('GET', `${S}/${name}`)).status, 200);
    const post = (body: unknown) =>
      serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, body);
    const m1 = await post({ content: 'first' });
    assert.equal(m1.status, 202);
    assert.equal((m1.json as { delivered: boolean }).delivered, false);
    assert.equal((await post({ type: 'user_message', content: 'second' })).status, 202);
    assert.equal((await post({ type: 'interrupt' })).status, 202);
    assert.equal(
      (await post({ type: 'user_message' })).status,
      400,
      'a user message needs content',
    );
    assert.equal(
      (await serve.api('GET', `${S}/${name}`)).json &&
        (await waitForPhase(serve, name, ['Pending'])).status.phase,
      'Pending',
    );

    await serve.api('DELETE', `${S}/${blocker.name}`); // frees the only slot
    const watcher = watch(serve, name);
    await waitFor(
      () => watcher.frames.filter((f) => f.type === 'agent.message').length >= 2,
      'both answers',
    );
    const third = await post({ content: 'third' });
    assert.equal((third.json as { delivered: boolean }).delivered, true);
    await waitFor(
      () => watcher.frames.filter((f) => f.type === 'agent.message').length >= 3,
      'the third answer',
    );
    watcher.send({ type: 'end_session', payload: {} });
    await waitForPhase(serve, name, ['Completed']);

    const commands = readFileSync(
      path.join(serve.dataDir, 'workspaces', name, 'commands.jsonl'),
      'utf8',
    )
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; payload: { content?: string } });
    assert.deepEqual(
      commands.map((c) => `${c.type}:${c.payload?.content ?? ''}`),
      [
        'user_message:first',
        'user_message:second',
        'interrupt:',
        'user_message:third',
        'end_session:',
      ],
      'each exactly once, in order',
    );
    const h: Entry[] = await history(serve, name);
    assert.deepEqual(
      h.filter((e) => e.type === 'user_message').map((e) => e.payload.content),
      ['first', 'second', 'third'],
    );
    assert.deepEqual(
      h
        .filter((e) => e.type === 'agent.message')
        .map((e) => (e.payload as { content?: { text?: string } }).content?.text),
      ['echo: first', 'echo: second', 'echo: third'],
    );
    watcher.ws.close();
  });
});

describe('hub: a session’s own secrets', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({ runnerCommand: fakeRunner() });
  });
  after(async () => {
    const dir = serve.dataDir;
    await serve.stop();
    assert.deepEqual(runnerProcesses(dir), []);
  });

  it('values of its secret-looking variables, which have no token shape, never reach its history', async () => {
    const secret = 'hunter2-plain-db-password-91';
    const s = await createSession(serve, {
      prompt: 'p',
      interactive: true,
      environmentVariables: { FAKE_MODE: 'interactive', DB_PASSWORD: secret },
    });
    const name = s.metadata.name;
    const w = watch(serve, name);
    await w.opened;
    const sent = await serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, {
      content: `the password is ${secret}`,
    });
    assert.equal(sent.status, 202, sent.text);
    const echo = await waitFor(
      () => w.frames.find((f) => JSON.stringify(f.payload).includes('echo: ')),
      'the runner to echo the message',
    );
    await serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, {
      type: 'end_session',
    });
    await waitForPhase(serve, name, ['Completed']);
    const all = await history(serve, name);
    assert.ok(
      all.some((f) => f.type === 'user_message'),
      'the message is in the history',
    );
    assert.match(JSON.stringify(echo.payload), /echo: the password is \[REDACTED\]/);
    for (const text of [
      JSON.stringify(all),
      JSON.stringify(w.frames),
      (await serve.api('GET', `${S}/${name}`)).text,
    ])
      assert.ok(!text.includes(secret), 'the secret value is nowhere');
    w.ws.close();
    await serve.api('DELETE', `${S}/${name}`);
  });
});
