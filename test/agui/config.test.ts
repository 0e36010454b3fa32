/** `--cors-origin`: off by default, a list of origins or `*`, and a clear error for anything else. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServeConfig } from '../../src/config/serve-config.js';
import { ConfigError } from '../../src/errors.js';

const load = (argv: string[], env: Record<string, string> = {}) => {
  const r = loadServeConfig(argv, env, '/tmp');
  assert.ok(!r.help && r.config);
  return r.config;
};

describe('serve: --cors-origin', () => {
  it('is off by default', () => {
    assert.deepEqual(load([]).corsOrigins, []);
  });
  it('takes a list of origins (flag over variable) or *', () => {
    assert.deepEqual(
      load(['--cors-origin', 'https://a.example, http://b.example:3000/']).corsOrigins,
      ['https://a.example', 'http://b.example:3000'],
    );
    assert.deepEqual(load([], { CLAUDE_RUNNER_CORS_ORIGIN: '*' }).corsOrigins, ['*']);
    assert.deepEqual(
      load(['--cors-origin=https://flag.example'], { CLAUDE_RUNNER_CORS_ORIGIN: '*' }).corsOrigins,
      ['https://flag.example'],
    );
  });
  it('refuses what is not an origin, naming the setting and the fix', () => {
    assert.throws(
      () => load(['--cors-origin', 'app.example.com/path']),
      (e: unknown) =>
        e instanceof ConfigError &&
        /--cors-origin: "app.example.com\/path" is not an origin: use scheme:\/\/host/.test(
          e.message,
        ),
    );
  });
});
