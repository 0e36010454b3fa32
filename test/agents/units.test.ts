/**
 * The pieces of agents working together that need no control plane or CLI: AGENTS_JSON and the
 * spec field `agents` (clear errors naming the field), the serve bounds, the runner environment,
 * the mapper naming the agent of a tool call, the scripted model's field placeholders, what the
 * tools show of a session, and the tools' errors (a refusal, an unreachable control plane, a
 * wait that times out) as tool errors rather than crashes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newRenderState, renderEntry } from '../../src/client/render.js';
import { ConfigError } from '../../src/errors.js';
import { loadRunnerConfig } from '../../src/config/runner-config.js';
import { loadServeConfig } from '../../src/config/serve-config.js';
import { buildRunnerEnv } from '../../src/control-plane/executor/env.js';
import type { SessionRow } from '../../src/control-plane/store/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { Redactor } from '../../src/observability/redact.js';
import { PARENT_SESSION_ANNOTATION, toSdkAgents } from '../../src/protocol/agents.js';
import { CreateSessionRequest, isReservedEnv } from '../../src/protocol/api.js';
import { BackendClient } from '../../src/runner/backend-client.js';
import { MessageMapper } from '../../src/runner/message-mapper.js';
import { lastMessages, resultOf, summarize } from '../../src/runner/sessions-summary.js';
import {
  SESSIONS_ALLOWED_TOOLS,
  sessionsToolDefinitions,
} from '../../src/runner/sessions-tools.js';
import { FakeBackend } from '../support/fake-backend.js';
import { renderTemplate } from '../../src/testing/scripted-model/templates.js';

const BASE = {
  SESSION_ID: 's1',
  WEBSOCKET_URL: 'ws://cp:8080/api/projects/p/sessions/s1/ws',
  ANTHROPIC_API_KEY: 'sk-ant-api03-unit-0123456789',
  PROMPT: 'hi',
};

function problems(agentsJson: string): readonly string[] {
  try {
    loadRunnerConfig({ ...BASE, AGENTS_JSON: agentsJson });
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail('the configuration was accepted');
}

describe('AGENTS_JSON and the spec field agents', () => {
  test('a valid list becomes the SDK option; unset is none', () => {
    const agents = [
      {
        name: 'reviewer',
        description: 'Reviews code',
        prompt: 'You review.',
        tools: ['Read', 'mcp__sessions__get_session'],
        model: 'sonnet',
      },
      { name: 'scribe', description: 'Writes notes', prompt: 'You write.' },
    ];
    const config = loadRunnerConfig({ ...BASE, AGENTS_JSON: JSON.stringify(agents) });
    assert.deepEqual(config.agents, agents);
    assert.deepEqual(toSdkAgents(config.agents), {
      reviewer: {
        description: 'Reviews code',
        prompt: 'You review.',
        tools: ['Read', 'mcp__sessions__get_session'],
        model: 'sonnet',
      },
      scribe: { description: 'Writes notes', prompt: 'You write.' },
    });
    assert.deepEqual(loadRunnerConfig(BASE).agents, []);
  });

  test('each problem names the field and the fix', () => {
    assert.match(
      problems('{not json').join('\n'),
      /^AGENTS_JSON: is not valid JSON .*: give a JSON array of \{"name", "description", "prompt", "tools"\?, "model"\?\}/,
    );
    assert.match(
      problems('{"name":"x"}').join('\n'),
      /^AGENTS_JSON: expected array, received object: give a JSON array/,
    );
    const many = problems(
      JSON.stringify([
        { name: 'ok', description: 'd', prompt: 'p' },
        { name: 'bad name!', description: '', prompt: 'p', colour: 'red' },
        { name: 'ok', description: 'd' },
        { name: 'x', description: 'd', prompt: 'p', tools: ['rm -rf'] },
      ]),
    );
    assert.ok(
      many.some((p) => /^AGENTS_JSON\[1\]\.name: must be 1–64 letters/.test(p)),
      many.join('\n'),
    );
    assert.ok(
      many.some((p) => /^AGENTS_JSON\[1\]\.description: is empty: say when/.test(p)),
      many.join('\n'),
    );
    assert.ok(
      many.some((p) => /^AGENTS_JSON\[1\]\.colour: unknown field/.test(p)),
      many.join('\n'),
    );
    assert.ok(
      many.some((p) => p === 'AGENTS_JSON[2].prompt: is required'),
      many.join('\n'),
    );
    assert.ok(
      many.some((p) => /^AGENTS_JSON\[3\]\.tools\[0\]: must be a tool name/.test(p)),
      many.join('\n'),
    );
    const twice = { name: 'same', description: 'd', prompt: 'p' };
    assert.deepEqual(problems(JSON.stringify([twice, twice])), [
      'AGENTS_JSON[1].name: "same" is defined twice: names must be unique',
    ]);
  });

  test('the create request validates agents the same way; AGENTS_JSON is the platform’s to set', () => {
    const bad = CreateSessionRequest.safeParse({
      prompt: 'x',
      agents: [{ name: 'a', prompt: 'p' }],
    });
    assert.equal(bad.success, false);
    assert.deepEqual(
      bad.error!.issues.map((i) => i.path.join('.')),
      ['agents.0.description'],
    );
    assert.ok(isReservedEnv('AGENTS_JSON'));
    const spec = { prompt: 'x', agents: [{ name: 'a', description: 'd', prompt: 'p' }] };
    const row = {
      name: 'session-1',
      project: 'p',
      workspace: '/w',
      spec,
      annotations: {},
    } as unknown as SessionRow;
    const env = buildRunnerEnv({
      session: row,
      run: 1,
      botToken: 't',
      apiUrl: 'http://x/api',
      websocketUrl: 'ws://x',
      inherited: {},
    });
    assert.deepEqual(JSON.parse(env.AGENTS_JSON!), spec.agents);
    const none = buildRunnerEnv({
      session: { ...row, spec: { prompt: 'x' } },
      run: 1,
      botToken: 't',
      apiUrl: 'http://x/api',
      websocketUrl: 'ws://x',
      inherited: {},
    });
    assert.equal(none.AGENTS_JSON, undefined);
  });

  test('serve: the bounds from flags or variables, defaults 10 and 3, bad values named', () => {
    const load = (argv: string[], env: Record<string, string> = {}) => {
      const r = loadServeConfig(argv, env, '/base');
      assert.equal(r.help, false);
      return r.config.sessionLimits;
    };
    assert.deepEqual(load([]), { maxChildrenPerSession: 10, maxSessionDepth: 3 });
    assert.deepEqual(
      load([], {
        CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION: '0',
        CLAUDE_RUNNER_MAX_SESSION_DEPTH: '1',
      }),
      { maxChildrenPerSession: 0, maxSessionDepth: 1 },
    );
    assert.deepEqual(load(['--max-children-per-session', '4', '--max-session-depth=7']), {
      maxChildrenPerSession: 4,
      maxSessionDepth: 7,
    });
    assert.throws(
      () =>
        loadServeConfig(
          ['--max-session-depth', 'deep'],
          { CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION: '-1' },
          '/base',
        ),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.some((p) => p.startsWith('--max-session-depth: "deep" is not a whole number')) &&
        e.problems.some((p) => p.startsWith('CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION:')),
    );
  });
});

describe('the mapper names the agent of each tool call', () => {
  test('main for the main agent, the sub-agent’s name inside a Task call, unknown until mapped', () => {
    const m = new MessageMapper(new Redactor([]));
    const assistant = (content: unknown[], parent: string | null = null) =>
      ({ type: 'assistant', parent_tool_use_id: parent, message: { content } }) as never;
    assert.equal(m.callerOf('toolu_1'), undefined);
    m.map(
      assistant([
        { type: 'tool_use', id: 'toolu_1', name: 'mcp__sessions__list_sessions', input: {} },
      ]),
    );
    m.map(
      assistant([
        {
          type: 'tool_use',
          id: 'toolu_task',
          name: 'Agent',
          input: { subagent_type: 'messenger', prompt: 'p' },
        },
      ]),
    );
    m.map(
      assistant(
        [{ type: 'tool_use', id: 'toolu_2', name: 'mcp__sessions__send_message', input: {} }],
        'toolu_task',
      ),
    );
    m.map(
      assistant([{ type: 'tool_use', id: 'toolu_3', name: 'Bash', input: {} }], 'toolu_unknown'),
    );
    assert.equal(m.callerOf('toolu_1'), 'main');
    assert.equal(m.callerOf('toolu_task'), 'main');
    assert.equal(m.callerOf('toolu_2'), 'messenger');
    assert.equal(m.callerOf('toolu_3'), 'sub-agent');
  });
});

describe('scripted model: fields of tool results', () => {
  const ctx = {
    cwd: '/w',
    lastToolResult:
      '{"name":"session-b","result":{"text":"done"},"sessions":[{"name":"s0"}],"n":3}',
    toolResults: ['{"name":"first"}', 'plain text'],
    userText: 'u',
    turn: 0,
    step: 1,
  };
  test('lastToolResult.PATH and toolResults.N.PATH pick JSON fields; misses stay as written', () => {
    assert.equal(renderTemplate('{{lastToolResult.name}}', ctx), 'session-b');
    assert.equal(renderTemplate('{{ lastToolResult.result.text }}', ctx), 'done');
    assert.equal(renderTemplate('{{lastToolResult.sessions.0.name}}', ctx), 's0');
    assert.equal(
      renderTemplate('{{lastToolResult.n}} {{lastToolResult.result}}', ctx),
      '3 {"text":"done"}',
    );
    assert.equal(
      renderTemplate('{{toolResults.0.name}} / {{toolResults.1}}', ctx),
      'first / plain text',
    );
    assert.equal(
      renderTemplate('{{toolResults.1.name}} {{toolResults.5}} {{lastToolResult.nope}}', ctx),
      '{{toolResults.1.name}} {{toolResults.5}} {{lastToolResult.nope}}',
    );
    assert.equal(
      renderTemplate('{{lastToolResult}} in {{cwd}}', { ...ctx, lastToolResult: 'x' }),
      'x in /w',
    );
  });
});

describe('what the sessions tools show', () => {
  test('a summary, the result, and the last messages with their senders', () => {
    const resource = {
      metadata: {
        name: 'session-b',
        annotations: { [PARENT_SESSION_ANNOTATION]: 'session-a' },
        creationTimestamp: 't0',
      },
      spec: { displayName: 'B', interactive: true },
      status: {
        phase: 'Completed',
        message: 'Session completed',
        result: 'all done',
        is_error: false,
        subtype: 'success',
        num_turns: 2,
      },
    };
    assert.deepEqual(summarize(resource), {
      name: 'session-b',
      displayName: 'B',
      phase: 'Completed',
      message: 'Session completed',
      interactive: true,
      parent: 'session-a',
      createdAt: 't0',
    });
    assert.deepEqual(resultOf(resource), {
      text: 'all done',
      isError: false,
      subtype: 'success',
      numTurns: 2,
    });
    assert.equal(resultOf({ status: { phase: 'Pending' } }), null);
    const entries = [
      {
        seq: 1,
        type: 'user_message',
        payload: { content: 'hello', from: { session: 'session-a', agent: 'main' } },
      },
      { seq: 2, type: 'agent.message', payload: { tool: 'Bash', input: {}, id: 't' } },
      {
        seq: 3,
        type: 'agent.message',
        payload: {
          type: 'agent_message',
          content: { type: 'text_block', text: 'x'.repeat(3000) },
          agent: 'helper',
        },
      },
      {
        seq: 4,
        type: 'agent.message',
        payload: { type: 'agent_message', content: { type: 'text_block', text: 'bye' } },
      },
    ];
    const last = lastMessages(entries, 2);
    assert.deepEqual(
      last.map((m) => [m.seq, m.role, m.agent]),
      [
        [3, 'agent', 'helper'],
        [4, 'agent', undefined],
      ],
    );
    assert.match(last[0]!.text, /… \[1000 more characters\]$/);
    assert.deepEqual(lastMessages(entries, 10)[0], {
      seq: 1,
      role: 'user',
      text: 'hello',
      from: { session: 'session-a', agent: 'main' },
    });
    assert.deepEqual(SESSIONS_ALLOWED_TOOLS, [
      'mcp__sessions__list_sessions',
      'mcp__sessions__get_session',
      'mcp__sessions__create_session',
      'mcp__sessions__send_message',
      'mcp__sessions__wait_for_session',
    ]);
  });

  test('the client shows who sent a message from another session', () => {
    const style = { color: false, width: 80, verbose: false };
    const entry = (from?: Record<string, string>) =>
      ({
        seq: 1,
        run: 1,
        type: 'user_message',
        timestamp: 't',
        sessionId: 's',
        payload: { content: 'hello', ...(from ? { from } : {}) },
      }) as never;
    assert.equal(
      renderEntry(entry({ session: 'session-a', agent: 'messenger' }), newRenderState(), style),
      '› [from session-a/messenger] hello\n',
    );
    assert.equal(
      renderEntry(entry({ session: 'session-a', agent: 'main' }), newRenderState(), style),
      '› [from session-a] hello\n',
    );
    assert.equal(renderEntry(entry({ user: 'alice' }), newRenderState(), style), '› hello\n');
  });

  test('refusals, an unreachable control plane and a wait that times out are tool results, not crashes', async () => {
    const backend = await FakeBackend.start({
      botToken: 'bot-token-units-0123456789',
      sessions: { 'session-p': { metadata: { name: 'session-p' }, status: { phase: 'Pending' } } },
    });
    const redactor = new Redactor(['bot-token-units-0123456789']);
    const logger = createLogger({ level: 'silent', redactor });
    const abort = new AbortController();
    const tools = (apiUrl: string) =>
      sessionsToolDefinitions({
        backend: new BackendClient({
          apiUrl,
          project: 'test',
          sessionName: 's1',
          botToken: 'bot-token-units-0123456789',
          logger,
          redactor,
          timeoutMs: 2_000,
        }),
        project: 'test',
        self: 's1',
        agentOf: () => Promise.resolve('main'),
        signal: abort.signal,
        logger,
      });
    const call = async (apiUrl: string, name: string, args: Record<string, unknown>) => {
      const t = tools(apiUrl).find((x) => x.name === name);
      assert.ok(t, name);
      return (await t.handler(args as never, {})) as {
        content: { text: string }[];
        isError?: boolean;
      };
    };
    try {
      const missing = await call(backend.apiUrl, 'get_session', { name: 'session-x' });
      assert.equal(missing.isError, true);
      assert.equal(
        missing.content[0]!.text,
        'get_session failed: not found (HTTP 404); a session can reach only the sessions of its own project (test)',
      );
      const waited = await call(backend.apiUrl, 'wait_for_session', {
        name: 'session-p',
        timeoutSeconds: 1,
      });
      assert.equal(waited.isError, undefined);
      assert.deepEqual(JSON.parse(waited.content[0]!.text), {
        name: 'session-p',
        phase: 'Pending',
        interactive: false,
        timedOut: true,
        note: 'it is still waiting for a free runner slot',
      });
      const refused = await call(backend.apiUrl, 'create_session', { prompt: 'x' });
      assert.equal(refused.isError, true);
      assert.match(refused.content[0]!.text, /^create_session failed: not found \(HTTP 404\)/);
      const down = await call('http://127.0.0.1:1/api', 'list_sessions', {});
      assert.equal(down.isError, true);
      assert.match(
        down.content[0]!.text,
        /^list_sessions failed: session: GET http:\/\/127\.0\.0\.1:1\/api\/projects\/test\/agentic-sessions\?limit=20 failed/,
      );
      assert.ok(
        !JSON.stringify([missing, waited, refused, down]).includes('bot-token-units'),
        'no token in a tool result',
      );
    } finally {
      abort.abort();
      await backend.close();
    }
  });
});
