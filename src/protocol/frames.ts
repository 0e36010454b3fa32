/**
 * Runner -> backend frames (contract §3). One schema per frame type; the union is shared by the
 * runner that builds frames and the hub that validates, stores and fans them out.
 *
 * Every frame: {seq, type, timestamp, payload, partial?}. `seq` starts at 1 and strictly
 * increases within a run. The hub stamps `sessionId` on frames it re-broadcasts to watchers.
 *
 * Extensions beyond the contract (documented in docs/protocol.md):
 * - `agent.message` payloads may carry `parent_tool_use_id` and `agent` when produced inside a
 *   sub-agent, so clients can nest them;
 * - `system.message` payloads may carry `event` (a machine-readable name such as
 *   `session.started`) and `data` (structured details, e.g. a PR URL).
 */
import { z } from 'zod';

export const LOG_LEVELS = ['info', 'debug', 'warn', 'error', 'system'] as const;

const base = {
  seq: z.number().int().positive(),
  timestamp: z.string(),
  sessionId: z.string().optional(),
};

const subAgentFields = {
  parent_tool_use_id: z.string().nullable().optional(),
  agent: z.string().optional(),
};

export const TextMessagePayload = z.object({
  type: z.literal('agent_message'),
  content: z.object({ type: z.literal('text_block'), text: z.string() }),
  ...subAgentFields,
});

export const ToolCallPayload = z.object({
  tool: z.string(),
  input: z.unknown(),
  id: z.string(),
  ...subAgentFields,
});

export const ToolResultPayload = z.object({
  tool_result: z.object({
    tool_use_id: z.string(),
    content: z.unknown(),
    is_error: z.boolean(),
  }),
  ...subAgentFields,
});

export const UsageSchema = z
  .object({
    input_tokens: z.number().optional(),
    output_tokens: z.number().optional(),
    cache_read_input_tokens: z.number().optional(),
    cache_creation_input_tokens: z.number().optional(),
  })
  .passthrough();

export const ResultSummary = z.object({
  subtype: z.string(),
  duration_ms: z.number(),
  duration_api_ms: z.number(),
  is_error: z.boolean(),
  num_turns: z.number(),
  session_id: z.string(),
  total_cost_usd: z.number(),
  usage: UsageSchema.nullable(),
  result: z.string().nullable(),
});
export type ResultSummary = z.infer<typeof ResultSummary>;

export const ResultMessagePayload = z.object({
  type: z.literal('result.message'),
  payload: ResultSummary,
});

export const AgentMessagePayload = z.union([
  TextMessagePayload,
  ToolCallPayload,
  ToolResultPayload,
  ResultMessagePayload,
]);
export type AgentMessagePayload = z.infer<typeof AgentMessagePayload>;

