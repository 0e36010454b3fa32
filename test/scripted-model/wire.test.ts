// The server on the wire, with plain fetch: SSE shape, JSON answers, routes, errors, cuts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  startScriptedModelServer,
  type Scenario,
  type ScriptedModelServer,
} from '../../src/testing/scripted-model/index.js';
import { parseSse } from './helpers.js';

const scenarios: Scenario[] = [
  {
    name: 'wire',
    turns: [
      {
        steps: [
          {
            thinking: 'let me think',
            text: 'abcdefghij',
            chunkSize: 4,
            tools: [
              { name: 'Write', input: { file_path: '{{cwd}}/f.txt', content: 'x'.repeat(30) } },
            ],
          },
          { text: 'after {{lastToolResult}} in turn {{turn}} step {{step}}' },
        ],
      },
    ],
  },
  {
    name: 'flaky',
    turns: [{ steps: [{ text: 'finally', error: { status: 529, times: 2 } }] }],
  },
  {
    name: 'cut',
    turns: [{ steps: [{ text: 'x'.repeat(50), chunkSize: 5, cutAfterEvents: 3, cutTimes: 1 }] }],
  },
  {
    name: 'usage',
    turns: [
      {
        steps: [
          {
            text: 'u',
            usage: {
              input_tokens: 11,
              output_tokens: 22,
              cache_read_input_tokens: 33,
              cache_creation_input_tokens: 44,
            },
          },
        ],
      },
    ],
  },
  { name: 'slow', turns: [{ steps: [{ text: 'never', delayMs: 60_000 }] }] },
];

let server: ScriptedModelServer;
before(async () => {
  server = await startScriptedModelServer({ scenarios, quiet: true });
});
after(async () => {
  await server.close();
});

// The working directory, as an older CLI put it in the system prompt: a scripted tool call that
// uses {{cwd}} is refused without one (docs/scripted-model.md).
const system = [
  { type: 'text', text: 'You are Claude Code.\n<env>Working directory: /tmp/wire-ws</env>' },
];
const envMessage = { role: 'system', content: ' - Primary working directory: /tmp/wire-ws\n' };
const tools = [{ name: 'Write', input_schema: { type: 'object' } }];

function body(messages: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'claude-test', max_tokens: 100, system, tools, messages, stream: true, ...extra };
}

async function post(
  path: string,
  payload: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(server.url + path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': 'sk-ant-wire-test-key',
      ...headers,
    },
    body: JSON.stringify(payload),
  });
}

const first = (text: string) => ({ role: 'user', content: [{ type: 'text', text }] });

test('SSE: event order, chunking, thinking, tool input, usage, stop reason', async () => {
  const res = await post(
    '/v1/messages?beta=true',
    body([first('[[scenario:wire]] go'), envMessage]),
  );
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events = parseSse(await res.text());
  const names = events.map((e) => e.event);
  assert.equal(names[0], 'message_start');
  assert.deepEqual(names.slice(-2), ['message_delta', 'message_stop']);
  for (const e of events) assert.equal(e.data.type, e.event, 'data.type mirrors the event name');
  const starts = events.filter((e) => e.event === 'content_block_start');
  assert.deepEqual(
    starts.map((e) => [(e.data.content_block as { type: string }).type, e.data.index]),
    [
      ['thinking', 0],
      ['text', 1],
      ['tool_use', 2],
    ],
  );
  const deltas = (index: number) =>
    events
      .filter((e) => e.event === 'content_block_delta' && e.data.index === index)
      .map((e) => e.data.delta as Record<string, string>);
  assert.deepEqual(
    deltas(1).map((d) => d.text),
    ['abcd', 'efgh', 'ij'],
  );
  assert.equal(deltas(0).at(-1)?.type, 'signature_delta');
  assert.equal(
    deltas(0)
      .filter((d) => d.type === 'thinking_delta')
      .map((d) => d.thinking)
      .join(''),
    'let me think',
  );
  const json = deltas(2)
    .map((d) => d.partial_json)
    .join('');
  assert.ok(deltas(2).length > 1, 'tool input is streamed in several deltas');
  assert.deepEqual(JSON.parse(json), { file_path: '/tmp/wire-ws/f.txt', content: 'x'.repeat(30) });
  const toolStart = starts[2]?.data.content_block as { id: string; name: string };
  assert.match(toolStart.id, /^toolu_scripted_\d+$/);
  assert.equal(toolStart.name, 'Write');
  const delta = events.at(-2)?.data as {
    delta: { stop_reason: string };
    usage: { output_tokens: number };
  };
  assert.equal(delta.delta.stop_reason, 'tool_use');
  const message = events[0]?.data.message as {
    id: string;
    model: string;
    usage: { input_tokens: number };
  };
  assert.match(message.id, /^msg_scripted_\d+$/);
  assert.equal(message.model, 'claude-test');
  const served = server.served.find((s) => s.messageId === message.id);
  assert.ok(served);
  assert.deepEqual(
    [served.scenario, served.turn, served.step, served.stopReason],
    ['wire', 0, 0, 'tool_use'],
  );
  assert.equal(served.usage.output_tokens, delta.usage.output_tokens);
  assert.equal(served.usage.input_tokens, message.usage.input_tokens);
  // Between content blocks every start has its stop.
  assert.equal(names.filter((n) => n === 'content_block_stop').length, 3);
});

