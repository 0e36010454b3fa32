// Pure parts of the scripted model: conversation analysis, step selection, templates, schema,
// routes, redaction and structured-output samples.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  isAuxiliary,
  sampleFromSchema,
  auxiliaryStep,
} from '../../src/testing/scripted-model/auxiliary.js';
import {
  analyzeConversation,
  findCwd,
  stripMarkers,
  type ApiMessage,
} from '../../src/testing/scripted-model/conversation.js';
import { redactHeaders } from '../../src/testing/scripted-model/redact.js';
import { buildReply } from '../../src/testing/scripted-model/reply.js';
import { parseRoute } from '../../src/testing/scripted-model/routes.js';
import {
  loadScenarioFile,
  parseScenario,
  type Scenario,
} from '../../src/testing/scripted-model/schema.js';
import { selectStep, stepAt } from '../../src/testing/scripted-model/select.js';
import { shippedScenarioDir } from '../../src/testing/scripted-model/shipped.js';
import { chunk } from '../../src/testing/scripted-model/sse.js';
import { renderDeep, renderTemplate } from '../../src/testing/scripted-model/templates.js';
import { loadScenarioDir } from '../../src/testing/scripted-model/index.js';

const reminder = {
  type: 'text',
  text: '<system-reminder>\nsome CLI context\n</system-reminder>\n',
};
const user = (text: string): ApiMessage => ({
  role: 'user',
  content: [reminder, { type: 'text', text }],
});
const assistantTool = (id: string): ApiMessage => ({
  role: 'assistant',
  content: [{ type: 'tool_use', id, name: 'Bash', input: { command: 'ls' } }],
});
const toolResult = (id: string, content: unknown): ApiMessage => ({
  role: 'user',
  content: [{ type: 'tool_result', tool_use_id: id, content }, reminder],
});
const assistantText = (text: string): ApiMessage => ({
  role: 'assistant',
  content: [{ type: 'text', text }],
});
const systemMsg: ApiMessage = {
  role: 'system',
  content: ' - Primary working directory: /work/here\n - Is a git repository: false',
};

const scenario: Scenario = {
  name: 'unit',
  turns: [
    { steps: [{ tools: [{ name: 'Bash', input: {} }], repeat: 3 }, { text: 'done 0' }] },
    { match: 'special', steps: [{ text: 'special answer' }] },
    { steps: [{ text: 'third' }] },
  ],
};

test('analyzeConversation ignores reminders, tool results and system messages', () => {
  const messages = [
    user('first [[scenario:abc]] please'),
    systemMsg,
    assistantTool('t1'),
    toolResult('t1', [{ type: 'text', text: 'out-1' }]),
    assistantTool('t2'),
    toolResult('t2', 'out-2'),
  ];
  const c = analyzeConversation(messages);
  assert.deepEqual(c.userTextIndexes, [0]);
  assert.equal(c.latestUserText, 'first [[scenario:abc]] please');
  assert.equal(c.assistantRunsSinceUserText, 2);
  assert.equal(c.lastToolResult, 'out-2');
  assert.equal(c.marker, 'abc');
  assert.equal(stripMarkers(c.latestUserText), 'first  please');
});

test('a user message that is only a reminder (background task notice) is not user text', () => {
  const c = analyzeConversation([
    user('go'),
    assistantText('started'),
    { role: 'user', content: [reminder] },
  ]);
  assert.deepEqual(c.userTextIndexes, [0]);
  assert.equal(c.assistantRunsSinceUserText, 1);
});

test('string content counts as user text; consecutive assistant messages are one model call', () => {
  const c = analyzeConversation([
    { role: 'user', content: 'hello' },
    assistantText('a'),
    { role: 'system', content: 'x' },
    assistantText('b'),
  ]);
  assert.equal(c.latestUserText, 'hello');
  assert.equal(c.assistantRunsSinceUserText, 1);
});

