/**
 * The one owner of command delivery to runners: enqueue → deliver → ack → delivered (or
 * discarded when the run ends). The session service (`POST …/messages`) and the hub (a watcher's
 * command) both hand it a command already parsed and typed; it checks that the session can take
 * it, records a user message in the history, stores the command in its canonical form as the JSON
 * that is sent (the outbox outlives a restart of serve), and sends it to the run's runner when one
 * is attached. Neither caller depends on the other.
 *
 * Exactly once (docs/agents.md, "Delivery, exactly once"): a runner that acks commands
 * (`x-runner-capabilities: command-acks`) gets each with its outbox id as `deliveryId`; it stays
 * queued until the runner's `command.ack`, so a reconnect or a restart of serve sends it again and
 * the runner drops the repeat. A runner without acks gets each once written to its socket (at
 * most once: a connection lost mid-way can lose it).
 */
import { RequestError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { CONTROL_CHARS, CONTROL_CHARS_MESSAGE } from '../../protocol/api.js';
import { canonicalCommand, parseCommand, type BackendCommand } from '../../protocol/commands.js';
import { TERMINAL_PHASES } from '../../protocol/status.js';
import type { HistoryLog } from '../hub/history-log.js';
import type { SendResult } from '../../protocol/history.js';
import { sessionRedactor, type ControlPlaneRedactor } from '../redaction.js';
import type { SessionRow, Store } from '../store/index.js';
import { ValidationError } from '../validation.js';

/** Where a command came from, recorded with a user message (`via`). */
export type CommandSource = 'api' | 'session' | 'watcher';

/** The part of a runner's connection that delivery needs (the hub's RunnerLink). */
export interface CommandChannel {
  readonly run: number;
  readonly open: boolean;
  /** The runner confirms each command it takes (`command.ack {id}`). */
  readonly commandAcks: boolean;
  /** Writes one text frame; `done` hears whether it was written. */
  send(json: string, done: (err?: Error) => void): void;
}

export interface CommandDeliveryOptions {
  store: Store;
  history: HistoryLog;
  redactor: ControlPlaneRedactor;
  logger: Logger;
}

interface Attached {
  channel: CommandChannel;
  /** Outbox ids sent on this channel and not yet confirmed (written, or acked by the runner). */
  inFlight: Set<number>;
}

export class CommandDelivery {
  private readonly attached = new Map<string, Attached>();

  constructor(private readonly o: CommandDeliveryOptions) {}

  /**
   * Queues a command for the session's current run and sends it if its runner is attached.
   * Throws RequestError (404, 409) or ValidationError for what the caller must change.
   */
  submit(session: string, command: BackendCommand, via: CommandSource): SendResult {
    const row = this.o.store.sessions.get(session);
    if (!row) throw new RequestError(404, `session ${session} not found`);
    if (command.type === 'ack' || command.type === 'ping')
      throw new ValidationError([`type: ${command.type} is the control plane's own`], ['type']);
    refuseControlChars(command.payload, 'payload');
    // Strict in what we send: the form every runner understands (the original ignores
    // `user.message`), so "delivered" means the runner can act on it.
    command = canonicalCommand(command);
    // A runner that has reported a terminal phase is about to exit: a message queued now would
    // never be read, so it is refused rather than silently lost.
    if (!this.runIsLive(row) || TERMINAL_PHASES.has(row.phase))
      throw new RequestError(
        409,
        `session ${session} is ${row.phase}: start it again (POST …/start) before sending messages`,
      );
    let seq: number | undefined;
    if (command.type === 'user_message' || command.type === 'user.message') {
      const content = command.payload.content ?? command.payload.text ?? '';
      const from = command.payload.from ?? { user: row.spec.userContext?.userId ?? 'user' };
      command = { ...command, payload: { ...command.payload, from } };
      seq = this.o.history.append(session, row.currentRun, null, {
        type: 'user_message',
        payload: sessionRedactor(this.o.redactor, row.spec.environmentVariables).redactDeep({
          content,
          from,
          via,
          ...(command.payload.id ? { id: command.payload.id } : {}),
        }),
      });
    }
    const id = this.o.store.messages.enqueue(
      session,
      row.currentRun,
      command.type,
      JSON.stringify(command),
    );
    const delivered = this.attached.get(session)?.channel.open ?? false;
    this.deliver(session);
    return { id, type: command.type, delivered, ...(seq !== undefined ? { seq } : {}) };
  }

  /** A runner connected (replacing any earlier connection of the session): send what is queued. */
  attach(session: string, channel: CommandChannel): void {
    this.attached.set(session, { channel, inFlight: new Set() });
    this.deliver(session);
  }

  /** The runner's connection is gone; a newer one that replaced it stays attached. */
  detach(session: string, channel: CommandChannel): void {
    if (this.attached.get(session)?.channel === channel) this.attached.delete(session);
  }

  /** The runner on `channel` confirmed the command with outbox id `id` (`command.ack`). */
  ack(session: string, channel: CommandChannel, id: number): void {
    const a = this.attached.get(session);
    if (a?.channel === channel) a.inFlight.delete(id);
    this.markDelivered(session, id);
  }

  /** The session's run ended: drops what its runner never received; returns how many. */
  discard(session: string): number {
    return this.o.store.messages.discardQueued(session);
  }

  /** Sends the attached run's queued commands that are not already on their way, oldest first. */
  private deliver(session: string): void {
    const a = this.attached.get(session);
    if (!a?.channel.open) return;
    const { channel, inFlight } = a;
    for (const m of this.o.store.messages.queued(session, channel.run)) {
      if (inFlight.has(m.id)) continue;
      inFlight.add(m.id);
      const command = canonicalJson(m.type, m.command);
      if (channel.commandAcks) {
        channel.send(withDeliveryId(command, m.id), (err) => {
          if (err) inFlight.delete(m.id); // stays queued: sent again on the next connection
        });
        continue;
      }
      channel.send(command, (err) => {
        inFlight.delete(m.id);
        if (err) return; // stays queued: delivered on the next connection
        this.markDelivered(session, m.id);
      });
    }
  }

  private markDelivered(session: string, id: number): void {
    try {
      this.o.store.messages.markDelivered(id, session);
    } catch (e) {
      // The session was deleted meanwhile: nothing is left to mark.
      this.o.logger.debug('command not marked delivered', { session, id, error: String(e) });
    }
  }

  /** Whether the session's current run exists and has not ended (the runs table says). */
  private runIsLive(row: SessionRow): boolean {
    const run = this.o.store.runs.get(row.name, row.currentRun);
    return !!run && run.state !== 'ended';
  }
}

/**
 * The stored command as it is sent. Commands are stored canonical, so this is the stored JSON;
 * only a row queued by an earlier version with a non-canonical type is parsed and rewritten.
 */
function canonicalJson(type: string, json: string): string {
  if (!NON_CANONICAL_TYPES.has(type)) return json;
  const parsed = parseCommand(json);
  return parsed.ok ? JSON.stringify(canonicalCommand(parsed.command)) : json;
}

const NON_CANONICAL_TYPES: ReadonlySet<string> = new Set(['user.message', 'terminate', 'stop']);

/**
 * `{...command, "deliveryId": id}` without parsing the stored JSON again: it is the output of
 * JSON.stringify of an object with at least a `type`, so it ends in `}` after a member.
 */
export function withDeliveryId(json: string, id: number): string {
  return `${json.slice(0, json.lastIndexOf('}'))},"deliveryId":${id}}`;
}

/**
 * Refuses a message whose text holds a NUL or another control character (tab, newline and CR
 * are fine), naming the field and never echoing the value. The walk is iterative; bodies are
 * depth-bounded anyway.
 */
export function refuseControlChars(value: unknown, prefix = ''): void {
  const stack: [unknown, string][] = [[value, prefix]];
  while (stack.length) {
    const [v, where] = stack.pop()!;
    if (typeof v === 'string') {
      if (CONTROL_CHARS.test(v))
        throw new ValidationError([`${where || '(body)'}: ${CONTROL_CHARS_MESSAGE}`], [where]);
    } else if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, `${where}[${i}]`]));
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) stack.push([x, where ? `${where}.${k}` : k]);
  }
}
