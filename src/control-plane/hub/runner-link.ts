/**
 * The socket of a session's runner. Frames are validated (`RunnerFrame`), redacted, persisted in
 * order, then fanned out; repeats of a runner seq within the run are dropped; `pong` frames are
 * neither persisted nor forwarded.
 *
 * Acks (extension, src/protocol/commands.ts): on connect the link sends `ack` with the last seq
 * persisted for this run (0 if none), so a reconnecting runner resends only what came after;
 * after persisting it acks again at most every ACK_DELAY_MS or every ACK_EVERY frames, and at
 * once after the frame that ends a run (the runner waits for that ack before it exits).
 *
 * The other way, a runner that announced `command-acks` confirms each command it has taken
 * (`command.ack {id}`, a control frame like `pong`); the hub then marks it delivered.
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../../observability/logger.js';
import type { Redactor } from '../../observability/redact.js';
import { COMMAND_ACK } from '../../protocol/commands.js';
import { RunnerFrame } from '../../protocol/frames.js';
import type { HistoryLog } from './history.js';

export const ACK_DELAY_MS = 50;
export const ACK_EVERY = 100;
/** Invalid frames logged per link before going quiet (each is still dropped). */
const MAX_INVALID_LOGGED = 20;

/** The `system.message` events that end a run (docs/runner.md); the runner flushes after them. */
const CLOSING_EVENTS = new Set(['session.completed', 'session.failed', 'session.stopped']);

function isClosingFrame(type: string, payload: unknown): boolean {
  return (
    type === 'system.message' &&
    CLOSING_EVENTS.has(String((payload as { event?: unknown } | null)?.event))
  );
}

const KNOWN_FRAME_KEYS = new Set([
  'seq',
  'type',
  'timestamp',
  'payload',
  'partial',
  'sessionId',
  'run',
  'runSeq',
]);

export class RunnerLink {
  private lastSeq: number;
  private unacked = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private invalid = 0;
  /** Outbox ids sent on this link and not yet confirmed (written, or acked by the runner). */
  readonly inFlight = new Set<number>();
  /** Called with the outbox id of each command the runner confirms (`command.ack`). */
  onCommandAck: (id: number) => void = () => undefined;

  constructor(
    readonly ws: WebSocket,
    readonly session: string,
    readonly run: number,
    private readonly history: HistoryLog,
    private readonly redactor: Redactor,
    private readonly logger: Logger,
    lastPersistedSeq: number,
    /** The runner confirms the commands it takes (it sent `x-runner-capabilities: command-acks`). */
    readonly commandAcks = false,
  ) {
    this.lastSeq = lastPersistedSeq;
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** First thing on a new connection: where the runner should resume. */
  greet(): void {
    this.sendAck();
  }

  onMessage(raw: string): void {
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      return this.reject('frame is not JSON');
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data))
      return this.reject('frame is not a JSON object');
    const obj = data as Record<string, unknown>;
    if (obj.type === 'pong' || obj.type === 'ping') return; // liveness only: never persisted
    if (obj.type === COMMAND_ACK) {
      const id = (obj.payload as { id?: unknown } | undefined)?.id;
      if (typeof id === 'number' && Number.isSafeInteger(id)) this.onCommandAck(id);
      return;
    }
    const parsed = RunnerFrame.safeParse(obj);
    if (!parsed.success) {
      const detail = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(frame)'}: ${i.message}`)
        .join('; ');
      return this.reject(`invalid ${typeof obj.type === 'string' ? obj.type : 'frame'}: ${detail}`);
    }
    const frame = parsed.data;
    if (frame.seq <= this.lastSeq) {
      this.logger.debug('repeated frame dropped', {
        session: this.session,
        seq: frame.seq,
        last: this.lastSeq,
      });
      return;
    }
    if (frame.seq > this.lastSeq + 1)
      this.logger.warn('runner seq jumped', {
        session: this.session,
        run: this.run,
        from: this.lastSeq,
        to: frame.seq,
      });
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) if (!KNOWN_FRAME_KEYS.has(k)) extra[k] = v;
    const payload = this.redactor.redactDeep(obj.payload);
    const partial = obj.partial === undefined ? undefined : this.redactor.redactDeep(obj.partial);
    this.history.append(this.session, this.run, frame.seq, {
      type: frame.type,
      timestamp: frame.timestamp,
      payload,
      ...(partial !== undefined ? { partial } : {}),
      ...(Object.keys(extra).length ? { extra: this.redactor.redactDeep(extra) } : {}),
    });
    this.lastSeq = frame.seq;
    this.unacked++;
    // A runner waits for the ack of its closing frame before it exits: not ACK_DELAY_MS more.
    if (this.unacked >= ACK_EVERY || isClosingFrame(frame.type, obj.payload)) this.sendAck();
    else this.ackTimer ??= setTimeout(() => this.sendAck(), ACK_DELAY_MS);
  }

  send(json: string, cb?: (err?: Error) => void): void {
    this.ws.send(json, cb);
  }

  close(code: number, reason: string): void {
    this.dispose();
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING)
      this.ws.close(code, reason);
  }

  dispose(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  private sendAck(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.unacked = 0;
    if (this.open) this.ws.send(JSON.stringify({ type: 'ack', payload: { seq: this.lastSeq } }));
  }

  private reject(reason: string): void {
    this.invalid++;
    if (this.invalid <= MAX_INVALID_LOGGED)
      this.logger.warn(`runner frame dropped: ${reason.slice(0, 300)}`, {
        session: this.session,
        run: this.run,
      });
    else if (this.invalid === MAX_INVALID_LOGGED + 1)
      this.logger.warn('more invalid runner frames: no longer logging them', {
        session: this.session,
      });
  }
}
