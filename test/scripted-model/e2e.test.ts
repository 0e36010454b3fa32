// End to end: the real Claude Code CLI, driven by the Agent SDK's query(), against the scripted
// model server. Each test has its own server and temp dirs; they run concurrently (~1 s each).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { SDKMessage, SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import {
  startScriptedModelServer,
  type ScriptedModelServer,
} from '../../src/testing/scripted-model/index.js';
import { offlineEnv, runSession, tempDirs, userMessage, type TempDirs } from './helpers.js';

async function withSetup(
  fn: (server: ScriptedModelServer, dirs: TempDirs) => Promise<void>,
  opts: Parameters<typeof startScriptedModelServer>[0] = {},
): Promise<void> {
  const server = await startScriptedModelServer({ quiet: true, ...opts });
  const dirs = tempDirs();
  try {
    await fn(server, dirs);
  } finally {
    await server.close();
    dirs.cleanup();
  }
}

const mainServed = (server: ScriptedModelServer) => server.served.filter((s) => !s.auxiliary);

describe('scripted model with the real CLI', { concurrency: true }, () => {
  test('write-file: the file is on disk and the result carries the served usage', () =>
    withSetup(async (server, dirs) => {
      const run = await runSession({
        dirs,
        env: offlineEnv(dirs, { ANTHROPIC_BASE_URL: server.url }),
        prompt: 'Create the greeting file. [[scenario:write-file]]',
      });
      assert.equal(run.error, undefined, run.error?.message);
      const file = join(dirs.ws, 'hello.txt');
      assert.equal(readFileSync(file, 'utf8'), 'Hello from the scripted model!\n');
      const served = mainServed(server);
      assert.deepEqual(
        served.map((s) => [s.scenario, s.turn, s.step, s.stopReason]),
        [
          ['write-file', 0, 0, 'tool_use'],
          ['write-file', 0, 1, 'end_turn'],
        ],
      );
      const result = run.results.at(-1);
      assert.ok(result && result.subtype === 'success' && !result.is_error);
      assert.equal(result.result, `Done: I wrote hello.txt in ${dirs.ws}.`);
      const sum = (
        k:
          | 'input_tokens'
          | 'output_tokens'
          | 'cache_read_input_tokens'
          | 'cache_creation_input_tokens',
      ) => served.reduce((n, s) => n + s.usage[k], 0);
      assert.equal(result.usage.input_tokens, sum('input_tokens'));
      assert.equal(result.usage.output_tokens, sum('output_tokens'));
      assert.equal(result.usage.cache_read_input_tokens, sum('cache_read_input_tokens'));
      assert.equal(result.usage.cache_creation_input_tokens, sum('cache_creation_input_tokens'));
      // The CLI really called the Write tool with the rendered {{cwd}} path.
      const toolResult = JSON.stringify(server.requests.at(-1)?.body);
      assert.match(toolResult, /File created successfully/);
    }));

  test('tool loop: five Bash calls chosen by the /scenarios/NAME prefix', () =>
    withSetup(async (server, dirs) => {
      const run = await runSession({
        dirs,
        env: offlineEnv(dirs, { ANTHROPIC_BASE_URL: `${server.url}/scenarios/tool-loop` }),
        prompt: 'Run the loop.',
      });
      assert.equal(run.error, undefined, run.error?.message);
      const served = mainServed(server);
      assert.equal(served.length, 6);
      assert.deepEqual(
        served.map((s) => s.tools.map((t) => (t.input as { command: string }).command).join()),
        ['echo loop-0', 'echo loop-1', 'echo loop-2', 'echo loop-3', 'echo loop-4', ''],
      );
      assert.ok(served.every((s) => s.scenario === 'tool-loop' && s.turn === 0 && !s.fallback));
      const result = run.results.at(-1);
      assert.ok(result?.subtype === 'success');
      assert.equal(result.result, 'Finished 5 tool calls; the last one printed: loop-4');
      assert.equal(result.num_turns, 6);
    }));

  test('vertex: the same scenarios on the Vertex path, with the Bearer token reaching the server', () =>
    withSetup(async (server, dirs) => {
      const token = 'ya29.scripted-vertex-token-42';
      const env = offlineEnv(dirs, {
        CLAUDE_CODE_USE_VERTEX: '1',
        CLAUDE_CODE_SKIP_VERTEX_AUTH: '1',
        ANTHROPIC_VERTEX_BASE_URL: `${server.url}/scenarios/write-file`,
        ANTHROPIC_VERTEX_PROJECT_ID: 'scripted-project',
        CLOUD_ML_REGION: 'us-east5',
        ANTHROPIC_CUSTOM_HEADERS: `Authorization: Bearer ${token}`,
      });
      delete env.ANTHROPIC_API_KEY;
      const run = await runSession({ dirs, env, prompt: 'Create the greeting file.' });
      assert.equal(run.error, undefined, run.error?.message);
      assert.ok(existsSync(join(dirs.ws, 'hello.txt')));
      assert.ok(server.rawAuthorization().includes(`Bearer ${token}`));
      const calls = server.requests.filter((r) => r.kind === 'messages');
      assert.ok(calls.length >= 2);
      for (const r of calls) {
        assert.match(
          r.path,
          /^\/scenarios\/write-file\/projects\/scripted-project\/locations\/us-east5\/publishers\/anthropic\/models\/[^/]+:streamRawPredict$/,
        );
        assert.equal(r.headers.authorization, 'Bearer [REDACTED]');
      }
      assert.ok(
        !JSON.stringify(server.requests).includes(token),
        'the token is redacted in records',
      );
    }));

  test('529 every time: one quick retry, then an error result', () =>
    withSetup(
      async (server, dirs) => {
        const retries: SDKMessage[] = [];
        const run = await runSession({
          dirs,
          env: offlineEnv(dirs, { ANTHROPIC_BASE_URL: server.url, CLAUDE_CODE_MAX_RETRIES: '1' }),
          prompt: 'Say something.',
          onMessage: (m) => {
            if (m.type === 'system' && m.subtype === 'api_retry') retries.push(m);
          },
        });
        assert.deepEqual(
          server.served.map((s) => s.error),
          [529, 529],
          'first try plus one retry',
        );
        assert.equal(retries.length, 1);
        const result = run.results.at(-1);
        assert.ok(result, 'an error still ends with a result message');
        assert.equal(result.is_error, true);
        assert.match(JSON.stringify(result), /529/);
        assert.match(
          run.error?.message ?? '',
          /529/,
          'the SDK iterator throws after the error result',
        );
      },
      { scenarios: [{ name: 'overloaded', turns: [{ steps: [{ error: { status: 529 } }] }] }] },
    ));

  test('streaming input: two user messages, each answered by the turn it matches', () =>
    withSetup(
      async (server, dirs) => {
        // Turns are listed in the opposite order of the messages: only `match` can pick them right.
        let nextMessage!: () => void;
        const secondAllowed = new Promise<void>((resolve) => (nextMessage = resolve));
        let finish!: () => void;
        const finished = new Promise<void>((resolve) => (finish = resolve));
        async function* input(): AsyncGenerator<SDKUserMessage> {
          yield userMessage('First: what is the answer?');
          await secondAllowed;
          yield userMessage('Second: and the question?');
          await finished;
        }
        let results = 0;
        const run = await runSession({
          dirs,
          env: offlineEnv(dirs, { ANTHROPIC_BASE_URL: server.url }),
          prompt: input(),
          onMessage: (m) => {
            if (m.type !== 'result') return;
            results++;
            if (results === 1) nextMessage();
            else finish();
          },
        });
        assert.equal(run.error, undefined, run.error?.message);
        const texts = run.results.map((r) => (r.subtype === 'success' ? r.result : r.subtype));
        assert.deepEqual(texts, ['42 (you asked: First: what is the answer?)', 'Unknown, sorry.']);
        assert.deepEqual(
          mainServed(server).map((s) => [s.turn, s.step]),
          [
            [1, 0],
            [0, 0],
          ],
        );
      },
      {
        scenarios: [
          {
            name: 'two-questions',
            turns: [
              { match: 'Second:', steps: [{ text: 'Unknown, sorry.' }] },
              { match: 'First:', steps: [{ text: '42 (you asked: {{userText}})' }] },
            ],
          },
        ],
      },
    ));

  test('sub-agent: shares the CLI session header, so the marker-chosen scenario follows it', () =>
    withSetup(
      async (server, dirs) => {
        const run = await runSession({
          dirs,
          env: offlineEnv(dirs, { ANTHROPIC_BASE_URL: server.url }),
          prompt: 'Delegate it. [[scenario:delegate]]',
        });
        assert.equal(run.error, undefined, run.error?.message);
        const calls = server.requests.filter((r) => r.kind === 'messages' && !r.auxiliary);
        assert.deepEqual(
          calls.map((r) => [r.scenario, r.turn, r.step]),
          [
            ['delegate', 0, 0],
            ['delegate', 1, 0],
            ['delegate', 1, 1],
            ['delegate', 0, 1],
          ],
        );
        const sessions = new Set(calls.map((r) => r.headers['x-claude-code-session-id']));
        assert.equal(sessions.size, 1, 'one x-claude-code-session-id for main and sub-agent');
        assert.ok(
          !JSON.stringify(calls[1]?.body).includes('[[scenario:'),
          'no marker in the sub-agent',
        );
        const result = run.results.at(-1);
        assert.ok(result?.subtype === 'success');
        assert.match(result.result, /^main final: .*sub-agent found: sub-bash/s);
      },
      {
        // The default scenario is a different one: only the remembered marker can pick `delegate`.
        defaultScenario: 'hello',
        scenarios: [
          {
            name: 'delegate',
            turns: [
              {
                steps: [
                  {
                    tools: [
                      {
                        name: 'Agent',
                        input: {
                          description: 'Echo in a sub-agent',
                          prompt: 'SUBTASK: run echo',
                          subagent_type: 'general-purpose',
                          // Foreground, so the main turn waits for the report.
                          run_in_background: false,
                        },
                      },
                    ],
                  },
                  { text: 'main final: {{lastToolResult}}' },
                ],
              },
              {
                match: 'SUBTASK',
                steps: [
                  {
                    tools: [
                      { name: 'Bash', input: { command: 'echo sub-bash', description: 'Echo' } },
                    ],
                  },
                  { text: 'sub-agent found: {{lastToolResult}}' },
                ],
              },
            ],
          },
        ],
      },
    ));

  test('demo: thinking, Write and Bash round-trip through the CLI', () =>
    withSetup(
      async (server, dirs) => {
        const run = await runSession({
          dirs,
          env: offlineEnv(dirs, { ANTHROPIC_BASE_URL: server.url }),
          prompt: 'Write FizzBuzz and run it.',
        });
        assert.equal(run.error, undefined, run.error?.message);
        assert.ok(existsSync(join(dirs.ws, 'fizzbuzz.js')));
        assert.equal(server.served.filter((s) => !s.auxiliary).length, 3);
        // The thinking block and its signature come back to the server in the next request.
        assert.match(
          JSON.stringify(server.requests[1]?.body),
          /"type":"thinking".*scripted-signature-/,
        );
        const result = run.results.at(-1);
        assert.ok(result?.subtype === 'success');
        assert.match(result.result, /```\n1\n2\nFizz\n4\nBuzz[\s\S]*FizzBuzz\n```$/);
      },
      { defaultScenario: 'demo' },
    ));
});
