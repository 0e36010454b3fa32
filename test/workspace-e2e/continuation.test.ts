// End to end through the real runner: a continuation (PARENT_SESSION_ID) keeps the workspace as
// the parent left it, uncommitted changes included; a new session over it resets each repo to its
// remote branch.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createBareRepo,
  gitSync,
  pushCommit,
  type BareRepo,
} from '../../src/testing/git-fixtures.js';
import { harness, runToEnd, type Harness } from '../runner/harness.js';
import {
  finalStatus,
  modelCalls,
  repoDir,
  resultSessionIds,
  systemMessages,
  toolResults,
} from './helpers.js';

describe('continuation and reset over one workspace', () => {
  let h: Harness;
  let app: BareRepo;
  before(async () => {
    h = await harness({
      scenarios: [
        {
          name: 'cont',
          turns: [
            {
              match: 'leave a change',
              steps: [
                { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/README.md' } }] },
                {
                  tools: [
                    {
                      name: 'Edit',
                      input: {
                        file_path: '{{cwd}}/README.md',
                        old_string: 'v1',
                        new_string: 'v2-uncommitted',
                      },
                    },
                  ],
                },
                {
                  tools: [
                    {
                      name: 'Write',
                      input: { file_path: '{{cwd}}/notes.txt', content: 'parent-notes-41d9\n' },
                    },
                  ],
                },
                { text: 'Left the change uncommitted.' },
              ],
            },
            {
              match: 'check the change',
              steps: [
                { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/notes.txt' } }] },
                { text: 'The notes are still here.' },
              ],
            },
          ],
        },
      ],
    });
    app = await createBareRepo(path.join(h.root, 'remotes'), 'app.git', {
      branches: { main: { 'README.md': 'v1\n' } },
    });
  });
  after(async () => h?.cleanup());

  test('the parent leaves an uncommitted change; the continuation sees it; a fresh session resets it', async () => {
    const repos = JSON.stringify([{ input: { url: app.url, branch: 'main' } }]);
    const dir = repoDir(h, 'app');
    const readme = () => readFileSync(path.join(dir, 'README.md'), 'utf8');
    const notes = path.join(dir, 'notes.txt');

    // 1. The parent.
    const first = await runToEnd(h.env, {
      PROMPT: '[[scenario:cont]] leave a change',
      SESSION_ID: 'parent-ws',
      REPOS_JSON: repos,
    });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(readme(), 'v2-uncommitted\n');
    assert.ok(existsSync(notes));
    assert.equal(
      gitSync(dir, ['status', '--porcelain']).split('\n').filter(Boolean).sort().join('|'),
      ' M README.md|?? notes.txt',
      'uncommitted',
    );
    const [cliSession] = resultSessionIds(h);
    assert.ok(cliSession);

    // 2. The continuation, on the same WORKSPACE_PATH.
    h.backend.reset();
    h.backend.setSession('parent-ws', {
      metadata: {
        name: 'parent-ws',
        annotations: { 'ambient-code.io/sdk-session-id': cliSession },
      },
    });
    const mark = h.model.requests.length;
    const second = await runToEnd(h.env, {
      PROMPT: '[[scenario:cont]] check the change',
      SESSION_ID: 'child-ws',
      PARENT_SESSION_ID: 'parent-ws',
      REPOS_JSON: repos,
    });
    assert.equal(second.code, 0, second.stderr);
    const msgs = systemMessages(h);
    assert.ok(
      msgs.some((m) => m.message === 'Reusing app as session parent-ws left it…'),
      msgs.map((m) => m.message).join('\n'),
    );
    assert.ok(msgs.some((m) => m.message === '✓ app ready (branch main, local changes kept)'));
    const [read] = toolResults(h);
    assert.ok(
      read && !read.is_error && read.content.includes('parent-notes-41d9'),
      JSON.stringify(read),
    );
    assert.equal(readme(), 'v2-uncommitted\n', "the parent's edit is still there");
    assert.ok(
      modelCalls(h, mark).some((q) =>
        JSON.stringify(q.body).includes('Left the change uncommitted.'),
      ),
      'the conversation was resumed',
    );
    const finalized = msgs.find((m) => m.event === 'workspace.finalized');
    const [outcome] =
      (finalized?.data as { repos: Record<string, unknown>[] } | undefined)?.repos ?? [];
    assert.deepEqual(
      { status: outcome?.status, added: outcome?.added, removed: outcome?.removed },
      { status: 'diff', added: 2, removed: 1 },
    );

    // 3. A new session (no parent) over the same workspace: reset to the remote branch, which moved.
    await pushCommit(app.path, 'main', { 'UPSTREAM.md': 'pushed by someone else\n' });
    h.backend.reset();
    const third = await runToEnd(h.env, {
      PROMPT: '[[scenario:hello]] hi',
      SESSION_ID: 'fresh-ws',
      REPOS_JSON: repos,
    });
    assert.equal(third.code, 0, third.stderr);
    assert.ok(systemMessages(h).some((m) => m.message === 'Resetting app to its remote branch…'));
    assert.equal(readme(), 'v1\n', 'the edit was reset');
    assert.ok(!existsSync(notes), 'the untracked file was removed');
    assert.equal(
      readFileSync(path.join(dir, 'UPSTREAM.md'), 'utf8'),
      'pushed by someone else\n',
      'fetched the remote branch',
    );
    assert.equal(gitSync(dir, ['status', '--porcelain']), '');
    assert.equal(finalStatus(h).phase, 'Completed');
  });
});
