/**
 * The demo's control plane settings: the first command of the README needs nothing but Node and
 * git, so the demo asks for the sandbox only where it can run (`auto`), unless told otherwise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demoServeEnv, loadDemoConfig } from '../../src/config/demo-config.js';

function config(env: Record<string, string>) {
  const parsed = loadDemoConfig([], { PATH: '/usr/bin', ...env }, '/tmp');
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error('unreachable');
  return parsed.config;
}

describe('demo: the control plane it starts', () => {
  it('uses the sandbox where it can run and goes on without it elsewhere (auto)', () => {
    const env = demoServeEnv(config({}), '/tmp/demo-data', 'http://127.0.0.1:4599');
    assert.equal(env.RUNNER_SANDBOX, 'auto');
    assert.equal(env.ANTHROPIC_BASE_URL, 'http://127.0.0.1:4599');
  });

  it('keeps an operator’s own choice of sandbox', () => {
    const env = demoServeEnv(config({ RUNNER_SANDBOX: 'required' }), '/tmp/demo-data');
    assert.equal(env.RUNNER_SANDBOX, 'required');
  });
});
