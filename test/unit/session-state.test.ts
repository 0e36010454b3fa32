/**
 * The session runner's state machine (src/runner/session-state.ts): the table of allowed
 * transitions (and the ones it refuses, leaving the state as it was), the stop request carried
 * by `stopping` and `finishing`, and waits that are answered by a transition, not a poll.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  canTransition,
  RunnerStateMachine,
  type RunnerState,
  type RunnerStateName,
  type StopRequest,
} from '../../src/runner/session-state.js';

const SIGTERM: StopRequest = { phase: 'Stopped', message: 'SIGTERM', exitCode: 143 };

const STATES: RunnerStateName[] = [
  'starting',
  'idle',
  'turn',
  'changing',
  'ending',
  'stopping',
  'finishing',
  'done',
];

function stateOf(name: RunnerStateName): RunnerState {
  if (name === 'stopping') return { name, stop: SIGTERM };
  if (name === 'finishing') return { name, stop: null };
  return { name };
}

/** A machine walked to `name` through allowed transitions. */
function machineIn(name: RunnerStateName): RunnerStateMachine {
  const path: Record<RunnerStateName, RunnerStateName[]> = {
    starting: [],
    idle: ['idle'],
    turn: ['idle', 'turn'],
    changing: ['idle', 'changing'],
    ending: ['ending'],
    stopping: ['stopping'],
    finishing: ['finishing'],
    done: ['finishing', 'done'],
  };
  const m = new RunnerStateMachine();
  for (const step of path[name]) assert.ok(m.transition(stateOf(step), 'setup'), step);
  assert.equal(m.name, name);
  return m;
}

describe('the transition table', () => {
  const allowed: [RunnerStateName, RunnerStateName][] = [
    ['starting', 'idle'],
    ['starting', 'ending'],
    ['starting', 'stopping'],
    ['starting', 'finishing'],
    ['idle', 'turn'],
    ['idle', 'changing'],
    ['idle', 'ending'],
    ['idle', 'stopping'],
    ['turn', 'idle'],
    ['turn', 'ending'],
    ['turn', 'stopping'],
    ['turn', 'finishing'],
    ['changing', 'idle'],
    ['changing', 'ending'],
    ['changing', 'stopping'],
    ['ending', 'stopping'],
    ['ending', 'finishing'],
    ['stopping', 'finishing'],
    ['finishing', 'finishing'],
    ['finishing', 'done'],
  ];
  const refused: [RunnerStateName, RunnerStateName][] = [
    ['starting', 'turn'], // a turn needs a conversation
    ['starting', 'changing'], // a change waits for the start
    ['turn', 'turn'], // never two turns at once
    ['turn', 'changing'], // a change waits for the turn's end
    ['changing', 'turn'], // the new conversation starts idle
    ['ending', 'idle'],
    ['ending', 'turn'],
    ['ending', 'changing'],
    ['stopping', 'stopping'], // the first stop decides the outcome
    ['stopping', 'idle'],
    ['stopping', 'ending'],
    ['finishing', 'stopping'], // a stop while finishing stays on `finishing`
    ['finishing', 'idle'],
    ['done', 'finishing'],
    ['done', 'stopping'],
    ['done', 'starting'],
  ];

  for (const [from, to] of allowed)
    test(`${from} -> ${to} is allowed`, () => {
      assert.equal(canTransition(from, to), true);
      const m = machineIn(from);
      assert.equal(m.transition(stateOf(to), 'test'), true);
      assert.equal(m.name, to);
    });

  for (const [from, to] of refused)
    test(`${from} -> ${to} is refused and the state stays`, () => {
      assert.equal(canTransition(from, to), false);
      const m = machineIn(from);
      const before = m.state;
      assert.equal(m.transition(stateOf(to), 'test'), false);
      assert.equal(m.state, before);
    });

  test('nothing leaves done, nothing enters starting', () => {
    for (const to of STATES) assert.equal(canTransition('done', to), false, to);
    for (const from of STATES) assert.equal(canTransition(from, 'starting'), false, from);
  });

  test('every state before finishing can be stopped and can finish', () => {
    for (const from of STATES.filter((s) => !['stopping', 'finishing', 'done'].includes(s))) {
      assert.equal(canTransition(from, 'stopping'), true, from);
      assert.equal(canTransition(from, 'finishing'), true, from);
    }
  });
});

describe('the stop request', () => {
  test('is carried by stopping, then by finishing; none before', () => {
    const m = new RunnerStateMachine();
    assert.equal(m.stopRequest(), null);
    m.transition({ name: 'idle' }, 'test');
    assert.equal(m.stopRequest(), null);
    m.transition({ name: 'stopping', stop: SIGTERM }, 'test');
    assert.deepEqual(m.stopRequest(), SIGTERM);
    m.transition({ name: 'finishing', stop: m.stopRequest() }, 'test');
    assert.deepEqual(m.stopRequest(), SIGTERM);
  });

  test('a stop while finishing is kept on the finishing state', () => {
    const m = machineIn('finishing');
    assert.equal(m.stopRequest(), null);
    assert.equal(m.transition({ name: 'finishing', stop: SIGTERM }, 'signal'), true);
    assert.deepEqual(m.stopRequest(), SIGTERM);
  });
});

describe('waits answered by transitions', () => {
  test('until() resolves at once when the state already holds', async () => {
    const m = machineIn('idle');
    const s = await m.until((x) => x.name !== 'turn');
    assert.equal(s.name, 'idle');
    assert.equal(m.waiting, 0);
  });

  test("a wait for the turn's end resolves on the transition out of turn, not before", async () => {
    const m = machineIn('turn');
    let resolved: RunnerState | null = null;
    const idle = m.until((s) => s.name !== 'turn').then((s) => (resolved = s));
    await Promise.resolve();
    assert.equal(resolved, null, 'still in the turn');
    assert.equal(m.waiting, 1);
    m.transition({ name: 'idle' }, 'turn ended');
    await idle;
    assert.equal(resolved!.name, 'idle');
    assert.equal(m.waiting, 0, 'the answered wait is gone');
  });

  test('a wait for the stop resolves with its request; other transitions leave it waiting', async () => {
    const m = machineIn('idle');
    const stopped = m.until((s) => s.name === 'stopping');
    m.transition({ name: 'turn' }, 'turn 1');
    m.transition({ name: 'idle' }, 'turn 1 ended');
    assert.equal(m.waiting, 1);
    m.transition({ name: 'stopping', stop: SIGTERM }, 'SIGTERM');
    const s = await stopped;
    assert.equal(s.name, 'stopping');
    assert.deepEqual(s.name === 'stopping' ? s.stop : null, SIGTERM);
  });

  test('waiters are woken in the order they waited; a refused transition wakes no one', async () => {
    const m = machineIn('turn');
    const order: string[] = [];
    const a = m.until((s) => s.name === 'idle').then(() => order.push('a'));
    const b = m.until((s) => s.name !== 'turn').then(() => order.push('b'));
    assert.equal(m.transition({ name: 'changing' }, 'refused'), false);
    await Promise.resolve();
    assert.deepEqual(order, []);
    m.transition({ name: 'idle' }, 'turn ended');
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a', 'b']);
  });

  test('done drops the waits that can no longer be answered', () => {
    const m = machineIn('idle');
    void m.until((s) => s.name === 'stopping');
    m.transition({ name: 'finishing', stop: null }, 'conversation over');
    assert.equal(m.waiting, 1);
    m.transition({ name: 'done' }, 'final status');
    assert.equal(m.waiting, 0);
  });
});
