/**
 * Backend -> runner messages (contract §3): `{type, payload}`. Incoming frames are safeParsed;
 * an unknown type is logged and ignored, never fatal.
 *
 * Extension beyond the contract: `ack {seq}` tells the runner that the backend has persisted
 * every frame up to `seq`, so the runner can forget them and, after a reconnect, resend only
 * what came after. A backend that never acks still gets every frame (see docs/protocol.md).
 *
 * Extension the other way (docs/agents.md, "Delivery"): a runner that sends the header
 * `x-runner-capabilities: command-acks` on its socket upgrade gets each queued command with a
 * top-level `deliveryId`, answers `{"type":"command.ack","payload":{"id":N}}` (a control frame
 * without seq) once it has taken it, and drops a repeated id. The backend resends what was not
 * acked after a reconnect or its own restart, so each command is acted on exactly once.
 */
import { z } from 'zod';
import { parseJsonBounded, type BoundedParse } from './bounded-json.js';

const text = z.string().max(1_000_000);

/** Who sent a user message, when it did not come from the session's own user. */
export const MessageSender = z.object({
  session: z.string().optional(),
  agent: z.string().optional(),
  user: z.string().optional(),
});

export const UserMessageCommand = z.object({
  type: z.enum(['user_message', 'user.message']),
  payload: z
    .object({
      content: text.optional(),
      text: text.optional(),
      from: MessageSender.optional(),
      id: z.string().optional(),
    })
    .passthrough()
    .refine((p) => typeof (p.content ?? p.text) === 'string', {
      message: 'a user message needs payload.content or payload.text',
    }),
});

export const InterruptCommand = z.object({
  type: z.literal('interrupt'),
  payload: z.object({}).passthrough().optional(),
});

export const EndSessionCommand = z.object({
  type: z.enum(['end_session', 'terminate', 'stop']),
  payload: z.object({}).passthrough().optional(),
});

export const WorkflowChangeCommand = z.object({
  type: z.literal('workflow_change'),
  payload: z
    .object({ gitUrl: z.string(), branch: z.string().optional(), path: z.string().optional() })
    .passthrough(),
});

export const RepoAddedCommand = z.object({
  type: z.literal('repo_added'),
  payload: z
    .object({ url: z.string(), branch: z.string().optional(), name: z.string().optional() })
    .passthrough(),
});

export const RepoRemovedCommand = z.object({
  type: z.literal('repo_removed'),
  payload: z.object({ name: z.string() }).passthrough(),
});

export const PingCommand = z.object({ type: z.literal('ping'), payload: z.unknown().optional() });

export const AckCommand = z.object({
  type: z.literal('ack'),
  payload: z.object({ seq: z.number().int().nonnegative() }),
});

export const BackendCommand = z.union([
  UserMessageCommand,
  InterruptCommand,
  EndSessionCommand,
  WorkflowChangeCommand,
  RepoAddedCommand,
  RepoRemovedCommand,
  PingCommand,
  AckCommand,
]);
export type BackendCommand = z.infer<typeof BackendCommand>;

/**
 * The commands a client (a watcher, `POST …/messages`) may send: everything of contract §3 but
 * `ping` and our `ack`, which are the control plane's own.
 */
export const CLIENT_COMMAND_TYPES = [
  'user_message',
  'user.message',
  'interrupt',
  'end_session',
  'terminate',
  'stop',
  'workflow_change',
  'repo_added',
  'repo_removed',
] as const;

/** The types a runner understands; anything else is logged and ignored. */
export const KNOWN_COMMAND_TYPES: ReadonlySet<string> = new Set([
  ...CLIENT_COMMAND_TYPES,
  'ping',
  'ack',
]);

export const RUNNER_CAPABILITIES_HEADER = 'x-runner-capabilities';
export const CAPABILITY_COMMAND_ACKS = 'command-acks';
export const COMMAND_ACK = 'command.ack';

