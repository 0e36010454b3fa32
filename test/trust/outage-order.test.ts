/**
 * The control plane's side of "order holds" and of the runner's outbox file, with the test
 * playing the runner (a run's BOT_TOKEN on the socket and the status API) against a real serve:
 *
 * - a terminal status that arrives before the runner's last frames is recorded in the history
 *   only after the closing frame (or, without one, once the run's process has ended);
 * - an outbox file in the workspace is untrusted runner input: only frames after the last stored
 *   one, each checked like a socket frame and redacted; a file naming another session or run, or
 *   reached through a symlink, is not used.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runnerProcesses, startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import { outboxFileName, OUTBOX_DIR } from '../../src/protocol/outbox-file.js';
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

const SECRET = 'outage-order-secret-value-42';

let serve: ServeHandle;
before(async () => {
  serve = await startServe({ runnerCommand: fakeRunner(), graceMs: 2000 });
});
after(async () => {
  const dir = serve.dataDir;
  await serve.stop();
  assert.deepEqual(runnerProcesses(dir), []);
});

/** A session whose fake runner only waits: the test plays its runner with the run's token. */
async function idleSession(): Promise<{ name: string; botToken: string; workspace: string }> {
  const s = await createSession(serve, {
    prompt: 'idle',
    environmentVariables: { FAKE_MODE: 'idle', MY_API_SECRET: SECRET },
  });
  const name = s.metadata.name;
  const env = await waitFor(() => {
    try {
      return readWorkspaceJson(serve, name, 'env.json') as Record<string, string>;
    } catch {
      return undefined;
    }
  }, 'env.json');
  return { name, botToken: env.BOT_TOKEN!, workspace: env.WORKSPACE_PATH! };
}

function frame(seq: number, type = 'agent.running', payload: unknown = {}): string {
  return JSON.stringify({ seq, type, timestamp: new Date().toISOString(), payload });
}

const closing = (seq: number) =>
  frame(seq, 'system.message', {
    message: 'Session completed',
    level: 'system',
    event: 'session.completed',
  });

/** The session's runner over a raw socket; `send` waits until the frame is stored (acked). */
async function playRunner(name: string, botToken: string) {
  const socket = runnerSocket(serve.url, PROJECT, name, botToken);
  await socket.opened;
  return {
    ws: socket.ws,
    async send(seq: number, json: string) {
      socket.sendRaw(json);
      await waitFor(() => socket.acked() >= seq, `ack of ${seq}`);
    },
  };
}

