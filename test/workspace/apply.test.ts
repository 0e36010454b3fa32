/**
 * Changes while running (repo_added, repo_removed, workflow_change) and workflows: a sub-path
 * install with its system and startup prompts, and the paths that must be refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, UserError } from '../../src/errors.js';
import {
  createBareRepo,
  readRemoteFile,
  writeTree,
  gitSync,
  isolatedGitEnv,
} from '../../src/testing/git-fixtures.js';
import { createHarness, messages, SESSION_ID } from './helpers.js';

test('repo_added mid-session, the agent works in it and it is pushed; repo_removed drops the main repo', async () => {
  const h = await createHarness();
  try {
    const app = await createBareRepo(h.remotes, 'app.git', {
      branches: { main: { 'a.txt': '1\n' } },
    });
    const lib = await createBareRepo(h.remotes, 'lib.git', {
      branches: { main: { 'b.txt': '1\n' }, dev: { 'b.txt': 'dev\n' } },
    });
    const { manager } = h.manager({
      REPOS_JSON: JSON.stringify([{ input: { url: app.url } }]),
      AUTO_PUSH_ON_COMPLETE: 'true',
    });
    await manager.prepare();

    const added = await manager.apply({
      type: 'repo_added',
      url: lib.url,
      branch: 'dev',
      name: 'lib',
    });
    assert.equal(added.summary, `Added repo lib at ${path.join(h.ws, 'lib')}`);
    assert.equal(added.cwd, path.join(h.ws, 'app'), 'the main repo stays the working directory');
    assert.deepEqual(added.additionalDirectories, [
      path.join(h.ws, 'lib'),
      path.join(h.ws, 'artifacts'),
    ]);
    assert.match(added.systemPromptAppend, /- lib: .*\/lib, branch dev/);
    assert.equal(await fs.readFile(path.join(h.ws, 'lib', 'b.txt'), 'utf8'), 'dev\n');

    // Refused before anything is touched: a name that would escape, a duplicate.
    const bad = await h.rejects(() =>
      manager.apply({ type: 'repo_added', url: lib.url, name: '../evil' }),
    );
    assert.ok(bad instanceof UserError);
    assert.match(bad.message, /repo_added: name "\.\.\/evil" is not a plain folder name/);
    await assert.rejects(fs.access(path.join(h.root, 'evil')));
    const dup = await h.rejects(() =>
      manager.apply({ type: 'repo_added', url: app.url, name: 'lib' }),
    );
    assert.match(dup.message, /"lib" is already in the workspace/);
    const missing = await h.rejects(() => manager.apply({ type: 'repo_removed', name: 'nope' }));
    assert.match(missing.message, /no repo named "nope"/);

    // The agent edits both repos; then the main one is removed.
    await fs.writeFile(path.join(h.ws, 'lib', 'b.txt'), 'dev\nmore\n');
    await fs.writeFile(path.join(h.ws, 'app', 'a.txt'), 'lost\n');
    const removed = await manager.apply({ type: 'repo_removed', name: 'app' });
    assert.equal(removed.summary, 'Removed repo app');
    assert.equal(
      removed.cwd,
      path.join(h.ws, 'lib'),
      'the next repo becomes the working directory',
    );
    assert.deepEqual(removed.additionalDirectories, [path.join(h.ws, 'artifacts')]);
    await assert.rejects(fs.access(path.join(h.ws, 'app')));
    assert.ok(
      h.progress.some(
        (p) => p.level === 'warn' && /app had changes that were never pushed/.test(p.message),
      ),
    );

    const report = await manager.finalize();
    assert.deepEqual(
      report.repos.map((r) => [r.name, r.status]),
      [['lib', 'pushed']],
    );
    assert.equal(readRemoteFile(lib.path, `sessions/${SESSION_ID}`, 'b.txt'), 'dev\nmore\n');
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});

test('workflow from a sub-path: working directory, system prompt, .claude kept; switching returns the startup prompt', async () => {
  const h = await createHarness();
  try {
    const app = await createBareRepo(h.remotes, 'app.git', {
      branches: { main: { 'a.txt': '1\n' } },
    });
    const flows = await createBareRepo(h.remotes, 'flows.git', {
      branches: {
        main: {
          'README.md': 'top level, not installed\n',
          'workflows/bugfix/.ambient/ambient.json': JSON.stringify({
            name: 'Bug fix',
            systemPrompt: 'Always write a failing test first.',
            startupPrompt: 'Ask which bug to fix.',
          }),
          'workflows/bugfix/.claude/commands/triage.md': 'Triage the bug.\n',
          'workflows/bugfix/.claude/agents/tester.md': 'A tester.\n',
        },
      },
    });
    const spec = await createBareRepo(h.remotes, 'spec-kit.git', {
      branches: {
        main: {
          '.ambient/ambient.json': JSON.stringify({
            systemPrompt: 'Write specs.',
            startupPrompt: 'Which feature?',
          }),
        },
      },
    });
    const { manager } = h.manager({
      REPOS_JSON: JSON.stringify([{ input: { url: app.url } }]),
      ACTIVE_WORKFLOW_GIT_URL: flows.url,
      ACTIVE_WORKFLOW_BRANCH: 'main',
      ACTIVE_WORKFLOW_PATH: 'workflows/bugfix/',
    });
    const ws = await manager.prepare();
    const wfDir = path.join(h.ws, 'workflows', 'bugfix');
    assert.equal(ws.cwd, wfDir);
    assert.deepEqual(ws.additionalDirectories, [
      path.join(h.ws, 'app'),
      path.join(h.ws, 'artifacts'),
    ]);
    assert.match(
      ws.systemPromptAppend,
      /## Workflow bugfix\n.*\n\nAlways write a failing test first\./,
    );
    assert.equal(
      await fs.readFile(path.join(wfDir, '.claude', 'commands', 'triage.md'), 'utf8'),
      'Triage the bug.\n',
    );
    await fs.access(path.join(wfDir, '.claude', 'agents', 'tester.md'));
    await assert.rejects(
      fs.access(path.join(wfDir, 'README.md')),
      'only the sub-path is installed',
    );
    await assert.rejects(fs.access(path.join(wfDir, '.git')));
    assert.ok(messages(h).includes('✓ workflow bugfix ready'));

    const switched = await manager.apply({
      type: 'workflow_change',
      gitUrl: spec.url,
      branch: 'main',
    });
    assert.equal(switched.cwd, path.join(h.ws, 'workflows', 'spec-kit'));
    assert.equal(switched.startupPrompt, 'Which feature?');
    assert.match(switched.systemPromptAppend, /Write specs\./);
    assert.ok(
      !switched.systemPromptAppend.includes('failing test'),
      'the old workflow prompt is gone',
    );

    const cleared = await manager.apply({ type: 'workflow_change', gitUrl: '' });
    assert.equal(cleared.cwd, path.join(h.ws, 'app'));
    assert.equal(cleared.startupPrompt, undefined);
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});

test('workflow paths that leave the repo are refused: ../, absolute, a symlink out; a missing folder is clear', async () => {
  const h = await createHarness();
  try {
    const flows = await createBareRepo(h.remotes, 'flows.git', {
      branches: { main: { 'ok/.ambient/ambient.json': '{"systemPrompt": 5}' } },
    });
    // A repo whose "escape" folder is a symlink pointing out of it.
    const work = path.join(h.root, 'symwork');
    await fs.mkdir(work);
    const env = isolatedGitEnv(h.home);
    gitSync(work, ['init', '-q', '--initial-branch=main'], env);
    await writeTree(work, { 'x.txt': 'x\n' });
    await fs.symlink('../../..', path.join(work, 'escape'));
    gitSync(work, ['add', '-A'], env);
    gitSync(work, ['commit', '-q', '-m', 'symlink'], env);
    const symBare = path.join(h.remotes, 'sym.git');
    gitSync(h.root, ['clone', '-q', '--bare', work, symBare], env);

    const { manager } = h.manager({});
    await manager.prepare();
    for (const p of ['../outside', 'a/../../b', '/etc']) {
      const e = await h.rejects(() =>
        manager.apply({ type: 'workflow_change', gitUrl: flows.url, path: p }),
      );
      assert.ok(e instanceof UserError, p);
      assert.match(e.message, /points outside the workflow repo/, p);
    }
    const sym = await h.rejects(() =>
      manager.apply({ type: 'workflow_change', gitUrl: `file://${symBare}`, path: 'escape' }),
    );
    assert.match(
      sym.message,
      /workflow escape: path "escape" points outside the workflow repo \(a symlink\)/,
    );
    const none = await h.rejects(() =>
      manager.apply({ type: 'workflow_change', gitUrl: flows.url, path: 'nothere' }),
    );
    assert.match(none.message, /path "nothere" is not a folder in/);
    await assert.rejects(fs.access(path.join(h.ws, 'workflows', 'escape')));
    await assert.rejects(fs.access(path.join(h.ws, 'workflows', 'nothere')));

    // A broken ambient.json field is a warning, not a failure.
    const ok = await manager.apply({ type: 'workflow_change', gitUrl: flows.url, path: 'ok' });
    assert.equal(ok.cwd, path.join(h.ws, 'workflows', 'ok'));
    assert.ok(
      h.progress.some(
        (p) => p.level === 'warn' && /"systemPrompt" is not a string/.test(p.message),
      ),
    );

    // The configuration refuses such a path before the runner starts.
    assert.throws(
      () => h.manager({ ACTIVE_WORKFLOW_GIT_URL: flows.url, ACTIVE_WORKFLOW_PATH: '../x' }),
      (e: unknown) => e instanceof ConfigError && /ACTIVE_WORKFLOW_PATH/.test(e.message),
    );
    await h.assertNoSecrets();
  } finally {
    await h.cleanup();
  }
});
