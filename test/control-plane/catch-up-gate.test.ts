/** The catch-up gate on its own: places, the line, leaving, and one step per event-loop turn. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CatchUpGate } from '../../src/control-plane/hub/catch-up-gate.js';
import { createLogger } from '../../src/observability/logger.js';
import { Redactor } from '../../src/observability/redact.js';

const logger = createLogger({ level: 'silent', redactor: new Redactor([]) });

describe('catch-up gate', () => {
  it('admits up to the limit, queues the rest in order with their place, and passes places on', async () => {
    const gate = new CatchUpGate(2, logger);
    const keys = [{}, {}, {}, {}];
    const told: number[] = [];
    const entered = keys.map((k, i) => gate.enter(k, (p) => told.push(i * 10 + p)));
    assert.deepEqual(told, [21, 32], 'the third is 1st in line, the fourth 2nd');
    assert.equal(gate.active, 2);
    assert.equal(gate.queued, 2);
    assert.equal(await entered[0], true);
    assert.equal(await entered[1], true);

    const order: number[] = [];
    void entered[2]!.then(() => order.push(2));
    void entered[3]!.then(() => order.push(3));
    gate.leave(keys[1]!);
    await Promise.resolve();
    assert.deepEqual(order, [2], 'the first in line takes the place');
    assert.equal(gate.active, 2);
    gate.leave(keys[1]!); // again: changes nothing
    assert.equal(gate.active, 2);
    assert.equal(gate.queued, 1);
    gate.leave(keys[0]!);
    assert.equal(await entered[3], true);
    assert.deepEqual(order, [2, 3]);
    gate.leave(keys[2]!);
    gate.leave(keys[3]!);
    assert.equal(gate.active, 0);
    assert.equal(gate.queued, 0);
  });

  it('one that leaves while in line is told no, takes no place and frees none', async () => {
    const gate = new CatchUpGate(1, logger);
    const [a, b, c] = [{}, {}, {}];
    assert.equal(await gate.enter(a, () => undefined), true);
    const bIn = gate.enter(b, () => undefined);
    const cIn = gate.enter(c, () => undefined);
    gate.leave(b);
    assert.equal(await bIn, false);
    assert.equal(gate.active, 1, 'a keeps its place');
    assert.equal(gate.queued, 1);
    gate.leave(a);
    assert.equal(await cIn, true);
    assert.equal(gate.active, 1);
    assert.equal(gate.queued, 0);
    // A newcomer waits while c catches up, although b left: b had no place to give back.
    const told: number[] = [];
    const dIn = gate.enter({}, (p) => told.push(p));
    assert.deepEqual(told, [1]);
    gate.leave(c);
    assert.equal(await dIn, true);
  });

  it('turns come one per turn of the event loop, in order, with other callbacks in between', async () => {
    const gate = new CatchUpGate(8, logger);
    const events: string[] = [];
    const turns = [1, 2, 3].map((i) => gate.turn().then(() => events.push(`step ${i}`)));
    // Callbacks queued meanwhile (I/O, timers, immediates of others) run between two steps.
    setImmediate(() => events.push('other 1'));
    await turns[0];
    setImmediate(() => events.push('other 2'));
    await Promise.all(turns);
    assert.deepEqual(events, ['step 1', 'other 1', 'step 2', 'other 2', 'step 3']);
  });
});
