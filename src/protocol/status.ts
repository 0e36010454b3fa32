/**
 * What a runner reports with `PUT /projects/{p}/agentic-sessions/{name}/status` (contract §4).
 * The backend accepts exactly these fields and drops the rest.
 */
import { z } from 'zod';
import { UsageSchema } from './frames.js';

export const PHASES = [
  'Pending',
  'Creating',
  'Running',
  'Completed',
  'Failed',
  'Stopped',
  'Error',
] as const;
export const Phase = z.enum(PHASES);
export type Phase = z.infer<typeof Phase>;
export const TERMINAL_PHASES: ReadonlySet<Phase> = new Set([
  'Completed',
  'Failed',
  'Stopped',
  'Error',
]);

/** Whether a phase (any string, e.g. from the wire) is one a run ends in. */
export function isTerminalPhase(phase: string | undefined): boolean {
  return phase !== undefined && TERMINAL_PHASES.has(phase as Phase);
}

export const STATUS_FIELDS = [
  'phase',
  'completionTime',
  'message',
  'subtype',
  'duration_ms',
  'duration_api_ms',
  'is_error',
  'num_turns',
  'session_id',
  'total_cost_usd',
  'usage',
  'result',
] as const;

/** The CLI's result summary, as the runner reports it and the session status shows it. */
export const resultSummaryFields = {
  subtype: z.string().optional(),
  duration_ms: z.number().optional(),
  duration_api_ms: z.number().optional(),
  is_error: z.boolean().optional(),
  num_turns: z.number().optional(),
  session_id: z.string().optional(),
  total_cost_usd: z.number().optional(),
  usage: UsageSchema.nullable().optional(),
  result: z.string().nullable().optional(),
};

export const StatusUpdate = z.object({
  phase: Phase.optional(),
  completionTime: z.string().optional(),
  message: z.string().optional(),
  ...resultSummaryFields,
});
export type StatusUpdate = z.infer<typeof StatusUpdate>;

/** Keeps only the contract's fields (the backend drops the rest; so do we, before sending). */
export function pickStatusFields(input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of STATUS_FIELDS) if (k in input) out[k] = input[k];
  return out;
}

/** Annotation under which the runner stores the CLI's session id, for continuations. */
export const SDK_SESSION_ANNOTATION = 'ambient-code.io/sdk-session-id';
/** Annotation naming the session that created this one (sessions as tools). */
export const PARENT_SESSION_ANNOTATION = 'ambient-code.io/parent-session';
