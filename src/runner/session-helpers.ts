/**
 * Small pure parts of the session runner: how a message from another session reads to the agent,
 * the status summary of a result, and the wait for a tool call's caller.
 */
import { MAIN_AGENT } from '../protocol/agents.js';
import { userMessageText, type BackendCommand } from '../protocol/commands.js';
import type { ResultSummary } from '../protocol/frames.js';
import type { StatusUpdate } from '../protocol/status.js';
import type { MessageMapper } from './message-mapper.js';

/** The status `result` field is cut to this many characters (the full text is on the socket). */
export const MAX_STATUS_RESULT_CHARS = 16 * 1024;

/**
 * A message from another session starts with who sent it, so the agent knows whom it answers
 * (and can reply with send_message); a user's message is passed as it is.
 */
export function withSender(
  cmd: Extract<BackendCommand, { type: 'user_message' | 'user.message' }>,
): string {
  const text = userMessageText(cmd);
  const from = cmd.payload.from;
  if (!from?.session) return text;
  const agent = from.agent && from.agent !== MAIN_AGENT ? ` (its agent ${from.agent})` : '';
  return `Message from session ${from.session}${agent}:\n\n${text}`;
}

export function summaryForStatus(r: ResultSummary): StatusUpdate {
  const result =
    r.result && r.result.length > MAX_STATUS_RESULT_CHARS
      ? `${r.result.slice(0, MAX_STATUS_RESULT_CHARS)}… [truncated]`
      : r.result;
  return { ...r, result };
}

/**
 * The agent that made tool call `toolUseId`. An in-process tool can run before the assistant
 * message that holds its call has reached the mapper, so this waits (at most `timeoutMs`, or
 * until `signal` aborts) for the mapper to learn it; `main` when it never does.
 */
export function waitForCaller(
  mapper: Pick<MessageMapper, 'callerOf' | 'onCallerKnown'>,
  toolUseId: string | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<string> {
  if (!toolUseId) return Promise.resolve(MAIN_AGENT);
  const known = mapper.callerOf(toolUseId);
  if (known) return Promise.resolve(known);
  if (signal.aborted) return Promise.resolve(MAIN_AGENT);
  return new Promise((resolve) => {
    const settle = (agent: string) => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      resolve(agent);
    };
    const onAbort = () => settle(MAIN_AGENT);
    const unsubscribe = mapper.onCallerKnown((id, agent) => {
      if (id === toolUseId) settle(agent);
    });
    const timer = setTimeout(() => settle(MAIN_AGENT), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
