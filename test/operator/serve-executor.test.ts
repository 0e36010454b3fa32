import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServeConfig } from '../../src/config/serve-config.js';

describe('serve --executor', () => {
  it('is local unless kubernetes is asked for, by flag or variable', () => {
    const local = loadServeConfig([], {}, '/tmp');
    assert.equal(!local.help && local.config.executor, 'local');
    const flag = loadServeConfig(['--executor', 'kubernetes'], { KUBECONFIG: '/k' }, '/tmp');
    assert.equal(!flag.help && flag.config.executor, 'kubernetes');
    assert.equal(!flag.help && flag.config.kubeconfig, '/k');
    const env = loadServeConfig([], { CLAUDE_RUNNER_EXECUTOR: 'kubernetes' }, '/tmp');
    assert.equal(!env.help && env.config.executor, 'kubernetes');
  });

  it('names a wrong executor and the choices', () => {
    assert.throws(
      () => loadServeConfig(['--executor', 'docker'], {}, '/tmp'),
      /--executor: "docker" is not one of local, kubernetes/,
    );
  });
});
