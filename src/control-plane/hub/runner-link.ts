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
 * (`command.ack {id}`, a control frame like `pong`); `onCommandAck` hands it to CommandDelivery
 * (delivery/commands.ts), which marks it delivered.
 */
import type { WebSocket } from 'ws';
import type { Logger } from '../../observability/logger.js';
import type { Redactor } from '../../observability/redact.js';
import { COMMAND_ACK } from '../../protocol/commands.js';
import { MAX_JSON_DEPTH, parseJsonBounded } from '../../protocol/bounded-json.js';
import { normalizeRunnerFrame, RunnerFrame, type ResultSummary } from '../../protocol/frames.js';
import { FRAME_REFUSED_EVENT, isClosingFrame } from '../../protocol/history.js';
import type { HistoryLog } from './history-log.js';
import { runnerEntry } from './runner-entry.js';

export const ACK_DELAY_MS = 50;
export const ACK_EVERY = 100;
/** Invalid frames logged per link before going quiet (each is still recorded or dropped). */
const MAX_INVALID_LOGGED = 20;
/** Normalized frames logged (debug) per link before going quiet. */
const MAX_NORMALIZED_LOGGED = 10;

export class RunnerLink {
  private lastSeq: number;
  private unacked = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private invalid = 0;
  private normalized = 0;
  /** Called with each turn's result summary (`agent.message` of type `result.message`), stored. */
  onResult: (summary: ResultSummary) => void = () => undefined;
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