export const SystemMessageFrame = z.object({
  ...base,
  type: z.literal('system.message'),
  payload: z.object({
    message: z.string(),
    level: z.enum(LOG_LEVELS).optional(),
    event: z.string().optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const AgentMessageFrame = z.object({
  ...base,
  type: z.literal('agent.message'),
  payload: AgentMessagePayload,
});

export const PartialInfo = z.object({
  /** `<assistant message id>:<content block index>`: all pieces of one streamed block. */
  id: z.string(),
  /** 0-based position of this piece within the block. */
  index: z.number().int().nonnegative(),
  /** Number of pieces in the block once known; 0 while the block is still streaming. */
  total: z.number().int().nonnegative(),
  data: z.string(),
});

export const MessagePartialFrame = z.object({
  ...base,
  type: z.literal('message.partial'),
  payload: z.object({ ...subAgentFields }).passthrough(),
  partial: PartialInfo,
});

export const AgentRunningFrame = z.object({
  ...base,
  type: z.literal('agent.running'),
  payload: z.object({}).passthrough(),
});

export const AgentWaitingFrame = z.object({
  ...base,
  type: z.literal('agent.waiting'),
  payload: z.object({}).passthrough(),
});

export const RunnerFrame = z.discriminatedUnion('type', [
  SystemMessageFrame,
  AgentMessageFrame,
  MessagePartialFrame,
  AgentRunningFrame,
  AgentWaitingFrame,
]);
export type RunnerFrame = z.infer<typeof RunnerFrame>;
export type RunnerFrameType = RunnerFrame['type'];

/** A frame before the socket layer numbers and stamps it. */
export type FrameDraft = RunnerFrame extends infer F
  ? F extends RunnerFrame
    ? Omit<F, 'seq' | 'timestamp' | 'sessionId'>
    : never
  : never;

/**
 * Control frames are not part of the history: they carry no seq and are never persisted.
 * `pong` answers a backend `ping`.
 */
export const PongFrame = z.object({
  type: z.literal('pong'),
  timestamp: z.string(),
  payload: z.object({}).passthrough(),
});

/**
 * `system.message` texts that are lifecycle events: the original runner sends them as a bare
 * string payload (`"session.completed"`) or as `{message}` without `event`.
 */
export const LIFECYCLE_WORDS: ReadonlySet<string> = new Set([
  'session.started',
  'session.completed',
  'session.failed',
  'session.stopped',
  'interactive.ended',
  'pr.intent',
]);

/** A timestamp without a zone (`datetime.utcnow().isoformat()`): the original means UTC. */
const ZONELESS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Tolerance for runners that speak the contract loosely (the original Python runner does): be
 * strict in what we send, tolerant in what we accept. Returns the frame in the shapes of
 * `RunnerFrame` and what was changed (for the log); a frame that cannot be understood is left as
 * it is for validation to refuse.
 *
 * - `system.message` with a bare string payload -> `{message, event?}` (`event` when the string
 *   is a lifecycle word, so the closing frame is recognized); `{message}` naming a lifecycle word
 *   without `event` gets it;
 * - `tool_result.is_error: null` (every successful tool result) -> `false`;
 * - a timestamp without a zone -> taken as UTC, ISO with `Z`; a numeric one (epoch ms) -> ISO;
 * - `partial: null` -> absent;
 * - `agent.message` with a string payload and a `partial` -> `message.partial`; with a string
 *   payload alone -> a text message.
 */
export function normalizeRunnerFrame(input: Record<string, unknown>): {
  frame: Record<string, unknown>;
  notes: string[];
} {
  const frame: Record<string, unknown> = { ...input };
  const notes: string[] = [];
  if (frame.partial === null) {
    delete frame.partial;
    notes.push('partial: null dropped');
  }
  const ts = frame.timestamp;
  if (typeof ts === 'string' && ZONELESS.test(ts)) {
    const d = new Date(`${ts}Z`);
    if (!Number.isNaN(d.getTime())) {
      frame.timestamp = d.toISOString();
      notes.push('timestamp without a zone taken as UTC');
    }
  } else if (typeof ts === 'number' && Number.isFinite(ts)) {
    const d = new Date(ts);
    if (!Number.isNaN(d.getTime())) {
      frame.timestamp = d.toISOString();
      notes.push('numeric timestamp taken as epoch milliseconds');
    }
  }
  const payload = frame.payload;
  if (frame.type === 'system.message') {
    if (typeof payload === 'string') {
      frame.payload = {
        message: payload,
        ...(LIFECYCLE_WORDS.has(payload) ? { event: payload } : {}),
      };
      notes.push('system.message payload was a bare string');
    } else if (
      isObject(payload) &&
      payload.event === undefined &&
      typeof payload.message === 'string' &&
      LIFECYCLE_WORDS.has(payload.message)
    ) {
      frame.payload = { ...payload, event: payload.message };
      notes.push('lifecycle system.message without event');
    }
  } else if (frame.type === 'agent.message') {
    if (typeof payload === 'string' && isObject(frame.partial)) {
      frame.type = 'message.partial';
      frame.payload = {};
      notes.push('agent.message with a partial taken as message.partial');
    } else if (typeof payload === 'string') {
      frame.payload = { type: 'agent_message', content: { type: 'text_block', text: payload } };
      notes.push('agent.message payload was a bare string');
    } else if (isObject(payload) && isObject(payload.tool_result)) {
      const r = payload.tool_result;
      if (r.is_error === null || r.is_error === undefined) {
        frame.payload = { ...payload, tool_result: { ...r, is_error: false } };
        notes.push('tool_result.is_error: null taken as false');
      }
    }
  }
  return { frame, notes };
}
