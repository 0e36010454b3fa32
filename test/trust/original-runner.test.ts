/**
 * The original Python runner, hosted by a real `serve`: its real frame sequences
 * (fixtures/original-runner-*.jsonl, see fixtures/README.md) replayed on the socket as it sends
 * them, with its status reports, while the test answers for its command handling. Every frame is
 * stored and shown, normalized (bare-string system payloads, `is_error: null`, zone-less
 * timestamps, `partial: null`); closing frames are recognized; the status summary is filled
 * where the original gives it and left absent where it does not; commands reach it in the
 * canonical form it understands.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  addResult,
  newRenderState,
  newTotals,
  renderEntry,
  renderSummary,
  type Style,
} from '../../src/client/render.js';
import { renderSession } from '../../src/client/format.js';
import type { SessionResource } from '../../src/protocol/api.js';
import { startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import { runnerSocket } from '../support/runner-socket.js';
import {
  createSession,
  fakeRunner,
  getSession,
  history,
  PROJECT,
  readWorkspaceJson,
  waitFor,
  type Entry,
} from '../control-plane/helpers.js';

const STYLE: Style = { color: false, width: 200, verbose: false };

type Frame = { seq: number; type: string; timestamp: string; payload: unknown; partial: null };

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

/** A session whose runner process idles, so the test can be its runner (with its BOT_TOKEN). */
async function hostedSession(serve: ServeHandle, interactive: boolean) {
  const s = await createSession(serve, {
    prompt: interactive ? '' : 'Read the README',
    interactive,
    environmentVariables: { FAKE_MODE: 'idle' },
  });
  const name = s.metadata.name;
  const env = await waitFor(() => {
    try {
      return readWorkspaceJson(serve, name, 'env.json') as Record<string, string>;
    } catch {
      return undefined;
    }
  }, 'env.json');
  return { name, env };
}

/** The original runner's socket: no capabilities header, raw JSON text as json.dumps writes it. */
function originalSocket(serve: ServeHandle, name: string, token: string) {
  return runnerSocket(serve.url, PROJECT, name, token);
}

/** `PUT …/status` as the original's `_update_cr_status` sends it. */
async function originalStatus(serve: ServeHandle, name: string, token: string, body: object) {
  const res = await serve.api(
    'PUT',
    `/projects/${PROJECT}/agentic-sessions/${name}/status`,
    body,
    token,
  );
  assert.equal(res.status, 200, res.text);
}

function runnerEntries(all: Entry[]): (Entry & { timestamp: string; partial?: unknown })[] {
  return all.filter((e) => e.runSeq !== undefined) as (Entry & { timestamp: string })[];
}

/** What every stored frame must look like after normalization. */
function assertNormalized(entries: ReturnType<typeof runnerEntries>, frames: Frame[]): void {
  assert.equal(entries.length, frames.length, 'every frame stored: history count = fixture count');
  entries.forEach((e, i) => {
    const f = frames[i]!;
    assert.equal(e.runSeq, f.seq);
    assert.equal(e.type, f.type);
    assert.match(e.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'ISO with Z');
    assert.equal(Date.parse(e.timestamp), Date.parse(`${f.timestamp}Z`), 'taken as UTC');
    assert.ok(!('partial' in e), 'partial: null is dropped');
    if (typeof f.payload === 'string') {
      assert.equal(e.payload.message, f.payload, 'a bare string payload becomes {message}');
      assert.equal(e.payload.event, f.payload, 'a lifecycle word becomes the event');
    }
    const r = (f.payload as { tool_result?: { is_error: unknown } }).tool_result;
    if (r) {
      const stored = e.payload.tool_result as { is_error: unknown };
      assert.equal(stored.is_error, r.is_error === null ? false : r.is_error);
    }
  });
}

