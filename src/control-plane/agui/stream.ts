/**
 * One AG-UI client following a session over SSE: the history folded into AG-UI events
 * (mapping.ts) from the first entry, then live, with no gap and no repeat.
 *
 * It reads the history like a socket watcher (hub/watcher.ts): in steps, each one turn of the
 * event loop (the serve-wide catch-up gate bounds how many streams catch up at once), subscribed
 * from the start and switching to live in the same tick as its last read, so no entry falls in
 * between. The fold always starts at the first entry, because an event's id and content may
 * depend on what came before (a streamed text's id is the position of its first piece); what a
 * client already has is skipped, not re-derived differently.
 *
 * Where a stream starts:
 * - `start`: every event, from the first entry;
 * - `after`: the events after an SSE id (`Last-Event-ID`): exactly what the client missed;
 * - `snapshot` (a client joining late): MESSAGES_SNAPSHOT and STATE_SNAPSHOT of the conversation
 *   up to the last moment no turn was open, then the open turn's events, then live;
 * - `run`: the first run (turn) that starts at or after a position, until it finishes; the
 *   stream then ends (the answer to `POST …/agui`).
 *
 * A client that reads too slowly (its unsent data beyond the bound) is disconnected, like a
 * socket watcher closed with 4008; it reconnects with `Last-Event-ID` and loses nothing.
 */
import type { ServerResponse } from 'node:http';
import { EventType } from '@ag-ui/core';
import { EventEncoder } from '@ag-ui/encoder';
import type { HistoryLog, Subscriber } from '../hub/history-log.js';
import { CATCH_UP_STEP_BYTES, type WatcherOptions } from '../hub/watcher.js';
import { AguiMapper, type HistoryEntryJson, type IdentifiedEvent } from './mapping.js';
import { MessageLog } from './messages.js';

export type StartPoint =
  | { kind: 'start' }
  | { kind: 'after'; pos: number; k: number }
  | { kind: 'snapshot' }
  | { kind: 'run'; fromPos: number };

/** A stream catches up and follows like a socket watcher, with the same bounds and gate. */
export interface AguiStreamOptions extends WatcherOptions {
  history: HistoryLog;
  /** Whether the session still exists (a deleted one ends its streams). */
  sessionExists(session: string): boolean;
  /** Keep-alive comment interval (ms). */
  heartbeatMs?: number;
}

const encoder = new EventEncoder();

/**
 * Parses an SSE id of ours: `<pos>.<k>` (after the k-th event of entry pos), `<pos>` (after all
 * of entry pos). `<pos>.m` (a messages snapshot) and anything else: undefined (join afresh).
 */
export function parseEventId(id: string | undefined): { pos: number; k: number } | undefined {
  if (!id) return undefined;
  const m = /^(\d{1,15})(?:\.(\d{1,6}))?$/.exec(id.trim());
  if (!m) return undefined;
  return { pos: Number(m[1]), k: m[2] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[2]) };
}

