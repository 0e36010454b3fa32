import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  Auth,
  loadUserToken,
  requireSessionAccess,
  type Principal,
} from '../../src/control-plane/auth.js';
import { RequestError } from '../../src/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ccr-auth-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('user token', () => {
  it('is generated once, saved with mode 0600, then read back', () => {
    const first = loadUserToken(dir);
    assert.equal(first.source, 'generated');
    assert.match(first.token, /^ccr_[A-Za-z0-9_-]{43}$/);
    const file = path.join(dir, 'token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, 'utf8').trim(), first.token);
    const second = loadUserToken(dir);
    assert.deepEqual([second.source, second.token], ['file', first.token]);
  });

  it('a configured token wins and is not written; a loose token file is tightened', () => {
    const d = mkdtempSync(path.join(dir, 'c-'));
    assert.deepEqual(loadUserToken(d, { token: 'configured-token-123', source: 'env' }), {
      token: 'configured-token-123',
      source: 'env',
    });
    assert.throws(() => statSync(path.join(d, 'token')));
    writeFileSync(path.join(d, 'token'), 'existing-token-abcdef\n');
    chmodSync(path.join(d, 'token'), 0o644);
    assert.equal(loadUserToken(d).token, 'existing-token-abcdef');
    assert.equal(statSync(path.join(d, 'token')).mode & 0o777, 0o600);
  });
});

describe('Auth', () => {
  it('tells the user token from runner tokens; revoked tokens stop working', () => {
    const auth = new Auth('user-token-0123456789');
    assert.deepEqual(auth.authenticate('user-token-0123456789'), { kind: 'user' });
    assert.equal(auth.authenticate('user-token-012345678'), undefined);
    assert.equal(auth.authenticate(undefined), undefined);
    const a = auth.mintRunnerToken('session-a', 1);
    const b = auth.mintRunnerToken('session-b', 2);
    assert.notEqual(a.token, b.token);
    assert.match(a.digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(auth.authenticate(a.token), { kind: 'runner', session: 'session-a', run: 1 });
    auth.revokeRunnerToken(a.digest);
    assert.equal(auth.authenticate(a.token), undefined);
    auth.revokeSession('session-b');
    assert.equal(auth.authenticate(b.token), undefined);
    auth.restoreRunnerToken(b.digest, 'session-b', 2);
    assert.deepEqual(auth.authenticate(b.token), { kind: 'runner', session: 'session-b', run: 2 });
  });

  it('runner tokens: own session only (and reading its parent); never management', () => {
    const runner: Principal = { kind: 'runner', session: 'session-a', run: 1 };
    const user: Principal = { kind: 'user' };
    for (const action of ['read', 'socket', 'status', 'annotate', 'git-token'] as const)
      requireSessionAccess(runner, 'session-a', action);
    for (const action of ['read', 'manage', 'status', 'socket', 'git-token'] as const)
      requireSessionAccess(user, 'session-x', action);
    const status = (f: () => void) => {
      try {
        f();
        return 0;
      } catch (e) {
        return (e as RequestError).status;
      }
    };
    assert.equal(
      status(() => requireSessionAccess(runner, 'session-a', 'manage')),
      403,
    );
    assert.equal(
      status(() => requireSessionAccess(runner, 'session-b', 'status')),
      403,
    );
    assert.equal(
      status(() => requireSessionAccess(runner, 'session-b', 'read')),
      403,
    );
    assert.equal(
      status(() => requireSessionAccess(runner, 'session-p', 'read', 'session-p')),
      0,
    );
    assert.equal(
      status(() => requireSessionAccess(runner, 'session-p', 'status', 'session-p')),
      403,
    );
  });
});
