/**
 * The Agent SDK's message stream, read once into checked, typed events.
 *
 * The SDK types its messages after the Messages API, but what arrives is JSON from another
 * process (a newer CLI, a synthetic error message, a hand-made message in a test), so a field
 * may be missing or of another shape. This module is the only place that looks at those raw
 * shapes: the frame mapper (runner/message-mapper.ts) and the Langfuse tracer
 * (observability/langfuse/) both consume its events and never probe an SDK object themselves.
 * It never throws: a block of an unknown type, or with malformed fields, becomes an `unknown`
 * block; a message neither consumer uses becomes `other`.
 *
 * It lives in protocol/ because it is a contract (the CLI's stream, as frames.ts is ours), and
 * protocol/ is the one layer both runner/ and observability/ may import.
 *
 * Reads are cached per message object: the runner hands each message to the tracer and to the
 * mapper, and whichever reads second gets the first one's result. Events are therefore readonly.
 *
 * Field names follow the SDK's (snake_case), so they can be looked up in its docs; `kind` is ours
 * and never to be confused with the SDK's `type`.
 */
import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { SUBAGENT_TOOLS } from './agents.js';
import { UsageSchema, type ResultSummary } from './frames.js';

/** Token counts of one model call (a message's `usage`, or a `message_delta`'s). */
export interface TokenUsage {
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly cache_read_input_tokens?: number;
  readonly cache_creation_input_tokens?: number;
}

/** A block this module does not know, or one whose fields are malformed. */
export interface UnknownBlock {
  readonly kind: 'unknown';
  readonly type?: string;
  /** As the CLI sent it (frames forward tool result parts unchanged). */
  readonly raw: unknown;
}

export interface TextBlock {
  readonly kind: 'text';
  readonly text: string;
}

export interface ThinkingBlock {
  readonly kind: 'thinking';
  readonly thinking: string;
}

export interface ToolUseBlock {
  readonly kind: 'tool_use';
  readonly id: string;
  readonly name: string;
  /** `{}` when the call has none. */
  readonly input: unknown;
  /** Set when the tool starts a sub-agent (SUBAGENT_TOOLS): what the call says about it. */
  readonly subagent?: { readonly subagent_type?: string; readonly prompt?: string };
}

export type AssistantBlock = TextBlock | ThinkingBlock | ToolUseBlock | UnknownBlock;

/** A part of a tool result's content; a text part keeps its block for frames to forward. */
export type ToolResultPart =
  | {
      readonly kind: 'text';
      readonly text: string;
      readonly raw: Readonly<Record<string, unknown>>;
    }
  | UnknownBlock;

export interface ToolResultBlock {
  readonly kind: 'tool_result';
  readonly tool_use_id: string;
  readonly is_error: boolean;
  /** '' when absent; anything else that is not a string or a list becomes its JSON. */
  readonly content: string | readonly ToolResultPart[];
}

/** A user message's content is a string or a list of blocks; a string reads as one text block. */
export type UserBlock = TextBlock | ToolResultBlock | UnknownBlock;

/** Common to the messages of a conversation: null for the main agent, else the Task call's id. */
interface InConversation {
  readonly parent_tool_use_id: string | null;
}

export interface AssistantEvent extends InConversation {
  readonly kind: 'assistant';
  /** The model call's id, shared by the several messages one call may be split into. */
  readonly message_id?: string;
  readonly model?: string;
  readonly usage?: TokenUsage;
  readonly stop_reason?: string;
  /** The CLI reports a failed model call as a synthetic assistant message carrying an error. */
  readonly error?: string;
  readonly blocks: readonly AssistantBlock[];
}

export interface UserEvent extends InConversation {
  readonly kind: 'user';
  readonly blocks: readonly UserBlock[];
}

export type StreamDelta =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'thinking'; readonly thinking: string }
  | { readonly kind: 'input_json'; readonly partial_json: string }
  | UnknownBlock;

/** One streaming event of the Messages API (partial messages on). */
export type StreamPart =
  | {
      readonly kind: 'message_start';
      readonly message_id: string;
      readonly model?: string;
      readonly usage?: TokenUsage;
    }
  | { readonly kind: 'content_block_start'; readonly index: number; readonly block: AssistantBlock }
  | { readonly kind: 'content_block_delta'; readonly index: number; readonly delta: StreamDelta }
  | { readonly kind: 'content_block_stop'; readonly index: number }
  | { readonly kind: 'message_delta'; readonly usage?: TokenUsage; readonly stop_reason?: string }
  | { readonly kind: 'message_stop' }
  | { readonly kind: 'unknown'; readonly type?: string };

export interface StreamEvent extends InConversation {
  readonly kind: 'stream';
  /** The model call the event belongs to (the SDK's `api_message_id`, else message_start's id). */
  readonly message_id?: string;
  readonly event: StreamPart;
}

