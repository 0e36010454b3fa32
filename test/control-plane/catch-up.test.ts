/**
 * Many watchers catching up at once (serve with `--max-catching-up 2`) while the test plays the
 * session's runner: every watcher gets the whole history in order and then the live frames, those
 * beyond the bound are told they are queued, one leaving while queued takes nothing with it, and
 * meanwhile the runner's acks and `/health` keep being answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runnerProcesses, startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import { runnerSocket } from '../support/runner-socket.js';
import {
  contiguous,
  createSession,
  fakeRunner,
  history,
  PROJECT,
  readWorkspaceJson,
  waitFor,
  watch,
  type WatcherClient,
} from './helpers.js';

const LIMIT = 2;
const WATCHERS = 20;
const HISTORY_FRAMES = 3000;
const FRAME_TEXT = 'catch-up '.repeat(110); // about 1 KB per entry: 3 MB of history
/** Watchers (by arrival of their queued notice) that hang up while queued. */
const LEAVING = 3;

function text(i: number) {
  return { type: 'agent_message', content: { type: 'text_block', text: `${i} ${FRAME_TEXT}` } };
}

/** The session's runner over a raw socket (its run's BOT_TOKEN), sending numbered text frames. */
function textRunner(serve: ServeHandle, name: string, token: string) {
  const socket = runnerSocket(serve.url, PROJECT, name, token);
  return { ...socket, send: (seq: number) => socket.send(seq, 'agent.message', text(seq)) };
}

interface GateState {
  catchingUp: number;
  queued: number;
  limit: number;
}

/** The catch-up gate's state as serve logged it at debug level, oldest first. */
function gateStates(serve: ServeHandle): GateState[] {
  return [...serve.output().stderr.matchAll(/hub\.catch-up: catch-up [^{]*(\{[^\n]*\})/g)].map(
    (m) => JSON.parse(m[1]!) as GateState,
  );
}

describe('hub: many watchers catching up at once', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({
      runnerCommand: fakeRunner(),
      args: ['--max-catching-up', String(LIMIT), '--log-level', 'debug'],
    });
  });
  after(async () => {
    const dir = serve.dataDir;
    await serve.stop();
    assert.deepEqual(runnerProcesses(dir), []);
  });

  it('each gets the whole history then the live frames; the rest queue; acks and /health go on', async () => {
    const s = await createSession(serve, {
      prompt: 'storm',
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
    const runner = textRunner(serve, name, env.BOT_TOKEN!);
    const watchers: WatcherClient[] = [];
    let healthStop = false;
    try {
      await runner.opened;
      for (let i = 1; i <= HISTORY_FRAMES; i++) runner.send(i);
      await waitFor(() => runner.acks.includes(HISTORY_FRAMES), 'the history to be stored');
      const stored = (await history(serve, name)).length;

      // The storm: every watcher joins from the start at once.
      const queuedFirst = new Set<WatcherClient>();
      for (let i = 0; i < WATCHERS; i++) {
        const w = watch(serve, name, { afterSeq: 0 });
        w.ws.on('message', (data) => {
          const m = JSON.parse(data.toString()) as { type: string };
          if (m.type === 'catchup.queued' && w.frames.length === 0) queuedFirst.add(w);
        });
        watchers.push(w);
      }
      const leaving: WatcherClient[] = [];
      const staying = () => watchers.filter((w) => !leaving.includes(w));
      const storm = () => staying().some((w) => w.frames.length < stored);
      await Promise.all(watchers.map((w) => w.opened));
      const inLine = await waitFor(() => {
        const told = watchers.filter((w) => w.notices.some((n) => n.type === 'catchup.queued'));
        return told.length > LEAVING && told;
      }, 'watchers to be told they are queued');
      // The ones furthest back in the line hang up while waiting.
      [...inLine]
        .sort((a, b) => position(b) - position(a))
        .slice(0, LEAVING)
        .forEach((w) => {
          leaving.push(w);
          w.ws.close();
        });

      // Meanwhile: /health is asked again and again, the runner streams live frames.
      let healthDuringStorm = 0;
      const health = (async () => {
        while (!healthStop) {
          const res = await fetch(`${serve.url}/health`);
          await res.text();
          if (res.status === 200 && storm()) healthDuringStorm++;
        }
      })();
      const acksDuringStorm: number[] = [];
      runner.ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { type: string; payload: { seq?: number } };
        if (m.type === 'ack' && storm()) acksDuringStorm.push(Number(m.payload.seq));
      });
      let live = HISTORY_FRAMES;
      while (storm()) {
        runner.send(++live);
        await new Promise((r) => setTimeout(r, 5));
      }
      for (let i = 0; i < 10; i++) runner.send(++live);
      await waitFor(() => runner.acks.includes(live), 'the ack of the last live frame');
      healthStop = true;
      await health;

      const all = await history(serve, name);
      await waitFor(
        () => staying().every((w) => w.frames.length >= all.length),
        'every watcher to get everything',
        60_000,
      );
      for (const w of staying()) {
        assert.ok(contiguous(w.frames), 'no gap, no repeat');
        assert.deepEqual(w.frames, all, 'the whole history, then the live frames, in order');
      }

      // Queued watchers were told so before any history, with their place in line.
      for (const w of inLine) {
        assert.ok(queuedFirst.has(w), 'told before any history');
        const n = w.notices.find((x) => x.type === 'catchup.queued')!;
        assert.equal(n.payload.limit, LIMIT);
        assert.equal(n.payload.afterSeq, 0);
        assert.ok(Number(n.payload.position) >= 1);
      }

      // The runner was answered all along: acks in order, some while watchers were catching up.
      assert.ok(
        acksDuringStorm.some((a) => a > HISTORY_FRAMES),
        'live frames acked mid-storm',
      );
      assert.deepEqual(
        runner.acks,
        [...runner.acks].sort((a, b) => a - b),
      );
      assert.ok(healthDuringStorm > 0, '/health answered while watchers were catching up');

      // The gate never let more than LIMIT catch up, and nobody kept a place or a spot in line.
      const states = await waitFor(() => {
        const st = gateStates(serve);
        const last = st[st.length - 1];
        return last && last.catchingUp === 0 && last.queued === 0 && st;
      }, 'the catch-up gate to be empty');
      assert.ok(states.every((g) => g.catchingUp <= LIMIT && g.limit === LIMIT));
      assert.ok(states.some((g) => g.queued >= LEAVING));

      // A watcher joining now is not queued: every place was given back.
      const late = watch(serve, name, { afterSeq: 0 });
      watchers.push(late);
      await waitFor(() => late.frames.length >= all.length, 'a late watcher to catch up');
      assert.deepEqual(late.frames, all);
      assert.equal(late.notices.length, 0, 'not queued');
    } finally {
      healthStop = true;
      for (const w of watchers) w.ws.close();
      runner.ws.close();
      await serve.api('DELETE', `/projects/${PROJECT}/agentic-sessions/${name}`);
    }
  });
});

function position(w: WatcherClient): number {
  return Number(w.notices.find((n) => n.type === 'catchup.queued')?.payload.position ?? 0);
}
