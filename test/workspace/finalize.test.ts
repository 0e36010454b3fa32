/**
 * Results out, over smart HTTP with basic auth and a recording GitHub/GitLab stand-in: push to
 * `sessions/<id>` (author and content checked in the remote) and a PR (request body checked),
 * cross-fork head, a rejected push that keeps the commit, a PR API error, a GitLab MR, and the
 * no-auto-push report.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import {
  createBareRepo,
  pushUnrelatedBranch,
  readRemoteFile,
  remoteTip,
  startGitHttpServer,
} from '../../src/testing/git-fixtures.js';
import { projectId, startForgeStandin } from '../support/forge-standin.js';
import { createHarness, GIT_TOKEN, messages, SESSION_ID } from './helpers.js';

const BRANCH = `sessions/${SESSION_ID}`;

test('auto-push commits as the configured identity to sessions/<id> and opens a GitHub PR', async () => {
  const h = await createHarness();
  const server = await startGitHttpServer({ root: h.remotes, password: GIT_TOKEN });
  const forge = await startForgeStandin({ token: GIT_TOKEN });
  try {
    const bare = await createBareRepo(h.remotes, 'org/app.git', {
      branches: { main: { 'greet.txt': 'hello\nworld\n', 'old.txt': 'bye\n' } },
    });
    const { manager } = h.manager(
      {
        REPOS_JSON: JSON.stringify([{ input: { url: server.url('org/app.git'), branch: 'main' } }]),
        GITHUB_TOKEN: GIT_TOKEN,
        AUTO_PUSH_ON_COMPLETE: 'true',
        CREATE_PR: 'true',
      },
      { githubApiUrl: forge.githubApiUrl },
    );
    await manager.prepare();
    const dir = path.join(h.ws, 'app');
    await fs.writeFile(path.join(dir, 'greet.txt'), 'hello\nthere\nworld\n');
    await fs.rm(path.join(dir, 'old.txt'));
    await fs.writeFile(path.join(dir, 'new.txt'), 'a\nb\n');

    const report = await manager.finalize();
    assert.deepEqual(report.repos, [
      {
        name: 'app',
        status: 'pushed',
        branch: BRANCH,
        added: 3,
        removed: 1,
        prUrl: 'https://forge.example.test/org/app/pull/1',
      },
    ]);
    assert.deepEqual(report.prUrls, ['https://forge.example.test/org/app/pull/1']);

    const tip = remoteTip(bare.path, BRANCH);
    assert.equal(tip?.authorName, 'Session Bot');
    assert.equal(tip?.authorEmail, 'bot@example.test');
    assert.equal(tip?.committerEmail, 'bot@example.test');
    assert.equal(tip?.subject, 'Claude Code: Fix the greeting');
    assert.equal(readRemoteFile(bare.path, BRANCH, 'greet.txt'), 'hello\nthere\nworld\n');
    assert.equal(readRemoteFile(bare.path, BRANCH, 'new.txt'), 'a\nb\n');
    assert.equal(readRemoteFile(bare.path, BRANCH, 'old.txt'), undefined);
    assert.equal(
      readRemoteFile(bare.path, 'main', 'greet.txt'),
      'hello\nworld\n',
      'main untouched',
    );

    assert.equal(forge.requests.length, 1);
    const pr = forge.requests[0]!;
    assert.equal(pr.method, 'POST');
    assert.equal(pr.path, '/repos/org/app/pulls');
    assert.ok(pr.authorized, 'the PR call carried the token');
    const body = pr.body as Record<string, unknown>;
    assert.equal(body.head, BRANCH);
    assert.equal(body.base, 'main');
    assert.equal(body.title, 'Claude Code: Fix the greeting');
    assert.match(String(body.body), /session `my-session`/);
    assert.equal(body.maintainer_can_modify, undefined);
    assert.ok(
      messages(h).some((l) =>
        l.includes('Pull request for app: https://forge.example.test/org/app/pull/1'),
      ),
    );

    // Finalizing again (a restarted session): nothing new, so nothing pushed or requested.
    const again = await manager.finalize();
    assert.equal(again.repos[0]?.status, 'pushed', 'the pushed commit still differs from main');
    assert.equal(
      again.repos[0]?.prUrl,
      'https://forge.example.test/org/app/pull/1',
      'the existing PR is found',
    );
    await h.assertNoSecrets();
  } finally {
    await forge.close();
    await server.close();
    await h.cleanup();
  }
});

test('cross-fork: pushed to the output repo, PR head is owner:branch, base is PR_TARGET_BRANCH', async () => {
  const h = await createHarness();
  const server = await startGitHttpServer({ root: h.remotes, password: GIT_TOKEN });
  const forge = await startForgeStandin({ token: GIT_TOKEN });
  try {
    const upstream = await createBareRepo(h.remotes, 'org/app.git', {
      branches: { main: { 'a.txt': '1\n' }, develop: { 'a.txt': '2\n' } },
    });
    const fork = await createBareRepo(h.remotes, 'forker/app.git', {
      branches: { main: { 'a.txt': '1\n' } },
    });
    const { manager } = h.manager(
      {
        REPOS_JSON: JSON.stringify([
          {
            input: { url: server.url('org/app.git'), branch: 'main' },
            output: { url: server.url('forker/app.git') },
          },
        ]),
        GITHUB_TOKEN: GIT_TOKEN,
        AUTO_PUSH_ON_COMPLETE: 'true',
        CREATE_PR: 'true',
        PR_TARGET_BRANCH: 'develop',
      },
      { githubApiUrl: forge.githubApiUrl },
    );
    await manager.prepare();
    await fs.writeFile(path.join(h.ws, 'app', 'a.txt'), '1\nmore\n');
    const report = await manager.finalize();
    assert.equal(report.repos[0]?.status, 'pushed');
    assert.equal(readRemoteFile(fork.path, BRANCH, 'a.txt'), '1\nmore\n');
    assert.equal(readRemoteFile(upstream.path, BRANCH, 'a.txt'), undefined, 'upstream untouched');
    const body = forge.requests[0]?.body as Record<string, unknown>;
    assert.equal(
      forge.requests[0]?.path,
      '/repos/org/app/pulls',
      'the PR goes into the input repo',
    );
    assert.equal(body.head, `forker:${BRANCH}`);
    assert.equal(body.base, 'develop');
    assert.equal(body.maintainer_can_modify, true);
    await h.assertNoSecrets();
  } finally {
    await forge.close();
    await server.close();
    await h.cleanup();
  }
});

test('a rejected push keeps the commit; a PR API error is reported; neither leaks the token', async () => {
  const h = await createHarness();
  const server = await startGitHttpServer({ root: h.remotes, password: GIT_TOKEN });
  const forge = await startForgeStandin({ token: GIT_TOKEN });
  try {
    const app = await createBareRepo(h.remotes, 'org/app.git', {
      branches: { main: { 'a.txt': '1\n' } },
    });
    await createBareRepo(h.remotes, 'org/lib.git', { branches: { main: { 'b.txt': '1\n' } } });
    await pushUnrelatedBranch(app.path, BRANCH, { 'other.txt': 'someone else\n' });
    const { manager } = h.manager(
      {
        REPOS_JSON: JSON.stringify([
          { input: { url: server.url('org/app.git') } },
          { input: { url: server.url('org/lib.git') } },
        ]),
        GITHUB_TOKEN: GIT_TOKEN,
        AUTO_PUSH_ON_COMPLETE: 'true',
        CREATE_PR: 'true',
      },
      { githubApiUrl: forge.githubApiUrl },
    );
    await manager.prepare();
    await fs.writeFile(path.join(h.ws, 'app', 'a.txt'), '1\n2\n');
    await fs.writeFile(path.join(h.ws, 'lib', 'b.txt'), '1\n2\n');
    forge.failNext({
      forge: 'github',
      method: 'POST',
      status: 422,
      body: {
        message: 'Validation Failed',
        errors: [{ message: `No commits between main and ${BRANCH} (${GIT_TOKEN})` }],
      },
    });
    const report = await manager.finalize();

    const [appOut, libOut] = report.repos;
    assert.equal(appOut?.status, 'failed');
    assert.match(
      appOut?.error ?? '',
      /push to http:\/\/127\.0\.0\.1:\d+\/org\/app\.git branch sessions\/sess-1 was rejected \((non-fast-forward|fetch first)\)/,
    );
    assert.match(appOut?.error ?? '', /the commit stays in .*\/ws\/app/);
    assert.equal(
      h.git(path.join(h.ws, 'app'), ['log', '-1', '--format=%s']).trim(),
      'Claude Code: Fix the greeting',
    );
    assert.equal(
      h.git(path.join(h.ws, 'app'), ['status', '--porcelain']).trim(),
      '',
      'the work is in the commit',
    );
    assert.equal(readRemoteFile(app.path, BRANCH, 'other.txt'), 'someone else\n', 'nothing forced');

    assert.equal(libOut?.status, 'pushed');
    assert.equal(libOut?.prUrl, undefined);
    assert.match(
      libOut?.error ?? '',
      /pull request not opened: GitHub did not open the pull request \(422: Validation Failed: No commits between/,
    );
    assert.ok(!(libOut?.error ?? '').includes(GIT_TOKEN), 'the echoed token is redacted');
    assert.deepEqual(report.prUrls, []);
    assert.equal(forge.requests.length, 1, 'no PR attempted for the repo whose push failed');
    assert.ok(h.progress.some((p) => p.level === 'error' && p.message.includes('was rejected')));
    assert.ok(
      h.progress.some((p) => p.level === 'error' && p.message.includes('pull request not opened')),
    );
    h.errors.push(appOut?.error ?? '', libOut?.error ?? '');
    await h.assertNoSecrets();
  } finally {
    await forge.close();
    await server.close();
    await h.cleanup();
  }
});

test('GitLab: a merge request on the project, cross-project with target_project_id', async () => {
  const h = await createHarness();
  const server = await startGitHttpServer({
    root: h.remotes,
    password: GIT_TOKEN,
    username: 'oauth2',
  });
  const forge = await startForgeStandin({ token: GIT_TOKEN });
  try {
    await createBareRepo(h.remotes, 'group/sub/app.git', {
      branches: { main: { 'a.txt': '1\n' } },
    });
    await createBareRepo(h.remotes, 'group/lib.git', { branches: { main: { 'b.txt': '1\n' } } });
    await createBareRepo(h.remotes, 'me/lib.git', { branches: { main: { 'b.txt': '1\n' } } });
    const { manager } = h.manager(
      {
        REPOS_JSON: JSON.stringify([
          { input: { url: server.url('group/sub/app.git') } },
          {
            input: { url: server.url('group/lib.git') },
            output: { url: server.url('me/lib.git'), branch: 'topic' },
          },
        ]),
        GITLAB_TOKEN: GIT_TOKEN,
        AUTO_PUSH_ON_COMPLETE: 'true',
        CREATE_PR: 'true',
      },
      { gitlabApiUrl: forge.gitlabApiUrl },
    );
    const ws = await manager.prepare();
    assert.equal(ws.cliEnv.GITLAB_TOKEN, GIT_TOKEN);
    await fs.writeFile(path.join(h.ws, 'app', 'a.txt'), '2\n');
    await fs.writeFile(path.join(h.ws, 'lib', 'b.txt'), '2\n');
    const report = await manager.finalize();
    assert.deepEqual(
      report.repos.map((r) => [r.status, r.prUrl]),
      [
        ['pushed', 'https://forge.example.test/group/sub/app/-/merge_requests/1'],
        ['pushed', 'https://forge.example.test/me/lib/-/merge_requests/2'],
      ],
    );
    const [mr1, lookup, mr2] = forge.requests;
    assert.equal(mr1?.path, '/projects/group%2Fsub%2Fapp/merge_requests');
    assert.deepEqual(
      { ...(mr1?.body as Record<string, unknown>), description: undefined },
      {
        source_branch: BRANCH,
        target_branch: 'main',
        title: 'Claude Code: Fix the greeting',
        description: undefined,
      },
    );
    assert.equal(lookup?.method, 'GET');
    assert.equal(lookup?.path, '/projects/group%2Flib');
    assert.equal(mr2?.path, '/projects/me%2Flib/merge_requests');
    assert.equal((mr2?.body as Record<string, unknown>).source_branch, 'topic');
    assert.equal((mr2?.body as Record<string, unknown>).target_project_id, projectId('group/lib'));
    assert.ok(forge.requests.every((r) => r.authorized));
    assert.ok(server.auths.every((a) => a.username === 'oauth2'));
    await h.assertNoSecrets();
  } finally {
    await forge.close();
    await server.close();
    await h.cleanup();
  }
});

test('without auto-push: diff and nodiff with line counts, and the repos are left exactly as they were', async () => {
  const h = await createHarness();
  try {
    const app = await createBareRepo(h.remotes, 'app.git', {
      branches: { main: { 'a.txt': '1\n2\n3\n' } },
    });
    const lib = await createBareRepo(h.remotes, 'lib.git', {
      branches: { main: { 'b.txt': '1\n' } },
    });
    const { manager } = h.manager({
      REPOS_JSON: JSON.stringify([{ input: { url: app.url } }, { input: { url: lib.url } }]),
    });
    await manager.prepare();
    const dir = path.join(h.ws, 'app');
    await fs.writeFile(path.join(dir, 'a.txt'), '1\nchanged\n');
    await fs.writeFile(path.join(dir, 'untracked.txt'), 'x\ny\n');
    const before = h.git(dir, ['status', '--porcelain']);
    const report = await manager.finalize();
    assert.deepEqual(report.repos, [
      { name: 'app', status: 'diff', added: 3, removed: 2 },
      { name: 'lib', status: 'nodiff', added: 0, removed: 0 },
    ]);
    assert.equal(h.git(dir, ['status', '--porcelain']), before, 'index and work tree untouched');
    assert.equal(remoteTip(app.path, BRANCH), undefined, 'nothing pushed');
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});

test('an edit of the same size in the same second as the clone is still seen (racy git)', async () => {
  const h = await createHarness();
  try {
    const app = await createBareRepo(h.remotes, 'app.git', {
      branches: { main: { 'a.txt': '1\n' } },
    });
    const toNextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    // Clone and edit in the same second (the index cannot tell the edit from the checkout by
    // time, size or inode)…
    await toNextSecond();
    const { manager } = h.manager({ REPOS_JSON: JSON.stringify([{ input: { url: app.url } }]) });
    await manager.prepare();
    await fs.writeFile(path.join(h.ws, 'app', 'a.txt'), '2\n');
    // …and measure in a later second, when a fresh copy of the index would look newer than the
    // edit and hide it.
    await toNextSecond();
    const report = await manager.finalize();
    assert.deepEqual(report.repos[0], { name: 'app', status: 'diff', added: 1, removed: 1 });
  } finally {
    await h.cleanup();
  }
});
