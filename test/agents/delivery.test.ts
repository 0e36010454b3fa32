/**
 * Exactly-once delivery of messages to a runner, on both sides, without a CLI:
 *
 * - the control plane: a runner that announces `command-acks` gets each queued command with a
 *   `deliveryId`, and again after a reconnect or a restart of serve until it acks it; after
 *   the ack it never comes again. A runner without the header gets each once, as before.
 * - the runner (`RunnerSocket`): a repeated `deliveryId` is acked again but not acted on.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger } from '../../src/observability/logger.js';
import { Redactor } from '../../src/observability/redact.js';
import type { BackendCommand } from '../../src/protocol/commands.js';
import { RunnerSocket } from '../../src/runner/socket-client.js';
import {
  botTokenOf,
  createSession,
  messageStates,
  PROJECT,
  setup,
  waitFor,
  type Setup,
} from './helpers.js';

interface Received {
  type: string;
  payload: Record<string, unknown>;
  deliveryId?: number;
}

/** Plays a session's runner on its socket, with or without the command-acks capability. */
function playRunner(s: Setup, name: string, token: string, acks: boolean) {
  const url = `${s.serve.url.replace(/^http/, 'ws')}/api/projects/${PROJECT}/sessions/${name}/ws`;
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (acks) headers['x-runner-capabilities'] = 'command-acks';
  const ws = new WebSocket(url, { headers });
  const received: Received[] = [];
  ws.on('message', (d) => received.push(JSON.parse(d.toString()) as Received));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  return {
    opened,
    messages: () => received.filter((m) => m.type === 'user_message'),
    ack: (id: number) =>
      ws.send(
        JSON.stringify({
          type: 'command.ack',
          timestamp: new Date().toISOString(),
          payload: { id },
        }),
      ),
    close: async () => {
      ws.close();
      await closed;
    },
  };
}

let s: Setup;

before(async () => {
  s = await setup({ fake: true });
});
after(async () => {
  await s?.close();
});

describe('exactly-once delivery to the runner', () => {
  it('the control plane resends an unacked message after a reconnect and after its own restart, never an acked one', async () => {
    const t = await createSession(s.serve, {
      prompt: '',
      interactive: true,
      environmentVariables: { FAKE_MODE: 'idle' },
    });
    const name = t.metadata.name;
    const token = await botTokenOf(s, name);
    const send = async (content: string) => {
      const res = await s.serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, {
        content,
      });
      assert.equal(res.status, 202, res.text);
      return (res.json as { id: number }).id;
    };

    const m1 = await send('one');
    let r = playRunner(s, name, token, true);
    await r.opened;
    await waitFor(() => r.messages().length === 1, 'message one');
    assert.equal(r.messages()[0]!.deliveryId, m1);
    assert.equal(r.messages()[0]!.payload.content, 'one');
    await r.close(); // no ack: the connection died first

    r = playRunner(s, name, token, true);
    await r.opened;
    await waitFor(() => r.messages().length === 1, 'message one again');
    assert.equal(r.messages()[0]!.deliveryId, m1, 'the same delivery, again');
    assert.deepEqual(messageStates(s, name), ['queued']);
    r.ack(m1);
    await waitFor(() => messageStates(s, name)[0] === 'delivered', 'the ack to land');
    await r.close();

    // Acked: the next connection gets only what is new (sent in order, so first).
    const m2 = await send('two');
    r = playRunner(s, name, token, true);
    await r.opened;
    await waitFor(() => r.messages().length >= 1, 'message two');
    assert.deepEqual(
      r.messages().map((m) => m.deliveryId),
      [m2],
    );

    // serve dies before the ack arrives; the next serve has it queued still.
    await s.killServe();
    await s.restartServe();
    r = playRunner(s, name, token, true);
    await r.opened;
    await waitFor(() => r.messages().length >= 1, 'message two after the restart');
    assert.deepEqual(
      r.messages().map((m) => [m.deliveryId, m.payload.content]),
      [[m2, 'two']],
    );
    r.ack(m2);
    r.ack(m2); // a repeated ack changes nothing
    r.ack(999_999); // nor does a stray one
    await waitFor(() => messageStates(s, name)[1] === 'delivered', 'the second ack to land');
    await r.close();

    // A runner without the capability: no deliveryId, delivered once written.
    const m3 = await send('three');
    const legacy = playRunner(s, name, token, false);
    await legacy.opened;
    await waitFor(() => legacy.messages().length >= 1, 'message three');
    assert.deepEqual(
      legacy.messages().map((m) => [m.deliveryId, m.payload.content]),
      [[undefined, 'three']],
    );
    await waitFor(() => messageStates(s, name)[2] === 'delivered', 'written counts as delivered');
    assert.ok(m3 > m2);
    await legacy.close();
  });
});

describe('the runner side', () => {
  let wss: WebSocketServer;
  let url: string;
  let server: WebSocket | undefined;
  const fromRunner: Record<string, unknown>[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/api/projects/p/sessions/s/ws`;
    wss.on('connection', (ws, req) => {
      assert.equal(req.headers['x-runner-capabilities'], 'command-acks');
      server = ws;
      ws.send(JSON.stringify({ type: 'ack', payload: { seq: 0 } }));
      ws.on('message', (d) => fromRunner.push(JSON.parse(d.toString()) as Record<string, unknown>));
    });
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it('acts on a delivery once, acks every copy, and passes commands without an id as they are', async () => {
    const taken: BackendCommand[] = [];
    const redactor = new Redactor([]);
    const socket = new RunnerSocket({
      url,
      logger: createLogger({ level: 'silent', redactor }),
      redactor,
      maxBufferedBytes: 1 << 20,
      reconnectMaxDelayMs: 200,
      onCommand: (c) => taken.push(c),
    });
    try {
      socket.start();
      await waitFor(() => server, 'the runner to connect');
      const msg = { type: 'user_message', payload: { content: 'hello' }, deliveryId: 7 };
      server!.send(JSON.stringify(msg));
      server!.send(JSON.stringify(msg)); // resent by a backend that did not see the ack
      server!.send(JSON.stringify({ type: 'user_message', payload: { content: 'no id' } }));
      server!.send(
        JSON.stringify({ type: 'user_message', payload: { content: 'next' }, deliveryId: 8 }),
      );
      await waitFor(
        () => taken.length === 3 && fromRunner.filter((f) => f.type === 'command.ack').length === 3,
        'three commands and three acks',
      );
      assert.deepEqual(
        taken.map((c) => (c.payload as { content?: string }).content),
        ['hello', 'no id', 'next'],
      );
      assert.deepEqual(
        fromRunner
          .filter((f) => f.type === 'command.ack')
          .map((f) => (f.payload as { id: number }).id),
        [7, 7, 8],
      );
      assert.ok(
        fromRunner.every((f) => f.type !== 'command.ack' || f.seq === undefined),
        'acks are control frames without seq',
      );
    } finally {
      await socket.close();
    }
  });
});
