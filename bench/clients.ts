/**
 * Socket clients of the benchmarks, kept lean so that they measure the hub and not themselves:
 * a watcher that stamps each frame on arrival (process.hrtime: CLOCK_MONOTONIC on Linux, the same
 * clock in every process of the machine) and reads `seq` without parsing the whole frame, and a
 * runner player that is the runner's own socket client (numbering, redaction, outbox, acks).
 */
import WebSocket from 'ws';
import { createLogger } from '../src/observability/logger.js';
import { Redactor } from '../src/observability/redact.js';
import type { FrameDraft } from '../src/protocol/frames.js';
import { RunnerSocket } from '../src/runner/socket-client.js';

export interface Arrival {
  ns: bigint;
  raw: string;
}

export class LeanWatcher {
  readonly ws: WebSocket;
  /** History entries received (frames with a seq), in order. */
  count = 0;
  lastSeq = 0;
  /** Entries whose seq was not lastSeq + 1. */
  outOfOrder = 0;
  closeCode: number | undefined;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;
  /** Every arrival, when asked to keep them (relay latency). */
  readonly arrivals: Arrival[] = [];
  private waiters: { seq: number; resolve: () => void }[] = [];

  constructor(
    url: string,
    token: string,
    opts: {
      keep?: boolean;
      onSeq?: (seq: number, ns: bigint) => void;
      /** Control frames (no seq: pong, error, catchup.queued), raw. */
      onNotice?: (raw: string) => void;
    } = {},
  ) {
    this.ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    this.ws.on('message', (data: Buffer) => {
      const ns = process.hrtime.bigint();
      const raw = data.toString();
      const seq = seqOf(raw);
      if (seq === undefined) return opts.onNotice?.(raw); // a notice, not history
      if (seq !== this.lastSeq + 1) this.outOfOrder++;
      this.lastSeq = seq;
      this.count++;
      if (opts.keep) this.arrivals.push({ ns, raw });
      opts.onSeq?.(seq, ns);
      if (this.waiters.length) this.settle();
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_q, res) =>
        reject(new Error(`watcher refused: HTTP ${res.statusCode}`)),
      );
      this.ws.once('error', reject);
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code) => {
        this.closeCode = code;
        resolve(code);
        this.settle();
      }),
    );
  }

  /** Resolves once an entry with `seq` or later arrived (or the socket closed). */
  reach(seq: number): Promise<void> {
    if (this.lastSeq >= seq || this.closeCode !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ seq, resolve }));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }

  private settle(): void {
    const done = this.closeCode !== undefined;
    this.waiters = this.waiters.filter((w) => {
      if (!done && this.lastSeq < w.seq) return true;
      w.resolve();
      return false;
    });
  }
}

/** The hub writes `{"seq":N,` first; anything else (notices) has no seq. */
function seqOf(raw: string): number | undefined {
  if (raw.startsWith('{"seq":')) {
    const end = raw.indexOf(',', 7);
    const n = Number(raw.slice(7, end));
    if (Number.isInteger(n)) return n;
  }
  const v = JSON.parse(raw) as { seq?: unknown };
  return typeof v.seq === 'number' ? v.seq : undefined;
}

/** The runner's own socket client, driven by a benchmark instead of a Claude session. */
export class RunnerPlayer {
  readonly socket: RunnerSocket;

  constructor(url: string, botToken: string) {
    const redactor = new Redactor([botToken]);
    this.socket = new RunnerSocket({
      url,
      botToken,
      logger: createLogger({ level: 'warn', redactor, scope: 'bench-player' }),
      redactor,
      maxBufferedBytes: 1 << 30,
      reconnectMaxDelayMs: 1_000,
      onCommand: () => undefined,
    });
    this.socket.start();
  }

  /** Resolves once the hub has accepted the connection. */
  async connected(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.socket.connected) {
      if (Date.now() > deadline) throw new Error('the runner player could not connect to the hub');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  send(draft: FrameDraft): number {
    return this.socket.send(draft);
  }

  /** Every frame acknowledged by the hub (persisted). */
  async flush(timeoutMs: number): Promise<void> {
    if (!(await this.socket.flush(timeoutMs)))
      throw new Error(
        `the hub did not acknowledge ${this.socket.pendingFrames} frame(s) within ${timeoutMs} ms`,
      );
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

/** A text frame like the runner's (contract §3), `bytes` of text. */
export function textFrame(i: number, bytes: number): FrameDraft {
  const text = `frame ${i} `.padEnd(bytes, 'lorem ipsum dolor sit amet ');
  return {
    type: 'agent.message',
    payload: { type: 'agent_message', content: { type: 'text_block', text } },
  };
}
