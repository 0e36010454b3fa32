// End to end through the real runner: which repos come in, where the CLI works, and what it can
// reach. Multi-repo REPOS_JSON with MAIN_REPO_NAME, and the legacy single-repo variables.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  createBareRepo,
  gitSync,
  readRemoteFile,
  remoteTip,
  type BareRepo,
} from '../../src/testing/git-fixtures.js';
import { harness, runToEnd, type Harness } from '../runner/harness.js';
import {
  finalStatus,
  GIT_USER,
  initCwds,
  modelCalls,
  repoDir,
  systemMessages,
  toolResults,
} from './helpers.js';

describe('repos in: multi-repo and the legacy single-repo form', () => {
  let h: Harness;
  let app: BareRepo;
  let lib: BareRepo;
  let out: BareRepo;
  before(async () => {
    h = await harness({
      scenarios: [
        {
          name: 'read-lib',
          turns: [
            {
              steps: [
                {
                  text: 'Reading the library notes.',
                  tools: [{ name: 'Read', input: { file_path: '{{cwd}}/../lib/LIB.md' } }],
                },
                { text: 'The library says: {{lastToolResult}}' },
              ],
            },
          ],
        },
        {
          name: 'write-note',
          turns: [
            {
              steps: [
                { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/DEV.md' } }] },
                {
                  tools: [
                    {
                      name: 'Write',
                      input: { file_path: '{{cwd}}/NOTE.md', content: 'written on dev\n' },
                    },
                  ],
                },
                { text: 'Wrote the note.' },
              ],
            },
          ],
        },
      ],
    });
    const remotes = path.join(h.root, 'remotes');
    app = await createBareRepo(remotes, 'app.git', {
      branches: { main: { 'APP.md': 'app main\n' }, dev: { 'DEV.md': 'app dev branch\n' } },
    });
    lib = await createBareRepo(remotes, 'lib.git', {
      branches: { main: { 'LIB.md': 'lib-notes-7c1e: use the frobnicator\n' } },
    });
    out = await createBareRepo(remotes, 'fork.git', {
      branches: { main: { 'APP.md': 'fork main\n' } },
    });
  });
  after(async () => h?.cleanup());
  beforeEach(() => h.backend.reset());

  test('REPOS_JSON with MAIN_REPO_NAME: the CLI works in the main repo; the other is an additional directory it can read', async () => {
    const before = h.model.requests.length;
    const r = await runToEnd(h.env, {
      PROMPT: '[[scenario:read-lib]] what does the library say?',
      SESSION_ID: 'multi-1',
      // lib first, so only MAIN_REPO_NAME makes app the main repo.
      REPOS_JSON: JSON.stringify([
        { input: { url: lib.url } },
        { name: 'app', input: { url: app.url, branch: 'main' } },
      ]),
      MAIN_REPO_NAME: 'app',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(initCwds(h), [repoDir(h, 'app')]);
    const [read] = toolResults(h);
    assert.ok(read && !read.is_error, JSON.stringify(read));
    assert.match(read.content, /lib-notes-7c1e/);
    assert.match(String(finalStatus(h).result), /lib-notes-7c1e/);

    // Both clones exist on their branches; the name of the first came from its URL.
    assert.equal(
      readFileSync(path.join(repoDir(h, 'lib'), 'LIB.md'), 'utf8'),
      'lib-notes-7c1e: use the frobnicator\n',
    );
    assert.equal(gitSync(repoDir(h, 'app'), ['rev-parse', '--abbrev-ref', 'HEAD']).trim(), 'main');

    // The CLI was told about the other repo as an additional working directory.
    const [first] = modelCalls(h, before);
    assert.ok(first, 'the model was called');
    const sent = JSON.stringify(first.body);
    assert.ok(
      sent.includes(`Primary working directory: ${repoDir(h, 'app')}`),
      'primary working directory is app',
    );
    assert.match(
      sent,
      new RegExp(`Additional working directories:[^"]*${escape(repoDir(h, 'lib'))}`),
      'lib is an additional working directory',
    );

    const finalized = systemMessages(h).find((m) => m.event === 'workspace.finalized');
    const repos = (finalized?.data as { repos: { name: string; status: string }[] } | undefined)
      ?.repos;
    assert.deepEqual(
      repos?.map((x) => `${x.name}:${x.status}`),
      ['lib:nodiff', 'app:nodiff'],
    );
  });

  test('legacy INPUT_REPO_URL / INPUT_BRANCH / OUTPUT_REPO_URL / OUTPUT_BRANCH: cloned at the branch, pushed to the output repo', async () => {
    const ws = path.join(h.root, 'ws-legacy'); // its own workspace: a first clone, not a reset
    const r = await runToEnd(h.env, {
      PROMPT: '[[scenario:write-note]] write a note',
      SESSION_ID: 'legacy-1',
      WORKSPACE_PATH: ws,
      INPUT_REPO_URL: app.url,
      INPUT_BRANCH: 'dev',
      OUTPUT_REPO_URL: out.url,
      OUTPUT_BRANCH: 'feature/note',
      AUTO_PUSH_ON_COMPLETE: 'true',
      ...GIT_USER,
    });
    assert.equal(r.code, 0, r.stderr);
    // The folder is named from the URL; the CLI works there, on the input branch.
    assert.deepEqual(initCwds(h), [path.join(ws, 'app')]);
    assert.ok(systemMessages(h).some((m) => m.message === 'Cloning app…'));
    const [readDev] = toolResults(h);
    assert.match(readDev?.content ?? '', /app dev branch/);
    assert.equal(gitSync(path.join(ws, 'app'), ['remote', 'get-url', 'output']).trim(), out.url);

    // Pushed to the output repo's branch, not to the input repo.
    assert.equal(
      readRemoteFile(out.path, 'refs/heads/feature/note', 'NOTE.md'),
      'written on dev\n',
    );
    assert.equal(
      readRemoteFile(out.path, 'refs/heads/feature/note', 'DEV.md'),
      'app dev branch\n',
      'based on the input branch',
    );
    assert.equal(
      remoteTip(out.path, 'refs/heads/feature/note')?.authorEmail,
      GIT_USER.GIT_USER_EMAIL,
    );
    assert.equal(
      remoteTip(app.path, 'refs/heads/feature/note'),
      undefined,
      'nothing pushed to the input repo',
    );
    assert.equal(remoteTip(app.path, 'refs/heads/sessions/legacy-1'), undefined);
    const finalized = systemMessages(h).find((m) => m.event === 'workspace.finalized');
    const [outcome] =
      (finalized?.data as { repos: Record<string, unknown>[] } | undefined)?.repos ?? [];
    assert.deepEqual(
      { status: outcome?.status, branch: outcome?.branch, added: outcome?.added },
      { status: 'pushed', branch: 'feature/note', added: 1 },
    );
    assert.equal(finalStatus(h).phase, 'Completed');
    assert.ok(!existsSync(path.join(ws, '.ccr-staging')), 'no staging folder left');
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
