/**
 * A session's history as the control plane stores it and sends it to watchers (socket and
 * `GET …/messages`), and the watcher's control frames (docs/protocol.md).
 *
 * Every entry: `{seq, run, runSeq?, type, timestamp, sessionId, payload, partial?}`. `seq` is the
 * session-wide history position (strictly increasing across runs); `runSeq` is the runner's own
 * frame seq within its run, present only on entries that came from a runner. The control plane's
 * own entries (user messages, phase changes, …) have no `runSeq`.
 *
 * `HistoryEntry` is the envelope every entry has (any type, payload unchecked): what a client
 * receives. `KnownHistoryEntry` is the typed union of every entry this version writes; a client
 * parses with `parseHistoryEntry` and shows an entry that does not match generically (an entry
 * is never dropped for its shape: a newer control plane or another runner may write more).
 */
import { z } from 'zod';
import { MessageSender } from './commands.js';
import { AgentMessagePayload, LOG_LEVELS, PartialInfo } from './frames.js';
import { PHASES } from './status.js';

// ---------------------------------------------------------------------------------------------
// Events

/** The `system.message` events with which a runner ends a run (docs/runner.md): its last frame. */
export const CLOSING_EVENTS = ['session.completed', 'session.failed', 'session.stopped'] as const;
const CLOSING_EVENT_SET: ReadonlySet<string> = new Set(CLOSING_EVENTS);

/** Whether a frame (type and payload) is a run's closing frame. */
export function isClosingFrame(type: string, payload: unknown): boolean {
  return (
    type === 'system.message' &&
    CLOSING_EVENT_SET.has(String((payload as { event?: unknown } | null)?.event))
  );
}

export const PHASE_CHANGED_EVENT = 'phase.changed';
export const CHILD_CREATED_EVENT = 'session.child_created';
export const MESSAGE_SENT_EVENT = 'session.message_sent';
/** A runner frame the hub refused, recorded in its place. */
export const FRAME_REFUSED_EVENT = 'frame.refused';

/**
 * Events only the control plane writes: the hub stores a runner frame that claims one with the
 * event renamed `runner.<event>` (`FORGED_EVENT_PREFIX`), so nobody takes a runner's word for them.
 */
export const CONTROL_PLANE_EVENTS: ReadonlySet<string> = new Set([
  PHASE_CHANGED_EVENT,
  CHILD_CREATED_EVENT,
  MESSAGE_SENT_EVENT,
  FRAME_REFUSED_EVENT,
]);
export const FORGED_EVENT_PREFIX = 'runner.';

// ---------------------------------------------------------------------------------------------
// Payloads

/** Set on what a sub-agent did (docs/protocol.md), so clients can nest it. */
const subAgentFields = {
  parent_tool_use_id: z.string().nullable().optional(),
  agent: z.string().optional(),
};

const systemText = {
  message: z.string(),
  level: z.enum(LOG_LEVELS).optional(),
};

/** Any `system.message` payload (a runner's, or one of the control plane's below). */
export const SystemPayload = z.object({
  ...systemText,
  event: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  ...subAgentFields,
});

/** The control plane's phase change of a run (`runOver`: the run's frames are all in). */
export const PhaseChangedPayload = z.object({
  ...systemText,
  event: z.literal(PHASE_CHANGED_EVENT),
  data: z.object({
    phase: z.enum(PHASES),
    run: z.number().int(),
    message: z.string().optional(),
    runOver: z.boolean().optional(),
  }),
});
export type PhaseChangedPayload = z.infer<typeof PhaseChangedPayload>;

/** The session created another one (sessions as tools, docs/agents.md). */
export const ChildCreatedPayload = z.object({
  ...systemText,
  event: z.literal(CHILD_CREATED_EVENT),
  data: z.object({ child: z.string(), depth: z.number().int() }),
});

/** The session sent a message to another one (docs/agents.md). */
export const MessageSentPayload = z.object({
  ...systemText,
  event: z.literal(MESSAGE_SENT_EVENT),
  data: z.object({
    to: z.string(),
    content: z.string(),
    from: MessageSender,
    id: z.number().int(),
  }),
});

/** A runner frame refused (`stored: false`: dropped without taking its seq). */
export const FrameRefusedPayload = z.object({
  ...systemText,
  event: z.literal(FRAME_REFUSED_EVENT),
  data: z.object({
    seq: z.number().int().optional(),
    type: z.string().optional(),
    reason: z.string(),
    stored: z.literal(false).optional(),
  }),
});

export const SystemMessagePayload = z.union([
  PhaseChangedPayload,
  ChildCreatedPayload,
  MessageSentPayload,
  FrameRefusedPayload,
  SystemPayload,
]);
export type SystemMessagePayload = z.infer<typeof SystemMessagePayload>;

/** A user message as the control plane records it (`via`: rest, watcher, session). */
export const UserMessagePayload = z.object({
  content: z.string().optional(),
  /** The contract's other spelling of `content`. */
  text: z.string().optional(),
  from: MessageSender.optional(),
  via: z.string().optional(),
  id: z.string().optional(),
});
export type UserMessagePayload = z.infer<typeof UserMessagePayload>;

// ---------------------------------------------------------------------------------------------
// Entries

/** The fields every entry has besides its type, payload and partial. */
const envelope = {
  seq: z
    .number()
    .int()
    .positive()
    .meta({ description: 'Session-wide history position (strictly increasing across runs).' }),
  run: z.number().int().positive(),
  runSeq: z.number().int().positive().optional().meta({
    description: "The runner's own seq within its run (absent for entries the hub wrote).",
  }),
  timestamp: z.string(),
  sessionId: z.string(),
};

