/**
 * An agent stays inside its session, and the session's environment reaches it: through the real
 * `serve`, the real runner and the real Claude Code CLI (its sandbox is bubblewrap), driven by
 * scripted agents.
 *
 * - A hostile agent in project `demo` goes for the control plane: the user token (relative and
 *   absolute), the store, serve's logs, a session of project `other` (its workspace, and deleting
 *   it through the API), `/proc/<pid>/environ` of its runner and of serve, the model key, by
 *   Bash and by the file tools, through a link too. It finds nothing: the history records
 *   denials and empty reads, no secret appears in it, nothing was written outside, the other
 *   session is intact.
 * - A benign agent next to it still reads, writes and runs commands in its workspace.
 * - A session's `environmentVariables` reach the agent's Bash (the command writes them to a file
 *   in the workspace, and the model saw them in the tool result), while the secret-looking one
 *   appears in no history, status or log.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { processEnviron } from '../../src/control-plane/executor/procfs.js';
import type { Scenario } from '../../src/testing/scripted-model/index.js';
import {
  API_KEY,
  createSession,
  getSession,
  history,
  isResult,
  isToolResult,
  PROJECT,
  sessionProcesses,
  startE2e,
  waitFor,
  waitForEntry,
  type E2e,
  type Entry,
} from '../control-plane-e2e/helpers.js';

const OTHER_PROJECT = 'other';
const VICTIM_SECRET = 'victim-file-secret-5f3a9c1e';
const VICTIM_PROMPT_MARKER = 'victim-prompt-marker-7b2d4e';
const USER_SECRET = 'user-registry-token-9d8c7b6a5f';
const JIRA_URL = 'https://jira.example';

let e2e: E2e;

before(async () => {
  e2e = await startE2e({
    scenarios: [
      {
        name: 'iso-benign',
        turns: [
          {
            steps: [
              {
                tools: [
                  {
                    name: 'Write',
                    input: { file_path: '{{cwd}}/notes.txt', content: 'benign notes\n' },
                  },
                ],
              },
              { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/notes.txt' } }] },
              {
                tools: [
                  {
                    name: 'Bash',
                    input: {
                      command:
                        'cat notes.txt && echo "sum=$((6*7))" > sum.txt && cat sum.txt && node -e "console.log(\'node-ok\')" && git --version',
                      description: 'Work in the workspace',
                    },
                  },
                ],
              },
              { text: 'Benign done: {{lastToolResult}}' },
            ],
          },
        ],
      },
      {
        name: 'iso-env',
        turns: [
          {
            steps: [
              {
                tools: [
                  {
                    name: 'Bash',
                    input: {
                      command: 'echo "$JIRA_URL $MY_API_TOKEN" > env-seen.txt; cat env-seen.txt',
                      description: 'Show the variables',
                    },
                  },
                ],
              },
              { text: 'The variables: {{lastToolResult}}' },
            ],
          },
        ],
      },
    ],
  });
});
after(async () => {
  await e2e?.close();
});

/** Every file under `dir` (for finding what an agent wrote, wherever its cwd is). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function findWritten(workspace: string, file: string): string {
  const found = filesUnder(workspace).filter((p) => path.basename(p) === file);
  assert.equal(found.length, 1, `${file} written once in ${workspace}: ${found.join(', ')}`);
  return found[0]!;
}

const toolResults = (h: Entry[]) =>
  h
    .filter(isToolResult)
    .map(
      (e) => (e.payload as { tool_result: { content: unknown; is_error: boolean } }).tool_result,
    );

const text = (content: unknown) =>
  typeof content === 'string' ? content : JSON.stringify(content);

/** Marks that a Bash call of the hostile agent did run (a refused call has none). */
const ran = (n: number) => `; echo ran-${n}`;

