/**
 * The one reading of the SDK's message stream (src/protocol/sdk-stream.ts): every block and event
 * kind, the fields it carries, and malformed input read as `unknown` / `other`, never a throw.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { readSdkMessage, type SdkEvent } from '../../src/protocol/sdk-stream.js';

const read = (m: unknown): SdkEvent => readSdkMessage(m);

function assistant(content: unknown, extra: Record<string, unknown> = {}): unknown {
  return {
    type: 'assistant',
    parent_tool_use_id: null,
    message: {
      id: 'msg_1',
      model: 'claude-sonnet-4-5',
      content,
      stop_reason: 'tool_use',
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 2 },
    },
    session_id: 's',
    ...extra,
  };
}

const user = (content: unknown, parent: string | null = null): unknown => ({
  type: 'user',
  parent_tool_use_id: parent,
  message: { role: 'user', content },
});

const stream = (event: unknown, extra: Record<string, unknown> = {}): unknown => ({
  type: 'stream_event',
  parent_tool_use_id: null,
  event,
  ...extra,
});

function only<K extends SdkEvent['kind']>(e: SdkEvent, kind: K): Extract<SdkEvent, { kind: K }> {
  assert.equal(e.kind, kind, JSON.stringify(e));
  return e as Extract<SdkEvent, { kind: K }>;
}

describe('assistant messages', () => {
  test('the message fields and its text, thinking and tool_use blocks, in order', () => {
    const e = only(
      read(
        assistant([
          { type: 'thinking', thinking: 'hmm', signature: 'sig' },
          { type: 'text', text: 'Hello' },
          { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } },
        ]),
      ),
      'assistant',
    );
    assert.equal(e.parent_tool_use_id, null);
    assert.equal(e.message_id, 'msg_1');
    assert.equal(e.model, 'claude-sonnet-4-5');
    assert.equal(e.stop_reason, 'tool_use');
    assert.equal(e.error, undefined);
    assert.deepEqual(e.usage, { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 2 });
    assert.deepEqual(e.blocks, [
      { kind: 'thinking', thinking: 'hmm' },
      { kind: 'text', text: 'Hello' },
      { kind: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } },
    ]);
  });

  test('a tool call without input has input {}', () => {
    const e = only(read(assistant([{ type: 'tool_use', id: 't', name: 'Read' }])), 'assistant');
    assert.deepEqual(e.blocks, [{ kind: 'tool_use', id: 't', name: 'Read', input: {} }]);
  });

  test('Agent and Task calls say which sub-agent they start and with what prompt', () => {
    const e = only(
      read(
        assistant([
          {
            type: 'tool_use',
            id: 'toolu_task',
            name: 'Task',
            input: { description: 'd', prompt: 'review it', subagent_type: 'code-reviewer' },
          },
          { type: 'tool_use', id: 'toolu_agent', name: 'Agent', input: 'not an object' },
          { type: 'tool_use', id: 'toolu_bash', name: 'Bash', input: { subagent_type: 'fake' } },
        ]),
      ),
      'assistant',
    );
    const subagents = e.blocks.map((b) => (b.kind === 'tool_use' ? b.subagent : 'not a call'));
    assert.deepEqual(subagents, [
      { subagent_type: 'code-reviewer', prompt: 'review it' },
      { subagent_type: undefined, prompt: undefined },
      undefined,
    ]);
  });

  test('the CLI error of a failed call is a string (an object becomes its JSON)', () => {
    const e1 = only(read(assistant([], { error: 'server_error' })), 'assistant');
    assert.equal(e1.error, 'server_error');
    const e2 = only(read(assistant([], { error: { code: 500 } })), 'assistant');
    assert.equal(e2.error, '{"code":500}');
  });

  test('unknown and malformed blocks are unknown, keeping what was sent', () => {
    const redacted = { type: 'redacted_thinking', data: 'opaque' };
    const e = only(
      read(
        assistant([
          redacted,
          { type: 'text', text: 42 },
          { type: 'tool_use', id: 't' },
          { type: 'tool_use', name: 'Bash' },
          { type: 'thinking' },
          null,
          'text',
          ['a'],
        ]),
      ),
      'assistant',
    );
    assert.deepEqual(
      e.blocks.map((b) => [b.kind, b.kind === 'unknown' ? b.type : '']),
      [
        ['unknown', 'redacted_thinking'],
        ['unknown', 'text'],
        ['unknown', 'tool_use'],
        ['unknown', 'tool_use'],
        ['unknown', 'thinking'],
        ['unknown', undefined],
        ['unknown', undefined],
        ['unknown', undefined],
      ],
    );
    assert.equal(e.blocks[0]!.kind === 'unknown' && e.blocks[0]!.raw, redacted);
  });

  test('malformed message fields are left out; content that is not a list has no blocks', () => {
    const e = only(
      read({
        type: 'assistant',
        parent_tool_use_id: 7,
        message: { id: 1, model: null, content: 'text', stop_reason: 3, usage: 'lots' },
      }),
      'assistant',
    );
    assert.equal(e.parent_tool_use_id, null);
    assert.equal(e.message_id, undefined);
    assert.equal(e.model, undefined);
    assert.equal(e.stop_reason, undefined);
    assert.equal(e.usage, undefined);
    assert.deepEqual(e.blocks, []);
  });

  test('usage keeps only counts that are finite and not negative', () => {
    const msg = assistant([]) as { message: Record<string, unknown> };
    msg.message.usage = {
      input_tokens: -1,
      output_tokens: Number.NaN,
      cache_read_input_tokens: '3',
      cache_creation_input_tokens: 4,
      service_tier: 'standard',
    };
    const e = only(read(msg), 'assistant');
    assert.deepEqual(e.usage, { cache_creation_input_tokens: 4 });
  });
});

describe('user messages', () => {
  test('tool results: string or block content, is_error only when true, absent content is ""', () => {
    const image = {
      type: 'image',
      source: { type: 'base64', media_type: 'image/png', data: 'AA' },
    };
    const text = { type: 'text', text: 'boom', cache_control: { type: 'ephemeral' } };
    const e = only(
      read(
        user(
          [
            { type: 'tool_result', tool_use_id: 't1', content: 'ok', is_error: false },
            {
              type: 'tool_result',
              tool_use_id: 't2',
              content: [text, image, null],
              is_error: true,
            },
            { type: 'tool_result', tool_use_id: 't3', is_error: 'yes' },
            { type: 'tool_result', tool_use_id: 't4', content: { odd: 1 } },
          ],
          'toolu_parent',
        ),
      ),
      'user',
    );
    assert.equal(e.parent_tool_use_id, 'toolu_parent');
    assert.deepEqual(e.blocks, [
      { kind: 'tool_result', tool_use_id: 't1', is_error: false, content: 'ok' },
      {
        kind: 'tool_result',
        tool_use_id: 't2',
        is_error: true,
        content: [
          { kind: 'text', text: 'boom', raw: text },
          { kind: 'unknown', type: 'image', raw: image },
          { kind: 'unknown', type: undefined, raw: null },
        ],
      },
      { kind: 'tool_result', tool_use_id: 't3', is_error: false, content: '' },
      { kind: 'tool_result', tool_use_id: 't4', is_error: false, content: '{"odd":1}' },
    ]);
  });

  test('text content: a string is one text block; a tool result without its id is unknown', () => {
    assert.deepEqual(only(read(user('the prompt')), 'user').blocks, [
      { kind: 'text', text: 'the prompt' },
    ]);
    const e = only(
      read(
        user([
          { type: 'text', text: 'a' },
          { type: 'tool_result', content: 'orphan' },
        ]),
      ),
      'user',
    );
    assert.deepEqual(
      e.blocks.map((b) => b.kind),
      ['text', 'unknown'],
    );
    assert.deepEqual(only(read(user(undefined)), 'user').blocks, []);
  });
});

describe('stream events', () => {
  test('message_start: its id, model and usage; the event carries the message id', () => {
    const e = only(
      read(
        stream({
          type: 'message_start',
          message: { id: 'msg_s', model: 'm', usage: { input_tokens: 3, output_tokens: 1 } },
        }),
      ),
      'stream',
    );
    assert.equal(e.message_id, 'msg_s');
    assert.deepEqual(e.event, {
      kind: 'message_start',
      message_id: 'msg_s',
      model: 'm',
      usage: { input_tokens: 3, output_tokens: 1 },
    });
  });

  test('content blocks: start (a block), deltas of each kind, stop; the SDK message id wins', () => {
    const ev = (event: unknown) =>
      only(
        read(stream(event, { api_message_id: 'msg_a', parent_tool_use_id: 'toolu_p' })),
        'stream',
      );
    const start = ev({
      type: 'content_block_start',
      index: 2,
      content_block: { type: 'text', text: '' },
    });
    assert.equal(start.message_id, 'msg_a');
    assert.equal(start.parent_tool_use_id, 'toolu_p');
    assert.deepEqual(start.event, {
      kind: 'content_block_start',
      index: 2,
      block: { kind: 'text', text: '' },
    });
    const deltas = [
      { type: 'text_delta', text: 'Hi' },
      { type: 'thinking_delta', thinking: 'so' },
      { type: 'input_json_delta', partial_json: '{"a":' },
      { type: 'signature_delta', signature: 'x' },
      { type: 'text_delta', text: 5 },
    ].map((delta) => ev({ type: 'content_block_delta', index: 2, delta }).event);
    assert.deepEqual(
      deltas.map((d) => (d.kind === 'content_block_delta' ? d.delta.kind : d.kind)),
      ['text', 'thinking', 'input_json', 'unknown', 'unknown'],
    );
    assert.deepEqual(deltas[0], {
      kind: 'content_block_delta',
      index: 2,
      delta: { kind: 'text', text: 'Hi' },
    });
    assert.deepEqual(ev({ type: 'content_block_stop', index: 2 }).event, {
      kind: 'content_block_stop',
      index: 2,
    });
    // A missing index is the first block; a missing delta is an unknown one (still a delta).
    const bare = ev({ type: 'content_block_delta' }).event;
    assert.equal(bare.kind === 'content_block_delta' && bare.index, 0);
    assert.equal(bare.kind === 'content_block_delta' && bare.delta.kind, 'unknown');
  });

  test('message_delta (usage, stop reason) and message_stop', () => {
    const delta = only(
      read(
        stream({
          type: 'message_delta',
          delta: { stop_reason: 'end_turn' },
          usage: { output_tokens: 9, input_tokens: null },
        }),
      ),
      'stream',
    );
    assert.deepEqual(delta.event, {
      kind: 'message_delta',
      usage: { output_tokens: 9 },
      stop_reason: 'end_turn',
    });
    assert.deepEqual(only(read(stream({ type: 'message_stop' })), 'stream').event, {
      kind: 'message_stop',
    });
  });

  test('other and malformed events are unknown', () => {
    const kinds = [
      { type: 'ping' },
      { type: 'message_start', message: { model: 'no id' } },
      { type: 'message_start' },
      'garbage',
      undefined,
    ].map((event) => only(read(stream(event)), 'stream').event);
    assert.deepEqual(kinds, [
      { kind: 'unknown', type: 'ping' },
      { kind: 'unknown', type: 'message_start' },
      { kind: 'unknown', type: 'message_start' },
      { kind: 'unknown' },
      { kind: 'unknown' },
    ]);
  });
});

describe('results', () => {
  test('the summary fields, errors as strings, usage as the contract has it', () => {
    const usage = {
      input_tokens: 1,
      output_tokens: 2,
      server_tool_use: { web_search_requests: 0 },
    };
    const e = only(
      read({
        type: 'result',
        subtype: 'error_during_execution',
        is_error: true,
        session_id: 's1',
        num_turns: 2,
        duration_ms: 30,
        duration_api_ms: 20,
        total_cost_usd: 0.5,
        errors: ['overloaded', 529],
        usage,
        modelUsage: { m: { inputTokens: 1 } },
      }),
      'result',
    );
    assert.deepEqual(e, {
      kind: 'result',
      subtype: 'error_during_execution',
      is_error: true,
      session_id: 's1',
      num_turns: 2,
      duration_ms: 30,
      duration_api_ms: 20,
      total_cost_usd: 0.5,
      result: undefined,
      errors: ['overloaded', '529'],
      usage,
      modelUsage: { m: { inputTokens: 1 } },
    });
  });

  test('missing or malformed fields are absent; usage that is not usage is null', () => {
    const e = only(
      read({
        type: 'result',
        num_turns: 'two',
        duration_ms: Infinity,
        usage: { input_tokens: 'x' },
      }),
      'result',
    );
    assert.equal(e.num_turns, undefined);
    assert.equal(e.duration_ms, undefined);
    assert.equal(e.subtype, undefined);
    assert.equal(e.is_error, undefined);
    assert.deepEqual(e.errors, []);
    assert.equal(e.usage, null);
    assert.equal(e.modelUsage, undefined);
  });
});

describe('system and other messages', () => {
  test('init: session, model, cwd, tools (strings only), CLI version', () => {
    const e = only(
      read({
        type: 'system',
        subtype: 'init',
        session_id: 's',
        model: 'm',
        cwd: '/w',
        tools: ['Read', 3, 'Bash'],
        claude_code_version: '2.1.0',
      }),
      'init',
    );
    assert.deepEqual(e, {
      kind: 'init',
      session_id: 's',
      model: 'm',
      cwd: '/w',
      tools: ['Read', 'Bash'],
      claude_code_version: '2.1.0',
    });
    assert.deepEqual(only(read({ type: 'system', subtype: 'init' }), 'init').tools, []);
  });

  test('task_started and task_notification carry the Task call id (and the prompt)', () => {
    assert.deepEqual(
      read({ type: 'system', subtype: 'task_started', tool_use_id: 't', prompt: 'go' }),
      { kind: 'task_started', tool_use_id: 't', prompt: 'go' },
    );
    assert.deepEqual(read({ type: 'system', subtype: 'task_notification', tool_use_id: 't' }), {
      kind: 'task_notification',
      tool_use_id: 't',
    });
  });

  test('anything else is other, naming its type and subtype', () => {
    assert.deepEqual(read({ type: 'system', subtype: 'status', status: 'requesting' }), {
      kind: 'other',
      type: 'system',
      subtype: 'status',
    });
    assert.deepEqual(read({ type: 'tool_progress' }), {
      kind: 'other',
      type: 'tool_progress',
      subtype: undefined,
    });
    // A conversation message without its message object cannot be read as one.
    assert.equal(read({ type: 'assistant' }).kind, 'other');
    assert.equal(read({ type: 'user', message: 'hi' }).kind, 'other');
    for (const junk of [null, undefined, 42, 'assistant', [], [{ type: 'result' }]])
      assert.deepEqual(read(junk), { kind: 'other' });
  });
});

describe('robustness and sharing', () => {
  test('no message of the recorded streams, with any one field broken, makes the reader throw', () => {
    const dir = new URL('../../../test/observability/fixtures/', import.meta.url);
    const messages = ['tools', 'subagent', 'multi'].flatMap(
      (n) =>
        (JSON.parse(readFileSync(new URL(`${n}.json`, dir), 'utf8')) as { messages: unknown[] })
          .messages,
    );
    let variants = 0;
    for (const m of messages)
      for (const path of paths(m))
        for (const value of [undefined, null, 42, 'x', {}, []]) {
          const copy = structuredClone(m);
          setAt(copy, path, value);
          const e = read(copy);
          assert.ok(e.kind, `a read for ${path.join('.')} = ${JSON.stringify(value)}`);
          variants++;
        }
    assert.ok(variants > 1000, `${variants} variants`);
  });

  test('a message is read once: the mapper and the tracer share the result', () => {
    const msg = assistant([{ type: 'text', text: 'x' }]);
    const first = read(msg);
    assert.equal(read(msg), first);
    assert.notEqual(read(structuredClone(msg)), first, 'another object is read on its own');
  });
});

function* paths(v: unknown, prefix: string[] = []): Generator<string[]> {
  if (v === null || typeof v !== 'object') return;
  for (const [k, child] of Object.entries(v)) {
    yield [...prefix, k];
    yield* paths(child, [...prefix, k]);
  }
}

function setAt(root: unknown, path: string[], value: unknown): void {
  let o = root as Record<string, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[path.at(-1)!] = value;
}
