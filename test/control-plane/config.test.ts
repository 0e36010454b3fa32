import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import {
  inheritedRunnerEnv,
  loadServeConfig,
  splitCommand,
} from '../../src/config/serve-config.js';

function load(argv: string[], env: Record<string, string> = {}) {
  const r = loadServeConfig(argv, env, '/base');
  if (r.help) throw new Error('help');
  return r.config;
}

describe('serve configuration', () => {
  it('defaults', () => {
    const c = load([]);
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.dataDir, '/base/.claude-runner');
    assert.equal(c.maxConcurrent, 4);
    assert.equal(c.graceMs, 10_000);
    assert.equal(c.token, undefined);
    assert.equal(c.runnerCommand, undefined);
    assert.equal(c.limits.maxBodyBytes, 1024 * 1024);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.limits));
  });

  it('flags win over variables; both forms of flags', () => {
    const c = load(
      [
        '--port=9000',
        '--data-dir',
        'd',
        '--max-concurrent',
        '2',
        '--grace-ms',
        '50',
        '--keep-runners',
      ],
      {
        CLAUDE_RUNNER_PORT: '7000',
        CLAUDE_RUNNER_API_TOKEN: 'from-env-token-123456',
        CLAUDE_RUNNER_MAX_CONCURRENT: '9',
      },
    );
    assert.equal(c.port, 9000);
    assert.equal(c.dataDir, '/base/d');
    assert.equal(c.maxConcurrent, 2);
    assert.equal(c.graceMs, 50);
    assert.equal(c.keepRunners, true);
    assert.equal(c.token, 'from-env-token-123456');
    assert.equal(c.tokenSource, 'env');
    assert.ok(c.secrets.includes('from-env-token-123456'));
  });

  it('reports every problem at once', () => {
    try {
      load(
        [
          '--port',
          'x',
          '--bogus',
          '--max-concurrent=0',
          '--token',
          'sh0rt',
          '--runner-command',
          '"unbalanced',
        ],
        { LOG_LEVEL: 'loud' },
      );
      assert.fail('no error');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      const text = e.problems.join('\n');
      for (const needle of [
        '--port',
        '--bogus',
        '--max-concurrent',
        '--token',
        '--runner-command',
        'LOG_LEVEL',
      ])
        assert.match(text, new RegExp(needle));
      assert.doesNotMatch(e.message, /sh0rt/, 'the token value is not echoed');
    }
  });

  it('--help', () => {
    assert.deepEqual(loadServeConfig(['--help'], {}), { help: true });
  });

  it('runner command lines split like a shell would', () => {
    assert.deepEqual(splitCommand(`node "my dir/runner.js" --x 'a b' c\\ d`), [
      'node',
      'my dir/runner.js',
      '--x',
      'a b',
      'c d',
    ]);
    assert.equal(splitCommand('"open'), undefined);
    assert.deepEqual(load(['--runner-command', 'python3 -m runner']).runnerCommand, [
      'python3',
      '-m',
      'runner',
    ]);
  });

  it("runners inherit model settings and tuning, not serve's own secrets or unrelated variables", () => {
    const env = inheritedRunnerEnv({
      ANTHROPIC_API_KEY: 'k',
      ANTHROPIC_BASE_URL: 'http://m',
      VERTEX_PROJECT_ID: 'p',
      CLAUDE_CODE_USE_VERTEX: '1',
      CLOUD_ML_REGION: 'r',
      LOG_LEVEL: 'debug',
      PATH: '/bin',
      CLAUDE_RUNNER_API_TOKEN: 'user-token',
      GITHUB_TOKEN: 'ghp',
      AWS_SECRET_ACCESS_KEY: 'aws',
      EMPTY: '',
    });
    assert.deepEqual(Object.keys(env).sort(), [
      'ANTHROPIC_API_KEY',
      'ANTHROPIC_BASE_URL',
      'CLAUDE_CODE_USE_VERTEX',
      'CLOUD_ML_REGION',
      'LOG_LEVEL',
      'PATH',
      'VERTEX_PROJECT_ID',
    ]);
  });

  it('a wildcard listen address is advertised to runners as loopback', () => {
    assert.equal(load(['--host', '0.0.0.0']).advertiseHost, '127.0.0.1');
    assert.equal(load(['--host', '10.1.2.3']).advertiseHost, '10.1.2.3');
  });
});