test('selectStep: ordinal turns, match, repeat and fallback', () => {
  const pick = (messages: ApiMessage[]) => selectStep(scenario, analyzeConversation(messages));
  assert.deepEqual(
    [pick([user('a')]).turn, pick([user('a')]).step, pick([user('a')]).play.repeat],
    [0, 0, 3],
  );
  const afterThree = [
    user('a'),
    assistantTool('1'),
    toolResult('1', 'x'),
    assistantTool('2'),
    toolResult('2', 'x'),
    assistantTool('3'),
    toolResult('3', 'x'),
  ];
  assert.equal(pick(afterThree).play.text, 'done 0');
  assert.equal(pick(afterThree).step, 3);
  const afterAll = [...afterThree, assistantText('done 0')];
  const fb = pick(afterAll);
  assert.equal(fb.fallback, true);
  assert.equal(fb.play.text, '(scenario finished)');
  // Second user message: ordinal turn 1 would be the `special` turn only by position; the
  // third message is selected by position (index 2) because it matches nothing.
  const second = [...afterAll, user('something special here')];
  assert.equal(pick(second).play.text, 'special answer');
  const third = [...second, assistantText('special answer'), user('plain')];
  assert.equal(pick(third).turn, 2);
  assert.equal(pick(third).play.text, 'third');
  // A match wins over position, even for the first message.
  assert.equal(pick([user('special first')]).turn, 1);
  // Past the last turn: fallback (the scenario's own when given).
  const beyond = [...third, assistantText('third'), user('more')];
  assert.equal(pick(beyond).fallback, true);
  const custom = selectStep(
    { ...scenario, fallback: { text: 'bye' } },
    analyzeConversation(beyond),
  );
  assert.equal(custom.play.text, 'bye');
});

test('stepAt expands repeat', () => {
  const steps = [{ text: 'a', repeat: 2 }, { text: 'b' }];
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => stepAt(steps, i)?.text),
    ['a', 'a', 'b', undefined],
  );
});

test('templates render text and nested tool input strings only', () => {
  const ctx = { cwd: '/w', lastToolResult: 'R', userText: 'U', turn: 1, step: 2 };
  assert.equal(
    renderTemplate('{{cwd}}/f {{ step }} {{turn}} {{userText}} {{lastToolResult}} {{nope}}', ctx),
    '/w/f 2 1 U R {{nope}}',
  );
  assert.deepEqual(
    renderDeep({ a: ['{{cwd}}', 3, { b: '{{step}}' }], n: null, '{{cwd}}': true }, ctx),
    {
      a: ['/w', 3, { b: '2' }],
      n: null,
      '{{cwd}}': true,
    },
  );
});

test('findCwd reads the system prompt or a role:system message', () => {
  assert.equal(
    findCwd({ system: [{ type: 'text', text: 'x\n - Primary working directory: /a/b c\n' }] }),
    '/a/b c',
  );
  assert.equal(findCwd({ messages: [user('hi'), systemMsg] }), '/work/here');
  assert.equal(
    findCwd({
      messages: [
        { role: 'system', content: [{ type: 'text', text: ' - Primary working directory: /blk' }] },
      ],
    }),
    '/blk',
  );
  assert.equal(findCwd({ messages: [user(' - Primary working directory: /not-from-user')] }), '');
});

test('buildReply: ids, stop reason, estimated and explicit usage', () => {
  let n = 0;
  const opts = { id: 'msg_x', model: 'm', inputChars: 400, nextToolId: () => `toolu_${++n}` };
  const ctx = { cwd: '/c', lastToolResult: '', userText: '', turn: 0, step: 0 };
  const r = buildReply(
    { text: '', thinking: 'hmm', tools: [{ name: 'Read', input: { file_path: '{{cwd}}/x' } }] },
    ctx,
    opts,
  );
  assert.deepEqual(
    r.content.map((b) => b.type),
    ['thinking', 'tool_use'],
  );
  assert.equal(r.stopReason, 'tool_use');
  assert.deepEqual(r.content[1], {
    type: 'tool_use',
    id: 'toolu_1',
    name: 'Read',
    input: { file_path: '/c/x' },
  });
  assert.equal(r.usage.input_tokens, 100);
  assert.equal(
    r.usage.output_tokens,
    Math.ceil((3 + JSON.stringify({ file_path: '/c/x' }).length) / 4),
  );
  const explicit = buildReply(
    { text: 'hi', usage: { input_tokens: 7, cache_read_input_tokens: 5 } },
    ctx,
    opts,
  );
  assert.deepEqual(explicit.usage, {
    input_tokens: 7,
    output_tokens: 1,
    cache_read_input_tokens: 5,
    cache_creation_input_tokens: 0,
  });
  assert.equal(explicit.stopReason, 'end_turn');
  assert.equal(
    buildReply({ text: 'x', stopReason: 'max_tokens' }, ctx, opts).stopReason,
    'max_tokens',
  );
});

test('chunk splits by code points', () => {
  assert.deepEqual(chunk('ab😀cd', 3), ['ab😀', 'cd']);
  assert.deepEqual(chunk('', 3), []);
});