/** The backend's `deliveryId` of a command (a positive whole number), if it has one. */
export function deliveryIdOf(raw: unknown): number | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as { deliveryId?: unknown }).deliveryId;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

export type ParsedCommand =
  | { ok: true; command: BackendCommand }
  | { ok: false; reason: 'not-json' | 'unknown-type' | 'invalid'; type?: string; detail: string };

/** One schema per type, so a refusal names the field at fault rather than "Invalid input". */
const COMMAND_SCHEMAS: Record<string, z.ZodType> = {
  user_message: UserMessageCommand,
  'user.message': UserMessageCommand,
  interrupt: InterruptCommand,
  end_session: EndSessionCommand,
  terminate: EndSessionCommand,
  stop: EndSessionCommand,
  workflow_change: WorkflowChangeCommand,
  repo_added: RepoAddedCommand,
  repo_removed: RepoRemovedCommand,
  ping: PingCommand,
  ack: AckCommand,
};

/** "payload.name: required" rather than zod's "Invalid input: expected string, received undefined". */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const where = i.path.map(String).join('.') || '(command)';
      const missing = i.code === 'invalid_type' && /received undefined$/.test(i.message);
      return `${where}: ${missing ? 'required' : i.message.replace(/^Invalid input: /, '')}`;
    })
    .join('; ');
}

export function parseCommand(raw: string): ParsedCommand {
  const json = parseJsonBounded(raw);
  if (!json.ok) return { ok: false, reason: 'not-json', detail: notJsonDetail(json) };
  return commandFromValue(json.value);
}

/**
 * A frame from the backend, parsed once (the runner's socket): its command and, when it carries
 * one, its `deliveryId` (which the command schemas leave out).
 */
export function parseIncomingCommand(
  raw: string,
):
  | Extract<ParsedCommand, { ok: false }>
  | { ok: true; command: BackendCommand; deliveryId?: number } {
  const json = parseJsonBounded(raw);
  if (!json.ok) return { ok: false, reason: 'not-json', detail: notJsonDetail(json) };
  const parsed = commandFromValue(json.value);
  if (!parsed.ok) return parsed;
  const deliveryId = deliveryIdOf(json.value);
  return deliveryId === undefined ? parsed : { ...parsed, deliveryId };
}

/** Why a command frame that did not parse as JSON is refused (never quoting its text). */
function notJsonDetail(failed: Extract<BoundedParse, { ok: false }>): string {
  return failed.reason === 'too-deep' ? `command ${failed.detail}` : 'frame is not JSON';
}

/**
 * Validates a command that is already parsed JSON (a request body, a frame parsed once for more
 * than its command): the same answers as parseCommand, without serializing it again.
 */
export function commandFromValue(data: unknown): ParsedCommand {
  const type =
    typeof data === 'object' && data !== null ? (data as { type?: unknown }).type : undefined;
  const schema = typeof type === 'string' ? COMMAND_SCHEMAS[type] : undefined;
  if (typeof type !== 'string' || !schema || !KNOWN_COMMAND_TYPES.has(type)) {
    return {
      ok: false,
      reason: 'unknown-type',
      type: typeof type === 'string' ? type : undefined,
      detail: `unknown type ${String(type)}`,
    };
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success)
    return { ok: false, reason: 'invalid', type, detail: describeIssues(parsed.error.issues) };
  return { ok: true, command: parsed.data as BackendCommand };
}

/**
 * The form a backend sends (strict in what we send): `user_message` for `user.message` (the
 * original runner ignores the dotted form) and `end_session` for its synonyms. Every runner of
 * the contract understands these.
 */
export function canonicalCommand(cmd: BackendCommand): BackendCommand {
  if (cmd.type === 'user.message') return { ...cmd, type: 'user_message' };
  if (cmd.type === 'terminate' || cmd.type === 'stop') return { ...cmd, type: 'end_session' };
  return cmd;
}

export function userMessageText(cmd: z.infer<typeof UserMessageCommand>): string {
  return cmd.payload.content ?? cmd.payload.text ?? '';
}
