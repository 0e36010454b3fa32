/**
 * Shared pieces of the AG-UI tests: an SSE reader for serve's AG-UI streams, and the check every
 * AG-UI event of these tests goes through (`@ag-ui/core`'s schemas, and no secret in it). (Not a
 * test file itself.)
 */
import assert from 'node:assert/strict';
import type { BaseEvent } from '@ag-ui/core';
import { EventSchemas } from '@ag-ui/core/schemas';

export interface SseEvent {
  id: string | undefined;
  event: BaseEvent & Record<string, unknown>;
}

/** Strings no AG-UI event may contain (set by each test: the user token, the model key, …). */
export const forbidden: string[] = [];

/** Every AG-UI event a test sees: valid against the official schemas, no secret in it. */
export function checkEvent(event: unknown): void {
  const parsed = EventSchemas.safeParse(event);
  assert.ok(
    parsed.success,
    `an AG-UI event is not valid: ${JSON.stringify(event).slice(0, 300)}: ${parsed.error?.message.slice(0, 500)}`,
  );
  const text = JSON.stringify(event);
  for (const secret of forbidden)
    assert.ok(
      !text.includes(secret),
      `a secret appeared in an AG-UI event of type ${(event as BaseEvent).type}`,
    );
  checked.count++;
}
export const checked = { count: 0 };

export interface ReadOptions {
  token: string;
  lastEventId?: string;
  method?: 'GET' | 'POST';
  body?: unknown;
  /** Stops reading (and hangs up) once this holds for the events so far. */
  until?: (events: SseEvent[]) => boolean;
  signal?: AbortSignal;
}

/** Reads an SSE response into events (each checked), until the stream ends or `until` holds. */
export async function readSse(url: string, o: ReadOptions): Promise<SseEvent[]> {
  const ac = new AbortController();
  o.signal?.addEventListener('abort', () => ac.abort());
  const res = await fetch(url, {
    method: o.method ?? 'GET',
    headers: {
      authorization: `Bearer ${o.token}`,
      accept: 'text/event-stream',
      ...(o.lastEventId !== undefined ? { 'last-event-id': o.lastEventId } : {}),
      ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    signal: ac.signal,
  });
  if (res.status !== 200) assert.fail(`${url} answered ${res.status}: ${await res.text()}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let id: string | undefined;
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data) continue; // a comment (keep-alive, queued)
        const event = JSON.parse(data) as SseEvent['event'];
        checkEvent(event);
        events.push({ id, event });
        if (o.until?.(events)) {
          ac.abort();
          return events;
        }
      }
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
  }
  return events;
}

export const typesOf = (events: SseEvent[]): string[] => events.map((e) => e.event.type);

/** Holds once `n` runs have ended (RUN_FINISHED or RUN_ERROR). */
export const runsEnded =
  (n: number) =>
  (events: SseEvent[]): boolean =>
    events.filter((e) => e.event.type === 'RUN_FINISHED' || e.event.type === 'RUN_ERROR').length >=
    n;
