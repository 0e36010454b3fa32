// End-to-end: the real `claude-code-runner run` process, the real SDK and CLI, the scripted model
// and a wire-level fake backend. Assertions are on what crossed the wire and what is on disk.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Scenario } from '../../src/testing/scripted-model/index.js';
import { API_KEY, BOT_TOKEN, harness, runToEnd, startRunner, type Harness } from './harness.js';

const scenarios: Scenario[] = [
  {
    name: 'failing-tool',
    turns: [
      {
        steps: [
          {
            text: 'Reading it.',
            tools: [{ name: 'Read', input: { file_path: '{{cwd}}/does-not-exist.txt' } }],
          },
          { text: 'That file does not exist; carrying on.' },
        ],
      },
    ],
  },
  {
    name: 'always-529',
    turns: [
      { steps: [{ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } }] },
    ],
  },
];

describe('runner end to end', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ scenarios });
  });
  after(async () => h.cleanup());
  beforeEach(() => h?.backend.reset());

  test('a tool loop that writes a file: frames in order, file on disk, Completed with the summary', async () => {
    const r = await runToEnd(h.env, { PROMPT: '[[scenario:write-file]] write the file' });
    assert.equal(r.code, 0, r.stderr);
    const file = join(h.workspace, 'artifacts', 'hello.txt');
    assert.equal(readFileSync(file, 'utf8'), 'Hello from the scripted model!\n');

    const frames = h.backend.uniqueFrames;
    // seq from 1, strictly increasing, no gap; ISO timestamps.
    assert.deepEqual(
      frames.map((f) => f.seq),
      frames.map((_f, i) => i + 1),
    );
    for (const f of frames)
      assert.ok(!Number.isNaN(Date.parse(f.timestamp)) && f.timestamp.endsWith('Z'));

    const kinds = frames.map((f) => {
      const p = f.payload as Record<string, unknown>;
      if (f.type !== 'agent.message') return f.type;
      if ('tool' in p) return `tool:${String(p.tool)}`;
      if ('tool_result' in p) return 'tool_result';
      if (p.type === 'result.message') return 'result';
      return 'text';
    });
    const order = ['agent.running', 'text', 'tool:Write', 'tool_result', 'result'].map((k) =>
      kinds.indexOf(k),
    );
    assert.ok(
      kinds.lastIndexOf('text') > kinds.indexOf('tool_result'),
      'the answer follows the tool result',
    );
    assert.ok(
      order.every((i) => i >= 0),
      `missing kinds in ${kinds.join(',')}`,
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      `out of order: ${kinds.join(',')}`,
    );
    assert.ok(kinds.includes('message.partial'), 'streamed text arrives as message.partial');

    const toolCall = frames.find((f) => (f.payload as { tool?: string }).tool === 'Write')!
      .payload as { id: string; input: { file_path: string } };
    const toolResult = frames.find((f) => 'tool_result' in f.payload)!.payload as {
      tool_result: { tool_use_id: string; is_error: boolean };
    };
    assert.equal(toolResult.tool_result.tool_use_id, toolCall.id);
    assert.equal(toolResult.tool_result.is_error, false);
    assert.equal(toolCall.input.file_path, file);

    const result = frames.find((f) => (f.payload as { type?: string }).type === 'result.message')!
      .payload as { payload: Record<string, unknown> };
    for (const k of [
      'subtype',
      'duration_ms',
      'duration_api_ms',
      'is_error',
      'num_turns',
      'session_id',
      'total_cost_usd',
      'usage',
      'result',
    ])
      assert.ok(k in result.payload, `result payload has ${k}`);
    assert.equal(result.payload.num_turns, 2);

    // Partials reassemble to the final text of their block.
    const finalText = frames
      .filter((f) => (f.payload as { type?: string }).type === 'agent_message')
      .map((f) => (f.payload as { content: { text: string } }).content.text);
    const partials = frames.filter((f) => f.type === 'message.partial');
    const byId = new Map<string, string>();
    for (const p of partials)
      byId.set(p.partial!.id, (byId.get(p.partial!.id) ?? '') + p.partial!.data);
    assert.deepEqual([...byId.values()], finalText);

    const [running, final] = [h.backend.statuses[0]!, h.backend.statuses.at(-1)!];
    assert.equal(running.phase, 'Running');
    assert.equal(final.phase, 'Completed');
    assert.equal(final.num_turns, 2);
    assert.equal(final.session_id, result.payload.session_id);
    assert.match(String(final.result), /Done: I wrote hello.txt/);
    // The CLI's session id is recorded for continuations.
    const patch = h.backend.calls.find((c) => c.method === 'PATCH');
    assert.deepEqual(patch?.body, {
      metadata: { annotations: { 'ambient-code.io/sdk-session-id': result.payload.session_id } },
    });
    // The runner presented its bot token on the socket and on REST.
    assert.equal(h.backend.connections[0]?.authorization, `Bearer ${BOT_TOKEN}`);
    assert.ok(h.backend.calls.every((c) => c.authorization === `Bearer ${BOT_TOKEN}`));
  });

  test('a tool that fails: is_error true, and the session goes on to complete', async () => {
    const r = await runToEnd(h.env, {
      PROMPT: '[[scenario:failing-tool]] read it',
      SESSION_ID: 's2',
    });
    assert.equal(r.code, 0, r.stderr);
    const frames = h.backend.frames;
    const res = frames.find((f) => 'tool_result' in f.payload)?.payload as {
      tool_result: { is_error: boolean; content: unknown };
    };
    assert.equal(res.tool_result.is_error, true);
    assert.ok(
      frames.some(
        (f) =>
          (f.payload as { content?: { text?: string } }).content?.text ===
          'That file does not exist; carrying on.',
      ),
    );
    assert.equal(h.backend.statuses.at(-1)!.phase, 'Completed');
  });

  test('a model that answers 529 until the CLI gives up: Failed with the reason, exit 1', async () => {
    const r = await runToEnd(h.env, { PROMPT: '[[scenario:always-529]] go', SESSION_ID: 's3' });
    assert.equal(r.code, 1, r.stderr);
    const final = h.backend.statuses.at(-1)!;
    assert.equal(final.phase, 'Failed');
    assert.match(String(final.message), /529|overloaded/i);
    assert.ok(
      h.model.served.filter((s) => s.error === 529).length >= 2,
      'the CLI retried before giving up',
    );
  });

  test('secrets never appear in frames, statuses or logs, even when the model prints them', async () => {
    const ghToken = 'ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
    h.model.addScenario({
      name: 'leaky',
      turns: [
        {
          steps: [
            {
              text: `Key ${API_KEY}, bot ${BOT_TOKEN}, found ${ghToken} and Authorization: Bearer abcdefghijklmnop1234. Done.`,
              chunkSize: 5,
              tools: [{ name: 'Bash', input: { command: `echo ${API_KEY}` } }],
            },
            { text: `again ${API_KEY}` },
          ],
        },
      ],
    });
    const r = await runToEnd(h.env, {
      PROMPT: `[[scenario:leaky]] print ${BOT_TOKEN}`,
      SESSION_ID: 's4',
      LOG_LEVEL: 'debug',
    });
    assert.equal(r.code, 0, r.stderr);
    // Everything the runner sent, except the Authorization header it must send.
    const wire =
      h.backend.rawFrames.join('\n') +
      JSON.stringify(h.backend.statuses) +
      JSON.stringify(h.backend.calls.map((c) => c.body));
    const logs = r.stdout + r.stderr;
    for (const secret of [API_KEY, BOT_TOKEN, ghToken, 'abcdefghijklmnop1234']) {
      assert.ok(!wire.includes(secret), `secret ${secret.slice(0, 6)}… reached the backend`);
      assert.ok(!logs.includes(secret), `secret ${secret.slice(0, 6)}… reached the logs`);
    }
    assert.ok(wire.includes('[REDACTED]'), 'the redaction marker shows where a secret was');
    assert.ok(logs.length > 0, 'debug logs were produced and checked');
  });
});