test('non-streaming JSON, second step with templates, marker remembered per session', async () => {
  const session = { 'x-claude-code-session-id': 'sess-json' };
  const messages = [
    first('[[scenario:wire]] go'),
    envMessage,
    { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Write', input: {} }] },
    {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 't1', content: 'File created' }],
    },
  ];
  const res = await post('/v1/messages', body(messages, { stream: false }), session);
  assert.equal(res.status, 200);
  const msg = (await res.json()) as {
    type: string;
    content: { type: string; text: string }[];
    stop_reason: string;
    usage: Record<string, number>;
  };
  assert.equal(msg.type, 'message');
  assert.equal(msg.stop_reason, 'end_turn');
  assert.equal(msg.content[0]?.text, 'after File created in turn 0 step 1');
  assert.deepEqual(Object.keys(msg.usage).sort(), [
    'cache_creation_input_tokens',
    'cache_read_input_tokens',
    'input_tokens',
    'output_tokens',
  ]);
  // A sub-agent conversation of the same CLI session has no marker but gets the same scenario.
  const sub = await post(
    '/v1/messages',
    body([first('sub-agent task')], { stream: false }),
    session,
  );
  const subMsg = (await sub.json()) as { content: { type: string }[] };
  assert.equal(server.requests.at(-1)?.scenario, 'wire');
  assert.deepEqual(
    subMsg.content.map((b) => b.type),
    ['thinking', 'text', 'tool_use'],
  );
  // Without the session header the default scenario answers (the first configured: wire too),
  // so check with a session that never sent a marker and a path prefix instead.
  const other = await post('/scenarios/usage/v1/messages', body([first('x')], { stream: false }), {
    'x-claude-code-session-id': 'sess-other',
  });
  await other.json();
  assert.equal(server.requests.at(-1)?.scenario, 'usage');
});

test('explicit usage is sent exactly, in message_start and message_delta', async () => {
  const res = await post('/scenarios/usage/v1/messages', body([first('hi')]));
  const events = parseSse(await res.text());
  const start = (events[0]?.data.message as { usage: Record<string, number> }).usage;
  const end = (events.at(-2)?.data as { usage: Record<string, number> }).usage;
  const expected = {
    input_tokens: 11,
    output_tokens: 22,
    cache_read_input_tokens: 33,
    cache_creation_input_tokens: 44,
  };
  assert.deepEqual(end, expected);
  assert.deepEqual({ ...start, output_tokens: 22 }, expected);
  assert.deepEqual(server.served.at(-1)?.usage, expected);
});

test('count_tokens, vertex paths, 404s', async () => {
  const ct = await post('/v1/messages/count_tokens?beta=true', {
    model: 'm',
    messages: [first('hello')],
  });
  assert.equal(ct.status, 200);
  const counted = (await ct.json()) as { input_tokens: number };
  assert.ok(Number.isInteger(counted.input_tokens) && counted.input_tokens > 0);
  assert.equal(server.requests.at(-1)?.kind, 'count_tokens');

  const vertexPath =
    '/scenarios/usage/projects/p/locations/us-east5/publishers/anthropic/models/claude-v@1';
  const vbody = {
    anthropic_version: 'vertex-2023-10-16',
    max_tokens: 10,
    tools,
    messages: [first('hi')],
    stream: true,
  };
  const vs = await post(`${vertexPath}:streamRawPredict`, vbody, {
    authorization: 'Bearer vertex-secret-1',
  });
  const vevents = parseSse(await vs.text());
  assert.equal((vevents[0]?.data.message as { model: string }).model, 'claude-v@1');
  assert.equal(vevents.at(-1)?.event, 'message_stop');
  const vr = await post(`${vertexPath}:rawPredict`, { ...vbody, stream: false });
  assert.equal(((await vr.json()) as { model: string }).model, 'claude-v@1');
  assert.ok(server.rawAuthorization().includes('Bearer vertex-secret-1'));
  assert.equal(server.requests.at(-2)?.headers.authorization, 'Bearer [REDACTED]');
  assert.equal(server.requests.at(-1)?.headers['x-api-key'], 'sk-a[REDACTED]');
  assert.ok(!JSON.stringify(server.requests).includes('vertex-secret-1'));

  const other = await fetch(server.url + '/v1/models');
  assert.equal(other.status, 404);
  assert.deepEqual(
    ((await other.json()) as { type: string; error: { type: string } }).error.type,
    'not_found_error',
  );
  const unknown = await post('/scenarios/nope/v1/messages', body([first('hi')]));
  assert.equal(unknown.status, 404);
  assert.match(
    ((await unknown.json()) as { error: { message: string } }).error.message,
    /unknown scenario "nope".*wire/,
  );
});

