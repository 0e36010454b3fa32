/**
 * SDK messages -> socket frames (contract §3). Pure apart from its own small state (open text
 * streams, sub-agent names), so it is unit-tested without a CLI. It maps the events
 * protocol/sdk-stream.ts reads from each message (the tracer consumes the same read).
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
import type { SDKMessage, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import type { Redactor, StreamRedactor } from '../observability/redact.js';
import { MAIN_AGENT } from '../protocol/agents.js';
import type { FrameDraft, ResultSummary } from '../protocol/frames.js';
import {
  readSdkMessage,
  type AssistantBlock,
  type InitEvent,
  type ResultEvent,
  type StreamEvent,
  type ToolResultBlock,
  type UserBlock,
} from '../protocol/sdk-stream.js';

/** Tool results larger than this are cut in frames (the agent itself saw them whole). */
export const MAX_TOOL_RESULT_CHARS = 256 * 1024;
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
  /** Told each time a tool call's caller becomes known (a sessions tool may be waiting for it). */
  private readonly callerListeners = new Set<(toolUseId: string, agent: string) => void>();
  private initSession: string | undefined;

  constructor(private readonly redactor: Redactor) {}

  /** The frames of one SDK message (read through protocol/sdk-stream.ts). */
  map(msg: SDKMessage): FrameDraft[] {
    const read = readSdkMessage(msg);
    switch (read.kind) {
      case 'assistant':
        return this.assistant(read.blocks, read.parent_tool_use_id);
      case 'user':
        return this.user(read.blocks, read.parent_tool_use_id);
      case 'stream':
        return this.streamEvent(read);
      case 'result':
        return [
          {
            type: 'agent.message',
            payload: { type: 'result.message', payload: summaryOf(read) },
          },
        ];
      case 'init':
        return this.init(read);
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

  /** Calls `listener` whenever a tool call's caller becomes known; returns the unsubscribe. */
  onCallerKnown(listener: (toolUseId: string, agent: string) => void): () => void {
    this.callerListeners.add(listener);
    return () => this.callerListeners.delete(listener);
  }

  private rememberCaller(id: string, parent: string | null): void {
    const agent = parent ? (this.subAgentNames.get(parent) ?? 'sub-agent') : MAIN_AGENT;
    this.callers.set(id, agent);
    for (const listener of [...this.callerListeners]) listener(id, agent);
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

  private init(init: InitEvent): FrameDraft[] {
    // The CLI repeats init at every turn; the platform needs it once per CLI session.
    if (!init.session_id || init.session_id === this.initSession) return [];
    this.initSession = init.session_id;
    return [
      {
        type: 'system.message',
        payload: {
          message: `Claude Code ready (model ${init.model}, ${init.tools.length} tools)`,
          level: 'debug',
          event: 'cli.init',
          data: {
            model: init.model,
            cwd: init.cwd,
            tools: init.tools,
            claude_code_version: init.claude_code_version,
          },
        },
      },
    ];
  }

  private assistant(blocks: readonly AssistantBlock[], parent: string | null): FrameDraft[] {
    const out: FrameDraft[] = [];
    const nest = this.nesting(parent);
    for (const block of blocks) {
      if (block.kind === 'text' && block.text !== '') {
        out.push({
          type: 'agent.message',
          payload: {
            type: 'agent_message',
            content: { type: 'text_block', text: block.text },
            ...nest,
          },
        });
      } else if (block.kind === 'tool_use') {
        if (block.subagent)
          this.subAgentNames.set(block.id, block.subagent.subagent_type ?? 'general-purpose');
        this.rememberCaller(block.id, parent);
        out.push({
          type: 'agent.message',
          payload: { tool: block.name, input: block.input, id: block.id, ...nest },
        });
      } else if (block.kind === 'thinking' && block.thinking !== '') {
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

  private user(blocks: readonly UserBlock[], parent: string | null): FrameDraft[] {
    const out: FrameDraft[] = [];
    const nest = this.nesting(parent);
    for (const block of blocks) {
      if (block.kind !== 'tool_result') continue;
      out.push({
        type: 'agent.message',
        payload: {
          tool_result: {
            tool_use_id: block.tool_use_id,
            content: capContent(block.content),
            is_error: block.is_error,
          },
          ...nest,
        },
      });
    }
    return out;
  }

  private streamEvent(msg: StreamEvent): FrameDraft[] {
    const ev = msg.event;
    if (
      ev.kind !== 'content_block_start' &&
      ev.kind !== 'content_block_delta' &&
      ev.kind !== 'content_block_stop'
    )
      return [];
    const key = `${msg.message_id ?? 'message'}:${ev.index}`;
    if (ev.kind === 'content_block_start') {
      if (ev.block.kind === 'text')
        this.streams.set(key, {
          redactor: this.redactor.stream(),
          pieces: 0,
          parent: msg.parent_tool_use_id,
        });
      return [];
    }
    const s = this.streams.get(key);
    if (!s) return [];
    if (ev.kind === 'content_block_delta')
      return ev.delta.kind === 'text'
        ? this.piece(key, s, s.redactor.push(ev.delta.text), false)
        : [];
    this.streams.delete(key);
    return this.piece(key, s, s.redactor.end(), true);
  }

  private piece(key: string, s: OpenStream, data: string, last: boolean): FrameDraft[] {
    // The block's last piece must carry `total` even when the redactor held nothing back at the
    // end (the usual case): then it is an empty piece. A block with no text has none.
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
export function resultSummary(msg: SDKResultMessage): ResultSummary {
  return summaryOf(readSdkMessage(msg));
}

/** A field the CLI left out is reported as 0 / '' so that the frame stays valid. */
function summaryOf(r: ResultEvent): ResultSummary {
  return {
    subtype: r.subtype ?? '',
    duration_ms: r.duration_ms ?? 0,
    duration_api_ms: r.duration_api_ms ?? 0,
    is_error: r.is_error ?? false,
    num_turns: r.num_turns ?? 0,
    session_id: r.session_id ?? '',
    total_cost_usd: r.total_cost_usd ?? 0,
    usage: r.usage,
    result: r.result ?? (r.errors.length ? r.errors.join('; ') : null),
  };
}

/** Tool result text cut to MAX_TOOL_RESULT_CHARS; other parts forwarded as the CLI sent them. */
function capContent(content: ToolResultBlock['content']): unknown {
  if (typeof content === 'string') return capText(content);
  return content.map((part) =>
    part.kind === 'text' ? { ...part.raw, text: capText(part.text) } : part.raw,
  );
}

function capText(s: string): string {
  if (s.length <= MAX_TOOL_RESULT_CHARS) return s;
  return `${s.slice(0, MAX_TOOL_RESULT_CHARS)}\n… [${s.length - MAX_TOOL_RESULT_CHARS} more characters not shown]`;
}