describe('runner configuration errors', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => h.cleanup());
  beforeEach(() => h?.backend.reset());

  const cases: { name: string; env: Record<string, string>; variable: RegExp }[] = [
    { name: 'missing credentials', env: { ANTHROPIC_API_KEY: '' }, variable: /ANTHROPIC_API_KEY/ },
    {
      name: 'malformed REPOS_JSON',
      env: { REPOS_JSON: '[{"input": {"url": ' },
      variable: /REPOS_JSON: is not valid JSON/,
    },
    { name: 'a negative TIMEOUT', env: { TIMEOUT: '-5' }, variable: /TIMEOUT: -5 is out of range/ },
  ];
  for (const c of cases) {
    test(`${c.name}: exit 2, a clear message on stderr, the socket and the status, no secret`, async () => {
      const r = await runToEnd(h.env, { PROMPT: 'hi', ...c.env });
      assert.equal(r.code, 2);
      assert.match(r.stderr, c.variable);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
      const frame = await h.backend.waitForFrame((f) => f.payload.event === 'session.failed');
      assert.match(String(frame.payload.message), c.variable);
      const status = h.backend.statuses.at(-1)!;
      assert.equal(status.phase, 'Failed');
      assert.match(String(status.message), c.variable);
      const everything =
        r.stderr + JSON.stringify(h.backend.statuses) + h.backend.rawFrames.join('');
      assert.ok(!everything.includes(BOT_TOKEN) && !everything.includes(API_KEY));
    });
  }

  test('several problems are reported together', async () => {
    const r = await runToEnd(h.env, {
      PROMPT: 'hi',
      TIMEOUT: 'soon',
      LLM_TEMPERATURE: '3',
      INTERACTIVE: 'maybe',
    });
    assert.equal(r.code, 2);
    for (const v of ['TIMEOUT', 'LLM_TEMPERATURE', 'INTERACTIVE'])
      assert.match(r.stderr, new RegExp(`${v}:`));
  });
});

