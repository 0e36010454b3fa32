/**
 * The SSE stream against a real store and history, without runners: catch-up then live with no
 * gap and no repeat while entries keep coming, through the serve-wide catch-up gate; and a client
 * that stops reading is disconnected (like a socket watcher closed with 4008) without holding up
 * the history's writer.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AguiMapper, type HistoryEntryJson } from '../../src/control-plane/agui/mapping.js';
import { AguiStream } from '../../src/control-plane/agui/stream.js';
import { CatchUpGate } from '../../src/control-plane/hub/catch-up-gate.js';
import { HistoryLog } from '../../src/control-plane/hub/history-log.js';
import { Store } from '../../src/control-plane/store/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { readSse } from './helpers.js';

const SESSION = 'session-agui-stream';
let store: Store;
let history: HistoryLog;
let server: Server;
let url: string;
const ended: Promise<void>[] = [];

function append(text: string): void {
  history.append(SESSION, 1, null, {
    type: 'agent.message',
    payload: { type: 'agent_message', content: { type: 'text_block', text } },
  });
}

beforeEach(async () => {
  store = Store.open(':memory:');
  store.sessions.insert({
    name: SESSION,
    project: 'demo',
    uid: 'u',
    createdAt: new Date().toISOString(),
    spec: { prompt: 'p', interactive: true },
    labels: {},
    annotations: {},
    status: { phase: 'Running', run: 1 },
    phase: 'Running',
    currentRun: 1,
    workspace: '/ws/d',
  });
  history = new HistoryLog(store, silentLogger);
  const gate = new CatchUpGate(2, silentLogger);
  server = createServer((req, res) => {
    ended.push(
      new AguiStream(
        res,
        SESSION,
        { kind: 'start' },
        {
          history,
          gate,
          readStep: (s, a, r, b) => store.frames.readStep(s, a, r, b),
          pageSize: 100,
          maxBufferedBytes: 64 * 1024,
          logger: silentLogger,
          sessionExists: () => true,
        },
      ).start(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  store.close();
  ended.length = 0;
});

describe('AG-UI stream', () => {
  it('catches up in steps and goes live with no gap and no repeat while entries keep coming', async () => {
    for (let i = 0; i < 450; i++) append(`before ${i}`);
    const total = 600;
    const reading = readSse(url, {
      token: 'unused',
      until: (evs) => evs.filter((e) => e.event.type === 'TEXT_MESSAGE_END').length >= total,
    });
    for (let i = 450; i < total; i++) {
      append(`during ${i}`);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    const got = await reading;
    const mapper = new AguiMapper(SESSION);
    const expected = history
      .read(SESSION, 0, 10_000)
      .flatMap((row) =>
        mapper.map({ ...(JSON.parse(row.frame) as HistoryEntryJson), seq: row.pos }),
      )
      .map((e) => ({ id: e.id, event: e.event }));
    assert.deepEqual(got, expected);
  });

  it('disconnects a client that stops reading, and the history writer never waits for it', async () => {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`GET / HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    socket.pause(); // reads nothing from now on
    while (!ended.length) await new Promise((r) => setImmediate(r));
    let done = false;
    void ended[0]!.then(() => (done = true));
    const big = 'x'.repeat(16 * 1024);
    let appended = 0;
    for (; appended < 4000 && !done; appended++) {
      append(`${appended} ${big}`);
      if (appended % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    assert.ok(done, 'the stream ended once the client fell too far behind');
    assert.ok(appended < 4000, `it ended after ${appended} entries, before the writer was done`);
    socket.destroy();
    // What it missed is all in the history: a client that resumes gets it.
    assert.equal(history.lastPos(SESSION), appended);
  });
});
