/**
 * Sessions as tools, through the real control plane, the real runner and the real Claude Code
 * CLI against the scripted model. One scenario proves several things at once:
 *
 * - session A creates B (with a repo) through `mcp__sessions__create_session`, waits for it
 *   (`wait_for_session`) and uses B's result in its own answer; B is annotated with its parent;
 *   B's work is done in B's own workspace;
 * - B's sub-agent, defined by the `.claude/agents/` of B's repo, is used through the Agent tool,
 *   and every frame it produces carries the Agent call's id and the sub-agent's name;
 * - a session of another project is out of reach: the tool reports it;
 * - the fan-out bound (CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION=1) is a tool error, not a crash.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PARENT_SESSION_ANNOTATION } from '../../src/protocol/agents.js';
import type { Scenario } from '../../src/testing/scripted-model/index.js';
import { createBareRepo, makeTempDir, removeDir } from '../../src/testing/git-fixtures.js';
import {
  createSession,
  getSession,
  history,
  OTHER_PROJECT,
  resultFor,
  resultText,
  setup,
  toolCalls,
  toolResults,
  waitForPhase,
  type Setup,
} from './helpers.js';

const HELPER_PROMPT = 'You are HELPER-AGENT-PROMPT: check reports.';
const CHILD_DONE = 'CHILD-DONE: report.txt written and checked';

/** B: writes a report in its working directory, has its workspace's helper agent read it. */
const CHILD: Scenario = {
  name: 'agents-child',
  turns: [
    {
      steps: [
        {
          tools: [
            {
              name: 'Write',
              input: { file_path: '{{cwd}}/report.txt', content: 'report from the child\n' },
            },
          ],
        },
        {
          tools: [
            {
              name: 'Agent',
              input: {
                description: 'Check the report',
                prompt: 'HELPERTASK read report.txt',
                subagent_type: 'helper',
                run_in_background: false,
              },
            },
          ],
        },
        { text: CHILD_DONE },
      ],
    },
    {
      match: 'HELPERTASK',
      steps: [
        {
          tools: [
            { name: 'Bash', input: { command: 'cat report.txt', description: 'Read the report' } },
          ],
        },
        { text: 'helper saw: {{lastToolResult}}' },
      ],
    },
  ],
};

/** A: another project's session (error), create B, create again (bound), wait for B, answer. */
function parent(otherSession: string, repoUrl: string): Scenario {
  return {
    name: 'agents-parent',
    turns: [
      {
        steps: [
          { tools: [{ name: 'mcp__sessions__get_session', input: { name: otherSession } }] },
          {
            tools: [
              {
                name: 'mcp__sessions__create_session',
                input: {
                  prompt: '[[scenario:agents-child]] Write the report.',
                  displayName: 'the child',
                  repos: [{ name: 'work', input: { url: repoUrl } }],
                },
              },
            ],
          },
          {
            tools: [
              {
                name: 'mcp__sessions__create_session',
                input: { prompt: '[[scenario:agents-child]] One more.' },
              },
            ],
          },
          {
            tools: [
              {
                name: 'mcp__sessions__wait_for_session',
                input: { name: '{{toolResults.1.name}}', timeoutSeconds: 180 },
              },
            ],
          },
          { text: 'The child {{toolResults.1.name}} reported: {{lastToolResult.result.text}}' },
        ],
      },
    ],
  };
}

let s: Setup;
let fixtures: string;

before(async () => {
  fixtures = await makeTempDir('ccr-agents-repo-');
  s = await setup({
    scenarios: [CHILD],
    maxConcurrent: 2,
    env: { CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION: '1' },
  });
});
after(async () => {
  await s?.close();
  await removeDir(fixtures);
});