/** One history entry as stored and as sent to watchers: any type, payload unchecked. */
export const HistoryEntry = z
  .object({
    seq: envelope.seq,
    run: envelope.run,
    runSeq: envelope.runSeq,
    type: z.string(),
    timestamp: envelope.timestamp,
    sessionId: envelope.sessionId,
    payload: z.unknown(),
    partial: z.unknown().optional(),
  })
  .passthrough();
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** The type, payload and partial of each kind of entry (without the envelope). */
const bodies = {
  system: {
    type: z.literal('system.message'),
    payload: SystemMessagePayload,
  },
  agent: {
    type: z.literal('agent.message'),
    payload: AgentMessagePayload,
  },
  partial: {
    type: z.literal('message.partial'),
    payload: z.object({ ...subAgentFields }).passthrough(),
    partial: PartialInfo,
  },
  running: { type: z.literal('agent.running'), payload: z.object({}).passthrough() },
  waiting: { type: z.literal('agent.waiting'), payload: z.object({}).passthrough() },
  user: { type: z.enum(['user_message', 'user.message']), payload: UserMessagePayload },
};

/** Every entry type this version writes. */
export const HISTORY_ENTRY_TYPES = [
  'system.message',
  'agent.message',
  'message.partial',
  'agent.running',
  'agent.waiting',
  'user_message',
  'user.message',
] as const;

/**
 * The kinds of entry without their envelope, for a client that holds only type and payload
 * (rendering needs no more).
 */
export const HistoryEntryBody = z.discriminatedUnion('type', [
  z.object(bodies.system),
  z.object(bodies.agent),
  z.object(bodies.partial),
  z.object(bodies.running),
  z.object(bodies.waiting),
  z.object(bodies.user),
]);
export type HistoryEntryBody = z.infer<typeof HistoryEntryBody>;

/** Every entry this version writes: the runner frames and the control plane's own entries. */
export const KnownHistoryEntry = z.discriminatedUnion('type', [
  z.object({ ...envelope, ...bodies.system }),
  z.object({ ...envelope, ...bodies.agent }),
  z.object({ ...envelope, ...bodies.partial }),
  z.object({ ...envelope, ...bodies.running }),
  z.object({ ...envelope, ...bodies.waiting }),
  z.object({ ...envelope, ...bodies.user }),
]);
export type KnownHistoryEntry = z.infer<typeof KnownHistoryEntry>;

/** The typed entry, or undefined for a type or shape this version does not know. */
export function parseHistoryEntry(entry: unknown): KnownHistoryEntry | undefined {
  const r = KnownHistoryEntry.safeParse(entry);
  return r.success ? r.data : undefined;
}

/** The typed type and payload of an entry, or undefined for one this version does not know. */
export function parseHistoryBody(entry: {
  type: string;
  payload?: unknown;
  partial?: unknown;
}): HistoryEntryBody | undefined {
  const r = HistoryEntryBody.safeParse({
    type: entry.type,
    payload: entry.payload,
    ...(entry.partial !== undefined ? { partial: entry.partial } : {}),
  });
  return r.success ? r.data : undefined;
}

/** A phase change written by the control plane (a runner's claim is renamed, or has a runSeq). */
export function isPhaseChanged(payload: SystemMessagePayload): payload is PhaseChangedPayload {
  return payload.event === PHASE_CHANGED_EVENT && PhaseChangedPayload.safeParse(payload).success;
}

/** `GET …/messages`: one page of history. */
export const HistoryPage = z.object({
  items: z.array(HistoryEntry),
  lastSeq: z
    .number()
    .int()
    .meta({ description: 'Position of the last item returned (the after_seq of the next page).' }),
  hasMore: z.boolean(),
});
export type HistoryPage = z.infer<typeof HistoryPage>;

/** What `POST …/messages` (and a watcher's command) answers. */
export const SendResult = z.object({
  id: z.number().int().meta({ description: 'Position of the message in the outbox.' }),
  type: z.string(),
  delivered: z
    .boolean()
    .meta({ description: 'Sent to a connected runner now (else queued until it connects).' }),
  seq: z.number().int().optional().meta({ description: 'History position of a user message.' }),
});
export type SendResult = z.infer<typeof SendResult>;

// ---------------------------------------------------------------------------------------------
// The watcher's control frames: no `seq`, never stored

const control = { timestamp: z.string() };

/** Answers a watcher's `ping`. */
export const WatcherPong = z.object({
  ...control,
  type: z.literal('pong'),
  payload: z.object({}).passthrough(),
});
/** A watcher's command was refused. */
export const WatcherError = z.object({
  ...control,
  type: z.literal('error'),
  payload: z.object({ message: z.string() }),
});
/** A watcher's command was queued for the runner (payload: its `SendResult`). */
export const CommandAccepted = z.object({
  ...control,
  type: z.literal('command.accepted'),
  payload: SendResult.partial().extend({ type: z.string() }),
});
/** Control frame telling a watcher that it waits for its turn to catch up. */
export const CATCH_UP_QUEUED = 'catchup.queued';
export const CatchUpQueued = z.object({
  ...control,
  type: z.literal(CATCH_UP_QUEUED),
  payload: z.object({
    /** 1-based place in line. */
    position: z.number().int(),
    /** Where its catch-up will start. */
    afterSeq: z.number().int(),
    catchingUp: z.number().int(),
    limit: z.number().int(),
  }),
});

export const WatcherControlFrame = z.discriminatedUnion('type', [
  WatcherPong,
  WatcherError,
  CommandAccepted,
  CatchUpQueued,
]);
export type WatcherControlFrame = z.infer<typeof WatcherControlFrame>;
