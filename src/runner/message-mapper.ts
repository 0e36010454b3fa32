/**
 * SDK messages -> socket frames (contract §3). Pure apart from its own small state (open text
 * streams, sub-agent names), so it is unit-tested without a CLI.
 *
 * - text block        -> agent.message {type:"agent_message", content:{type:"text_block", text}}
 * - tool_use block    -> agent.message {tool, input, id}
 * - tool_result block -> agent.message {tool_result:{tool_use_id, content, is_error}}
 * - thinking block    -> system.message, level debug
 * - result            -> agent.message {type:"result.message", payload:{…summary}}
 * - streamed text     -> message.partial, partial {id:"<msg id>:<block>", index, total, data}
 *
 * Work done inside a sub-agent carries `parent_tool_use_id` and the sub-agent's `agent` name.
 * The mapper also remembers which agent made each tool call, so an in-process tool (the
 * `sessions` tools) can name its caller as the sender of a message.
 * Streamed text passes through a StreamRedactor so a secret split across deltas is still caught.
 */
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { Redactor, StreamRedactor } from '../observability/redact.js';
import { MAIN_AGENT } from '../protocol/agents.js';
import type { FrameDraft, ResultSummary } from '../protocol/frames.js';

/** Tool results larger than this are cut in frames (the agent itself saw them whole). */
export const MAX_TOOL_RESULT_CHARS = 256 * 1024;
const SUBAGENT_TOOLS = new Set(['Agent', 'Task']);
/** Tool calls whose caller is remembered (the newest; a tool runs right after its call). */
const MAX_REMEMBERED_CALLERS = 1_000;

interface OpenStream {
  redactor: StreamRedactor;
  pieces: number;
  parent: string | null;
}

export class MessageMapper {
  private readonly streams = new Map<string, OpenStream>();
  private readonly subAgentNames = new Map<string, string>();
  /** tool_use id -> the agent that made the call. */
  private readonly callers = new Map<string, string>();
  private initSession: string | undefined;

  constructor(private readonly redactor: Redactor) {}

  map(msg: SDKMessage): FrameDraft[] {
    switch (msg.type) {
      case 'assistant':
        return this.assistant(msg.message.content as unknown as Block[], msg.parent_tool_use_id);
      case 'user':
        return this.user(msg.message.content as unknown, msg.parent_tool_use_id);
      case 'stream_event':
        return this.streamEvent(msg as unknown as StreamEventMessage);
      case 'result':
        return [
          {
            type: 'agent.message',
            payload: { type: 'result.message', payload: resultSummary(msg) },
          },
        ];
      case 'system':
        // The CLI repeats init at every turn; the platform needs it once per CLI session.
        if (
          msg.subtype === 'init' &&
          msg.session_id !== this.initSession &&
          (this.initSession = msg.session_id)
        )
          return [
            {
              type: 'system.message',
              payload: {
                message: `Claude Code ready (model ${msg.model}, ${msg.tools.length} tools)`,
                level: 'debug',
                event: 'cli.init',
                data: {
                  model: msg.model,
                  cwd: msg.cwd,
                  tools: msg.tools,
                  claude_code_version: msg.claude_code_version,
                },
              },
            },
          ];
        return [];
      default:
        return [];
    }
  }

  /**
   * The agent that made a tool call: `main`, a sub-agent's name (`sub-agent` when its Task call
   * was not seen), or undefined while the call has not been mapped yet.
   */
  callerOf(toolUseId: string): string | undefined {
    return this.callers.get(toolUseId);
  }

  private rememberCaller(id: string, parent: string | null): void {
    this.callers.set(id, parent ? (this.subAgentNames.get(parent) ?? 'sub-agent') : MAIN_AGENT);
    if (this.callers.size > MAX_REMEMBERED_CALLERS) {
      const oldest = this.callers.keys().next().value;
      if (oldest !== undefined) this.callers.delete(oldest);
    }
  }

  private nesting(parent: string | null): { parent_tool_use_id?: string; agent?: string } {
    if (!parent) return {};
    const agent = this.subAgentNames.get(parent);
    return agent ? { parent_tool_use_id: parent, agent } : { parent_tool_use_id: parent };
  }