function hostileScenario(p: {
  dataDir: string;
  victimWs: string;
  victimName: string;
  runnerPid: number;
  servePid: number;
  apiUrl: string;
}): Scenario {
  const token = path.join(p.dataDir, 'token');
  const store = path.join(p.dataDir, 'store.db');
  const bash = (command: string, n: number) => ({
    tools: [{ name: 'Bash', input: { command: `${command}${ran(n)}`, description: 'Look' } }],
  });
  const read = (file: string) => ({ tools: [{ name: 'Read', input: { file_path: file } }] });
  return {
    name: 'iso-hostile',
    turns: [
      {
        steps: [
          bash('cat ../../../token ../../token ../token', 0),
          bash(`cat ${token}`, 1),
          bash(
            `grep -a -o 'victim-prompt-marker-[0-9a-f]*' ${store} | head -1; ls ${p.dataDir}/logs`,
            2,
          ),
          bash(`ls ${p.victimWs}; cat ${p.victimWs}/victim.txt`, 3),
          bash(`tr '\\0' '\\n' < /proc/${p.runnerPid}/environ | grep BOT_TOKEN`, 4),
          bash(`tr '\\0' '\\n' < /proc/${p.servePid}/environ | grep TOKEN`, 5),
          bash(
            `for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done | grep -E '^(BOT_TOKEN|CLAUDE_RUNNER_API_TOKEN|SESSION_ID|WEBSOCKET_URL)=' ; echo "key=$ANTHROPIC_API_KEY"`,
            6,
          ),
          bash(`ln -sf ${token} tok-link; cat tok-link`, 7),
          bash(`echo planted > ${p.victimWs}/planted-by-bash.txt`, 8),
          bash(
            `curl -s -o /dev/null -w 'delete=%{http_code}' -X DELETE ${p.apiUrl}/projects/${OTHER_PROJECT}/agentic-sessions/${p.victimName}`,
            9,
          ),
          read('{{cwd}}/../../../token'),
          read(token),
          read(store),
          read(`${store}-wal`),
          read(`${p.victimWs}/victim.txt`),
          read(`/proc/${p.runnerPid}/environ`),
          read(`/proc/${p.servePid}/environ`),
          read('{{cwd}}/tok-link'),
          { tools: [{ name: 'Grep', input: { pattern: 'victim-file-secret', path: p.dataDir } }] },
          {
            tools: [
              {
                name: 'Write',
                input: { file_path: `${p.victimWs}/planted-by-write.txt`, content: 'x' },
              },
            ],
          },
          { text: 'Hostile done.' },
        ],
      },
    ],
  };
}

