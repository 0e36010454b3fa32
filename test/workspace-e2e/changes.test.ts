// End to end through the real runner: changes sent over the socket while a session runs
// (`repo_added`, `workflow_change`) are applied, and the conversation goes on in the same CLI
// session with the new directories; a workflow's system prompt reaches the model and its startup
// prompt is sent as a turn.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createBareRepo, type BareRepo } from '../../src/testing/git-fixtures.js';
import { harness, startRunner, type Harness } from '../runner/harness.js';
import {
  finalStatus,
  initCwds,
  isResult,
  modelCalls,
  primaryCwdOf,
  resultSessionIds,
  systemMessages,
  systemPromptOf,
  textOf,
  toolResults,
} from './helpers.js';

const count = (h: Harness, type: string) => h.backend.frames.filter((f) => f.type === type).length;

/** The latest user text of a recorded model request (string content or text blocks). */
function latestUserText(body: unknown): string {
  const messages = (body as { messages?: { role: string; content: unknown }[] }).messages ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    const blocks = (m.content as { type: string; text?: string }[]).filter(
      (b) => b.type === 'text' && !b.text?.startsWith('<system-reminder>'),
    );
    if (blocks.length && !(m.content as { type: string }[]).some((b) => b.type === 'tool_result'))
      return blocks.map((b) => b.text).join('\n');
  }
  return '';
}