export class AguiStream implements Subscriber {
  private readonly mapper: AguiMapper;
  private readonly log = new MessageLog();
  private live = false;
  private closed = false;
  /** Last position folded. */
  private folded = 0;
  /** snapshot: events since the last moment no turn was open. */
  private sinceQuiet: IdentifiedEvent[] = [];
  private quietPos = 0;
  private quietState: unknown;
  /** run: the run being streamed. */
  private runId: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly res: ServerResponse,
    private readonly session: string,
    private readonly from: StartPoint,
    private readonly o: AguiStreamOptions,
  ) {
    this.mapper = new AguiMapper(session);
    this.quietState = this.mapper.snapshotState();
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Starts streaming; resolves once the stream has ended (either side). */
  start(headers: Record<string, string> = {}): Promise<void> {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...headers,
    });
    this.res.flushHeaders();
    this.res.on('close', () => this.detach());
    this.o.history.subscribe(this.session, this);
    const every = this.o.heartbeatMs ?? 15_000;
    this.heartbeat = setInterval(() => {
      if (!this.o.sessionExists(this.session)) this.end();
      else this.write(': keep-alive\n\n');
    }, every);
    this.heartbeat.unref();
    void this.catchUp().catch((e: unknown) => {
      this.o.logger.warn('AG-UI stream catch-up failed', {
        session: this.session,
        error: (e as Error).message,
      });
      this.end();
    });
    return this.done;
  }

  offer(pos: number, json: string): void {
    if (this.closed || pos <= this.folded) return;
    if (!this.live) {
      // A client that stopped reading while still catching up would hold its catch-up place for
      // ever; the live stream going on is what tells it is too slow (as for a socket watcher).
      if (this.res.writableLength + json.length > this.o.maxBufferedBytes) this.tooSlow();
      return; // it is in the store: catch-up will read it
    }
    this.fold(pos, json);
    if (this.res.writableLength > this.o.maxBufferedBytes) this.tooSlow();
  }

  private async catchUp(): Promise<void> {
    const short = this.o.history.lastPos(this.session) <= this.o.pageSize;
    if (!short) {
      const admitted = await this.o.gate.enter(this, (position) =>
        this.write(`: queued to catch up, position ${position}\n\n`),
      );
      if (!admitted) return;
    }
    try {
      for (;;) {
        if (!short) await this.o.gate.turn();
        if (this.closed) return;
        const maxBytes = Math.min(CATCH_UP_STEP_BYTES, this.o.maxBufferedBytes);
        const { rows, more } = this.o.readStep(
          this.session,
          this.folded,
          this.o.pageSize,
          maxBytes,
        );
        for (const row of rows) this.fold(row.pos, row.frame);
        if (!more) {
          this.goLive();
          return;
        }
        if (this.res.writableLength > 0) await this.drained();
      }
    } finally {
      this.o.gate.leave(this);
    }
  }

  /** End of the history: a late joiner gets its snapshot and the open turn; then live. */
  private goLive(): void {
    this.live = true;
    if (this.from.kind !== 'snapshot' || this.closed) return;
    const pos = this.quietPos;
    this.send({
      id: `${pos}.m`,
      pos,
      event: { type: EventType.MESSAGES_SNAPSHOT, messages: this.log.snapshot() },
    });
    this.send({
      id: `${pos}`,
      pos,
      event: { type: EventType.STATE_SNAPSHOT, snapshot: this.quietState },
    });
    for (const e of this.sinceQuiet) this.send(e);
    this.sinceQuiet = [];
  }

  private fold(pos: number, json: string): void {
    this.folded = pos;
    let entry: HistoryEntryJson;
    try {
      entry = JSON.parse(json) as HistoryEntryJson;
    } catch {
      return; // the store holds only what HistoryLog serialized
    }
    entry.seq = pos;
    for (const e of this.mapper.map(entry)) this.route(e);
    if (this.from.kind === 'snapshot' && !this.live && !this.mapper.turnOpen) {
      for (const e of this.sinceQuiet) this.log.apply(e);
      this.sinceQuiet = [];
      this.quietPos = pos;
      this.quietState = this.mapper.snapshotState();
    }
  }

  private route(e: IdentifiedEvent): void {
    const from = this.from;
    switch (from.kind) {
      case 'start':
        return this.send(e);
      case 'after': {
        const k = Number(e.id.slice(e.id.indexOf('.') + 1));
        if (e.pos > from.pos || (e.pos === from.pos && k > from.k)) this.send(e);
        return;
      }
      case 'snapshot':
        // Before live, the events wait: at the next moment no turn is open they go into the
        // conversation (fold), so the snapshot never holds half a message.
        if (this.live) this.send(e);
        else this.sinceQuiet.push(e);
        return;
      case 'run':
        if (e.pos < from.fromPos) return;
        if (this.runId === undefined) {
          if (e.event.type !== EventType.RUN_STARTED) return;
          this.runId = e.event.runId as string;
        }
        this.send(e);
        if (e.event.type === EventType.RUN_FINISHED || e.event.type === EventType.RUN_ERROR)
          this.end();
        return;
    }
  }

  private send(e: IdentifiedEvent): void {
    if (this.closed) return;
    this.write(`id: ${e.id}\n${encoder.encodeSSE(e.event as never)}`);
  }

  private write(chunk: string): void {
    if (this.closed || this.res.writableEnded) return;
    this.res.write(chunk);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.res.writableLength === 0) return resolve();
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  private tooSlow(): void {
    this.o.logger.info('AG-UI client too slow: disconnected (it resumes with Last-Event-ID)', {
      session: this.session,
      buffered: this.res.writableLength,
    });
    this.detach();
    this.res.destroy();
  }

  /** Ends the response (a run's stream is complete, or the stream failed). */
  end(): void {
    if (this.closed) return;
    this.detach();
    this.res.end();
  }

  private detach(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.o.history.unsubscribe(this.session, this);
    this.o.gate.leave(this);
    this.resolveDone();
  }
}