describe('a local session’s agent stays inside its session', () => {
  it('a hostile agent finds nothing of the control plane and can do nothing outside its project; a benign one works', async () => {
    const { serve, dataDir } = e2e;
    // A session of another project, with a secret in its workspace and one in the store.
    const created = await serve.api('POST', `/projects/${OTHER_PROJECT}/agentic-sessions`, {
      prompt: `[[scenario:hello]] ${VICTIM_PROMPT_MARKER}`,
    });
    assert.equal(created.status, 201, created.text);
    const victimName = (created.json as { metadata: { name: string } }).metadata.name;
    const victimWs = path.join(dataDir, 'workspaces', victimName);
    mkdirSync(victimWs, { recursive: true });
    writeFileSync(path.join(victimWs, 'victim.txt'), VICTIM_SECRET);
    // serve keeps a generated token there (this one came by variable: put it where it would be).
    writeFileSync(path.join(dataDir, 'token'), `${serve.token}\n`, { mode: 0o600 });

    const hostile = await createSession(serve, { prompt: '', interactive: true });
    const name = hostile.metadata.name;
    const benign = await createSession(serve, { prompt: '[[scenario:iso-benign]] work' });
    const runnerPid = await waitFor(
      () => sessionProcesses(dataDir, name).runner,
      'the hostile session’s runner',
    );
    const botToken = processEnviron(runnerPid)
      ?.find((kv) => kv.startsWith('BOT_TOKEN='))
      ?.slice('BOT_TOKEN='.length);
    assert.ok(botToken && botToken.length > 16, 'the runner has a bot token to steal');
    e2e.model.addScenario(
      hostileScenario({
        dataDir,
        victimWs,
        victimName,
        runnerPid,
        servePid: serve.pid,
        apiUrl: serve.apiUrl,
      }),
    );
    const sent = await serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, {
      content: '[[scenario:iso-hostile]] take what you can',
    });
    assert.equal(sent.status, 202, sent.text);
    const h = await waitForEntry(() => e2e.serve, name, isResult, 'the hostile turn ends', 120_000);

    // The agent tried everything: every step ran (Bash calls carry their marker when they ran).
    const results = toolResults(h);
    assert.equal(
      results.length,
      20,
      `every attempt has a result: ${results.map((r) => text(r.content)).join('\n')}`,
    );
    const all = JSON.stringify(h);
    for (let n = 0; n <= 9; n++)
      assert.ok(
        text(results[n]!.content).includes(`ran-${n}`),
        `Bash attempt ${n} ran: ${text(results[n]!.content)}`,
      );
    // …and found nothing: neither in what it saw (the tool results as the model got them,
    // unredacted) nor in what the platform recorded.
    const seen = JSON.stringify(
      e2e.model.requests.filter((r) => r.scenario === 'iso-hostile').map((r) => r.body),
    );
    assert.ok(seen.includes('ran-9'), 'the model saw the results');
    for (const [what, secret] of [
      ['the user token', serve.token],
      ['the runner’s bot token', botToken],
      ['the model key', API_KEY],
      ['the other session’s file', VICTIM_SECRET],
      ['the other session’s prompt from the store', VICTIM_PROMPT_MARKER],
    ] as const) {
      assert.ok(!seen.includes(secret), `the agent never saw ${what}`);
      assert.ok(!all.includes(secret), `${what} is nowhere in the history`);
    }
    assert.doesNotMatch(text(results[0]!.content), /ccr_/);
    assert.match(text(results[1]!.content), /No such file or directory/, 'the data dir is hidden');
    assert.match(text(results[3]!.content), /No such file or directory/);
    assert.match(
      text(results[4]!.content),
      /No such file|Permission denied/,
      'no runner pid to see',
    );
    assert.match(
      text(results[5]!.content),
      /No such file|Permission denied/,
      'no serve pid to see',
    );
    assert.doesNotMatch(
      text(results[6]!.content),
      /(^|\n)(BOT_TOKEN|CLAUDE_RUNNER_API_TOKEN|SESSION_ID|WEBSOCKET_URL)=/,
      'no process of the control plane in sight',
    );
    assert.match(text(results[6]!.content), /key=\n|key=\s*ran-6/, 'no model key in its commands');
    // Its commands cannot reach the API (000), and without a credential it would be refused (401).
    assert.match(text(results[9]!.content), /delete=(000|401)/);
    for (let n = 10; n <= 19; n++)
      assert.equal(
        results[n]!.is_error,
        true,
        `file-tool attempt ${n} was refused: ${text(results[n]!.content)}`,
      );
    // Nothing was written outside, and the other project's session is intact.
    assert.ok(!existsSync(path.join(victimWs, 'planted-by-bash.txt')));
    assert.ok(!existsSync(path.join(victimWs, 'planted-by-write.txt')));
    assert.equal(readFileSync(path.join(victimWs, 'victim.txt'), 'utf8'), VICTIM_SECRET);
    const still = await serve.api(
      'GET',
      `/projects/${OTHER_PROJECT}/agentic-sessions/${victimName}`,
    );
    assert.equal(still.status, 200);

    // The benign agent next to it read, wrote and ran commands in its workspace.
    const bh = await waitForEntry(
      () => e2e.serve,
      benign.metadata.name,
      isResult,
      'benign ends',
      120_000,
    );
    const bws = path.join(dataDir, 'workspaces', benign.metadata.name);
    assert.equal(readFileSync(findWritten(bws, 'notes.txt'), 'utf8'), 'benign notes\n');
    assert.equal(readFileSync(findWritten(bws, 'sum.txt'), 'utf8'), 'sum=42\n');
    const out = toolResults(bh).map((r) => text(r.content));
    assert.match(out[1] ?? '', /benign notes/, 'Read in its workspace');
    assert.match(out[2] ?? '', /benign notes[\s\S]*sum=42[\s\S]*node-ok[\s\S]*git version/);
    assert.equal((await getSession(serve, benign.metadata.name)).status?.phase, 'Completed');
  });

  it('a session’s environment variables reach its agent; the secret one is redacted everywhere', async () => {
    const { serve, dataDir } = e2e;
    const s = await createSession(serve, {
      prompt: '[[scenario:iso-env]] show them',
      environmentVariables: { JIRA_URL, MY_API_TOKEN: USER_SECRET },
    });
    const name = s.metadata.name;
    const h = await waitForEntry(() => e2e.serve, name, isResult, 'the env turn ends', 120_000);
    // The agent's Bash saw both: its file in the workspace, and the tool result the model got.
    const ws = path.join(dataDir, 'workspaces', name);
    assert.equal(
      readFileSync(findWritten(ws, 'env-seen.txt'), 'utf8'),
      `${JIRA_URL} ${USER_SECRET}\n`,
    );
    const sentToModel = JSON.stringify(e2e.model.requests.map((r) => r.body));
    assert.ok(sentToModel.includes(`${JIRA_URL} ${USER_SECRET}`), 'the model saw the tool result');
    // Nothing the platform shows has the secret value; the plain one is kept.
    const shown = toolResults(h)
      .map((r) => text(r.content))
      .join('\n');
    assert.match(shown, new RegExp(`${JIRA_URL.replace(/\./g, '\\.')} \\[REDACTED\\]`));
    const session = await waitFor(async () => {
      const got = await getSession(serve, name);
      return got.status?.phase === 'Completed' ? got : undefined;
    }, 'Completed');
    const logs = await serve.api('GET', `/projects/${PROJECT}/agentic-sessions/${name}/logs`);
    assert.equal(logs.status, 200);
    const logFiles = filesUnder(path.join(dataDir, 'logs'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    for (const [where, textShown] of [
      ['history', JSON.stringify(await history(serve, name))],
      ['status', JSON.stringify(session)],
      ['logs API', logs.text],
      ['run log files', logFiles],
      ['serve output', JSON.stringify(serve.output())],
    ] as const)
      assert.ok(!textShown.includes(USER_SECRET), `the secret value is not in the ${where}`);
  });
});