/** The end of a turn; every field is checked, so a missing one is absent rather than wrong. */
export interface ResultEvent {
  readonly kind: 'result';
  readonly subtype?: string;
  readonly is_error?: boolean;
  readonly session_id?: string;
  readonly num_turns?: number;
  readonly duration_ms?: number;
  readonly duration_api_ms?: number;
  readonly total_cost_usd?: number;
  /** The final text (a successful turn). */
  readonly result?: string;
  /** What went wrong (an error turn). */
  readonly errors: readonly string[];
  readonly usage: ResultSummary['usage'];
  /** The CLI's cumulative counters per model (raw; observability/langfuse/usage.ts reads them). */
  readonly modelUsage?: Readonly<Record<string, unknown>>;
}

/** The CLI is ready (it repeats this at every turn). */
export interface InitEvent {
  readonly kind: 'init';
  readonly session_id?: string;
  readonly model?: string;
  readonly cwd?: string;
  readonly tools: readonly string[];
  readonly claude_code_version?: string;
}

/** A sub-agent (or background task) started; `prompt` is what it was asked. */
export interface TaskStartedEvent {
  readonly kind: 'task_started';
  readonly tool_use_id?: string;
  readonly prompt?: string;
}

/** A sub-agent (or background task) is done. */
export interface TaskNotificationEvent {
  readonly kind: 'task_notification';
  readonly tool_use_id?: string;
}

/** Any other message (status, tool progress, compaction, …): passed through, unread. */
export interface OtherEvent {
  readonly kind: 'other';
  readonly type?: string;
  readonly subtype?: string;
}

export type SdkEvent =
  | AssistantEvent
  | UserEvent
  | StreamEvent
  | ResultEvent
  | InitEvent
  | TaskStartedEvent
  | TaskNotificationEvent
  | OtherEvent;

const reads = new WeakMap<object, SdkEvent>();

/** A message's event (read once per message object). A result message always reads as `result`. */
export function readSdkMessage(message: SDKResultMessage): ResultEvent;
export function readSdkMessage(message: unknown): SdkEvent;
export function readSdkMessage(message: unknown): SdkEvent {
  if (!isRecord(message)) return { kind: 'other' };
  let read = reads.get(message);
  if (!read) {
    read = readMessage(message);
    reads.set(message, read);
  }
  return read;
}

type Raw = Readonly<Record<string, unknown>>;

function readMessage(m: Raw): SdkEvent {
  const parent_tool_use_id = typeof m.parent_tool_use_id === 'string' ? m.parent_tool_use_id : null;
  switch (m.type) {
    case 'assistant':
      if (!isRecord(m.message)) break;
      return readAssistant(m.message, parent_tool_use_id, m.error);
    case 'user':
      if (!isRecord(m.message)) break;
      return { kind: 'user', parent_tool_use_id, blocks: readUserContent(m.message.content) };
    case 'stream_event': {
      const event = readStreamPart(m.event);
      const message_id =
        str(m.api_message_id) ?? (event.kind === 'message_start' ? event.message_id : undefined);
      return { kind: 'stream', parent_tool_use_id, message_id, event };
    }
    case 'result':
      return readResult(m);
    case 'system':
      if (m.subtype === 'init') return readInit(m);
      if (m.subtype === 'task_started')
        return { kind: 'task_started', tool_use_id: str(m.tool_use_id), prompt: str(m.prompt) };
      if (m.subtype === 'task_notification')
        return { kind: 'task_notification', tool_use_id: str(m.tool_use_id) };
      break;
  }
  return { kind: 'other', type: str(m.type), subtype: str(m.subtype) };
}

function readAssistant(
  msg: Raw,
  parent_tool_use_id: string | null,
  error: unknown,
): AssistantEvent {
  return {
    kind: 'assistant',
    parent_tool_use_id,
    message_id: str(msg.id),
    model: str(msg.model),
    usage: readUsage(msg.usage),
    stop_reason: str(msg.stop_reason),
    error:
      error === undefined || error === null
        ? undefined
        : typeof error === 'string'
          ? error
          : JSON.stringify(error),
    blocks: Array.isArray(msg.content) ? msg.content.map(readAssistantBlock) : [],
  };
}

function readAssistantBlock(b: unknown): AssistantBlock {
  if (!isRecord(b)) return unknownBlock(b);
  switch (b.type) {
    case 'text':
      if (typeof b.text === 'string') return { kind: 'text', text: b.text };
      break;
    case 'thinking':
      if (typeof b.thinking === 'string') return { kind: 'thinking', thinking: b.thinking };
      break;
    case 'tool_use':
      if (typeof b.id === 'string' && typeof b.name === 'string') {
        const input = b.input ?? {};
        if (!SUBAGENT_TOOLS.has(b.name)) return { kind: 'tool_use', id: b.id, name: b.name, input };
        const args = isRecord(input) ? input : {};
        const subagent = { subagent_type: str(args.subagent_type), prompt: str(args.prompt) };
        return { kind: 'tool_use', id: b.id, name: b.name, input, subagent };
      }
      break;
  }
  return unknownBlock(b);
}