describe('changes while running', () => {
  let h: Harness;
  let app: BareRepo;
  let lib: BareRepo;
  let review: BareRepo;
  let fix: BareRepo;
  before(async () => {
    h = await harness({
      scenarios: [
        {
          name: 'chat',
          turns: [
            { match: 'first question', steps: [{ text: 'First answer.' }] },
            {
              match: 'read the new repo',
              steps: [
                { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/../lib/LIB.md' } }] },
                { text: 'The new repo says: {{lastToolResult}}' },
              ],
            },
          ],
        },
        {
          name: 'wf',
          turns: [
            {
              match: 'first question',
              steps: [
                { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/CHECKLIST.md' } }] },
                { text: 'Checklist read.' },
              ],
            },
            {
              match: 'STARTUP-FIX-5e1d',
              steps: [{ text: 'Starting the fix workflow in {{cwd}}.' }],
            },
          ],
        },
      ],
    });
    const remotes = path.join(h.root, 'remotes');
    app = await createBareRepo(remotes, 'app.git', { branches: { main: { 'APP.md': 'app\n' } } });
    lib = await createBareRepo(remotes, 'lib.git', {
      branches: { main: { 'LIB.md': 'lib-added-mid-session-58aa\n' } },
    });
    review = await createBareRepo(remotes, 'wf-collection.git', {
      branches: {
        main: {
          'workflows/review/.ambient/ambient.json': JSON.stringify({
            systemPrompt: 'WF-REVIEW-SYSTEM-3b7f: review carefully.',
            startupPrompt: 'REVIEW-STARTUP-never-at-start',
          }),
          'workflows/review/CHECKLIST.md': 'review-checklist-c4d2\n',
          'other/OTHER.md': 'not part of the workflow\n',
        },
      },
    });
    fix = await createBareRepo(remotes, 'fix.git', {
      branches: {
        main: {
          '.ambient/ambient.json': JSON.stringify({
            systemPrompt: 'WF-FIX-SYSTEM-9a2c',
            startupPrompt: 'STARTUP-FIX-5e1d: begin the fix.',
          }),
        },
      },
    });
  });
  after(async () => h?.cleanup());
  beforeEach(() => h.backend.reset());

  test('repo_added mid-session: the next turn reads the new repo, in the same CLI session with its context', async () => {
    const ws = path.join(h.root, 'ws-added');
    const p = startRunner(h.env, {
      INTERACTIVE: 'true',
      PROMPT: '[[scenario:chat]] first question',
      SESSION_ID: 'added-1',
      WORKSPACE_PATH: ws,
      REPOS_JSON: JSON.stringify([{ input: { url: app.url } }]),
    });
    const mark = h.model.requests.length;
    try {
      await h.backend.waitFor(
        () => count(h, 'agent.waiting') === 1,
        30_000,
        'agent.waiting after turn 1',
      );
      h.backend.command('repo_added', { url: lib.url, branch: 'main' });
      await h.backend.waitForFrame(
        (f) => f.payload.event === 'workspace.repo_added',
        30_000,
        'the repo_added summary',
      );
      await h.backend.waitFor(
        () => count(h, 'agent.waiting') === 2,
        30_000,
        'agent.waiting after the change',
      );
      h.backend.command('user_message', { content: '[[scenario:chat]] read the new repo' });
      await h.backend.waitFor(
        () => count(h, 'agent.waiting') === 3,
        30_000,
        'agent.waiting after turn 2',
      );
      h.backend.command('end_session');
      assert.equal((await p.exit).code, 0, p.stderr());
    } finally {
      p.child.kill('SIGKILL');
    }
    const msgs = systemMessages(h);
    assert.ok(
      msgs.some((m) => m.message === `Added repo lib at ${path.join(ws, 'lib')}`),
      msgs.map((m) => m.message).join('\n'),
    );
    assert.ok(existsSync(path.join(ws, 'lib', '.git')), 'lib was cloned into the workspace');
    const [read] = toolResults(h);
    assert.ok(
      read && !read.is_error && read.content.includes('lib-added-mid-session-58aa'),
      JSON.stringify(read),
    );
    assert.ok(
      h.backend.frames.some(
        (f) =>
          textOf(f)?.includes('The new repo says: ') &&
          textOf(f)?.includes('lib-added-mid-session-58aa'),
      ),
    );

    // A new CLI process (the main repo is still the working directory), resuming the same session.
    assert.deepEqual(
      initCwds(h),
      [path.join(ws, 'app')],
      'cli.init is sent once per CLI session id',
    );
    const ids = resultSessionIds(h);
    assert.equal(ids.length, 2);
    assert.equal(new Set(ids).size, 1, `one CLI session id across the change: ${ids.join(', ')}`);
    const turn2 = modelCalls(h, mark).find((q) =>
      latestUserText(q.body).includes('read the new repo'),
    );
    assert.ok(turn2, 'the second turn reached the model');
    assert.equal(primaryCwdOf(turn2.body), path.join(ws, 'app'));
    const sent = JSON.stringify(turn2.body);
    assert.ok(sent.includes('First answer.'), 'the first turn is in the context of the second');
    // The CLI restates its environment only when the working directory changes; the workspace
    // context in the system prompt (rendered afresh, not snapshotted) names the new repo.
    assert.ok(
      systemPromptOf(turn2.body).includes(`- lib: ${path.join(ws, 'lib')}`),
      'the system prompt names the new repo',
    );
    assert.equal(finalStatus(h).phase, 'Completed');
  });

  test('a repo_added that arrives while the runner starts (acked at once) is applied after the first turn has begun', async () => {
    const ws = path.join(h.root, 'ws-early');
    const p = startRunner(h.env, {
      INTERACTIVE: 'true',
      PROMPT: '[[scenario:chat]] first question',
      SESSION_ID: 'early-1',
      WORKSPACE_PATH: ws,
      REPOS_JSON: JSON.stringify([{ input: { url: app.url } }]),
    });
    try {
      await h.backend.waitFor(() => h.backend.connected, 30_000, 'the runner to connect');
      h.backend.command('repo_added', { url: lib.url, branch: 'main' });
      await h.backend.waitForFrame(
        (f) => f.payload.event === 'workspace.repo_added',
        30_000,
        'the repo_added summary',
      );
      await h.backend.waitFor(
        () => count(h, 'agent.waiting') === 2,
        30_000,
        'idle after the change',
      );
      h.backend.command('end_session');
      assert.equal((await p.exit).code, 0, p.stderr());
    } finally {
      p.child.kill('SIGKILL');
    }
    const msgs = systemMessages(h);
    assert.ok(
      !msgs.some((m) => m.event === 'workspace.change_failed'),
      msgs.map((m) => m.message).join('\n'),
    );
    assert.ok(existsSync(path.join(ws, 'lib', '.git')), 'lib was cloned into the workspace');
    assert.ok(
      h.backend.frames.some((f) => textOf(f) === 'First answer.'),
      'the first turn ran',
    );
    assert.equal(finalStatus(h).phase, 'Completed');
  });

  test('a workflow with a sub-path and a system prompt; workflow_change sends the startup prompt as a turn', async () => {
    const ws = path.join(h.root, 'ws-workflow');
    const mark = h.model.requests.length;
    const p = startRunner(h.env, {
      INTERACTIVE: 'true',
      PROMPT: '[[scenario:wf]] first question',
      SESSION_ID: 'wf-1',
      WORKSPACE_PATH: ws,
      REPOS_JSON: JSON.stringify([{ input: { url: app.url } }]),
      ACTIVE_WORKFLOW_GIT_URL: review.url,
      ACTIVE_WORKFLOW_BRANCH: 'main',
      ACTIVE_WORKFLOW_PATH: 'workflows/review',
    });
    try {
      await h.backend.waitFor(
        () => count(h, 'agent.waiting') === 1,
        30_000,
        'agent.waiting after turn 1',
      );
      h.backend.command('workflow_change', { gitUrl: fix.url });
      await h.backend.waitFor(
        () => h.backend.frames.filter(isResult).length === 2 && count(h, 'agent.waiting') === 2,
        30_000,
        'the startup turn',
      );
      h.backend.command('end_session');
      assert.equal((await p.exit).code, 0, p.stderr());
    } finally {
      p.child.kill('SIGKILL');
    }
    const reviewDir = path.join(ws, 'workflows', 'review');
    const fixDir = path.join(ws, 'workflows', 'fix');

    // Turn 1 ran in the workflow's sub-path, with its system prompt; only the sub-path was installed.
    assert.deepEqual(initCwds(h), [reviewDir]);
    const [read] = toolResults(h);
    assert.ok(
      read && !read.is_error && read.content.includes('review-checklist-c4d2'),
      JSON.stringify(read),
    );
    assert.ok(
      !existsSync(path.join(reviewDir, '.git')) && !existsSync(path.join(reviewDir, 'other')),
      'only the sub-path was installed',
    );
    const calls = modelCalls(h, mark);
    const first = calls.find((q) => latestUserText(q.body).includes('first question'));
    assert.ok(first, 'turn 1 reached the model');
    assert.ok(
      systemPromptOf(first.body).includes('WF-REVIEW-SYSTEM-3b7f: review carefully.'),
      'the workflow systemPrompt is in the system prompt',
    );
    assert.ok(
      !calls.some((q) => JSON.stringify(q.body).includes('REVIEW-STARTUP-never-at-start')),
      'the startup prompt is not sent at start',
    );

    // workflow_change: the new workflow is the working directory and its startup prompt was a turn.
    assert.ok(
      systemMessages(h).some(
        (m) =>
          m.event === 'workspace.workflow_change' &&
          m.message === `Workflow fix active at ${fixDir}`,
      ),
    );
    const startup = calls.find((q) =>
      latestUserText(q.body).includes('STARTUP-FIX-5e1d: begin the fix.'),
    );
    assert.ok(startup, 'the startup prompt was sent to the model as a user message');
    assert.equal(
      primaryCwdOf(startup.body),
      fixDir,
      'the new CLI process works in the new workflow',
    );
    const sys = systemPromptOf(startup.body);
    assert.ok(
      sys.includes('WF-FIX-SYSTEM-9a2c') && !sys.includes('WF-REVIEW-SYSTEM-3b7f'),
      "the new workflow's system prompt replaced the old one",
    );
    assert.ok(
      JSON.stringify(startup.body).includes('Checklist read.'),
      'the conversation kept its context',
    );
    assert.ok(
      h.backend.frames.some((f) => textOf(f) === `Starting the fix workflow in ${fixDir}.`),
    );
    assert.equal(count(h, 'agent.running'), 2, 'the startup prompt was a turn of its own');
    assert.equal(new Set(resultSessionIds(h)).size, 1);
    assert.equal(finalStatus(h).phase, 'Completed');
  });
});