  /**
   * One text frame from the runner. `maxFrameBytes`: frames larger than this (but within the
   * socket's hard bound) are refused like invalid ones: recorded, not lost.
   */
  onMessage(raw: string, maxFrameBytes = Infinity): void {
    const bytes = raw.length * 3 > maxFrameBytes ? Buffer.byteLength(raw) : raw.length;
    if (bytes > maxFrameBytes)
      return this.refuse(
        raw,
        `frame of ${bytes} bytes is larger than the limit of ${maxFrameBytes} (CLAUDE_RUNNER_MAX_FRAME_BYTES)`,
      );
    const json = parseJsonBounded(raw, MAX_JSON_DEPTH);
    if (!json.ok)
      return json.reason === 'too-deep'
        ? this.refuse(raw, `frame ${json.detail}`)
        : this.reject('frame is not JSON');
    const data = json.value;
    if (typeof data !== 'object' || data === null || Array.isArray(data))
      return this.reject('frame is not a JSON object');
    const received = data as Record<string, unknown>;
    if (received.type === 'pong' || received.type === 'ping') return; // liveness only: never persisted
    if (received.type === COMMAND_ACK) {
      const id = (received.payload as { id?: unknown } | undefined)?.id;
      if (typeof id === 'number' && Number.isSafeInteger(id)) this.onCommandAck(id);
      return;
    }
    const { frame: obj, notes } = normalizeRunnerFrame(received);
    const parsed = RunnerFrame.safeParse(obj);
    if (!parsed.success) {
      const detail = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(frame)'}: ${i.message}`)
        .join('; ');
      return this.reject(
        `invalid ${typeof obj.type === 'string' ? obj.type : 'frame'}: ${detail}`,
        readSeqAndType(received),
      );
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
    if (notes.length) this.noteNormalized(frame.seq, notes);
    this.store(frame.seq, frame.type, runnerEntry(frame, obj, this.redactor));
    if (
      frame.type === 'agent.message' &&
      'type' in frame.payload &&
      frame.payload.type === 'result.message'
    )
      this.onResult(this.redactor.redactDeep(frame.payload.payload));
  }

  private store(
    seq: number,
    type: string,
    entry: Parameters<HistoryLog['append']>[3],
    closing = isClosingFrame(type, entry.payload),
  ): void {
    if (seq > this.lastSeq + 1)
      this.logger.warn('runner seq jumped', {
        session: this.session,
        run: this.run,
        from: this.lastSeq,
        to: seq,
      });
    this.history.append(this.session, this.run, seq, entry);
    this.lastSeq = seq;
    this.unacked++;
    // A runner waits for the ack of its closing frame before it exits: not ACK_DELAY_MS more.
    if (this.unacked >= ACK_EVERY || closing) this.sendAck();
    else this.ackTimer ??= setTimeout(() => this.sendAck(), ACK_DELAY_MS);
  }

  /**
   * A frame the hub cannot keep (too deep, too large, invalid). If its seq can be read, an entry
   * saying so takes its place in history (so nobody wonders where it went, and the runner's ack
   * advances past it instead of resending it for ever); otherwise it is logged and dropped.
   */
  private refuse(frame: string | Record<string, unknown>, reason: string): void {
    const { seq, type } = typeof frame === 'string' ? peekSeqAndType(frame) : readSeqAndType(frame);
    if (seq !== undefined && seq <= this.lastSeq) return; // a repeat: refused once already
    if (seq === undefined) return this.reject(reason, type ? { type } : {});
    this.invalid++;
    if (this.invalid <= MAX_INVALID_LOGGED)
      this.logger.warn(`runner frame refused, recorded in its place: ${reason.slice(0, 300)}`, {
        session: this.session,
        run: this.run,
        seq,
      });
    const short = reason.slice(0, 1000);
    this.store(
      seq,
      'system.message',
      {
        type: 'system.message',
        timestamp: new Date().toISOString(),
        payload: this.redactor.redactDeep({
          message: `runner frame ${seq}${type ? ` (${type})` : ''} refused: ${short}`,
          level: 'warn',
          event: FRAME_REFUSED_EVENT,
          data: { seq, ...(type ? { type } : {}), reason: short },
        }),
      },
      false,
    );
  }

  private noteNormalized(seq: number, notes: string[]): void {
    this.normalized++;
    if (this.normalized <= MAX_NORMALIZED_LOGGED)
      this.logger.debug(`runner frame normalized: ${notes.join('; ')}`, {
        session: this.session,
        run: this.run,
        seq,
      });
    else if (this.normalized === MAX_NORMALIZED_LOGGED + 1)
      this.logger.debug('more runner frames normalized: no longer logging them', {
        session: this.session,
      });
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

  /**
   * A frame that does not validate: dropped, but not silently: logged, and (the first ones of a
   * link) noted in history as the hub's own entry, without taking the frame's seq, so a valid
   * frame of that seq is still taken.
   */
  private reject(reason: string, frame: { seq?: number; type?: string } = {}): void {
    this.invalid++;
    if (this.invalid <= MAX_INVALID_LOGGED) {
      this.logger.warn(`runner frame dropped: ${reason.slice(0, 300)}`, {
        session: this.session,
        run: this.run,
      });
      const short = reason.slice(0, 1000);
      const { seq, type } = frame;
      this.history.append(this.session, this.run, null, {
        type: 'system.message',
        payload: this.redactor.redactDeep({
          message: `runner frame${seq ? ` ${seq}` : ''}${type ? ` (${type})` : ''} dropped: ${short}`,
          level: 'warn',
          event: FRAME_REFUSED_EVENT,
          data: {
            ...(seq ? { seq } : {}),
            ...(type ? { type } : {}),
            reason: short,
            stored: false,
          },
        }),
      });
    } else if (this.invalid === MAX_INVALID_LOGGED + 1)
      this.logger.warn('more invalid runner frames: no longer logging them', {
        session: this.session,
      });
  }
}

function readSeqAndType(obj: Record<string, unknown>): { seq?: number; type?: string } {
  const seq = obj.seq;
  return {
    ...(typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? { seq } : {}),
    ...(typeof obj.type === 'string' ? { type: obj.type.slice(0, 64) } : {}),
  };
}

/**
 * The seq and type of a frame that is not parsed (too deep or too large): JSON.parse copes with
 * depth (it does not recurse), and for the rest the fields are looked for near the start, where
 * every runner puts them.
 */
function peekSeqAndType(raw: string): { seq?: number; type?: string } {
  if (raw.length <= 1 << 20) {
    try {
      const v: unknown = JSON.parse(raw);
      if (typeof v === 'object' && v !== null && !Array.isArray(v))
        return readSeqAndType(v as Record<string, unknown>);
    } catch {
      /* look at the text */
    }
  }
  const head = raw.slice(0, 512);
  const seq = /^\s*\{[^{[]*?"seq"\s*:\s*(\d{1,15})\s*[,}]/.exec(head)?.[1];
  const type = /^\s*\{[^{[]*?"type"\s*:\s*"([A-Za-z0-9._-]{1,64})"/.exec(head)?.[1];
  return { ...(seq ? { seq: Number(seq) } : {}), ...(type ? { type } : {}) };
}