describe('runner stop paths', () => {
  let h: Harness;
  before(async () => {
    h = await harness({
      scenarios: [
        {
          name: 'slow-tool',
          turns: [
            {
              steps: [
                {
                  text: 'Working.',
                  tools: [
                    {
                      name: 'Bash',
                      input: {
                        command: 'node -e "setTimeout(() => {}, 45000)" slow-tool-marker-7f3a',
                      },
                    },
                  ],
                },
                { text: 'never' },
              ],
            },
          ],
        },
      ],
    });
  });
  after(async () => h.cleanup());
  beforeEach(() => h?.backend.reset());

  test('SIGTERM mid-turn: status Stopped, exit 143 within 10 s, no process left behind', async () => {
    const p = startRunner(h.env, { PROMPT: '[[scenario:slow-tool]] go', SESSION_ID: 'term1' });
    await h.backend.waitForFrame(
      (f) => (f.payload as { tool?: string }).tool === 'Bash',
      30_000,
      'the Bash tool call',
    );
    await waitForProcess('slow-tool-marker-7f3a');
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    const { code } = await p.exit;
    assert.equal(code, 143, p.stderr());
    assert.ok(Date.now() - t0 < 10_000, 'exits within 10 s');
    assert.equal(h.backend.statuses.at(-1)!.phase, 'Stopped');
    assert.deepEqual(
      await processList('slow-tool-marker-7f3a'),
      [],
      "the agent's shell command is gone",
    );
  });

  test('SIGINT mid-turn: status Stopped, exit 130', async () => {
    const p = startRunner(h.env, { PROMPT: '[[scenario:slow-tool]] go', SESSION_ID: 'int1' });
    await h.backend.waitForFrame(
      (f) => (f.payload as { tool?: string }).tool === 'Bash',
      30_000,
      'the Bash tool call',
    );
    p.child.kill('SIGINT');
    assert.equal((await p.exit).code, 130, p.stderr());
    assert.equal(h.backend.statuses.at(-1)!.phase, 'Stopped');
    assert.ok(h.backend.frames.some((f) => f.payload.event === 'session.stopped'));
  });

  test('the final status is retried until the backend takes it', async () => {
    h.model.addScenario({ name: 'quick', turns: [{ steps: [{ text: 'Quick answer.' }] }] });
    const p = startRunner(h.env, { PROMPT: '[[scenario:quick]] go', SESSION_ID: 'retry1' });
    await h.backend.waitFor(() => h.backend.statuses.length >= 1, 20_000, 'Running status');
    h.backend.failNextStatuses(3);
    assert.equal((await p.exit).code, 0, p.stderr());
    assert.equal(h.backend.statuses.at(-1)!.phase, 'Completed');
    const puts = h.backend.calls.filter((c) => c.method === 'PUT');
    assert.ok(puts.length >= 5, `the final status took several attempts (${puts.length} PUTs)`);
  });

  test('the CLI session id annotation is retried until the backend takes it', async () => {
    h.model.addScenario({ name: 'quick', turns: [{ steps: [{ text: 'Quick answer.' }] }] });
    h.backend.failNextPatches(2);
    const p = startRunner(h.env, { PROMPT: '[[scenario:quick]] go', SESSION_ID: 'retry2' });
    assert.equal((await p.exit).code, 0, p.stderr());
    const patches = h.backend.calls.filter((c) => c.method === 'PATCH');
    assert.equal(patches.length, 3, 'two refused, the third taken');
    const annotations = (
      patches.at(-1)!.body as { metadata: { annotations: Record<string, string> } }
    ).metadata.annotations;
    const sdkId = annotations['ambient-code.io/sdk-session-id'];
    assert.ok(sdkId, 'the CLI session id was recorded');
    assert.equal(sdkId, h.backend.statuses.at(-1)!.session_id, 'the id of the session that ran');
  });

  test('a TIMEOUT that expires mid-turn: Failed, exit 124, no process left behind', async () => {
    const r = await runToEnd(h.env, {
      PROMPT: '[[scenario:slow-tool]] go',
      SESSION_ID: 'timeout1',
      TIMEOUT: '3',
    });
    assert.equal(r.code, 124, r.stderr);
    const final = h.backend.statuses.at(-1)!;
    assert.equal(final.phase, 'Failed');
    assert.match(String(final.message), /timed out after 3 s/);
    assert.deepEqual(await processList('slow-tool-marker-7f3a'), []);
  });
});

async function processList(needle: string): Promise<string[]> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(needle) && !l.includes('ps -eo'));
}

async function waitForProcess(needle: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await processList(needle)).length) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process ${needle} never started`);
}
