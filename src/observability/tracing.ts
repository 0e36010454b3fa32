/**
 * Tracing behind a small interface, so the runner does not know which backend (if any) records
 * its turns. The default is `noopTracer`: no cost when tracing is off (and in tests).
 * The Langfuse implementation lives in ./langfuse/.
 */
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { ResultSummary } from '../protocol/frames.js';

export interface TurnStart {
  /** The user's message that starts the turn (already redacted). */
  text: string;
  /** 1-based turn number within the run. */
  turn: number;
  /** When the turn started, if that was earlier than this call (a tracer still loading). */
  startedAt?: Date;
}

export interface TraceOutcome {
  /** Set when the run failed or was stopped: open observations are closed with level ERROR. */
  error?: string;
  result?: ResultSummary;
}

export interface Tracer {
  startTurn(turn: TurnStart): void;
  /** Every message the SDK yields, in order; implementations ignore what they do not need. */
  observe(message: SDKMessage): void;
  /** Exports what is finished. Never throws; bounded by the configured flush timeout. */
  flush(): Promise<void>;
  /** Closes open observations, flushes, releases resources. Never throws; bounded. */
  shutdown(outcome: TraceOutcome): Promise<void>;
}

export const noopTracer: Tracer = {
  startTurn() {},
  observe() {},
  flush: async () => {},
  shutdown: async () => {},
};
