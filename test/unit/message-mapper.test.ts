/**
 * SDK messages -> socket frames (contract §3), with SDK-shaped messages built by hand: text, tool
 * calls, tool results with is_error, thinking, the result summary, streamed text as
 * message.partial (pieces that reassemble to the block's text, the last one carrying `total`),
 * sub-agent nesting, the init frame once per CLI session, and large tool results capped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { REDACTED, Redactor } from '../../src/observability/redact.js';
import { RunnerFrame, type FrameDraft } from '../../src/protocol/frames.js';
import {
  MAX_TOOL_RESULT_CHARS,
  MessageMapper,
  resultSummary,
} from '../../src/runner/message-mapper.js';

const SESSION = '0b1c2d3e-0000-4000-8000-000000000001';
const SECRET = 'secret-token-0123456789';

let uuidN = 0;
const uuid = () => `00000000-0000-4000-8000-${String(++uuidN).padStart(12, '0')}`;

const usage = {
  input_tokens: 10,
  output_tokens: 5,
  cache_read_input_tokens: 2,
  cache_creation_input_tokens: 1,
};

function assistant(content: unknown[], parent: string | null = null, id = 'msg_1'): SDKMessage {
  return {
    type: 'assistant',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content,
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
    parent_tool_use_id: parent,
    uuid: uuid(),
    session_id: SESSION,
  } as unknown as SDKMessage;
}

function user(content: unknown, parent: string | null = null): SDKMessage {
  return {
    type: 'user',
    message: { role: 'user', content },
    parent_tool_use_id: parent,
    uuid: uuid(),
    session_id: SESSION,
  } as unknown as SDKMessage;
}

function streamEvent(
  event: Record<string, unknown>,
  messageId: string | undefined = 'msg_s',
  parent: string | null = null,
): SDKMessage {
  return {
    type: 'stream_event',
    event,
    parent_tool_use_id: parent,
    uuid: uuid(),
    session_id: SESSION,
    ...(messageId ? { api_message_id: messageId } : {}),
  } as unknown as SDKMessage;
}

/** The stream events of one text block, its text cut into `deltas`. */
function textBlockEvents(
  deltas: string[],
  index = 0,
  messageId = 'msg_s',
  parent: string | null = null,
): SDKMessage[] {
  return [
    streamEvent(
      { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
      messageId,
      parent,
    ),
    ...deltas.map((text) =>
      streamEvent(
        { type: 'content_block_delta', index, delta: { type: 'text_delta', text } },
        messageId,
        parent,
      ),
    ),
    streamEvent({ type: 'content_block_stop', index }, messageId, parent),
  ];
}

function init(sessionId = SESSION): SDKMessage {
  return {
    type: 'system',
    subtype: 'init',
    apiKeySource: 'ANTHROPIC_API_KEY',
    claude_code_version: '2.0.0',
    cwd: '/workspace/app',
    tools: ['Read', 'Write', 'Bash'],
    mcp_servers: [],
    model: 'claude-sonnet-4-5',
    permissionMode: 'acceptEdits',
    slash_commands: [],
    output_style: 'default',
    skills: [],
    plugins: [],
    uuid: uuid(),
    session_id: sessionId,
  } as unknown as SDKMessage;
}

function result(extra: Record<string, unknown> = {}): SDKMessage {
  return {
    type: 'result',
    subtype: 'success',
    duration_ms: 1234,
    duration_api_ms: 1000,
    is_error: false,
    num_turns: 2,
    result: 'All done.',
    stop_reason: 'end_turn',
    total_cost_usd: 0.0123,
    usage: { ...usage, server_tool_use: { web_search_requests: 0 } },
    modelUsage: {},
    permission_denials: [],
    uuid: uuid(),
    session_id: SESSION,
    ...extra,
  } as unknown as SDKMessage;
}

const mapper = () => new MessageMapper(new Redactor([SECRET]));

function mapAll(m: MessageMapper, msgs: SDKMessage[]): FrameDraft[] {
  return msgs.flatMap((msg) => m.map(msg));
}

/** Every draft, once numbered and stamped, is a valid frame of the protocol. */
function assertValidFrames(drafts: FrameDraft[]): void {
  drafts.forEach((d, i) => {
    const parsed = RunnerFrame.safeParse({ ...d, seq: i + 1, timestamp: new Date().toISOString() });
    assert.ok(
      parsed.success,
      `frame ${i} is valid: ${JSON.stringify(d)} ${parsed.success ? '' : parsed.error.message}`,
    );
  });
}

type Partial = { id: string; index: number; total: number; data: string };
const partials = (frames: FrameDraft[]): Partial[] =>
  frames
    .filter((f) => f.type === 'message.partial')
    .map((f) => (f as { partial: Partial }).partial);

describe('complete messages', () => {
  test('text blocks become agent_message text_block frames; empty text is skipped', () => {
    const frames = mapper().map(
      assistant([
        { type: 'text', text: 'Hello' },
        { type: 'text', text: '' },
        { type: 'text', text: 'World' },
      ]),
    );
    assert.deepEqual(frames, [
      {
        type: 'agent.message',
        payload: { type: 'agent_message', content: { type: 'text_block', text: 'Hello' } },
      },
      {
        type: 'agent.message',
        payload: { type: 'agent_message', content: { type: 'text_block', text: 'World' } },
      },
    ]);
    assertValidFrames(frames);
  });

  test('tool calls carry tool, input and id', () => {
    const frames = mapper().map(
      assistant([
        {
          type: 'tool_use',
          id: 'toolu_1',
          name: 'Write',
          input: { file_path: '/w/a.txt', content: 'x' },
        },
        { type: 'tool_use', id: 'toolu_2', name: 'Bash' },
      ]),
    );
    assert.deepEqual(frames, [
      {
        type: 'agent.message',
        payload: { tool: 'Write', input: { file_path: '/w/a.txt', content: 'x' }, id: 'toolu_1' },
      },
      { type: 'agent.message', payload: { tool: 'Bash', input: {}, id: 'toolu_2' } },
    ]);
    assertValidFrames(frames);
  });

  test('tool results carry tool_use_id, content and is_error (false unless true)', () => {
    const frames = mapper().map(
      user([
        { type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok', is_error: false },
        {
          type: 'tool_result',
          tool_use_id: 'toolu_2',
          content: [{ type: 'text', text: 'boom' }],
          is_error: true,
        },
        { type: 'tool_result', tool_use_id: 'toolu_3' },
        { type: 'text', text: 'not a result' },
      ]),
    );
    assert.deepEqual(frames, [
      {
        type: 'agent.message',
        payload: { tool_result: { tool_use_id: 'toolu_1', content: 'ok', is_error: false } },
      },
      {
        type: 'agent.message',
        payload: {
          tool_result: {
            tool_use_id: 'toolu_2',
            content: [{ type: 'text', text: 'boom' }],
            is_error: true,
          },
        },
      },
      {
        type: 'agent.message',
        payload: { tool_result: { tool_use_id: 'toolu_3', content: '', is_error: false } },
      },
    ]);
    assertValidFrames(frames);
  });

  test('a user message that is plain text (the prompt echoed) gives no frame', () => {
    assert.deepEqual(mapper().map(user('the prompt')), []);
  });

  test('thinking becomes a debug system message; empty and redacted thinking are skipped', () => {
    const frames = mapper().map(
      assistant([
        { type: 'thinking', thinking: 'Let me think.', signature: 'sig' },
        { type: 'thinking', thinking: '', signature: 'sig' },
        { type: 'redacted_thinking', data: 'opaque' },
      ]),
    );
    assert.deepEqual(frames, [
      {
        type: 'system.message',
        payload: { message: 'Let me think.', level: 'debug', event: 'thinking' },
      },
    ]);
    assertValidFrames(frames);
  });

  test('one assistant message with several blocks keeps their order', () => {
    const frames = mapper().map(
      assistant([
        { type: 'thinking', thinking: 't', signature: 's' },
        { type: 'text', text: 'I will write.' },
        { type: 'tool_use', id: 'toolu_9', name: 'Write', input: {} },
      ]),
    );
    assert.deepEqual(
      frames.map((f) => f.type),
      ['system.message', 'agent.message', 'agent.message'],
    );
    assert.equal((frames[2]!.payload as { id: string }).id, 'toolu_9');
  });
});

describe('the result', () => {
  test('a successful turn: every summary field', () => {
    const frames = mapper().map(result());
    assert.deepEqual(frames, [
      {
        type: 'agent.message',
        payload: {
          type: 'result.message',
          payload: {
            subtype: 'success',
            duration_ms: 1234,
            duration_api_ms: 1000,
            is_error: false,
            num_turns: 2,
            session_id: SESSION,
            total_cost_usd: 0.0123,
            usage: { ...usage, server_tool_use: { web_search_requests: 0 } },
            result: 'All done.',
          },
        },
      },
    ]);
    assertValidFrames(frames);
  });

  test('an error turn: the errors become the result text', () => {
    const summary = resultSummary(
      result({
        subtype: 'error_during_execution',
        is_error: true,
        result: undefined,
        errors: ['API Error: 529 overloaded', 'gave up'],
      }) as Extract<SDKMessage, { type: 'result' }>,
    );
    assert.equal(summary.subtype, 'error_during_execution');
    assert.equal(summary.is_error, true);
    assert.equal(summary.result, 'API Error: 529 overloaded; gave up');
    const none = resultSummary(
      result({ subtype: 'error_max_turns', result: undefined, errors: [] }) as Extract<
        SDKMessage,
        { type: 'result' }
      >,
    );
    assert.equal(none.result, null);
  });
});

describe('streamed text', () => {
  test('pieces reassemble to the block text; indexes count up; only the last has total', () => {
    const m = mapper();
    const deltas = ['Hel', 'lo, ', 'wor', 'ld.'];
    const frames = mapAll(m, [
      streamEvent({ type: 'message_start', message: { id: 'msg_s' } }),
      ...textBlockEvents(deltas),
    ]);
    assertValidFrames(frames);
    const ps = partials(frames);
    assert.ok(ps.length >= 2, 'streamed as it comes, not all at the end');
    assert.equal(ps.map((p) => p.data).join(''), 'Hello, world.');
    assert.deepEqual(
      ps.map((p) => p.index),
      ps.map((_, i) => i),
    );
    assert.ok(ps.every((p) => p.id === 'msg_s:0'));
    assert.ok(
      ps.slice(0, -1).every((p) => p.total === 0),
      'total is 0 while streaming',
    );
    assert.equal(ps.at(-1)!.total, ps.length, 'the last piece carries the piece count');
  });

  test('the last piece carries total even when nothing was held back at the end', () => {
    // "ok. " ends in a space: the redactor holds nothing, so end() has no text of its own.
    const ps = partials(mapAll(mapper(), textBlockEvents(['Fine', ' ok. '])));
    assert.equal(ps.map((p) => p.data).join(''), 'Fine ok. ');
    assert.equal(ps.filter((p) => p.total > 0).length, 1);
    assert.equal(ps.at(-1)!.total, ps.length);
  });

  test('a block with no text gives no piece', () => {
    assert.deepEqual(mapAll(mapper(), textBlockEvents([])), []);
    assert.deepEqual(mapAll(mapper(), textBlockEvents(['', ''])), []);
  });

  test('a secret split across deltas is redacted in the pieces', () => {
    const ps = partials(
      mapAll(mapper(), textBlockEvents(['token: secret-tok', 'en-01234', '56789 done'])),
    );
    const text = ps.map((p) => p.data).join('');
    assert.equal(text, `token: ${REDACTED} done`);
    for (const p of ps)
      assert.ok(!p.data.includes('0123456789') && !p.data.includes('en-01234'), JSON.stringify(p));
  });

  test('blocks of one message, and different messages, have their own ids', () => {
    const m = mapper();
    const frames = mapAll(m, [
      ...textBlockEvents(['first '], 0, 'msg_a'),
      streamEvent(
        {
          type: 'content_block_start',
          index: 1,
          content_block: { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: {} },
        },
        'msg_a',
      ),
      streamEvent(
        {
          type: 'content_block_delta',
          index: 1,
          delta: { type: 'input_json_delta', partial_json: '{"command":' },
        },
        'msg_a',
      ),
      streamEvent({ type: 'content_block_stop', index: 1 }, 'msg_a'),
      ...textBlockEvents(['second '], 2, 'msg_a'),
      ...textBlockEvents(['third '], 0, 'msg_b'),
    ]);
    const byId = new Map<string, string>();
    for (const p of partials(frames)) byId.set(p.id, (byId.get(p.id) ?? '') + p.data);
    assert.deepEqual(Object.fromEntries(byId), {
      'msg_a:0': 'first ',
      'msg_a:2': 'second ',
      'msg_b:0': 'third ',
    });
    assert.equal(frames.length, partials(frames).length, 'tool input deltas are not text');
  });

  test('interleaved blocks of two messages (parallel sub-agents) stay apart', () => {
    const m = mapper();
    const [aStart, aDelta, aStop] = textBlockEvents(['from A '], 0, 'msg_a', 'toolu_A');
    const [bStart, bDelta, bStop] = textBlockEvents(['from B '], 0, 'msg_b', 'toolu_B');
    const frames = mapAll(m, [aStart!, bStart!, aDelta!, bDelta!, bStop!, aStop!]);
    const byId = new Map<string, string>();
    for (const p of partials(frames)) byId.set(p.id, (byId.get(p.id) ?? '') + p.data);
    assert.deepEqual(Object.fromEntries(byId), { 'msg_a:0': 'from A ', 'msg_b:0': 'from B ' });
  });

  test('deltas and stops without a start are ignored', () => {
    const m = mapper();
    assert.deepEqual(
      m.map(
        streamEvent({
          type: 'content_block_delta',
          index: 3,
          delta: { type: 'text_delta', text: 'x' },
        }),
      ),
      [],
    );
    assert.deepEqual(m.map(streamEvent({ type: 'content_block_stop', index: 3 })), []);
    assert.deepEqual(
      m.map(streamEvent({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage })),
      [],
    );
    assert.deepEqual(m.map(streamEvent({ type: 'message_stop' })), []);
  });
});

describe('sub-agents', () => {
  test('work inside a sub-agent carries parent_tool_use_id and the agent name from subagent_type', () => {
    const m = mapper();
    const call = m.map(
      assistant([
        {
          type: 'tool_use',
          id: 'toolu_task',
          name: 'Task',
          input: { description: 'review', prompt: 'p', subagent_type: 'code-reviewer' },
        },
      ]),
    );
    assert.deepEqual(call[0]!.payload, {
      tool: 'Task',
      input: { description: 'review', prompt: 'p', subagent_type: 'code-reviewer' },
      id: 'toolu_task',
    });
    const inside = mapAll(m, [
      assistant(
        [
          { type: 'text', text: 'inside' },
          { type: 'tool_use', id: 'toolu_in', name: 'Read', input: { file_path: 'a' } },
          { type: 'thinking', thinking: 'hmm', signature: 's' },
        ],
        'toolu_task',
      ),
      user([{ type: 'tool_result', tool_use_id: 'toolu_in', content: 'file' }], 'toolu_task'),
      ...textBlockEvents(['sub stream '], 0, 'msg_sub', 'toolu_task'),
    ]);
    assertValidFrames(inside);
    const nest = { parent_tool_use_id: 'toolu_task', agent: 'code-reviewer' };
    for (const f of inside) {
      const p = f.payload as Record<string, unknown>;
      if (f.type === 'system.message') assert.deepEqual(p.data, nest);
      else {
        assert.equal(p.parent_tool_use_id, 'toolu_task', JSON.stringify(f));
        assert.equal(p.agent, 'code-reviewer', JSON.stringify(f));
      }
    }
    assert.equal(
      inside.length,
      6,
      'text, tool call, thinking, tool result, and two partial pieces',
    );
    // The sub-agent's result returns to the main agent, outside any nesting.
    const back = m.map(
      user([{ type: 'tool_result', tool_use_id: 'toolu_task', content: 'report' }]),
    );
    assert.deepEqual(back[0]!.payload, {
      tool_result: { tool_use_id: 'toolu_task', content: 'report', is_error: false },
    });
  });

  test('the Agent tool without subagent_type is general-purpose; an unknown parent has no name', () => {
    const m = mapper();
    m.map(
      assistant([{ type: 'tool_use', id: 'toolu_agent', name: 'Agent', input: { prompt: 'p' } }]),
    );
    const [f] = m.map(assistant([{ type: 'text', text: 'x' }], 'toolu_agent'));
    assert.equal((f!.payload as { agent?: string }).agent, 'general-purpose');
    const [g] = m.map(assistant([{ type: 'text', text: 'y' }], 'toolu_unknown'));
    assert.deepEqual(g!.payload, {
      type: 'agent_message',
      content: { type: 'text_block', text: 'y' },
      parent_tool_use_id: 'toolu_unknown',
    });
    // A tool that is not Agent/Task names no sub-agent.
    m.map(
      assistant([
        { type: 'tool_use', id: 'toolu_bash', name: 'Bash', input: { subagent_type: 'fake' } },
      ]),
    );
    const [h] = m.map(assistant([{ type: 'text', text: 'z' }], 'toolu_bash'));
    assert.equal((h!.payload as { agent?: string }).agent, undefined);
  });
});

describe('system messages', () => {
  test('init once per CLI session', () => {
    const m = mapper();
    const first = m.map(init());
    assert.equal(first.length, 1);
    assert.equal(first[0]!.type, 'system.message');
    const p = first[0]!.payload as {
      message: string;
      level: string;
      event: string;
      data: Record<string, unknown>;
    };
    assert.equal(p.level, 'debug');
    assert.equal(p.event, 'cli.init');
    assert.match(p.message, /claude-sonnet-4-5, 3 tools/);
    assert.deepEqual(p.data, {
      model: 'claude-sonnet-4-5',
      cwd: '/workspace/app',
      tools: ['Read', 'Write', 'Bash'],
      claude_code_version: '2.0.0',
    });
    assertValidFrames(first);
    assert.deepEqual(m.map(init()), [], 'the CLI repeats init every turn');
    assert.equal(m.map(init('another-cli-session')).length, 1, 'a new CLI session is announced');
    assert.deepEqual(m.map(init('another-cli-session')), []);
  });

  test('other system messages give no frame', () => {
    const m = mapper();
    assert.deepEqual(
      m.map({
        type: 'system',
        subtype: 'status',
        status: 'requesting',
        uuid: uuid(),
        session_id: SESSION,
      } as unknown as SDKMessage),
      [],
    );
    assert.deepEqual(
      m.map({
        type: 'system',
        subtype: 'compact_boundary',
        uuid: uuid(),
        session_id: SESSION,
      } as unknown as SDKMessage),
      [],
    );
    assert.deepEqual(
      m.map({ type: 'tool_progress', uuid: uuid(), session_id: SESSION } as unknown as SDKMessage),
      [],
    );
  });
});

describe('large tool results', () => {
  test('are capped in frames, with a note of what was cut', () => {
    const big = 'x'.repeat(MAX_TOOL_RESULT_CHARS + 1000);
    const [f] = mapper().map(user([{ type: 'tool_result', tool_use_id: 't', content: big }]));
    const content = (f!.payload as { tool_result: { content: string } }).tool_result.content;
    assert.ok(content.length < MAX_TOOL_RESULT_CHARS + 100);
    assert.ok(content.startsWith('x'.repeat(MAX_TOOL_RESULT_CHARS)));
    assert.match(content, /1000 more characters not shown/);
  });

  test('text blocks inside a result are capped too; small results are untouched', () => {
    const big = 'y'.repeat(MAX_TOOL_RESULT_CHARS * 2);
    const image = {
      type: 'image',
      source: { type: 'base64', media_type: 'image/png', data: 'AAAA' },
    };
    const [f] = mapper().map(
      user([
        {
          type: 'tool_result',
          tool_use_id: 't',
          content: [{ type: 'text', text: big }, image, { type: 'text', text: 'small' }],
        },
      ]),
    );
    const blocks = (f!.payload as { tool_result: { content: { type: string; text?: string }[] } })
      .tool_result.content;
    assert.equal(blocks.length, 3);
    assert.ok(blocks[0]!.text!.length < MAX_TOOL_RESULT_CHARS + 100);
    assert.match(
      blocks[0]!.text!,
      new RegExp(`${MAX_TOOL_RESULT_CHARS} more characters not shown`),
    );
    assert.deepEqual(blocks[1], image);
    assert.deepEqual(blocks[2], { type: 'text', text: 'small' });
    const exact = 'z'.repeat(MAX_TOOL_RESULT_CHARS);
    const [g] = mapper().map(user([{ type: 'tool_result', tool_use_id: 't', content: exact }]));
    assert.equal((g!.payload as { tool_result: { content: string } }).tool_result.content, exact);
  });
});
