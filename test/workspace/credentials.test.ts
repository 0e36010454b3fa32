/**
 * Credentials: the forge/host rule, and the real credential path against a smart-HTTP remote
 * (`git http-backend` behind basic auth on 127.0.0.1): the right token works for us and for the
 * agent's shell (cliEnv), a wrong one gives a clear error, a minted one is used when no token
 * is configured, and no token is ever written, logged or shown.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import {
  createBareRepo,
  gitAsync,
  readRemoteFile,
  startGitHttpServer,
} from '../../src/testing/git-fixtures.js';
import { GitCredentials } from '../../src/workspace/credentials.js';
import { forgeKind, githubApiBase, gitlabApiBase, parseRemote } from '../../src/workspace/forge.js';
import { createHarness, GIT_TOKEN, MINTED_TOKEN, WRONG_TOKEN } from './helpers.js';

test('forge and token rule by host', async () => {
  const apis = {
    githubApiUrl: 'https://ghe.corp.test/api/v3',
    gitlabApiUrl: 'http://code.internal:8080/api/v4',
  };
  const kind = (url: string) => forgeKind(parseRemote(url), apis);
  assert.equal(kind('https://github.com/org/app.git'), 'github');
  assert.equal(kind('https://github.example.com/org/app'), 'github');
  assert.equal(kind('https://ghe.corp.test/org/app.git'), 'github');
  assert.equal(kind('https://gitlab.com/group/sub/app.git'), 'gitlab');
  assert.equal(kind('https://gitlab.example.org/group/app'), 'gitlab');
  assert.equal(kind('http://code.internal:8080/group/app.git'), 'gitlab');
  assert.equal(kind('http://127.0.0.1:9999/org/app.git'), 'unknown');
  assert.equal(kind('git@github.com:org/app.git'), 'github');
  assert.equal(kind('file:///srv/git/app.git'), 'none');
  assert.equal(githubApiBase(parseRemote('https://github.com/o/r'), {}), 'https://api.github.com');
  assert.equal(
    githubApiBase(parseRemote('https://github.acme.test/o/r'), {}),
    'https://github.acme.test/api/v3',
  );
  assert.equal(
    gitlabApiBase(parseRemote('https://gitlab.acme.test/g/r'), {}),
    'https://gitlab.acme.test/api/v4',
  );
  assert.deepEqual(
    {
      owner: parseRemote('git@github.com:org/app.git').owner,
      repo: parseRemote('git@github.com:org/app.git').repo,
    },
    { owner: 'org', repo: 'app' },
  );

  let minted = 0;
  const creds = new GitCredentials({
    githubToken: 'gh-configured-token',
    gitlabToken: 'gl-configured-token',
    apis: {},
    mint: async () => {
      minted++;
      return 'minted-token-value';
    },
    onMinted: () => undefined,
    warn: () => undefined,
  });
  assert.equal(
    (await creds.resolve(parseRemote('https://github.com/o/r'))).token,
    'gh-configured-token',
  );
  assert.equal(
    (await creds.resolve(parseRemote('https://gitlab.com/o/r'))).token,
    'gl-configured-token',
  );
  assert.equal((await creds.resolve(parseRemote('https://gitlab.com/o/r'))).username, 'oauth2');
  assert.equal((await creds.resolve(parseRemote('http://127.0.0.1:1/o/r'))).source, 'GITHUB_TOKEN');
  assert.equal((await creds.resolve(parseRemote('file:///x/r.git'))).token, undefined);
  assert.deepEqual(
    await creds.gitEnv(parseRemote('git@github.com:o/r.git')),
    {},
    'git over ssh uses keys, not tokens',
  );
  assert.equal(
    (await creds.resolve(parseRemote('git@github.com:o/r.git'))).token,
    'gh-configured-token',
    'its API does',
  );
  assert.equal(minted, 0, 'no mint while tokens are configured');
  const env = await creds.gitEnv(parseRemote('https://github.com/o/r'));
  assert.equal(env.GIT_CONFIG_KEY_0, 'credential.helper');
  assert.equal(env.GIT_CONFIG_VALUE_0, '');
  assert.equal(env.GIT_CONFIG_KEY_1, 'credential.https://github.com.helper');
  assert.ok(
    !env.GIT_CONFIG_VALUE_1?.includes('gh-configured-token'),
    'the helper reads the token from the environment',
  );
  assert.equal(env.CCR_GIT_TOKEN_0, 'gh-configured-token');

  const mintOnly = new GitCredentials({
    apis: {},
    mint: async () => {
      minted++;
      return 'minted-token-value';
    },
    onMinted: () => undefined,
    warn: () => undefined,
  });
  assert.equal((await mintOnly.resolve(parseRemote('https://github.com/o/r'))).source, 'minted');
  await mintOnly.resolve(parseRemote('https://gitlab.com/o/r'));
  assert.equal(minted, 1, 'minted once, then reused');
});

test('smart HTTP with GITHUB_TOKEN: clone works for us and pushes work from the agent shell; nothing stored', async () => {
  const h = await createHarness();
  const server = await startGitHttpServer({
    root: h.remotes,
    password: GIT_TOKEN,
    username: 'x-access-token',
  });
  try {
    const bare = await createBareRepo(h.remotes, 'org/app.git', {
      branches: { main: { 'a.txt': 'hello\n' } },
    });
    const { manager } = h.manager({
      REPOS_JSON: JSON.stringify([{ input: { url: server.url('org/app.git'), branch: 'main' } }]),
      GITHUB_TOKEN: GIT_TOKEN,
    });
    const ws = await manager.prepare();
    const dir = path.join(h.ws, 'app');
    assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), 'hello\n');
    assert.ok(
      server.auths.length > 0 && server.auths.every((a) => a.ok && a.username === 'x-access-token'),
    );
    assert.equal(
      h.git(dir, ['remote', 'get-url', 'origin']).trim(),
      server.url('org/app.git'),
      'plain URL on disk',
    );
    assert.equal(h.mints, 0);

    // The agent's shell: cliEnv alone is enough to push, and the token is not in the helper text.
    assert.equal(ws.cliEnv.GH_TOKEN, GIT_TOKEN);
    assert.equal(ws.cliEnv.GIT_CONFIG_KEY_1, `credential.${server.origin}.helper`);
    assert.ok(!ws.cliEnv.GIT_CONFIG_VALUE_1?.includes(GIT_TOKEN));
    await fs.writeFile(path.join(dir, 'agent.txt'), 'by the agent\n');
    const shellEnv = { ...h.env(), ...ws.cliEnv };
    await gitAsync(dir, ['add', '-A'], shellEnv);
    await gitAsync(dir, ['commit', '-q', '-m', 'agent commit'], shellEnv);
    await gitAsync(dir, ['push', '-q', 'origin', 'HEAD:refs/heads/agent-branch'], shellEnv);
    assert.equal(readRemoteFile(bare.path, 'agent-branch', 'agent.txt'), 'by the agent\n');
    assert.ok(
      server.requests.every((r) => !r.includes(GIT_TOKEN)),
      'no token in any URL git requested',
    );
    await h.assertNoSecrets();
  } finally {
    await server.close();
    await h.cleanup();
  }
});

test('wrong credentials: a clear error naming the variable, no token, nothing left behind', async () => {
  const h = await createHarness();
  const server = await startGitHttpServer({ root: h.remotes, password: GIT_TOKEN });
  try {
    await createBareRepo(h.remotes, 'org/app.git', { branches: { main: { 'a.txt': 'x\n' } } });
    const err = await h.rejects(() =>
      h
        .manager({
          REPOS_JSON: JSON.stringify([{ input: { url: server.url('org/app.git') } }]),
          GITHUB_TOKEN: WRONG_TOKEN,
        })
        .manager.prepare(),
    );
    assert.ok(err instanceof UserError, String(err));
    assert.match(
      err.message,
      /^repo app: http:\/\/127\.0\.0\.1:\d+\/org\/app\.git refused the credentials \(authentication failed\): check that GITHUB_TOKEN is valid/,
    );
    assert.ok(
      server.auths.some((a) => !a.ok),
      'the wrong token was presented and refused',
    );
    await assert.rejects(fs.access(path.join(h.ws, 'app')));

    // No token at all and no backend token: the message says what to set.
    const err2 = await h.rejects(() =>
      h
        .manager({ REPOS_JSON: JSON.stringify([{ input: { url: server.url('org/app.git') } }]) })
        .manager.prepare(),
    );
    assert.match(err2.message, /no token was available: set GITHUB_TOKEN/);
    await h.assertNoSecrets();
  } finally {
    await server.close();
    await h.cleanup();
  }
});

test('without GITHUB_TOKEN a backend-minted token is used (once) and reported for redaction', async () => {
  const h = await createHarness();
  const server = await startGitHttpServer({ root: h.remotes, password: MINTED_TOKEN });
  try {
    await createBareRepo(h.remotes, 'org/app.git', { branches: { main: { 'a.txt': 'x\n' } } });
    await createBareRepo(h.remotes, 'org/lib.git', { branches: { main: { 'b.txt': 'y\n' } } });
    const { manager } = h.manager(
      {
        REPOS_JSON: JSON.stringify([
          { input: { url: server.url('org/app.git') } },
          { input: { url: server.url('org/lib.git') } },
        ]),
      },
      { mint: MINTED_TOKEN },
    );
    const ws = await manager.prepare();
    assert.equal(h.mints, 1);
    assert.deepEqual(ws.secrets, [MINTED_TOKEN]);
    assert.equal(ws.cliEnv.GH_TOKEN, MINTED_TOKEN);
    assert.equal(await fs.readFile(path.join(h.ws, 'lib', 'b.txt'), 'utf8'), 'y\n');
    await h.assertNoSecrets();
  } finally {
    await server.close();
    await h.cleanup();
  }
});
