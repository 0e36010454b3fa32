/**
 * The history entry union (src/protocol/history.ts) against what the control plane and the
 * runners really write: every entry of a real run (the real runner and CLI against the scripted
 * model), of the original runner's recorded frames as the hub stores them, and of the control
 * plane's own entries (phase changes, user messages, a child created, a message sent, a refused
 * frame, a runner's forged phase change) parses into the typed union. Unknown shapes are
 * tolerated: the client renders them and never drops them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { newRenderState, renderEntry } from '../../src/client/render.js';
import {
  HistoryPage,
  isPhaseChanged,
  KnownHistoryEntry,
  parseHistoryEntry,
  WatcherControlFrame,
} from '../../src/protocol/history.js';
import { apiPath } from '../../src/protocol/paths.js';
import { startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import {
  createSession,
  fakeRunner,
  history,
  PROJECT,
  readWorkspaceJson,
  waitFor,
  type Entry,
} from '../control-plane/helpers.js';
import { eventOf, startE2e, waitForEntry, type E2e } from '../control-plane-e2e/helpers.js';
import { runnerSocket } from '../support/runner-socket.js';

/** Every entry parses into the union; returns the typed entries. */
function assertAllKnown(entries: Entry[], what: string): KnownHistoryEntry[] {
  return entries.map((e) => {
    const r = KnownHistoryEntry.safeParse(e);
    assert.ok(
      r.success,
      `${what}: entry ${e.seq} (${e.type}, ${eventOf(e) ?? '-'}) does not parse: ${r.error?.message}`,
    );
    return r.data;
  });
}

const events = (entries: KnownHistoryEntry[]) =>
  new Set(entries.map((e) => (e.type === 'system.message' ? e.payload.event : undefined)));

describe('history entries of a real run', () => {
  let e2e: E2e;
  before(async () => {
    e2e = await startE2e();
  });
  after(async () => {
    await e2e?.close();
  });

  it('the real runner, a user message and the phase changes all parse into the union', async () => {
    const serve = e2e.serve;
    const name = (await createSession(serve, { prompt: 'Say hello', interactive: true })).metadata
      .name;
    await waitForEntry(
      () => serve,
      name,
      (e) => e.type === 'agent.waiting',
      'first turn done',
    );
    const sent = await serve.api('POST', apiPath.messages(PROJECT, name), {
      content: 'And goodbye',
    });
    assert.equal(sent.status, 202, sent.text);
    await waitForEntry(
      () => serve,
      name,
      (e) => e.type === 'agent.waiting' && e.seq > ((sent.json as { seq: number }).seq ?? 0),
      'second turn done',
    );
    assert.equal(
      (await serve.api('POST', apiPath.messages(PROJECT, name), { type: 'end_session' })).status,
      202,
    );
    await waitForEntry(
      () => serve,
      name,
      (e) => e.payload.event === 'phase.changed' && e.payload.data?.runOver === true,
      'run over',
    );

    const page = HistoryPage.safeParse(
      (await serve.api('GET', `${apiPath.messages(PROJECT, name)}?limit=10000`)).json,
    );
    assert.ok(page.success, page.error?.message);
    const typed = assertAllKnown(page.data.items as Entry[], 'real run');
    const types = new Set(typed.map((e) => e.type));
    for (const t of ['system.message', 'agent.message', 'agent.running', 'agent.waiting'])
      assert.ok(types.has(t as never), `a ${t} entry`);
    assert.ok(types.has('user_message'), 'the user message');
    const user = typed.find((e) => e.type === 'user_message');
    assert.equal(user?.type === 'user_message' && user.payload.content, 'And goodbye');
    const phases = typed.filter((e) => e.type === 'system.message' && isPhaseChanged(e.payload));
    assert.ok(phases.length >= 3, 'Pending, Running and the end');
    for (const p of phases) assert.equal(p.runSeq, undefined, "the control plane's own");
    assert.ok(
      typed.some((e) => e.runSeq !== undefined && e.payload),
      'runner frames',
    );
  });
});

type Frame = { seq: number; type: string; payload: unknown };

function fixture(name: string): Frame[] {
  const url = new URL(
    `../../../test/trust/fixtures/original-runner-${name}.jsonl`,
    import.meta.url,
  );
  return readFileSync(url, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Frame);
}