function readUserContent(content: unknown): UserBlock[] {
  if (typeof content === 'string') return [{ kind: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  return content.map((b: unknown): UserBlock => {
    if (isRecord(b) && b.type === 'text' && typeof b.text === 'string')
      return { kind: 'text', text: b.text };
    if (isRecord(b) && b.type === 'tool_result' && typeof b.tool_use_id === 'string')
      return {
        kind: 'tool_result',
        tool_use_id: b.tool_use_id,
        is_error: b.is_error === true,
        content: readToolResultContent(b.content),
      };
    return unknownBlock(b);
  });
}

function readToolResultContent(content: unknown): string | ToolResultPart[] {
  if (typeof content === 'string') return content;
  if (content === undefined || content === null) return '';
  if (!Array.isArray(content)) return JSON.stringify(content);
  return content.map((b: unknown): ToolResultPart =>
    isRecord(b) && b.type === 'text' && typeof b.text === 'string'
      ? { kind: 'text', text: b.text, raw: b }
      : unknownBlock(b),
  );
}

function readStreamPart(ev: unknown): StreamPart {
  if (!isRecord(ev)) return { kind: 'unknown' };
  // The API always numbers blocks; a missing index is the first block.
  const index = typeof ev.index === 'number' ? ev.index : 0;
  switch (ev.type) {
    case 'message_start': {
      const msg = isRecord(ev.message) ? ev.message : {};
      if (typeof msg.id !== 'string') break;
      return {
        kind: 'message_start',
        message_id: msg.id,
        model: str(msg.model),
        usage: readUsage(msg.usage),
      };
    }
    case 'content_block_start':
      return { kind: 'content_block_start', index, block: readAssistantBlock(ev.content_block) };
    case 'content_block_delta':
      return { kind: 'content_block_delta', index, delta: readDelta(ev.delta) };
    case 'content_block_stop':
      return { kind: 'content_block_stop', index };
    case 'message_delta':
      return {
        kind: 'message_delta',
        usage: readUsage(ev.usage),
        stop_reason: isRecord(ev.delta) ? str(ev.delta.stop_reason) : undefined,
      };
    case 'message_stop':
      return { kind: 'message_stop' };
  }
  return { kind: 'unknown', type: str(ev.type) };
}

function readDelta(d: unknown): StreamDelta {
  if (!isRecord(d)) return unknownBlock(d);
  if (d.type === 'text_delta' && typeof d.text === 'string') return { kind: 'text', text: d.text };
  if (d.type === 'thinking_delta' && typeof d.thinking === 'string')
    return { kind: 'thinking', thinking: d.thinking };
  if (d.type === 'input_json_delta' && typeof d.partial_json === 'string')
    return { kind: 'input_json', partial_json: d.partial_json };
  return unknownBlock(d);
}

function readResult(m: Raw): ResultEvent {
  const usage = UsageSchema.safeParse(m.usage);
  return {
    kind: 'result',
    subtype: str(m.subtype),
    is_error: typeof m.is_error === 'boolean' ? m.is_error : undefined,
    session_id: str(m.session_id),
    num_turns: count(m.num_turns),
    duration_ms: count(m.duration_ms),
    duration_api_ms: count(m.duration_api_ms),
    total_cost_usd: count(m.total_cost_usd),
    result: str(m.result),
    errors: Array.isArray(m.errors) ? m.errors.map(String) : [],
    usage: usage.success ? usage.data : null,
    modelUsage: isRecord(m.modelUsage) ? m.modelUsage : undefined,
  };
}

function readInit(m: Raw): InitEvent {
  return {
    kind: 'init',
    session_id: str(m.session_id),
    model: str(m.model),
    cwd: str(m.cwd),
    tools: Array.isArray(m.tools) ? m.tools.filter((t) => typeof t === 'string') : [],
    claude_code_version: str(m.claude_code_version),
  };
}

/** Only the counts that are numbers; an absent or malformed one is left out. */
function readUsage(u: unknown): TokenUsage | undefined {
  if (!isRecord(u)) return undefined;
  const out: Record<string, number> = {};
  for (const k of [
    'input_tokens',
    'output_tokens',
    'cache_read_input_tokens',
    'cache_creation_input_tokens',
  ] as const) {
    const n = count(u[k]);
    if (n !== undefined && n >= 0) out[k] = n;
  }
  return out;
}

function unknownBlock(raw: unknown): UnknownBlock {
  return { kind: 'unknown', type: isRecord(raw) ? str(raw.type) : undefined, raw };
}

function isRecord(v: unknown): v is Raw {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A finite number (the API's counts, durations and costs). */
function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