test('parseRoute: anthropic, prefix, vertex, count_tokens, other', () => {
  assert.deepEqual(parseRoute('POST', '/v1/messages?beta=true'), { kind: 'messages' });
  assert.deepEqual(parseRoute('POST', '/scenarios/demo/v1/messages?beta=true'), {
    kind: 'messages',
    scenario: 'demo',
  });
  assert.deepEqual(parseRoute('POST', '/v1/messages/count_tokens?beta=true'), {
    kind: 'count_tokens',
  });
  assert.deepEqual(
    parseRoute(
      'POST',
      '/scenarios/x/projects/p/locations/us-east5/publishers/anthropic/models/claude-x@2025:streamRawPredict',
    ),
    { kind: 'messages', scenario: 'x', vertexModel: 'claude-x@2025', vertexStream: true },
  );
  assert.equal(
    parseRoute('POST', '/v1/projects/p/locations/r/publishers/anthropic/models/m:rawPredict')
      .vertexStream,
    false,
  );
  assert.equal(
    parseRoute(
      'POST',
      '/projects/p/locations/r/publishers/anthropic/models/count-tokens:rawPredict',
    ).kind,
    'count_tokens',
  );
  assert.equal(parseRoute('GET', '/v1/messages').kind, 'other');
  assert.equal(parseRoute('HEAD', '/api/hello').kind, 'other');
});

test('redactHeaders keeps a hint but never the secret', () => {
  const h = redactHeaders({
    authorization: 'Bearer secret-token-123',
    'x-api-key': 'sk-ant-very-secret-key',
    'x-other': 'kept',
  });
  assert.deepEqual(h, {
    authorization: 'Bearer [REDACTED]',
    'x-api-key': 'sk-a[REDACTED]',
    'x-other': 'kept',
  });
  assert.equal(redactHeaders({ 'x-api-key': 'short' })['x-api-key'], '[REDACTED]');
});

test('auxiliary requests: detection and structured-output samples', () => {
  assert.equal(isAuxiliary({ tools: [] }), true);
  assert.equal(isAuxiliary({}), true);
  assert.equal(isAuxiliary({ tools: [{ name: 'Bash' }] }), false);
  const schema = {
    type: 'object',
    properties: {
      title: { type: 'string' },
      n: { type: 'integer', minimum: 2 },
      k: { enum: ['a', 'b'] },
    },
    required: ['title', 'n', 'k'],
  };
  assert.deepEqual(sampleFromSchema(schema), { title: 'Scripted session', n: 2, k: 'a' });
  const step = auxiliaryStep({ output_config: { format: { type: 'json_schema', schema } } });
  assert.deepEqual(JSON.parse(step.text ?? ''), { title: 'Scripted session', n: 2, k: 'a' });
  assert.match(auxiliaryStep({}).text ?? '', /auxiliary/);
});

test('schema: errors name the file, the path and the fix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scripted-model-schema-'));
  try {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'bad',
        turns: [{ steps: [{ text: 'ok' }, { repeat: 0, text: 'x' }, {}] }],
      }),
    );
    assert.throws(
      () => loadScenarioFile(file),
      (err: Error) => {
        assert.match(err.message, /bad\.json/);
        assert.match(err.message, /turns\.0\.steps\.1\.repeat/);
        assert.match(err.message, /turns\.0\.steps\.2: a step needs "text" or a non-empty "tools"/);
        assert.match(err.message, /docs\/scripted-model\.md/);
        return true;
      },
    );
    writeFileSync(file, '{ not json');
    assert.throws(() => loadScenarioFile(file), /bad\.json: not JSON/);
    assert.throws(
      () => parseScenario({ name: 'x y', turns: [], extra: 1 }, 'inline'),
      (err: Error) => {
        assert.match(err.message, /invalid scenario inline/);
        assert.match(err.message, /at name:/);
        assert.match(err.message, /extra/);
        return true;
      },
    );
    // An always-failing step may be empty.
    assert.doesNotThrow(() =>
      parseScenario({ name: 'e', turns: [{ steps: [{ error: { status: 529 } }] }] }, 'e'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the shipped scenarios load and are the documented ones', () => {
  const dir = shippedScenarioDir();
  assert.ok(dir, 'scenarios/ found from the compiled module');
  const names = loadScenarioDir(dir).map((s) => s.name);
  for (const n of ['hello', 'write-file', 'tool-loop', 'demo']) assert.ok(names.includes(n), n);
});
