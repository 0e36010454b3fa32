/**
 * The runner's event-based waits, without a CLI:
 * - a sessions tool's caller (`waitForCaller`) is answered the moment the mapper maps the tool
 *   call, falls back to `main` at its bound or when the run ends, and leaves no listener behind;
 * - the socket's `flush()` for a backend that never acks is answered by the write of the last
 *   frame, and gives up when its signal aborts.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger } from '../../src/observability/logger.js';
import { Redactor } from '../../src/observability/redact.js';
import { MAIN_AGENT } from '../../src/protocol/agents.js';
import { MessageMapper } from '../../src/runner/message-mapper.js';
import { waitForCaller } from '../../src/runner/session-helpers.js';
import { RunnerSocket } from '../../src/runner/socket-client.js';

const SESSION = '0b1c2d3e-0000-4000-8000-000000000001';
let uuidN = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++uuidN).padStart(12, '0')}`;

function toolCall(id: string, name: string, input: unknown, parent: string | null): SDKMessage {
  return {
    type: 'assistant',
    message: {
      id: `msg_${id}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'tool_use', id, name, input }],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    },
    parent_tool_use_id: parent,
    uuid: uuid(),
    session_id: SESSION,
  } as unknown as SDKMessage;
}

/** Counts the mapper's caller listeners, to show a finished wait leaves none. */
function countingListeners(mapper: MessageMapper): { readonly active: number } {
  let active = 0;
  const original = mapper.onCallerKnown.bind(mapper);
  mapper.onCallerKnown = (listener) => {
    active++;
    const off = original(listener);
    return () => {
      active--;
      return off();
    };
  };
  return {
    get active() {
      return active;
    },
  };
}

describe('waitForCaller', () => {
  test('resolves as soon as the mapper maps the call, with the sub-agent that made it', async () => {
    const mapper = new MessageMapper(new Redactor([]));
    const listeners = countingListeners(mapper);
    mapper.map(toolCall('toolu_task', 'Task', { subagent_type: 'code-reviewer' }, null));
    const caller = waitForCaller(mapper, 'toolu_send', 60_000, new AbortController().signal);
    let answered = false;
    void caller.then(() => (answered = true));
    await Promise.resolve();
    assert.equal(answered, false, 'the call is not mapped yet');
    assert.equal(listeners.active, 1);
    mapper.map(toolCall('toolu_other', 'Read', {}, null));
    await Promise.resolve();
    assert.equal(answered, false, 'another call does not answer it');
    mapper.map(toolCall('toolu_send', 'mcp__sessions__send_message', {}, 'toolu_task'));
    assert.equal(await caller, 'code-reviewer');
    assert.equal(listeners.active, 0, 'the listener is removed');
  });

  test('answers at once when the caller is already known, and main without an id', async () => {
    const mapper = new MessageMapper(new Redactor([]));
    const listeners = countingListeners(mapper);
    mapper.map(toolCall('toolu_1', 'mcp__sessions__list_sessions', {}, null));
    const signal = new AbortController().signal;
    assert.equal(await waitForCaller(mapper, 'toolu_1', 60_000, signal), MAIN_AGENT);
    assert.equal(await waitForCaller(mapper, undefined, 60_000, signal), MAIN_AGENT);
    assert.equal(listeners.active, 0, 'no wait was needed');
  });

  test('falls back to main when the run ends (abort) or the bound passes', async () => {
    const mapper = new MessageMapper(new Redactor([]));
    const listeners = countingListeners(mapper);
    const run = new AbortController();
    const waiting = waitForCaller(mapper, 'toolu_never', 60_000, run.signal);
    run.abort();
    assert.equal(await waiting, MAIN_AGENT);
    assert.equal(await waitForCaller(mapper, 'toolu_never', 60_000, run.signal), MAIN_AGENT);
    assert.equal(
      await waitForCaller(mapper, 'toolu_never', 1, new AbortController().signal),
      MAIN_AGENT,
    );
    assert.equal(listeners.active, 0);
  });
});

describe('flush() to a backend without acks', () => {
  let wss: WebSocketServer;
  let url: string;
  const received: string[] = [];
  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`;
    wss.on('connection', (ws: WebSocket) =>
      ws.on('message', (d) => received.push((JSON.parse(d.toString()) as { type: string }).type)),
    );
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  function socketTo(target: string): RunnerSocket {
    const redactor = new Redactor([]);
    return new RunnerSocket({
      url: target,
      logger: createLogger({ level: 'silent', redactor }),
      redactor,
      maxBufferedBytes: 64 << 20,
      reconnectMaxDelayMs: 200,
      onCommand: () => undefined,
    });
  }

  test('resolves true once every frame is written out, past the high-water mark', async () => {
    const socket = socketTo(url);
    try {
      socket.start();
      assert.equal(await socket.whenOpen(30_000), true);
      // More than the pump's high-water mark (1 MiB): the pump waits for writes to drain.
      const big = 'x'.repeat(1 << 20);
      for (let i = 0; i < 16; i++)
        socket.send({ type: 'system.message', payload: { message: big, level: 'info' } });
      socket.send({ type: 'agent.waiting', payload: {} });
      assert.equal(await socket.flush(60_000), true);
      assert.equal(await socket.flush(60_000), true, 'an already flushed socket answers at once');
    } finally {
      await socket.close();
    }
    const deadline = Date.now() + 30_000;
    while (received.length < 17 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal(received.at(-1), 'agent.waiting', 'the backend got the frames in order');
  });

  test('resolves false when its signal aborts while the backend is unreachable', async () => {
    // A port with nothing listening: the socket never opens.
    const closed = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => closed.once('listening', () => r()));
    const deadUrl = `ws://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
    await new Promise<void>((r) => closed.close(() => r()));
    const socket = socketTo(deadUrl);
    try {
      socket.start();
      socket.send({ type: 'agent.waiting', payload: {} });
      const cutoff = new AbortController();
      const flushed = socket.flush(600_000, cutoff.signal);
      cutoff.abort();
      assert.equal(await flushed, false);
      assert.equal(await socket.flush(600_000, cutoff.signal), false, 'an aborted signal');
      assert.equal(socket.pendingFrames, 1, 'the frame is still waiting for the backend');
    } finally {
      await socket.close();
    }
  });
});
