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
