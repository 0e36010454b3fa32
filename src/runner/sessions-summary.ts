/**
 * What the `sessions` tools tell the model about a session: a compact summary of the API's
 * session resource and the last messages of its history. Pure functions, so they are
 * unit-tested without a control plane.
 */
import { PARENT_SESSION_ANNOTATION } from '../protocol/agents.js';
import { TERMINAL_PHASES, type Phase } from '../protocol/status.js';

/** Each message text the model is shown is cut to this many characters. */
export const MAX_MESSAGE_CHARS = 2_000;
/** The result summary is cut to this many characters (the full text is in the history). */
export const MAX_RESULT_CHARS = 8_000;

export interface SessionSummary {
  name: string;
  displayName?: string;
  phase: string;
  message?: string;
  interactive: boolean;
  parent?: string;
  createdAt?: string;
}

export interface SessionResult {
  text: string | null;
  isError: boolean;
  subtype?: string;
  numTurns?: number;
}

export interface HistoryMessage {
  seq: number;
  role: 'user' | 'agent';
  text: string;
  /** Who sent a user message: another session (and its agent), or a user. */
  from?: Record<string, string>;
  /** The sub-agent that wrote an agent message. */
  agent?: string;
}

interface ResourceLike {
  metadata?: { name?: unknown; annotations?: Record<string, unknown>; creationTimestamp?: unknown };
  spec?: { displayName?: unknown; interactive?: unknown };
  status?: {
    phase?: unknown;
    message?: unknown;
    result?: unknown;
    is_error?: unknown;
    subtype?: unknown;
    num_turns?: unknown;
  };
}

export function isTerminal(phase: string): boolean {
  return TERMINAL_PHASES.has(phase as Phase);
}

export function summarize(resource: unknown): SessionSummary {
  const r = (resource ?? {}) as ResourceLike;
  const parent = r.metadata?.annotations?.[PARENT_SESSION_ANNOTATION];
  return {
    name: String(r.metadata?.name ?? ''),
    ...(typeof r.spec?.displayName === 'string' ? { displayName: r.spec.displayName } : {}),
    phase: String(r.status?.phase ?? 'Unknown'),
    ...(typeof r.status?.message === 'string'
      ? { message: cut(r.status.message, MAX_MESSAGE_CHARS) }
      : {}),
    interactive: r.spec?.interactive === true,
    ...(typeof parent === 'string' ? { parent } : {}),
    ...(typeof r.metadata?.creationTimestamp === 'string'
      ? { createdAt: r.metadata.creationTimestamp }
      : {}),
  };
}

/** The result of the session's last turn, when it has one. */
export function resultOf(resource: unknown): SessionResult | null {
  const st = ((resource ?? {}) as ResourceLike).status;
  if (!st || (st.result === undefined && st.subtype === undefined)) return null;
  return {
    text: typeof st.result === 'string' ? cut(st.result, MAX_RESULT_CHARS) : null,
    isError: st.is_error === true,
    ...(typeof st.subtype === 'string' ? { subtype: st.subtype } : {}),
    ...(typeof st.num_turns === 'number' ? { numTurns: st.num_turns } : {}),
  };
}

interface EntryLike {
  seq?: unknown;
  type?: unknown;
  payload?: {
    content?: unknown;
    from?: unknown;
    agent?: unknown;
    type?: unknown;
  };
}

/** User messages and agent texts of history entries, the last `count` of them. */
export function lastMessages(entries: readonly unknown[], count: number): HistoryMessage[] {
  const out: HistoryMessage[] = [];
  for (const raw of entries) {
    const e = (raw ?? {}) as EntryLike;
    const seq = typeof e.seq === 'number' ? e.seq : 0;
    const p = e.payload ?? {};
    if (e.type === 'user_message' && typeof p.content === 'string') {
      out.push({
        seq,
        role: 'user',
        text: cut(p.content, MAX_MESSAGE_CHARS),
        ...(isStringRecord(p.from) ? { from: p.from } : {}),
      });
    } else if (e.type === 'agent.message' && p.type === 'agent_message') {
      const text = (p.content as { text?: unknown } | undefined)?.text;
      if (typeof text === 'string')
        out.push({
          seq,
          role: 'agent',
          text: cut(text, MAX_MESSAGE_CHARS),
          ...(typeof p.agent === 'string' ? { agent: p.agent } : {}),
        });
    }
  }
  return out.slice(-count);
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((x) => typeof x === 'string')
  );
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… [${s.length - max} more characters]`;
}
