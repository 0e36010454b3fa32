/**
 * The history → AG-UI mapping as a pure function: deterministic (a replay from the first entry
 * always gives the same events and ids), well bracketed for `@ag-ui/client`'s checks, sub-agent
 * work nested under its tool call, interrupts and failures closing the run. Every event is checked
 * against `@ag-ui/core`'s schemas.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AguiMapper,
  type HistoryEntryJson,
  type IdentifiedEvent,
} from '../../src/control-plane/agui/mapping.js';
import { parseEventId } from '../../src/control-plane/agui/stream.js';
import { checkEvent } from './helpers.js';

let seq = 0;
const entry = (type: string, payload: unknown, extra: Partial<HistoryEntryJson> = {}) =>
  ({ seq: ++seq, run: 1, runSeq: seq, type, payload, ...extra }) as HistoryEntryJson;
const text = (t: string, parent?: string) =>
  entry('agent.message', {
    type: 'agent_message',
    content: { type: 'text_block', text: t },
    ...(parent ? { parent_tool_use_id: parent, agent: 'helper' } : {}),
  });
const piece = (id: string, index: number, total: number, data: string) =>
  entry('message.partial', {}, { partial: { id, index, total, data } });

function mapAll(entries: HistoryEntryJson[]): IdentifiedEvent[] {
  const m = new AguiMapper('session-x');
  const out = entries.flatMap((e) => m.map(e));
  for (const e of out) checkEvent(e.event);
  return out;
}

function history(): HistoryEntryJson[] {
  seq = 0;
  return [
    entry(
      'system.message',
      { message: 'phase Pending', event: 'phase.changed', data: { phase: 'Pending' } },
      { runSeq: undefined },
    ),
    entry(
      'user_message',
      { content: 'hello', from: { user: 'u' }, via: 'api', id: 'client-1' },
      { runSeq: undefined },
    ),
    entry('agent.running', {}),
    entry('system.message', { message: 'thinking it over', level: 'debug', event: 'thinking' }),
    piece('m1:0', 0, 0, 'Hel'),
    text('Hello there'), // the SDK's whole text may come before the last piece
    piece('m1:0', 1, 0, 'lo there'),
    piece('m1:0', 2, 3, ''),
    entry('agent.message', {
      tool: 'Task',
      id: 'call-1',
      input: { subagent_type: 'helper', description: 'look', prompt: 'go' },
    }),
    text('inside the helper', 'call-1'),
    entry('agent.message', {
      tool: 'Bash',
      id: 'call-2',
      input: { command: 'ls' },
      parent_tool_use_id: 'call-1',
    }),
    entry('agent.message', {
      tool_result: { tool_use_id: 'call-2', content: 'x', is_error: true },
      parent_tool_use_id: 'call-1',
    }),
    entry('agent.message', {
      tool_result: {
        tool_use_id: 'call-1',
        content: [{ type: 'text', text: 'report' }],
        is_error: false,
      },
    }),
    entry('agent.message', {
      type: 'result.message',
      payload: {
        subtype: 'success',
        duration_ms: 5,
        duration_api_ms: 4,
        is_error: false,
        num_turns: 2,
        session_id: 's',
        total_cost_usd: 0.5,
        usage: { input_tokens: 10, output_tokens: 3 },
        result: 'Hello there',
      },
    }),
    entry('agent.waiting', {}),
    entry('user_message', { content: 'take your time', via: 'api' }, { runSeq: undefined }),
    entry('agent.running', {}),
    piece('m2:0', 0, 0, 'slow'),
    entry('system.message', { message: 'interrupted', event: 'turn.interrupted' }),
    entry('agent.waiting', {}),
    entry('user_message', { content: 'again', via: 'api' }, { runSeq: undefined }),
    entry('agent.running', {}),
    entry('user_message', { content: 'meanwhile', via: 'api', id: 'late' }, { runSeq: undefined }),
    entry('system.message', {
      message: 'the model is unreachable',
      level: 'error',
      event: 'session.failed',
    }),
    entry(
      'system.message',
      { message: 'phase Failed', event: 'phase.changed', data: { phase: 'Failed', runOver: true } },
      { runSeq: undefined },
    ),
  ];
}

describe('AG-UI mapping', () => {
  it('maps a session to well-bracketed runs with stable ids', () => {
    const events = mapAll(history());
    const types = events.map((e) => e.event.type);
    // runs: finished, cancelled (interrupt), error (the run failed under it), and the message that
    // waited for the next turn gets its run, ended with the session (its asker must not wait)
    assert.equal(types.filter((t) => t === 'RUN_STARTED').length, 4);
    const ends = events.filter(
      (e) => e.event.type === 'RUN_FINISHED' || e.event.type === 'RUN_ERROR',
    );
    assert.deepEqual(
      ends.map((e) => [
        e.event.type,
        (e.event.outcome as { type?: string } | undefined)?.type ?? e.event.message,
      ]),
      [
        ['RUN_FINISHED', 'success'],
        ['RUN_FINISHED', 'cancelled'],
        ['RUN_ERROR', 'the model is unreachable'],
        ['RUN_ERROR', 'phase Failed'],
      ],
    );
    const started = events.find((e) => e.event.type === 'RUN_STARTED')!.event as unknown as {
      runId: string;
      input: { messages: { id: string; content: string }[] };
    };
    assert.equal(started.runId, 'turn-2');
    assert.deepEqual(
      started.input.messages.map((m) => [m.id, m.content]),
      [['client-1', 'hello']],
    );
    // The streamed text once: its whole `agent.message` adds nothing.
    const texts = events.filter(
      (e) => e.event.type === 'TEXT_MESSAGE_CONTENT' && !e.event.subagentRunId,
    );
    assert.deepEqual(
      texts.map((e) => e.event.delta),
      ['Hel', 'lo there', 'slow'],
    );
    // Ids: `<pos>.<k>`, each once, in order.
    assert.deepEqual(
      events.map((e) => e.id),
      [...new Set(events.map((e) => e.id))],
    );
    for (const e of events) assert.match(e.id, /^\d+\.\d+$/);
    // Every open text is closed before its run ends.
    const open = new Set<string>();
    for (const { event } of events) {
      if (event.type === 'TEXT_MESSAGE_START') open.add(event.messageId as string);
      if (event.type === 'TEXT_MESSAGE_END') open.delete(event.messageId as string);
      if (event.type === 'RUN_FINISHED' || event.type === 'RUN_ERROR') assert.equal(open.size, 0);
    }
    const finished = ends[0]!.event as unknown as {
      usage: { inputTokens: number; totalTokens: number }[];
      result: { totalCostUsd: number; numTurns: number };
    };
    assert.deepEqual([finished.usage[0]!.inputTokens, finished.usage[0]!.totalTokens], [10, 13]);
    assert.deepEqual([finished.result.totalCostUsd, finished.result.numTurns], [0.5, 2]);
  });

  it('nests sub-agent work under the tool call that started it', () => {
    const events = mapAll(history());
    const started = events.find((e) => e.event.type === 'SUBAGENT_STARTED')!.event;
    assert.equal(started.parentToolCallId, 'call-1');
    assert.equal(started.name, 'helper');
    const sub = started.subagentRunId as string;
    const inside = events.filter(
      (e) => e.event.subagentRunId === sub && e.event.type !== 'SUBAGENT_STARTED',
    );
    assert.deepEqual(
      inside.map((e) => e.event.type),
      [
        'TEXT_MESSAGE_START',
        'TEXT_MESSAGE_CONTENT',
        'TEXT_MESSAGE_END',
        'TOOL_CALL_START',
        'TOOL_CALL_ARGS',
        'TOOL_CALL_END',
        'TOOL_CALL_RESULT',
        'SUBAGENT_FINISHED',
      ],
    );
    const failed = inside.find((e) => e.event.type === 'TOOL_CALL_RESULT')!.event;
    assert.deepEqual(failed.metadata, { isError: true });
    const report = events.find(
      (e) => e.event.type === 'TOOL_CALL_RESULT' && e.event.toolCallId === 'call-1',
    )!;
    assert.equal(report.event.content, 'report');
  });

  it('is deterministic: a replay gives the same events, and resuming after any id gives the rest', () => {
    const all = mapAll(history());
    assert.deepEqual(mapAll(history()), all);
    for (let cut = 0; cut < all.length; cut++) {
      const after = parseEventId(all[cut]!.id)!;
      const rest = all.filter((e) => {
        const k = Number(e.id.split('.')[1]);
        return e.pos > after.pos || (e.pos === after.pos && k > after.k);
      });
      assert.deepEqual([...all.slice(0, cut + 1), ...rest], all);
    }
    assert.deepEqual(parseEventId('12'), { pos: 12, k: Number.MAX_SAFE_INTEGER });
    assert.equal(parseEventId('12.m'), undefined);
    assert.equal(parseEventId('junk'), undefined);
  });
});
