/**
 * AG-UI against a real serve, real runners and CLIs, and the scripted model: the official client
 * (`@ag-ui/client`'s HttpAgent, unmodified) runs two turns of a session; followers resume with
 * `Last-Event-ID` mid-message, mid-tool-call and across a restart of serve, and get exactly the
 * uninterrupted stream. Every event is checked against `@ag-ui/core`'s schemas and for secrets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpAgent, type BaseEvent, type Message } from '@ag-ui/client';
import { processEnviron } from '../../src/control-plane/executor/procfs.js';
import type { Scenario } from '../../src/testing/scripted-model/index.js';
import {
  API_KEY,
  PROJECT,
  SCENARIOS,
  sessionProcesses,
  startE2e,
  waitFor,
  type E2e,
} from '../control-plane-e2e/helpers.js';
import {
  checkEvent,
  checked,
  forbidden,
  readSse,
  runsEnded,
  typesOf,
  type SseEvent,
} from './helpers.js';

const SECRET = 'agui-secret-value-7c1f9e2d';
const LONG_TEXT =
  'The command printed its greeting, and the second one failed as expected; here is a longer answer so that it streams in several pieces.';

const AGUI_SCENARIOS: Scenario[] = [
  ...SCENARIOS,
  {
    name: 'agui',
    turns: [
      {
        match: 'first',
        steps: [
          {
            thinking: 'I should greet first, then try the missing file.',
            tools: [
              {
                name: 'Bash',
                input: { command: 'echo agui-hello $AGUI_TOKEN', description: 'Greet' },
              },
            ],
          },
          {
            tools: [
              {
                name: 'Bash',
                input: { command: 'ls /nonexistent-agui-dir', description: 'List a missing dir' },
              },
            ],
          },
          { text: LONG_TEXT, chunkSize: 16 },
        ],
      },
      {
        match: 'second',
        steps: [
          {
            text: 'Second answer, slowly streamed in small pieces.',
            chunkSize: 6,
            chunkDelayMs: 40,
          },
        ],
      },
      {
        // A foreground sub-agent that runs a command and reports.
        match: 'third',
        steps: [
          {
            tools: [
              {
                name: 'Agent',
                input: {
                  description: 'Look around',
                  prompt: 'SUBTASK look around the workspace',
                  subagent_type: 'general-purpose',
                  run_in_background: false,
                },
              },
            ],
          },
          { text: 'Third answer after the restart.' },
        ],
      },
      {
        match: 'SUBTASK',
        steps: [
          {
            tools: [
              { name: 'Bash', input: { command: 'echo from-the-sub-agent', description: 'Look' } },
            ],
          },
          { text: 'Sub-agent report: {{lastToolResult}}' },
        ],
      },
    ],
  },
];

let e2e: E2e;
before(async () => {
  e2e = await startE2e({
    scenarios: AGUI_SCENARIOS,
    env: { CLAUDE_RUNNER_CORS_ORIGIN: 'http://front.example' },
  });
  forbidden.push(API_KEY, SECRET, e2e.serve.token);
});
after(async () => {
  await e2e?.close();
});

const agentEvents: BaseEvent[] = [];
const recordEvents = {
  onEvent: ({ event }: { event: BaseEvent }) => {
    checkEvent(event);
    agentEvents.push(event);
  },
};

describe('AG-UI on serve', () => {
  let session = '';
  let messages: Message[] = [];
  let baseline: SseEvent[] = [];

  it('HttpAgent creates a session and runs a turn: text, reasoning, tool calls with results, usage', async () => {
    const { serve } = e2e;
    const agent = new HttpAgent({
      url: `${serve.url}/api/projects/${PROJECT}/agui`,
      headers: { authorization: `Bearer ${serve.token}` },
      threadId: 'a-new-thread',
      initialMessages: [],
    });
    agent.addMessage({
      id: 'user-msg-1',
      role: 'user',
      content: '[[scenario:agui]] first question',
    });
    const before = agentEvents.length;
    const result = await agent.runAgent(
      { forwardedProps: { session: { environmentVariables: { AGUI_TOKEN: SECRET } } } },
      recordEvents,
    );
    const events = agentEvents.slice(before);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'RUN_STARTED');
    assert.equal(types.at(-1), 'RUN_FINISHED');
    for (const t of [
      'REASONING_START',
      'REASONING_MESSAGE_CONTENT',
      'REASONING_END',
      'TOOL_CALL_START',
      'TOOL_CALL_ARGS',
      'TOOL_CALL_END',
      'TOOL_CALL_RESULT',
      'TEXT_MESSAGE_START',
      'TEXT_MESSAGE_CONTENT',
      'TEXT_MESSAGE_END',
      'STATE_SNAPSHOT',
      'CUSTOM',
    ])
      assert.ok(types.includes(t as never), `the run has ${t}: ${types.join(' ')}`);
    const started = events[0] as BaseEvent & { threadId: string };
    session = started.threadId;
    assert.match(session, /^session-/, 'the thread is the new session');
    const results = events.filter((e) => e.type === 'TOOL_CALL_RESULT') as (BaseEvent & {
      content: string;
      metadata?: { isError?: boolean };
    })[];
    assert.equal(results.length, 2);
    assert.match(results[0]!.content, /agui-hello/);
    assert.equal(results[0]!.metadata?.isError, undefined);
    assert.equal(results[1]!.metadata?.isError, true, 'the failed command is marked an error');
    const finished = events.at(-1) as BaseEvent & {
      usage: { inputTokens: number; outputTokens: number }[];
      result: { numTurns: number; totalCostUsd: number };
    };
    assert.ok(finished.usage[0]!.inputTokens > 0 && finished.usage[0]!.outputTokens > 0);
    assert.ok(finished.result.numTurns >= 1);
    // The client's own conversation: the text streamed once (not repeated by the whole message).
    const assistantText = result.newMessages
      .filter((m) => m.role === 'assistant' && typeof m.content === 'string')
      .map((m) => m.content);
    assert.deepEqual(assistantText, [LONG_TEXT]);
    assert.ok(agent.messages.some((m) => m.role === 'reasoning'));
    messages = agent.messages;
  });

  it('a second run on the same thread continues the interactive session', async () => {
    const { serve } = e2e;
    const url = `${serve.url}/api/projects/${PROJECT}/sessions/${session}/agui`;
    // A follower from the first entry, that hangs up in the middle of the second answer.
    const follower = readSse(`${url}?from=start`, {
      token: serve.token,
      until: (evs) =>
        runsEnded(1)(evs) &&
        evs.filter((e) => e.event.type === 'TEXT_MESSAGE_CONTENT').length >= 12,
    });
    const agent = new HttpAgent({
      url,
      headers: { authorization: `Bearer ${serve.token}` },
      threadId: session,
      initialMessages: messages,
    });
    agent.addMessage({ id: 'user-msg-2', role: 'user', content: 'the second question' });
    const result = await agent.runAgent({}, recordEvents);
    assert.deepEqual(
      result.newMessages.filter((m) => m.role === 'assistant').map((m) => m.content),
      ['Second answer, slowly streamed in small pieces.'],
    );
    assert.equal(agent.messages.filter((m) => m.role === 'user').length, 2, 'one conversation');

    // The uninterrupted stream of the whole session so far.
    baseline = await readSse(`${url}?from=start`, { token: serve.token, until: runsEnded(2) });
    assert.deepEqual(
      baseline.map((e) => e.id),
      [...new Set(baseline.map((e) => e.id))],
      'every event has its own id',
    );
    // The follower hung up mid-message; it resumes with the last id it got.
    const part = await follower;
    assert.equal(part.at(-1)!.event.type, 'TEXT_MESSAGE_CONTENT');
    const rest = await readSse(url, {
      token: serve.token,
      lastEventId: part.at(-1)!.id!,
      until: runsEnded(1),
    });
    assert.deepEqual([...part, ...rest], baseline, 'resumed mid-message: no gap, no repeat');
    // The same stream, entry for entry, as the one HttpAgent got (AG-UI events carry no ids).
    assert.deepEqual(
      typesOf(baseline).filter((t) => t !== 'CUSTOM' && t !== 'STATE_SNAPSHOT'),
      agentEvents.map((e) => e.type).filter((t) => t !== 'CUSTOM' && t !== 'STATE_SNAPSHOT'),
    );
  });

  it('resumes with Last-Event-ID at any point: mid-tool-call, after a whole entry, across a restart', async () => {
    const url = () => `${e2e.serve.url}/api/projects/${PROJECT}/sessions/${session}/agui`;
    const cuts = [
      baseline.findIndex((e) => e.event.type === 'TOOL_CALL_ARGS'),
      baseline.findIndex((e) => e.event.type === 'REASONING_MESSAGE_CONTENT'),
      baseline.findIndex((e) => e.event.type === 'TEXT_MESSAGE_START'),
      0,
    ];
    const resumeAt = async (cut: number, what: string) => {
      const rest = await readSse(url(), {
        token: e2e.serve.token,
        lastEventId: baseline[cut]!.id!,
        until: runsEnded(
          2 - baseline.slice(0, cut + 1).filter((e) => e.event.type === 'RUN_FINISHED').length,
        ),
      });
      assert.deepEqual([...baseline.slice(0, cut + 1), ...rest], baseline, what);
    };
    for (const cut of cuts) {
      assert.ok(cut >= 0);
      await resumeAt(cut, `resumed after ${baseline[cut]!.id} (${baseline[cut]!.event.type})`);
    }
    // `<pos>`: after every event of that entry.
    const pos = baseline[cuts[0]!]!.id!.split('.')[0]!;
    const lastOfEntry = baseline.findLastIndex((e) => e.id!.startsWith(`${pos}.`));
    const rest = await readSse(url(), {
      token: e2e.serve.token,
      lastEventId: pos,
      until: runsEnded(2),
    });
    assert.deepEqual(
      [...baseline.slice(0, lastOfEntry + 1), ...rest].slice(0, baseline.length),
      baseline,
    );

    await e2e.killServe();
    await e2e.restartServe();
    for (const cut of cuts)
      await resumeAt(cut, `after a restart of serve, from ${baseline[cut]!.id}`);

    // Live across the restart: a follower from the end of the baseline gets the third run, the
    // same events as the POST that asked for it.
    const follower = readSse(url(), {
      token: e2e.serve.token,
      lastEventId: baseline.at(-1)!.id!,
      until: (evs) => evs.some((e) => e.event.type === 'RUN_FINISHED'),
    });
    const run = await readSse(url(), {
      token: e2e.serve.token,
      method: 'POST',
      body: {
        threadId: session,
        runId: 'r3',
        messages: [{ id: 'user-msg-3', role: 'user', content: 'the third question' }],
        tools: [],
        context: [],
      },
    });
    assert.equal(run[0]!.event.type, 'RUN_STARTED');
    assert.equal(run.at(-1)!.event.type, 'RUN_FINISHED');
    // The sub-agent's work is nested under the tool call that started it.
    const sub = run.find((e) => e.event.type === 'SUBAGENT_STARTED')!.event;
    const call = run.find((e) => e.event.type === 'TOOL_CALL_START')!.event;
    assert.equal(sub.parentToolCallId, call.toolCallId);
    const inside = run.filter((e) => e.event.subagentRunId === sub.subagentRunId);
    assert.ok(
      inside.some(
        (e) =>
          e.event.type === 'TOOL_CALL_RESULT' && /from-the-sub-agent/.test(String(e.event.content)),
      ),
      `the sub-agent's own tool call is attributed to it: ${typesOf(inside).join(' ')}`,
    );
    assert.ok(inside.some((e) => e.event.type === 'SUBAGENT_FINISHED'));
    const followed = await follower;
    const fromRun = followed.slice(followed.findIndex((e) => e.id === run[0]!.id));
    assert.deepEqual(fromRun, run, 'the follower and the POST see the same run, same ids');
    // A retried POST (same message id) is not a new turn: it streams the same run again.
    const again = await readSse(url(), {
      token: e2e.serve.token,
      method: 'POST',
      body: {
        threadId: session,
        messages: [{ id: 'user-msg-3', role: 'user', content: 'the third question' }],
      },
    });
    assert.deepEqual(again, run);
  });

  it('a client joining late gets MESSAGES_SNAPSHOT and STATE_SNAPSHOT, then live', async () => {
    const { serve } = e2e;
    const url = `${serve.url}/api/projects/${PROJECT}/sessions/${session}/agui`;
    const events = await readSse(url, { token: serve.token, until: (evs) => evs.length >= 2 });
    assert.deepEqual(typesOf(events), ['MESSAGES_SNAPSHOT', 'STATE_SNAPSHOT']);
    const snapshot = events[0]!.event as unknown as { messages: Message[] };
    const users = snapshot.messages.filter((m) => m.role === 'user').map((m) => m.content);
    assert.deepEqual(users, [
      '[[scenario:agui]] first question',
      'the second question',
      'the third question',
    ]);
    assert.ok(snapshot.messages.some((m) => m.role === 'tool'));
    const state = events[1]!.event as unknown as { snapshot: { session: string; phase: string } };
    assert.equal(state.snapshot.session, session);
    assert.equal(state.snapshot.phase, 'Running');
  });

  it('interrupt and end reach the runner; auth and CORS as for the API', async () => {
    const { serve } = e2e;
    const base = `${serve.url}/api/projects/${PROJECT}/sessions/${session}/agui`;
    assert.equal((await fetch(base)).status, 401);
    const preflight = await fetch(base, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://front.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://front.example');
    const other = await fetch(base, {
      method: 'OPTIONS',
      headers: { origin: 'http://elsewhere.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);

    // A runner token: its own project only, and no commands but user messages (as for the API).
    const { runner } = sessionProcesses(e2e.dataDir, session);
    const botToken = processEnviron(runner!)
      ?.find((kv) => kv.startsWith('BOT_TOKEN='))
      ?.slice('BOT_TOKEN='.length);
    assert.ok(botToken, "the session's runner token");
    forbidden.push(botToken);
    const asRunner = (path: string, method = 'GET') =>
      fetch(`${serve.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${botToken}`, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
    const own = await readSse(base, { token: botToken, until: (evs) => evs.length >= 2 });
    assert.equal(own[0]!.event.type, 'MESSAGES_SNAPSHOT', 'a runner token reads its own project');
    assert.equal(
      (await asRunner(`/api/projects/another-project/sessions/${session}/agui`)).status,
      403,
    );
    assert.equal(
      (await asRunner(`/api/projects/${PROJECT}/sessions/${session}/agui/interrupt`, 'POST'))
        .status,
      403,
      'a runner token sends user messages only',
    );

    const interrupt = await serve.api(
      'POST',
      `/projects/${PROJECT}/sessions/${session}/agui/interrupt`,
    );
    assert.equal(interrupt.status, 202, interrupt.text);
    assert.equal((interrupt.json as { type: string }).type, 'interrupt');
    const end = await serve.api('POST', `/projects/${PROJECT}/sessions/${session}/agui/end`);
    assert.equal(end.status, 202, end.text);
    await waitFor(
      async () =>
        (
          (await serve.api('GET', `/projects/${PROJECT}/agentic-sessions/${session}`)).json as {
            status: { phase: string };
          }
        ).status.phase === 'Completed',
      'the session completed after end',
      30_000,
      100,
    );
    const tail = await readSse(`${base}?from=start`, {
      token: serve.token,
      until: (evs) =>
        evs.some(
          (e) =>
            e.event.type === 'STATE_SNAPSHOT' &&
            (e.event.snapshot as { phase?: string }).phase === 'Completed',
        ),
    });
    assert.ok(tail.length > baseline.length);
    assert.ok(checked.count > 100, 'every event of these streams was checked');

    const doc = (await (await fetch(`${serve.apiUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: object }> }>>;
    };
    for (const [m, p] of [
      ['post', '/api/projects/{project}/agui'],
      ['post', '/api/projects/{project}/sessions/{name}/agui'],
      ['get', '/api/projects/{project}/sessions/{name}/agui'],
      ['post', '/api/projects/{project}/sessions/{name}/agui/interrupt'],
      ['post', '/api/projects/{project}/sessions/{name}/agui/end'],
    ] as const)
      assert.ok(doc.paths[p]?.[m], `${m} ${p} is in the OpenAPI document`);
    assert.ok(
      doc.paths['/api/projects/{project}/sessions/{name}/agui']!.get!.responses['200']!.content,
      'the stream is documented as text/event-stream',
    );
  });
});