describe('sessions as tools', () => {
  it('A creates B, waits for it and uses its result; B works in its own workspace with its own sub-agent; the bounds hold', async () => {
    const repo = await createBareRepo(fixtures, 'work.git', {
      branches: {
        main: {
          'README.md': '# work\n',
          '.claude/agents/helper.md': `---\nname: helper\ndescription: Checks reports\ntools: Read, Bash\n---\n${HELPER_PROMPT}\n`,
        },
      },
    });
    // A session of another project (stopped at once: it only needs to exist).
    const other = await s.serve.api('POST', `/projects/${OTHER_PROJECT}/agentic-sessions`, {
      prompt: 'elsewhere',
    });
    assert.equal(other.status, 201, other.text);
    const otherName = (other.json as { metadata: { name: string } }).metadata.name;
    await s.serve.api('POST', `/projects/${OTHER_PROJECT}/agentic-sessions/${otherName}/stop`);
    s.model.addScenario(parent(otherName, repo.url));

    const a = await createSession(s.serve, {
      prompt: '[[scenario:agents-parent]] Delegate the report.',
    });
    const aName = a.metadata.name;
    const aFinal = await waitForPhase(s.serve, aName, ['Completed', 'Failed', 'Stopped'], 240_000);
    const aHistory = await history(s.serve, aName);
    assert.equal(aFinal.status.phase, 'Completed', `A: ${aFinal.status.message}`);

    const calls = toolCalls(aHistory).filter((c) => c.tool.startsWith('mcp__sessions__'));
    assert.deepEqual(
      calls.map((c) => c.tool),
      [
        'mcp__sessions__get_session',
        'mcp__sessions__create_session',
        'mcp__sessions__create_session',
        'mcp__sessions__wait_for_session',
      ],
    );
    const [getOther, createB, createMore, waitB] = calls.map((c) => resultFor(aHistory, c.id));

    // Another project's session is out of reach, and the tool says why.
    assert.equal(getOther!.tool_result.is_error, true);
    assert.match(
      resultText(getOther!),
      new RegExp(`${otherName}.*not found.*only the sessions of its own project`),
    );

    // B was created, in A's project, with A as its parent.
    assert.equal(createB!.tool_result.is_error, false, resultText(createB!));
    const bName = (JSON.parse(resultText(createB!)) as { name: string }).name;
    const b = await getSession(s.serve, bName);
    assert.equal(b.metadata.namespace, a.metadata.namespace);
    assert.equal(b.metadata.annotations[PARENT_SESSION_ANNOTATION], aName);
    assert.equal(b.status.phase, 'Completed', `B: ${b.status.message}`);

    // The fan-out bound: a clear tool error, and A went on.
    assert.equal(createMore!.tool_result.is_error, true);
    assert.match(
      resultText(createMore!),
      /has created 1 session\(s\).*CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION=1/,
    );
    const aChildren = (
      await s.serve.api('GET', `/projects/${a.metadata.namespace}/agentic-sessions`)
    ).json as {
      items: { metadata: { annotations: Record<string, string> } }[];
    };
    assert.equal(
      aChildren.items.filter((x) => x.metadata.annotations[PARENT_SESSION_ANNOTATION] === aName)
        .length,
      1,
    );

    // A waited for B and used its result in its own answer.
    const waited = JSON.parse(resultText(waitB!)) as {
      phase: string;
      timedOut: boolean;
      result: { text: string };
    };
    assert.equal(waited.phase, 'Completed');
    assert.equal(waited.timedOut, false);
    assert.equal(waited.result.text, CHILD_DONE);
    assert.equal(aFinal.status.result, `The child ${bName} reported: ${CHILD_DONE}`);

    // B's work is in B's workspace (its repo), not in A's.
    const bReport = path.join(s.dataDir, 'workspaces', bName, 'work', 'report.txt');
    assert.equal(readFileSync(bReport, 'utf8'), 'report from the child\n');
    assert.equal(
      existsSync(path.join(s.dataDir, 'workspaces', aName, 'artifacts', 'report.txt')),
      false,
    );

    // B's sub-agent came from its repo's .claude/agents/, and its frames are nested under the call.
    const bHistory = await history(s.serve, bName);
    const agentCall = toolCalls(bHistory).find((c) => c.tool === 'Agent' || c.tool === 'Task');
    assert.ok(agentCall, 'B called the Agent tool');
    assert.equal(
      agentCall.parent_tool_use_id,
      undefined,
      'the Agent call itself is the main agent’s',
    );
    const nested = bHistory.filter((e) => e.payload.parent_tool_use_id === agentCall.id);
    const nestedCall = toolCalls(nested).find((c) => c.tool === 'Bash');
    assert.ok(nestedCall, 'the sub-agent’s Bash call is in B’s history');
    assert.equal(nestedCall.agent, 'helper');
    const nestedResult = toolResults(nested).find(
      (r) => r.tool_result.tool_use_id === nestedCall.id,
    );
    assert.ok(nestedResult, 'and its result');
    assert.equal(nestedResult.agent, 'helper');
    assert.match(resultText(nestedResult), /report from the child/);
    // (The sub-agent's final text reaches the main agent as the Agent call's result.)
    assert.match(
      resultText(resultFor(bHistory, agentCall.id)),
      /helper saw: report from the child/,
    );
    assert.ok(
      nested.every((e) => e.payload.agent === 'helper'),
      'every nested frame names the sub-agent',
    );
    const helperCall = s.model.requests.find((r) =>
      JSON.stringify(r.body).includes('HELPER-AGENT-PROMPT'),
    );
    assert.ok(helperCall, 'the sub-agent ran with the prompt of .claude/agents/helper.md');
    // Nothing of this nested frame is in the main agent's frames.
    assert.ok(
      toolCalls(bHistory.filter((e) => e.payload.parent_tool_use_id === undefined)).every(
        (c) => c.tool !== 'Bash',
      ),
    );
  });
});