describe("history entries of another runner and of the control plane's bookkeeping", () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({ runnerCommand: fakeRunner(), graceMs: 1000 });
  });
  after(async () => {
    await serve.stop();
  });

  /** An interactive session whose runner idles, so the test can be its runner. */
  async function hosted(token?: string) {
    const res = await serve.api(
      'POST',
      apiPath.sessions(PROJECT),
      { prompt: '', interactive: true, environmentVariables: { FAKE_MODE: 'idle' } },
      token,
    );
    assert.equal(res.status, 201, res.text);
    const name = (res.json as { metadata: { name: string } }).metadata.name;
    const env = await waitFor(() => {
      try {
        return readWorkspaceJson(serve, name, 'env.json') as Record<string, string>;
      } catch {
        return undefined;
      }
    }, 'env.json');
    return { name, token: env.BOT_TOKEN! };
  }

  it('recorded frames, a refused and a forged frame, a child created and a message sent', async () => {
    const parent = await hosted();
    const runner = runnerSocket(serve.url, PROJECT, parent.name, parent.token);
    const ws = runner.ws;
    try {
      await runner.opened;
      // The original runner's frames (bare strings, null is_error, zoneless timestamps), but the
      // closing ones: the run goes on.
      const frames = fixture('interactive').filter(
        (f) => !/session\.(completed|failed|stopped)/.test(JSON.stringify(f.payload)),
      );
      let seq = 0;
      for (const f of frames) ws.send(JSON.stringify({ ...f, seq: ++seq }));
      ws.send(JSON.stringify({ seq: ++seq, type: 'agent.message', payload: { nonsense: 1 } }));
      ws.send(
        JSON.stringify({
          seq: ++seq,
          type: 'system.message',
          timestamp: new Date().toISOString(),
          payload: { message: 'phase Completed', event: 'phase.changed', data: { phase: 'x' } },
        }),
      );
      const last = seq;
      await waitFor(() => (runner.acked() >= last ? true : undefined), `ack ${last}`);

      const res = await serve.api(
        'POST',
        apiPath.sessions(PROJECT),
        { prompt: '', interactive: true, environmentVariables: { FAKE_MODE: 'idle' } },
        parent.token,
      );
      assert.equal(res.status, 201, res.text);
      const child = (res.json as { metadata: { name: string } }).metadata.name;
      const sent = await serve.api(
        'POST',
        apiPath.messages(PROJECT, child),
        { content: 'hello, child' },
        parent.token,
      );
      assert.equal(sent.status, 202, sent.text);

      const typed = assertAllKnown(await history(serve, parent.name), 'parent');
      const seen = events(typed);
      for (const e of [
        'phase.changed',
        'session.child_created',
        'session.message_sent',
        'frame.refused',
        'runner.phase.changed',
        'session.started',
      ])
        assert.ok(seen.has(e), `an entry with event ${e}`);
      const childEntries = assertAllKnown(await history(serve, child), 'child');
      const fromParent = childEntries.find((e) => e.type === 'user_message');
      assert.equal(
        fromParent?.type === 'user_message' && fromParent.payload.from?.session,
        parent.name,
      );
    } finally {
      ws.close();
    }
  });
});

describe('tolerance', () => {
  const style = { color: false, width: 80, verbose: false };
  const entry = (type: string, payload: unknown) => ({
    seq: 7,
    run: 1,
    type,
    timestamp: '2026-12-04T10:00:00.000Z',
    sessionId: 's',
    payload,
  });

  it('an entry of an unknown type or shape is not in the union, and still shown', () => {
    assert.equal(parseHistoryEntry(entry('agent.thought', { text: 'hm' })), undefined);
    assert.equal(parseHistoryEntry(entry('agent.message', { nonsense: 1 })), undefined);
    assert.equal(parseHistoryEntry({ seq: 'x' }), undefined);
    // A known type in an unknown shape is shown as it is, never dropped.
    assert.equal(
      renderEntry(entry('agent.message', { nonsense: 1 }), newRenderState(), style),
      '· agent.message {"nonsense":1}\n',
    );
    // An unknown type (a newer version's) is shown when verbose.
    assert.equal(renderEntry(entry('agent.thought', { a: 1 }), newRenderState(), style), '');
    assert.equal(
      renderEntry(entry('agent.thought', { a: 1 }), newRenderState(), { ...style, verbose: true }),
      '· agent.thought {"a":1}\n',
    );
  });

  it("the watcher's control frames parse, and carry no seq", () => {
    const ts = '2026-12-04T10:00:00.000Z';
    for (const f of [
      { type: 'pong', payload: {}, timestamp: ts },
      { type: 'error', payload: { message: 'command refused: x' }, timestamp: ts },
      {
        type: 'command.accepted',
        payload: { type: 'user_message', id: 3, delivered: true, seq: 9 },
        timestamp: ts,
      },
      {
        type: 'catchup.queued',
        payload: { position: 1, afterSeq: 0, catchingUp: 2, limit: 2 },
        timestamp: ts,
      },
    ]) {
      const r = WatcherControlFrame.safeParse(f);
      assert.ok(r.success, `${f.type}: ${r.error?.message}`);
      assert.equal('seq' in r.data, false);
    }
  });
});
