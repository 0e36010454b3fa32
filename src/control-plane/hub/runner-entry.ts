/**
 * A validated runner frame → the history entry the control plane stores, written once for both
 * ways a runner's frames arrive: its socket (runner-link.ts) and the outbox file it leaves in its
 * workspace when the control plane was away (leftovers.ts, read by runs.ts). Both are runner
 * input, so both get the same treatment: fields beyond the contract kept as `extra`, the control
 * plane's own events renamed (a runner cannot forge a phase change), everything redacted.
 */
import type { Redactor } from '../../observability/redact.js';
import { CONTROL_PLANE_EVENTS, FORGED_EVENT_PREFIX } from '../../protocol/history.js';
import type { EntryDraft } from './history-log.js';

/** Frame fields of the contract; any other field a runner adds is kept as it is. */
const KNOWN_FRAME_KEYS: ReadonlySet<string> = new Set([
  'seq',
  'type',
  'timestamp',
  'payload',
  'partial',
  'sessionId',
  'run',
  'runSeq',
]);

export function runnerEntry(
  frame: { type: string; timestamp: string },
  raw: Record<string, unknown>,
  redactor: Redactor,
): EntryDraft {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (!KNOWN_FRAME_KEYS.has(k)) extra[k] = v;
  let payload = raw.payload;
  const event = (payload as { event?: unknown } | null)?.event;
  if (
    frame.type === 'system.message' &&
    typeof event === 'string' &&
    CONTROL_PLANE_EVENTS.has(event)
  )
    payload = { ...(payload as object), event: `${FORGED_EVENT_PREFIX}${event}` };
  return {
    type: frame.type,
    timestamp: frame.timestamp,
    payload: redactor.redactDeep(payload),
    ...(raw.partial !== undefined ? { partial: redactor.redactDeep(raw.partial) } : {}),
    ...(Object.keys(extra).length ? { extra: redactor.redactDeep(extra) } : {}),
  };
}