describe('the original runner, hosted', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({ runnerCommand: fakeRunner(), graceMs: 1000 });
  });
  after(async () => {
    await serve.stop();
  });

  it('one-shot: every frame stored and normalized, the closing frame acked, the summary filled from its result', async () => {
    const frames = fixture('oneshot');
    const { name, env } = await hostedSession(serve, false);
    const r = originalSocket(serve, name, env.BOT_TOKEN!);
    await r.opened;
    await originalStatus(serve, name, env.BOT_TOKEN!, {
      phase: 'Running',
      message: 'Runner started',
    });
    for (const f of frames) r.ws.send(JSON.stringify(f));
    const last = frames[frames.length - 1]!.seq;
    await waitFor(() => r.acked() >= last, 'the ack of the closing frame');
    await originalStatus(serve, name, env.BOT_TOKEN!, {
      phase: 'Completed',
      completionTime: new Date().toISOString(),
      message: 'Runner completed',
      subtype: 'success',
      is_error: false,
      num_turns: 3,
      session_id: env.SESSION_ID,
      result: '',
    });

    const entries = runnerEntries(await history(serve, name));
    assertNormalized(entries, frames);
    assert.equal(entries[entries.length - 1]!.payload.event, 'session.completed');

    const s = (await getSession(serve, name)) as unknown as SessionResource;
    assert.equal(s.status.phase, 'Completed');
    assert.equal(s.status.num_turns, 3, "the original's own report wins");
    assert.equal(s.status.total_cost_usd, 0.0421735, 'filled from its result.message');
    assert.equal(s.status.usage?.output_tokens, 231);
    assert.equal(s.status.duration_ms, 7412);
    const shown = renderSession(s, STYLE).join('\n');
    assert.match(shown, /cost\s+\$0\.04/);
    assert.doesNotMatch(shown, /unknown/);
  });

  it('interactive: commands arrive canonical (user_message, end_session), nothing is dropped, no summary is invented', async () => {
    const frames = fixture('interactive');
    const { name, env } = await hostedSession(serve, true);
    const r = originalSocket(serve, name, env.BOT_TOKEN!);
    await r.opened;
    const chatReady = frames.findIndex(
      (f) => (f.payload as { message?: string }).message === 'Chat ready',
    );
    const ended = frames.findIndex(
      (f) => (f.payload as { message?: string }).message === 'interactive.ended',
    );
    for (const f of frames.slice(0, chatReady + 1)) r.ws.send(JSON.stringify(f));
    await waitFor(() => r.acked() >= chatReady + 1, 'the first turn stored');

    // The dotted form, which the original ignores, must reach it as user_message.
    const sent = await serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, {
      type: 'user.message',
      content: 'Does it have three lines?',
    });
    assert.equal(sent.status, 202, sent.text);
    assert.equal((sent.json as { delivered: boolean }).delivered, true);
    assert.equal((sent.json as { type: string }).type, 'user_message');
    const msg = await waitFor(() => r.commands()[0], 'the user message on the socket');
    assert.equal(msg.type, 'user_message');
    assert.equal(msg.payload.content, 'Does it have three lines?');

    for (const f of frames.slice(chatReady + 1, ended)) r.ws.send(JSON.stringify(f));
    const stop = await serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, {
      type: 'terminate',
    });
    assert.equal(stop.status, 202, stop.text);
    const end = await waitFor(() => r.commands()[1], 'the end command on the socket');
    assert.equal(end.type, 'end_session', 'terminate goes out as end_session');
    assert.deepEqual(
      r.commands().map((c) => c.type),
      ['user_message', 'end_session'],
      'only canonical commands were sent',
    );

    for (const f of frames.slice(ended)) r.ws.send(JSON.stringify(f));
    await waitFor(() => r.acked() >= frames.length, 'the ack of the closing frame');
    await originalStatus(serve, name, env.BOT_TOKEN!, {
      phase: 'Completed',
      completionTime: new Date().toISOString(),
      message: 'Runner completed',
      subtype: 'success',
      is_error: false,
      num_turns: 2,
      session_id: env.SESSION_ID,
      result: '',
    });

    const all = await history(serve, name);
    const entries = runnerEntries(all);
    assertNormalized(entries, frames);
    assert.ok(
      all.some(
        (e) => e.type === 'user_message' && e.payload.content === 'Does it have three lines?',
      ),
      'the user message is in history',
    );

    const s = (await getSession(serve, name)) as unknown as SessionResource;
    assert.equal(s.status.num_turns, 2);
    for (const k of ['total_cost_usd', 'usage', 'duration_ms', 'duration_api_ms'] as const)
      assert.equal(s.status[k], undefined, `${k} stays absent (not 0)`);

    // The client: "unknown", never 0, for what the runner did not report.
    const style = STYLE;
    const shown = renderSession(s, style).join('\n');
    assert.match(shown, /tokens\s+unknown/);
    assert.match(shown, /cost\s+unknown/);
    const totals = newTotals();
    addResult(totals, s.status as unknown as Record<string, unknown>);
    const summary = renderSummary(totals, style, 'Completed').join('\n');
    assert.match(summary, /tokens\s+unknown/);
    assert.match(summary, /cost\s+unknown/);
    assert.doesNotMatch(summary, /\$0\b/);
  });

  it('failed: the bare session.failed closes the run and is shown', async () => {
    const frames = fixture('failed');
    const { name, env } = await hostedSession(serve, false);
    const r = originalSocket(serve, name, env.BOT_TOKEN!);
    await r.opened;
    for (const f of frames) r.ws.send(JSON.stringify(f));
    await waitFor(() => r.acked() >= frames.length, 'the ack of session.failed');
    const entries = runnerEntries(await history(serve, name));
    assertNormalized(entries, frames);
    const closing = entries[entries.length - 1]!;
    assert.equal(closing.payload.event, 'session.failed');
    // The client shows every one of them (none is an unknown shape).
    const state = newRenderState();
    const out = entries.map((e) => renderEntry({ ...e }, state, STYLE)).join('');
    assert.match(out, /session\.failed/);
    assert.match(out, /Workspace preparation failed/);
  });
});
