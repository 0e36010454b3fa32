// End to end through the real runner: a scripted session edits a repo cloned over an
// authenticated smart-HTTP remote, the runner pushes `sessions/<SESSION_ID>` and opens a pull
// request on the GitHub stand-in; no token is left anywhere.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startForgeStandin, type ForgeStandin } from '../support/forge-standin.js';
import {
  createBareRepo,
  gitSync,
  readRemoteFile,
  remoteTip,
  startGitHttpServer,
  type BareRepo,
  type GitHttpServer,
} from '../../src/testing/git-fixtures.js';
import { harness, runToEnd, type Harness } from '../runner/harness.js';
import {
  assertNoToken,
  finalStatus,
  GIT_TOKEN,
  GIT_USER,
  initCwds,
  repoDir,
  systemMessages,
  toolResults,
} from './helpers.js';

describe('results out: push and pull request over an authenticated remote', () => {
  let h: Harness;
  let server: GitHttpServer;
  let forge: ForgeStandin;
  let app: BareRepo;
  before(async () => {
    h = await harness({
      scenarios: [
        {
          name: 'edit-push',
          turns: [
            {
              steps: [
                {
                  text: 'Reading the greeting.',
                  tools: [{ name: 'Read', input: { file_path: '{{cwd}}/README.md' } }],
                },
                {
                  tools: [
                    {
                      name: 'Edit',
                      input: {
                        file_path: '{{cwd}}/README.md',
                        old_string: 'Hello',
                        new_string: 'Hello, world',
                      },
                    },
                  ],
                },
                // The agent's own shell reaches the authenticated remote (credential helper in its env).
                {
                  tools: [
                    { name: 'Bash', input: { command: 'git ls-remote origin refs/heads/main' } },
                  ],
                },
                { text: 'Fixed the greeting.' },
              ],
            },
          ],
        },
      ],
    });
    const remotes = path.join(h.root, 'remotes');
    app = await createBareRepo(remotes, 'org/app.git', {
      branches: { main: { 'README.md': 'Hello\n', 'src/x.txt': 'x\n' } },
    });
    server = await startGitHttpServer({
      root: remotes,
      password: GIT_TOKEN,
      username: 'x-access-token',
    });
    forge = await startForgeStandin({ token: GIT_TOKEN });
  });
  after(async () => {
    await server?.close();
    await forge?.close();
    await h?.cleanup();
  });

  test('Edit in the repo, AUTO_PUSH_ON_COMPLETE + CREATE_PR: branch sessions/<id> with the change and author, PR requested and reported', async () => {
    const url = server.url('org/app.git');
    const r = await runToEnd(h.env, {
      ANTHROPIC_BASE_URL: `${h.model.url}/scenarios/edit-push`,
      PROMPT: 'Fix the greeting\nPlease keep it short.',
      SESSION_ID: 'sess-push-1',
      REPOS_JSON: JSON.stringify([{ name: 'app', input: { url, branch: 'main' } }]),
      AUTO_PUSH_ON_COMPLETE: 'true',
      CREATE_PR: 'true',
      GITHUB_TOKEN: GIT_TOKEN,
      GITHUB_API_URL: forge.githubApiUrl,
      LOG_LEVEL: 'debug',
      ...GIT_USER,
    });
    assert.equal(r.code, 0, r.stderr);

    // The CLI worked in the clone.
    assert.deepEqual(initCwds(h), [repoDir(h, 'app')]);
    const results = toolResults(h);
    assert.equal(results.length, 3, JSON.stringify(results));
    assert.ok(
      results.every((t) => !t.is_error),
      JSON.stringify(results),
    );
    assert.match(
      results[2]!.content,
      /[0-9a-f]{40}\s+refs\/heads\/main/,
      "the agent's git reached the authenticated remote",
    );

    // The remote has the branch, with the change, the configured author and the prompt as subject.
    assert.equal(
      readRemoteFile(app.path, 'refs/heads/sessions/sess-push-1', 'README.md'),
      'Hello, world\n',
    );
    assert.equal(
      readRemoteFile(app.path, 'refs/heads/main', 'README.md'),
      'Hello\n',
      'main untouched',
    );
    const tip = remoteTip(app.path, 'refs/heads/sessions/sess-push-1');
    assert.ok(tip, 'branch sessions/sess-push-1 exists');
    assert.equal(tip.authorName, GIT_USER.GIT_USER_NAME);
    assert.equal(tip.authorEmail, GIT_USER.GIT_USER_EMAIL);
    assert.equal(tip.committerEmail, GIT_USER.GIT_USER_EMAIL);
    assert.equal(tip.subject, 'Claude Code: Fix the greeting');
    assert.equal(
      gitSync(repoDir(h, 'app'), ['rev-parse', 'HEAD']).trim(),
      tip.sha,
      'the local commit is the pushed one',
    );

    // Git used basic auth with the token, and only the right one.
    assert.ok(
      server.auths.length > 0 && server.auths.every((a) => a.ok && a.username === 'x-access-token'),
      JSON.stringify(server.auths),
    );

    // The PR request reached the stand-in, authorised, with head/base/title.
    const posts = forge.requests.filter((q) => q.method === 'POST');
    assert.equal(posts.length, 1, JSON.stringify(forge.requests));
    assert.equal(posts[0]!.path, '/repos/org/app/pulls');
    assert.equal(posts[0]!.authorized, true);
    const body = posts[0]!.body as Record<string, unknown>;
    assert.equal(body.head, 'sessions/sess-push-1');
    assert.equal(body.base, 'main');
    assert.equal(body.title, 'Claude Code: Fix the greeting');

    // The PR URL is on the socket and in the final status.
    const prUrl = 'https://forge.example.test/org/app/pull/1';
    const status = finalStatus(h);
    assert.equal(status.phase, 'Completed');
    assert.ok(String(status.message).includes(prUrl), String(status.message));
    const msgs = systemMessages(h);
    const finalized = msgs.find((m) => m.event === 'workspace.finalized');
    assert.ok(finalized, 'a workspace.finalized frame');
    assert.deepEqual((finalized.data as { prUrls: string[] }).prUrls, [prUrl]);
    const [outcome] = (finalized.data as { repos: Record<string, unknown>[] }).repos;
    assert.equal(outcome?.status, 'pushed');
    assert.equal(outcome?.branch, 'sessions/sess-push-1');
    assert.equal(outcome?.added, 1);
    assert.equal(outcome?.removed, 1);
    assert.ok(msgs.some((m) => m.message === `✓ Pull request for app: ${prUrl}`));
    assert.ok(
      msgs.some((m) => m.message === 'Cloning app…') &&
        msgs.some((m) => m.message.startsWith('✓ app ready')),
    );

    // Nothing on disk names the token: the remote URL is plain.
    const config = readFileSync(path.join(repoDir(h, 'app'), '.git', 'config'), 'utf8');
    assert.ok(config.includes(`url = ${url}`), config);
    await assertNoToken(h, [r], { extra: server.requests });
  });
});