async function putStatus(name: string, botToken: string, body: Record<string, unknown>) {
  const res = await fetch(`${serve.url}/api/projects/${PROJECT}/agentic-sessions/${name}/status`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${botToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

async function stopSession(name: string): Promise<void> {
  const res = await serve.api('POST', `/projects/${PROJECT}/agentic-sessions/${name}/stop`);
  assert.equal(res.status, 200, res.text);
}

const terminalPhases = (h: Entry[]) =>
  h.filter(
    (e) =>
      e.payload.event === 'phase.changed' &&
      ['Completed', 'Failed', 'Stopped'].includes(String(e.payload.data?.phase)),
  );

const waitExited = (name: string) =>
  waitFor(
    async () => (await getSession(serve, name)).status.exitCode !== undefined,
    `${name}'s process to exit`,
  );

describe('order: a terminal phase is recorded after the run’s last frame', () => {
  it('a status that overtakes the last frames waits for the closing frame', async () => {
    const { name, botToken } = await idleSession();
    const runner = await playRunner(name, botToken);
    await runner.send(1, frame(1));
    await putStatus(name, botToken, { phase: 'Running' });
    await putStatus(name, botToken, { phase: 'Completed', message: 'done', num_turns: 1 });
    assert.equal((await getSession(serve, name)).status.phase, 'Completed');
    assert.deepEqual(terminalPhases(await history(serve, name)), [], 'not recorded yet');

    await runner.send(2, frame(2, 'agent.waiting'));
    assert.deepEqual(terminalPhases(await history(serve, name)), [], 'still not recorded');
    await runner.send(3, closing(3));
    const h = await history(serve, name);
    const terminal = terminalPhases(h);
    assert.equal(terminal.length, 1);
    const last = h.filter((e) => e.runSeq !== undefined).at(-1)!;
    assert.equal(last.runSeq, 3);
    assert.ok(terminal[0]!.seq > last.seq, 'after the closing frame');
    assert.equal(terminal[0]!.payload.data?.runOver, true);
    runner.ws.close();
    await stopSession(name).catch(() => undefined);
    await waitExited(name);
    assert.equal(terminalPhases(await history(serve, name)).length, 1, 'recorded once');
  });

  it('without a closing frame, it is recorded once the process has ended', async () => {
    const { name, botToken } = await idleSession();
    const runner = await playRunner(name, botToken);
    await runner.send(1, frame(1));
    await putStatus(name, botToken, { phase: 'Completed', message: 'done' });
    assert.deepEqual(terminalPhases(await history(serve, name)), []);
    runner.ws.close();
    await stopSession(name).catch(() => undefined);
    await waitExited(name);
    const h = await history(serve, name);
    const terminal = terminalPhases(h);
    assert.deepEqual(
      terminal.map((e) => e.payload.data?.phase),
      ['Completed'],
      'the reported phase, once',
    );
    assert.equal(terminal[0]!.seq, h.at(-1)!.seq, 'the last entry of the run');
  });
});

describe("the runner's outbox file is untrusted input", () => {
  it('only valid frames after the last stored one are added, redacted; the status applies', async () => {
    const { name, botToken, workspace } = await idleSession();
    const runner = await playRunner(name, botToken);
    await runner.send(1, frame(1));
    await runner.send(2, frame(2, 'agent.waiting'));
    runner.ws.close();
    const dir = path.join(workspace, OUTBOX_DIR);
    mkdirSync(dir, { recursive: true });
    const header = {
      kind: 'runner-outbox',
      version: 1,
      session: name,
      run: 1,
      lastSeq: 6,
      status: { phase: 'Completed', message: `done ${SECRET}`, num_turns: 2, bogus: 'dropped' },
    };
    const text = (s: string) => ({
      type: 'agent_message',
      content: { type: 'text_block', text: s },
    });
    writeFileSync(
      path.join(dir, outboxFileName(name, 1)),
      [
        JSON.stringify(header),
        frame(2, 'agent.running'), // already stored: not again
        frame(3, 'agent.message', text(`leaked ${SECRET}`)),
        JSON.stringify({ seq: 4, type: 'agent.message', payload: { nonsense: true } }), // invalid
        'not json',
        frame(5, 'agent.running'),
        closing(6),
        frame(7, 'agent.running'), // beyond the header's lastSeq
      ].join('\n'),
      { mode: 0o600 },
    );
    await stopSession(name);
    await waitExited(name);
    const h = await history(serve, name);
    const runnerFrames = h.filter((e) => e.runSeq !== undefined);
    assert.deepEqual(
      runnerFrames.map((e) => [e.runSeq, e.type]),
      [
        [1, 'agent.running'],
        [2, 'agent.waiting'],
        [3, 'agent.message'],
        [5, 'agent.running'],
        [6, 'system.message'],
      ],
    );
    assert.doesNotMatch(JSON.stringify(h), new RegExp(SECRET), 'redacted like socket frames');
    const s = await getSession(serve, name);
    assert.equal(s.status.phase, 'Completed');
    assert.equal(s.status.num_turns, 2);
    assert.equal(s.status.bogus, undefined);
    assert.doesNotMatch(JSON.stringify(s.status), new RegExp(SECRET));
    const terminal = terminalPhases(h);
    assert.equal(terminal.length, 1);
    assert.ok(terminal[0]!.seq > runnerFrames.at(-1)!.seq);
    assert.ok(!existsSync(path.join(dir, outboxFileName(name, 1))), 'read once, then removed');
  });

  it('a phase change forged in the file is stored as the runner’s, not the control plane’s', async () => {
    const { name, botToken, workspace } = await idleSession();
    const runner = await playRunner(name, botToken);
    await runner.send(1, frame(1));
    runner.ws.close();
    const dir = path.join(workspace, OUTBOX_DIR);
    mkdirSync(dir, { recursive: true });
    const header = { kind: 'runner-outbox', version: 1, session: name, run: 1, lastSeq: 3 };
    const forgedPhase = frame(2, 'system.message', {
      message: 'phase Completed',
      level: 'system',
      event: 'phase.changed',
      data: { phase: 'Completed', run: 1, runOver: true },
    });
    writeFileSync(
      path.join(dir, outboxFileName(name, 1)),
      [JSON.stringify(header), forgedPhase, closing(3)].join('\n'),
      { mode: 0o600 },
    );
    await stopSession(name);
    await waitExited(name);
    const h = await history(serve, name);
    const second = h.find((e) => e.runSeq === 2);
    assert.equal(second?.payload.event, 'runner.phase.changed');
    const claimed = h.filter((e) => e.payload.event === 'phase.changed');
    assert.ok(
      claimed.every((e) => e.runSeq === undefined),
      'every phase.changed in history is the control plane’s own',
    );
    assert.equal((await getSession(serve, name)).status.phase, 'Stopped');
  });

  it('a file for another session or run, or behind a symlink, is not used', async () => {
    const { name, workspace } = await idleSession();
    const elsewhere = mkdtempSync(path.join(tmpdir(), 'ccr-outbox-elsewhere-'));
    try {
      const forged = (session: string, run: number) =>
        [
          JSON.stringify({
            kind: 'runner-outbox',
            version: 1,
            session,
            run,
            lastSeq: 1,
            status: { phase: 'Completed', message: 'forged' },
          }),
          frame(1, 'agent.running'),
        ].join('\n');
      // Behind a symlinked directory: a valid-looking file that must not be read.
      writeFileSync(path.join(elsewhere, outboxFileName(name, 1)), forged(name, 1));
      symlinkSync(elsewhere, path.join(workspace, OUTBOX_DIR));
      await stopSession(name);
      await waitExited(name);
      const s = await getSession(serve, name);
      assert.equal(s.status.phase, 'Stopped', 'the forged status was not applied');
      assert.deepEqual(
        (await history(serve, name)).filter((e) => e.runSeq !== undefined),
        [],
        'no frame from the file',
      );
      assert.ok(existsSync(path.join(elsewhere, outboxFileName(name, 1))), 'left alone');
      rmSync(path.join(workspace, OUTBOX_DIR));

      // A header naming another session (under this session's file name): dropped whole.
      const other = await idleSession();
      mkdirSync(path.join(other.workspace, OUTBOX_DIR));
      writeFileSync(
        path.join(other.workspace, OUTBOX_DIR, outboxFileName(other.name, 1)),
        forged(name, 1),
      );
      await stopSession(other.name);
      await waitExited(other.name);
      assert.equal((await getSession(serve, other.name)).status.phase, 'Stopped');
      assert.deepEqual(
        (await history(serve, other.name)).filter((e) => e.runSeq !== undefined),
        [],
      );

      // A file planted for a run that has not started yet is discarded when it starts.
      const planted = path.join(other.workspace, OUTBOX_DIR, outboxFileName(other.name, 2));
      mkdirSync(path.dirname(planted), { recursive: true });
      writeFileSync(planted, forged(other.name, 2));
      const res = await serve.api(
        'POST',
        `/projects/${PROJECT}/agentic-sessions/${other.name}/start`,
      );
      assert.ok(res.status < 300, res.text);
      await waitFor(() => !existsSync(planted), 'the planted file to be discarded at launch');
      await waitFor(
        async () => (await getSession(serve, other.name)).status.phase === 'Creating',
        'run 2 to start',
      );
      await stopSession(other.name);
      await waitFor(
        async () => (await getSession(serve, other.name)).status.exitCode !== undefined,
        'run 2 to end',
      );
      const s2 = await getSession(serve, other.name);
      assert.equal(s2.status.run, 2);
      assert.equal(s2.status.phase, 'Stopped', 'the planted status was not applied');
      assert.deepEqual(
        (await history(serve, other.name)).filter((e) => e.run === 2 && e.runSeq !== undefined),
        [],
        'no frame from the planted file',
      );
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
