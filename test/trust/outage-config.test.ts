/**
 * The runner's final-delivery settings: a generous default, bounds checked with a message naming
 * the variable, and the run number serve passes (AGENTIC_SESSION_RUN) that names the outbox file.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadRunnerConfig } from '../../src/config/runner-config.js';
import { ConfigError } from '../../src/errors.js';
import { outboxFileName } from '../../src/protocol/outbox-file.js';

const base = {
  SESSION_ID: 'sess-1',
  WEBSOCKET_URL: 'ws://backend:8080/api/projects/proj/sessions/sess-1/ws',
  ANTHROPIC_API_KEY: 'sk-ant-api03-outage-config-key-0123456789',
  PROMPT: 'hello',
};

describe('final delivery settings', () => {
  test('default: minutes, not seconds; no run number unless serve passes one', () => {
    const c = loadRunnerConfig(base);
    assert.equal(c.runtime.finalDeliveryTimeoutMs, 300_000);
    assert.equal(c.session.run, undefined);
  });

  test('set explicitly', () => {
    const c = loadRunnerConfig({
      ...base,
      RUNNER_FINAL_DELIVERY_TIMEOUT_MS: '2000',
      AGENTIC_SESSION_RUN: '3',
    });
    assert.equal(c.runtime.finalDeliveryTimeoutMs, 2_000);
    assert.equal(c.session.run, 3);
  });

  for (const [name, value] of [
    ['RUNNER_FINAL_DELIVERY_TIMEOUT_MS', '10'],
    ['RUNNER_FINAL_DELIVERY_TIMEOUT_MS', 'soon'],
    ['AGENTIC_SESSION_RUN', '0'],
  ] as const)
    test(`${name}=${value} is refused, naming the variable`, () => {
      assert.throws(
        () => loadRunnerConfig({ ...base, [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(name),
      );
    });

  test('the outbox file name is per session and run, and cannot leave its directory', () => {
    assert.equal(outboxFileName('sess-1', 2), 'sess-1.run2.outbox.jsonl');
    assert.equal(outboxFileName('../x/y', 1), '.._x_y.run1.outbox.jsonl');
  });
});
