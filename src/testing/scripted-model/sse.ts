// The streaming answer: the Messages API's server-sent events for one reply, and a writer that
// can pace them (slow streams) or cut the connection mid-way (network failures).
import type { ServerResponse } from 'node:http';
import type { Reply, ReplyBlock } from './reply.js';

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Split by code points so a chunk never ends inside a surrogate pair. */
export function chunk(text: string, size: number): string[] {
  const chars = Array.from(text);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out;
}

function blockEvents(block: ReplyBlock, index: number, size: number): SseEvent[] {
  const ev = (event: string, data: Record<string, unknown>): SseEvent => ({
    event,
    data: { type: event, index, ...data },
  });
  const deltas: SseEvent[] = [];
  let start: Record<string, unknown>;
  if (block.type === 'text') {
    start = { type: 'text', text: '' };
    for (const text of chunk(block.text, size)) {
      deltas.push(ev('content_block_delta', { delta: { type: 'text_delta', text } }));
    }
  } else if (block.type === 'thinking') {
    start = { type: 'thinking', thinking: '', signature: '' };
    for (const thinking of chunk(block.thinking, size)) {
      deltas.push(ev('content_block_delta', { delta: { type: 'thinking_delta', thinking } }));
    }
    deltas.push(
      ev('content_block_delta', { delta: { type: 'signature_delta', signature: block.signature } }),
    );
  } else {
    start = { type: 'tool_use', id: block.id, name: block.name, input: {} };
    for (const partial_json of chunk(JSON.stringify(block.input), size)) {
      deltas.push(ev('content_block_delta', { delta: { type: 'input_json_delta', partial_json } }));
    }
  }
  return [
    ev('content_block_start', { content_block: start }),
    ...deltas,
    ev('content_block_stop', {}),
  ];
}

export function replyEvents(reply: Reply, chunkSize: number): SseEvent[] {
  const { usage } = reply;
  return [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: reply.id,
          type: 'message',
          role: 'assistant',
          model: reply.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          // Like the real API: input side known up front, output counted at the end.
          usage: { ...usage, output_tokens: 1 },
        },
      },
    },
    ...reply.content.flatMap((b, i) => blockEvents(b, i, chunkSize)),
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: reply.stopReason, stop_sequence: null },
        usage,
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
}

export function formatEvent(e: SseEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/** Resolves after `ms`, or at once when the client went away (so no timer outlives a socket). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

export interface WriteOptions {
  chunkDelayMs: number;
  /** Destroy the socket after this many events instead of finishing the stream. */
  cutAfterEvents: number | undefined;
  signal: AbortSignal;
}

/** Returns true if the stream was cut on purpose. */
export async function writeSse(
  res: ServerResponse,
  events: SseEvent[],
  opts: WriteOptions,
): Promise<boolean> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  res.flushHeaders();
  let written = 0;
  for (const e of events) {
    if (opts.signal.aborted) return false;
    if (opts.cutAfterEvents !== undefined && written >= opts.cutAfterEvents) break;
    if (written > 0) await sleep(opts.chunkDelayMs, opts.signal);
    res.write(formatEvent(e));
    written++;
  }
  if (opts.cutAfterEvents !== undefined) {
    // Let the written events reach the client, then drop the connection without the chunked
    // terminator, which is what a proxy or network failure looks like to the client.
    await new Promise<void>((resolve) => res.write('', () => resolve()));
    res.socket?.destroy();
    res.destroy();
    return true;
  }
  res.end();
  return false;
}
