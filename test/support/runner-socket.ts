/**
 * A raw WebSocket client playing a session's runner against a real `serve`: it connects with the
 * run's BOT_TOKEN, records every message the control plane sends back (acks and commands), and
 * sends frames as they are given, so that tests can send what a real runner never would.
 */
import WebSocket from 'ws';
import { socketUrl } from '../../src/protocol/paths.js';

export interface ReceivedMessage {
  type: string;
  payload: Record<string, unknown>;
}

export interface RunnerSocket {
  ws: WebSocket;
  /** Every message from the control plane, acks included, in order. */
  received: ReceivedMessage[];
  /** The sequence numbers acknowledged so far, in order. */
  acks: number[];
  opened: Promise<void>;
  /** The close code. */
  closed: Promise<number>;
  /** Sends `{seq, type, timestamp, payload}`. */
  send(seq: number, type: string, payload: unknown): void;
  /** Sends text exactly as given (a malformed or hand-written frame). */
  sendRaw(text: string): void;
  /** The highest acknowledged seq, -1 before the first ack. */
  acked(): number;
  /** What the control plane sent that is not an ack (the commands). */
  commands(): ReceivedMessage[];
}

/** Connects to `<serveUrl>/api/projects/<project>/sessions/<name>/ws` as the session's runner. */
export function runnerSocket(
  serveUrl: string,
  project: string,
  name: string,
  token: string,
): RunnerSocket {
  const ws = new WebSocket(socketUrl(`${serveUrl}/api`, project, name), {
    headers: { authorization: `Bearer ${token}` },
  });
  const received: ReceivedMessage[] = [];
  const acks: number[] = [];
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as ReceivedMessage;
    received.push(m);
    if (m.type === 'ack') acks.push(Number(m.payload.seq));
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  opened.catch(() => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return {
    ws,
    received,
    acks,
    opened,
    closed,
    send: (seq, type, payload) =>
      ws.send(JSON.stringify({ seq, type, timestamp: new Date().toISOString(), payload })),
    sendRaw: (text) => ws.send(text),
    acked: () => Math.max(-1, ...acks),
    commands: () => received.filter((m) => m.type !== 'ack'),
  };
}
