/**
 * Repos in: multi-repo with a chosen main repo, the legacy single-repo form, continuation versus
 * a fresh session, and the bad-input cases (missing repo, missing branch, a folder in the way).
 * Real git against bare repositories on disk (file://).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import {
  createBareRepo,
  pushCommit,
  readRemoteFile,
  remoteTip,
} from '../../src/testing/git-fixtures.js';
import { createHarness, messages } from './helpers.js';

test('multi-repo: each repo cloned at its branch, the chosen main repo is the working directory', async () => {
  const h = await createHarness();
  try {
    const app = await createBareRepo(h.remotes, 'app.git', {
      branches: { main: { 'README.md': 'app\n' } },
    });
    const lib = await createBareRepo(h.remotes, 'lib.git', {
      branches: { main: { 'lib.txt': 'main\n' }, dev: { 'lib.txt': 'dev\n' } },
    });
    const { manager } = h.manager({
      REPOS_JSON: JSON.stringify([
        { input: { url: app.url } },
        { name: 'lib', input: { url: lib.url, branch: 'dev' } },
      ]),
      MAIN_REPO_NAME: 'lib',
    });
    const ws = await manager.prepare();
    assert.equal(ws.cwd, path.join(h.ws, 'lib'));
    assert.deepEqual(ws.additionalDirectories, [
      path.join(h.ws, 'app'),
      path.join(h.ws, 'artifacts'),
    ]);
    assert.equal(await fs.readFile(path.join(h.ws, 'lib', 'lib.txt'), 'utf8'), 'dev\n');
    assert.equal(await fs.readFile(path.join(h.ws, 'app', 'README.md'), 'utf8'), 'app\n');
    assert.equal(
      h.git(path.join(h.ws, 'lib'), ['rev-parse', '--abbrev-ref', 'HEAD']).trim(),
      'dev',
    );
    assert.equal(h.git(path.join(h.ws, 'app'), ['config', 'user.name']).trim(), 'Session Bot');
    assert.equal(
      h.git(path.join(h.ws, 'app'), ['config', 'user.email']).trim(),
      'bot@example.test',
    );
    assert.equal(
      h.git(path.join(h.ws, 'app'), ['remote']).trim(),
      'origin',
      'no output remote without an output',
    );
    const lines = messages(h);
    assert.ok(lines.includes('Cloning app…'), lines.join('\n'));
    assert.ok(
      lines.some((l) => l.startsWith('✓ app ready')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('✓ lib ready (branch dev')),
      lines.join('\n'),
    );
    assert.match(ws.systemPromptAppend, /- lib: .*\/lib, branch dev \(main repository\)/);
    assert.match(ws.systemPromptAppend, /- app: .*\/app, branch main/);
    assert.ok(ws.systemPromptAppend.includes(path.join(h.ws, 'artifacts')));
    assert.equal(ws.cliEnv.GIT_AUTHOR_NAME, 'Session Bot');
    assert.equal(ws.cliEnv.GIT_CONFIG_COUNT, undefined, 'no credential helper for file:// remotes');
    await assert.rejects(fs.access(path.join(h.ws, '.ccr-staging')), 'staging removed once empty');
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});

test('legacy single-repo form: input branch cloned, output remote configured, results pushed to OUTPUT_BRANCH', async () => {
  const h = await createHarness();
  try {
    const input = await createBareRepo(h.remotes, 'app.git', {
      branches: { main: { 'a.txt': 'main\n' }, release: { 'a.txt': 'release\n' } },
    });
    const output = await createBareRepo(h.remotes, 'fork/app.git', {
      branches: { main: { 'a.txt': 'main\n' } },
    });
    const { manager } = h.manager({
      INPUT_REPO_URL: input.url,
      INPUT_BRANCH: 'release',
      OUTPUT_REPO_URL: output.url,
      OUTPUT_BRANCH: 'feature/out',
      AUTO_PUSH_ON_COMPLETE: 'true',
    });
    const ws = await manager.prepare();
    const dir = path.join(h.ws, 'app');
    assert.equal(ws.cwd, dir);
    assert.deepEqual(ws.additionalDirectories, [path.join(h.ws, 'artifacts')]);
    assert.equal(h.git(dir, ['remote', 'get-url', 'output']).trim(), output.url);
    assert.match(ws.systemPromptAppend, /app -> branch feature\/out of its output remote/);
    await fs.writeFile(path.join(dir, 'a.txt'), 'release\nchanged\n');
    const report = await manager.finalize();
    assert.equal(report.repos[0]?.status, 'pushed');
    assert.equal(report.repos[0]?.branch, 'feature/out');
    assert.equal(readRemoteFile(output.path, 'feature/out', 'a.txt'), 'release\nchanged\n');
    assert.equal(
      readRemoteFile(input.path, 'feature/out', 'a.txt'),
      undefined,
      'nothing pushed to the input repo',
    );
    const tip = remoteTip(output.path, 'feature/out');
    assert.equal(tip?.authorName, 'Session Bot');
    assert.equal(tip?.authorEmail, 'bot@example.test');
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});

test('a continuation keeps the workspace as it was; a new session resets it to the remote', async () => {
  const h = await createHarness();
  try {
    const app = await createBareRepo(h.remotes, 'app.git', {
      branches: { main: { 'a.txt': 'one\n' } },
    });
    const env = { REPOS_JSON: JSON.stringify([{ input: { url: app.url, branch: 'main' } }]) };
    await h.manager(env).manager.prepare();
    const dir = path.join(h.ws, 'app');
    await fs.writeFile(path.join(dir, 'a.txt'), 'edited but not committed\n');
    await fs.writeFile(path.join(dir, 'new.txt'), 'untracked\n');
    await pushCommit(app.path, 'main', { 'upstream.txt': 'from upstream\n' });

    // Continuation: nothing touched, upstream not pulled.
    h.progress.length = 0;
    await h.manager({ ...env, PARENT_SESSION_ID: 'sess-0' }).manager.prepare();
    assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), 'edited but not committed\n');
    assert.equal(await fs.readFile(path.join(dir, 'new.txt'), 'utf8'), 'untracked\n');
    await assert.rejects(fs.access(path.join(dir, 'upstream.txt')));
    assert.ok(
      messages(h).some((l) => l.includes('local changes kept')),
      messages(h).join('\n'),
    );

    // New session over the same workspace: reset to origin/main, untracked files gone.
    h.progress.length = 0;
    await h.manager(env).manager.prepare();
    assert.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), 'one\n');
    assert.equal(await fs.readFile(path.join(dir, 'upstream.txt'), 'utf8'), 'from upstream\n');
    await assert.rejects(fs.access(path.join(dir, 'new.txt')));
    assert.equal(h.git(dir, ['status', '--porcelain']).trim(), '');
    assert.ok(messages(h).includes('Resetting app to its remote branch…'), messages(h).join('\n'));
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});

test('bad input: a missing repo, a missing branch and a folder in the way each fail clearly and leave nothing', async () => {
  const h = await createHarness();
  try {
    const app = await createBareRepo(h.remotes, 'app.git', {
      branches: { main: { 'a.txt': 'x\n' } },
    });
    const missingUrl = `${app.url.replace(/app\.git$/, '')}nope.git`;
    const e1 = await h.rejects(() =>
      h.manager({ REPOS_JSON: JSON.stringify([{ input: { url: missingUrl } }]) }).manager.prepare(),
    );
    assert.ok(e1 instanceof UserError, String(e1));
    assert.equal(e1.phase, 'workspace');
    assert.match(e1.message, /repo nope: .*nope\.git does not exist or is not a git repository/);
    await assert.rejects(fs.access(path.join(h.ws, 'nope')));

    const e2 = await h.rejects(() =>
      h
        .manager({
          REPOS_JSON: JSON.stringify([{ input: { url: app.url, branch: 'no-such-branch' } }]),
        })
        .manager.prepare(),
    );
    assert.ok(e2 instanceof UserError, String(e2));
    assert.match(e2.message, /repo app: branch "no-such-branch" does not exist in/);
    await assert.rejects(fs.access(path.join(h.ws, 'app')));
    await assert.rejects(
      fs.access(path.join(h.ws, '.ccr-staging')),
      'no half-made clone left behind',
    );

    await fs.mkdir(path.join(h.ws, 'app'));
    await fs.writeFile(path.join(h.ws, 'app', 'mine.txt'), 'not a clone\n');
    const e3 = await h.rejects(() =>
      h.manager({ REPOS_JSON: JSON.stringify([{ input: { url: app.url } }]) }).manager.prepare(),
    );
    assert.match(e3.message, /already exists and is not a git clone/);
    assert.equal(
      await fs.readFile(path.join(h.ws, 'app', 'mine.txt'), 'utf8'),
      'not a clone\n',
      'left alone',
    );

    // No repos at all: the working directory is artifacts/.
    const ws = await h.manager({}).manager.prepare();
    assert.equal(ws.cwd, path.join(h.ws, 'artifacts'));
    assert.deepEqual(ws.additionalDirectories, []);
    assert.match(ws.systemPromptAppend, /no repositories/);
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});
