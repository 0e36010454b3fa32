/**
 * The owner of command delivery on its own (a real SQLite store in memory, a stand-in for the
 * runner's connection): enqueue → deliver → ack → delivered; a reconnect resends what was not
 * acked; a runner without acks gets each command at most once; canonical forms; discard at run
 * end. The whole path through sockets and real runners is in test/agents/delivery.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RequestError } from '../../src/errors.js';
import {
  CommandDelivery,
  withDeliveryId,
  type CommandChannel,
} from '../../src/control-plane/delivery/commands.js';
import { HistoryLog } from '../../src/control-plane/hub/history-log.js';
import { ControlPlaneRedactor } from '../../src/control-plane/redaction.js';
import { Store } from '../../src/control-plane/store/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { Redactor } from '../../src/observability/redact.js';
import type { BackendCommand } from '../../src/protocol/commands.js';

const logger = createLogger({ level: 'silent', redactor: new Redactor([]) });
const SESSION = 'session-d';

/** A runner's connection as delivery sees it: records what is written; writes can fail. */
class FakeChannel implements CommandChannel {
  readonly sent: string[] = [];
  open = true;
  failWrites = false;
  constructor(
    readonly commandAcks: boolean,
    readonly run = 1,
  ) {}
  send(json: string, done: (err?: Error) => void): void {
    this.sent.push(json);
    const fail = this.failWrites;
    setImmediate(() => done(fail ? new Error('socket closed') : undefined));
  }
  frames(): Record<string, unknown>[] {
    return this.sent.map((s) => JSON.parse(s) as Record<string, unknown>);
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

let store: Store;
let history: HistoryLog;
let delivery: CommandDelivery;

function stateOf(id: number): string {
  return (store.db.prepare('SELECT state FROM messages WHERE id = ?').get(id) as { state: string })
    .state;
}

function userMessage(content: string): BackendCommand {
  return { type: 'user_message', payload: { content } };
}

beforeEach(() => {
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
  store.runs.insert(SESSION, 1, new Date().toISOString());
  store.runs.update(SESSION, 1, { state: 'active' });
  history = new HistoryLog(store, logger);
  delivery = new CommandDelivery({
    store,
    history,
    redactor: new ControlPlaneRedactor([]),
    logger,
  });
});

afterEach(() => store.close());

describe('command delivery', () => {
  it('enqueues, delivers with its deliveryId, and marks delivered on the ack', async () => {
    const runner = new FakeChannel(true);
    delivery.attach(SESSION, runner);
    const result = delivery.submit(SESSION, userMessage('hello'), 'api');
    assert.deepEqual(result, { id: result.id, type: 'user_message', delivered: true, seq: 1 });
    assert.deepEqual(runner.frames(), [
      {
        type: 'user_message',
        payload: { content: 'hello', from: { user: 'user' } },
        deliveryId: result.id,
      },
    ]);
    await tick();
    assert.equal(stateOf(result.id), 'queued', 'written is not taken: it waits for the ack');
    delivery.ack(SESSION, runner, result.id);
    assert.equal(stateOf(result.id), 'delivered');
    const entry = JSON.parse(history.read(SESSION, 0, 10)[0]!.frame) as Record<string, unknown>;
    assert.equal(entry.type, 'user_message');
    assert.deepEqual(entry.payload, { content: 'hello', from: { user: 'user' }, via: 'api' });
  });

  it('queues while no runner is attached and sends in order once one is', () => {
    const a = delivery.submit(SESSION, userMessage('one'), 'api');
    const b = delivery.submit(SESSION, { type: 'interrupt', payload: {} }, 'watcher');
    assert.equal(a.delivered, false);
    assert.equal(b.seq, undefined, 'only user messages enter the history');
    const runner = new FakeChannel(true);
    delivery.attach(SESSION, runner);
    assert.deepEqual(
      runner.frames().map((f) => [f.type, f.deliveryId]),
      [
        ['user_message', a.id],
        ['interrupt', b.id],
      ],
    );
  });

  it('resends what was not acked to the next connection, never what was', async () => {
    const first = new FakeChannel(true);
    delivery.attach(SESSION, first);
    const acked = delivery.submit(SESSION, userMessage('acked'), 'api');
    const lost = delivery.submit(SESSION, userMessage('lost'), 'api');
    delivery.ack(SESSION, first, acked.id);
    delivery.detach(SESSION, first);
    await tick();

    const second = new FakeChannel(true);
    delivery.attach(SESSION, second);
    assert.deepEqual(
      second.frames().map((f) => f.deliveryId),
      [lost.id],
      'the same deliveryId, so the runner can drop a repeat',
    );
    // A newer connection replaces one that has not closed yet: it gets the unacked again.
    const third = new FakeChannel(true);
    delivery.attach(SESSION, third);
    delivery.detach(SESSION, second); // the replaced one closing later detaches nothing
    assert.deepEqual(
      third.frames().map((f) => f.deliveryId),
      [lost.id],
    );
    delivery.ack(SESSION, third, lost.id);
    assert.equal(stateOf(lost.id), 'delivered');
    const fourth = new FakeChannel(true);
    delivery.attach(SESSION, fourth);
    assert.deepEqual(fourth.sent, []);
  });

  it('sends a runner without acks each command once, without deliveryId, delivered once written', async () => {
    const runner = new FakeChannel(false);
    delivery.attach(SESSION, runner);
    const sent = delivery.submit(SESSION, userMessage('once'), 'api');
    assert.deepEqual(runner.frames(), [
      { type: 'user_message', payload: { content: 'once', from: { user: 'user' } } },
    ]);
    await tick();
    assert.equal(stateOf(sent.id), 'delivered');
    delivery.detach(SESSION, runner);
    const again = new FakeChannel(false);
    delivery.attach(SESSION, again);
    assert.deepEqual(again.sent, [], 'at most once: not sent again');

    // A write that fails leaves it queued, for the next connection.
    again.failWrites = true;
    const failed = delivery.submit(SESSION, userMessage('failed'), 'api');
    await tick();
    assert.equal(stateOf(failed.id), 'queued');
    delivery.detach(SESSION, again);
    const next = new FakeChannel(false);
    delivery.attach(SESSION, next);
    assert.deepEqual(
      next.frames().map((f) => (f.payload as { content: string }).content),
      ['failed'],
    );
  });

  it('sends the canonical form, also of rows an earlier version queued in another', () => {
    const runner = new FakeChannel(true);
    delivery.attach(SESSION, runner);
    const results = [
      delivery.submit(SESSION, { type: 'user.message', payload: { text: 'dotted' } }, 'watcher'),
      delivery.submit(SESSION, { type: 'terminate' }, 'api'),
      delivery.submit(SESSION, { type: 'stop', payload: {} }, 'api'),
    ];
    assert.deepEqual(
      results.map((r) => r.type),
      ['user_message', 'end_session', 'end_session'],
    );
    assert.deepEqual(
      runner.frames().map((f) => f.type),
      ['user_message', 'end_session', 'end_session'],
    );
    const legacy = store.messages.enqueue(
      SESSION,
      1,
      'user.message',
      JSON.stringify({ type: 'user.message', payload: { content: 'old' } }),
    );
    delivery.attach(SESSION, runner); // a reconnect sends what is queued
    const last = runner.frames().at(-1)!;
    assert.deepEqual(last, {
      type: 'user_message',
      payload: { content: 'old' },
      deliveryId: legacy,
    });
  });

  it('drops at run end what the runner never received, and refuses commands for an ended run', () => {
    const queued = delivery.submit(SESSION, userMessage('never read'), 'api');
    assert.equal(delivery.discard(SESSION), 1);
    assert.equal(stateOf(queued.id), 'discarded');
    const runner = new FakeChannel(true);
    delivery.attach(SESSION, runner);
    assert.deepEqual(runner.sent, []);

    store.runs.update(SESSION, 1, { state: 'ended' });
    assert.throws(
      () => delivery.submit(SESSION, userMessage('too late'), 'api'),
      (e: unknown) =>
        e instanceof RequestError && e.status === 409 && /start it again/.test(e.message),
    );
    assert.throws(
      () => delivery.submit('nobody', userMessage('x'), 'api'),
      (e: unknown) => e instanceof RequestError && e.status === 404,
    );
  });

  it('adds the deliveryId to the stored JSON as its last member', () => {
    const json = JSON.stringify({ type: 'interrupt', payload: { a: '}' } });
    assert.deepEqual(JSON.parse(withDeliveryId(json, 7)), {
      type: 'interrupt',
      payload: { a: '}' },
      deliveryId: 7,
    });
  });
});