test('errors with times: per conversation, then the step is served', async () => {
  const ask = (sessionId: string) =>
    post('/scenarios/flaky/v1/messages', body([first('please')]), {
      'x-claude-code-session-id': sessionId,
    });
  const a1 = await ask('A');
  assert.equal(a1.status, 529);
  const err = (await a1.json()) as { type: string; error: { type: string; message: string } };
  assert.deepEqual([err.type, err.error.type], ['error', 'overloaded_error']);
  assert.equal((await ask('A')).status, 529);
  // Another conversation has its own counter.
  assert.equal((await ask('B')).status, 529);
  const a3 = await ask('A');
  assert.equal(a3.status, 200);
  assert.ok((await a3.text()).includes('finally'));
  const flaky = server.served.filter((s) => s.scenario === 'flaky');
  assert.deepEqual(
    flaky.map((s) => s.error ?? 200),
    [529, 529, 529, 200],
  );
});

test('cut stream: the first attempt is cut after N events, the retry completes', async () => {
  const payload = body([first('cut me')]);
  const headers = { 'x-claude-code-session-id': 'cut-session' };
  const cut = await post('/scenarios/cut/v1/messages', payload, headers);
  assert.equal(cut.status, 200);
  await assert.rejects(cut.text(), 'reading a cut stream fails');
  const again = await post('/scenarios/cut/v1/messages', payload, headers);
  const events = parseSse(await again.text());
  assert.equal(events.at(-1)?.event, 'message_stop');
  const cutServed = server.served.filter((s) => s.scenario === 'cut');
  assert.deepEqual(
    cutServed.map((s) => s.cut === true),
    [true, false],
  );
});

test('requests without tools are auxiliary and consume no step', async () => {
  const session = { 'x-claude-code-session-id': 'aux' };
  const title = await post(
    '/scenarios/wire/v1/messages',
    body([first('name this session')], {
      tools: [],
      stream: false,
      output_config: {
        format: {
          type: 'json_schema',
          schema: {
            type: 'object',
            properties: { title: { type: 'string' } },
            required: ['title'],
          },
        },
      },
    }),
    session,
  );
  const msg = (await title.json()) as { content: { text: string }[] };
  assert.deepEqual(JSON.parse(msg.content[0]?.text ?? ''), { title: 'Scripted session' });
  assert.equal(server.requests.at(-1)?.auxiliary, true);
  assert.equal(server.requests.at(-1)?.turn, null);
  const main = await post(
    '/scenarios/wire/v1/messages',
    body([first('go')], { stream: false }),
    session,
  );
  const mainMsg = (await main.json()) as { stop_reason: string };
  assert.equal(mainMsg.stop_reason, 'tool_use', 'the main conversation still starts at step 0');
});

test('close() ends slow answers and keep-alive sockets promptly', async () => {
  const own = await startScriptedModelServer({ scenarios, quiet: true });
  const pending = fetch(`${own.url}/scenarios/slow/v1/messages`, {
    method: 'POST',
    body: JSON.stringify(body([first('wait')])),
  }).then(
    (r) => r.text(),
    (e: Error) => e,
  );
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  await own.close();
  assert.ok(Date.now() - started < 1000, 'close did not wait for the 60 s delay');
  const outcome = await pending;
  assert.ok(outcome instanceof Error, 'the client sees the connection go');
});

test('startScriptedModelServer rejects an unknown default scenario', async () => {
  await assert.rejects(
    startScriptedModelServer({ defaultScenario: 'missing', quiet: true }),
    /default scenario "missing" is not loaded; known: .*hello/,
  );
});

test('cli main: prints the URL, serves, stops on SIGTERM with exit code 0', async () => {
  const cli = fileURLToPath(new URL('../../src/testing/scripted-model/cli.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { main } = await import(${JSON.stringify(cli)}); process.exitCode = await main(['--port', '0', '--quiet', '--default', 'write-file']);`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`cli exited early (${code}): ${out}`)));
    });
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      body: JSON.stringify(body([first('hi')], { stream: false })),
    });
    const msg = (await res.json()) as { stop_reason: string; content: { name?: string }[] };
    assert.equal(msg.stop_reason, 'tool_use');
    assert.equal(msg.content.at(-1)?.name, 'Write');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