  private assistant(content: Block[], parent: string | null): FrameDraft[] {
    const out: FrameDraft[] = [];
    const nest = this.nesting(parent);
    for (const block of content) {
      if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') {
        out.push({
          type: 'agent.message',
          payload: {
            type: 'agent_message',
            content: { type: 'text_block', text: block.text },
            ...nest,
          },
        });
      } else if (
        block.type === 'tool_use' &&
        typeof block.id === 'string' &&
        typeof block.name === 'string'
      ) {
        if (SUBAGENT_TOOLS.has(block.name)) {
          const input = block.input as
            { subagent_type?: unknown; description?: unknown } | undefined;
          const name =
            typeof input?.subagent_type === 'string' ? input.subagent_type : 'general-purpose';
          this.subAgentNames.set(block.id, name);
        }
        this.rememberCaller(block.id, parent);
        out.push({
          type: 'agent.message',
          payload: { tool: block.name, input: block.input ?? {}, id: block.id, ...nest },
        });
      } else if (
        block.type === 'thinking' &&
        typeof block.thinking === 'string' &&
        block.thinking !== ''
      ) {
        out.push({
          type: 'system.message',
          payload: {
            message: block.thinking,
            level: 'debug',
            event: 'thinking',
            ...(parent ? { data: nest } : {}),
          },
        });
      }
    }
    return out;
  }

  private user(content: unknown, parent: string | null): FrameDraft[] {
    if (!Array.isArray(content)) return [];
    const out: FrameDraft[] = [];
    const nest = this.nesting(parent);
    for (const block of content as Block[]) {
      if (block.type !== 'tool_result' || typeof block.tool_use_id !== 'string') continue;
      out.push({
        type: 'agent.message',
        payload: {
          tool_result: {
            tool_use_id: block.tool_use_id,
            content: capContent(block.content),
            is_error: block.is_error === true,
          },
          ...nest,
        },
      });
    }
    return out;
  }

  private streamEvent(msg: StreamEventMessage): FrameDraft[] {
    const ev = msg.event;
    const messageId = msg.api_message_id ?? msg.event.message?.id ?? 'message';
    const key = `${messageId}:${ev.index ?? 0}`;
    if (ev.type === 'content_block_start' && ev.content_block?.type === 'text') {
      this.streams.set(key, {
        redactor: this.redactor.stream(),
        pieces: 0,
        parent: msg.parent_tool_use_id ?? null,
      });
      return [];
    }
    if (
      ev.type === 'content_block_delta' &&
      ev.delta?.type === 'text_delta' &&
      typeof ev.delta.text === 'string'
    ) {
      const s = this.streams.get(key);
      if (!s) return [];
      return this.piece(key, s, s.redactor.push(ev.delta.text), false);
    }
    if (ev.type === 'content_block_stop') {
      const s = this.streams.get(key);
      if (!s) return [];
      this.streams.delete(key);
      return this.piece(key, s, s.redactor.end(), true);
    }
    return [];
  }

  private piece(key: string, s: OpenStream, data: string, last: boolean): FrameDraft[] {
    // FIX (review): the block's last piece must carry `total` even when the redactor held nothing
    // back at the end (the usual case): then it is an empty piece. A block with no text has none.
    if (!data && !(last && s.pieces > 0)) return [];
    const index = s.pieces++;
    return [
      {
        type: 'message.partial',
        payload: { ...this.nesting(s.parent) },
        partial: { id: key, index, total: last ? s.pieces : 0, data },
      },
    ];
  }
}

/** The contract's result summary, from an SDK result message. */
export function resultSummary(msg: Extract<SDKMessage, { type: 'result' }>): ResultSummary {
  const errors =
    'errors' in msg && Array.isArray(msg.errors) ? (msg.errors as unknown[]).map(String) : [];
  const result =
    'result' in msg && typeof msg.result === 'string'
      ? msg.result
      : errors.length
        ? errors.join('; ')
        : null;
  return {
    subtype: msg.subtype,
    duration_ms: msg.duration_ms,
    duration_api_ms: msg.duration_api_ms,
    is_error: msg.is_error,
    num_turns: msg.num_turns,
    session_id: msg.session_id,
    total_cost_usd: msg.total_cost_usd,
    usage: (msg.usage as unknown as ResultSummary['usage']) ?? null,
    result,
  };
}

function capContent(content: unknown): unknown {
  if (typeof content === 'string') return capText(content);
  if (Array.isArray(content))
    return content.map((b: unknown) =>
      b &&
      typeof b === 'object' &&
      (b as Block).type === 'text' &&
      typeof (b as Block).text === 'string'
        ? { ...(b as object), text: capText((b as Block).text as string) }
        : b,
    );
  return content ?? '';
}

function capText(s: string): string {
  if (s.length <= MAX_TOOL_RESULT_CHARS) return s;
  return `${s.slice(0, MAX_TOOL_RESULT_CHARS)}\n… [${s.length - MAX_TOOL_RESULT_CHARS} more characters not shown]`;
}

interface Block {
  type: string;
  text?: string;
  thinking?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

interface StreamEventMessage {
  type: 'stream_event';
  parent_tool_use_id?: string | null;
  api_message_id?: string;
  event: {
    type: string;
    index?: number;
    message?: { id?: string };
    content_block?: { type: string };
    delta?: { type: string; text?: string };
  };
}
