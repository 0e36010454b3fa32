/**
 * The runner's outbox file (extension, docs/runner.md "When the control plane is away"): what a
 * finished run could not hand over — frames the backend had not acked and the final status —
 * left in the workspace for the control plane to read when it sees the run is over.
 *
 * `<workspace>/.runner/<session>.run<N>.outbox.jsonl`, mode 0600, written atomically (temp file
 * + rename). Line 1 is the header, every further line one frame exactly as it went (or would
 * have gone) on the socket: already redacted, with the runner's own `seq`.
 *
 * The workspace is the agent's too, so a reader treats the file as untrusted runner input.
 */
import path from 'node:path';
import { z } from 'zod';

export const OUTBOX_DIR = '.runner';
export const OUTBOX_VERSION = 1;
/** A reader ignores files larger than this (the runner's default outbox bound, plus room). */
export const MAX_OUTBOX_FILE_BYTES = 64 * 1024 * 1024;

export const OutboxHeader = z.object({
  kind: z.literal('runner-outbox'),
  version: z.literal(OUTBOX_VERSION),
  session: z.string().min(1),
  run: z.number().int().min(1),
  /** The run's last frame seq (the closing frame's). */
  lastSeq: z.number().int().min(0),
  /** The final status, when it has not been confirmed by the backend (unvalidated here). */
  status: z.record(z.string(), z.unknown()).optional(),
});
export type OutboxHeader = z.infer<typeof OutboxHeader>;

/** The file's name: per session (sessions can share a workspace) and per run. */
export function outboxFileName(session: string, run: number): string {
  return `${session.replace(/[^A-Za-z0-9._-]/g, '_')}.run${run}.outbox.jsonl`;
}

export function outboxFilePath(workspace: string, session: string, run: number): string {
  return path.join(workspace, OUTBOX_DIR, outboxFileName(session, run));
}
