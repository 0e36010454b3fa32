// The control-plane side of the test, through the same API the frontend and the CLI use
// (src/client/api.ts): create the session with the marker in its prompt, poll it to a terminal
// phase with the seed's progress lines, read the runner's log for hints, delete it.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, ClientError } from '../../client/api.js';
import type { SessionResource } from '../../protocol/api.js';
import { TERMINAL_PHASES, type Phase } from '../../protocol/status.js';
import type { Backend } from './environment.js';
import type { Report } from './report.js';

/** A step failed; the message is the reason printed in the final banner. */
export class StepFailure extends Error {
  override name = 'StepFailure';
}

/** Consecutive failed status checks tolerated (a restarting backend, a port-forward hiccup). */
const MAX_CHECK_ERRORS = 3;

export function sessionClient(backend: Backend, project: string): ApiClient {
  return new ApiClient({
    url: backend.url,
    urlSource: 'env',
    token: backend.token,
    tokenSource: 'env',
    project,
    warnings: [],
  });
}

function reason(e: unknown, backend: Backend): string {
  if (e instanceof ClientError && e.status === 401)
    return `the control plane at ${backend.url} refused the token${backend.tokenSource} (401): pass its API token in CLAUDE_RUNNER_API_TOKEN or BACKEND_TOKEN`;
  // The client's own hint names its flags (--url, CLAUDE_RUNNER_URL); this program reads BACKEND_URL.
  if (e instanceof ClientError && e.status === undefined && e.message.startsWith('cannot reach'))
    return e.message.replace(
      /: start it with .*$/s,
      ': check BACKEND_URL (and the port-forward, if any), or unset it to start a local control plane',
    );
  return e instanceof Error ? e.message : String(e);
}

export async function createSession(
  api: ApiClient,
  backend: Backend,
  testId: string,
): Promise<SessionResource> {
  try {
    return await api.create({
      // The marker the Langfuse check looks for in the traced prompt.
      prompt: `Langfuse end-to-end test ${testId}: reply with one short sentence, use no tools.`,
      displayName: `Langfuse E2E ${testId}`,
    });
  } catch (e) {
    throw new StepFailure(`Could not create the session: ${reason(e, backend)}`);
  }
}

/** Polls until a terminal phase; prints `[Ns] Check #k - Phase: X`; fails unless Completed. */
export async function waitForCompletion(
  api: ApiClient,
  backend: Backend,
  name: string,
  opts: { timeoutMs: number; intervalMs: number; signal: AbortSignal },
  report: Report,
): Promise<void> {
  const started = Date.now();
  let lastPhase: Phase | 'unknown' = 'unknown';
  let errors = 0;
  for (let check = 1; ; check++) {
    const elapsed = Date.now() - started;
    const stamp = `[${Math.round(elapsed / 1000)}s] Check #${check}`;
    let session: SessionResource | undefined;
    try {
      session = await api.get(name);
      errors = 0;
    } catch (e) {
      if (opts.signal.aborted) throw opts.signal.reason;
      const transient = e instanceof ClientError && (e.status === undefined || e.status >= 500);
      if (!transient || ++errors > MAX_CHECK_ERRORS)
        throw new StepFailure(`Could not read session ${name}: ${reason(e, backend)}`);
      report.line(`${stamp} - Error: ${reason(e, backend)}`);
    }
    if (session) {
      lastPhase = session.status.phase;
      report.line(`${stamp} - Phase: ${lastPhase}`);
      if (lastPhase === 'Completed') return;
      if (TERMINAL_PHASES.has(lastPhase))
        throw new StepFailure(
          `Session ended in phase ${lastPhase}${session.status.message ? `: ${session.status.message}` : ''}`,
        );
    }
    const left = opts.timeoutMs - (Date.now() - started);
    if (left <= 0)
      throw new StepFailure(
        `Session did not complete within ${Math.round(opts.timeoutMs / 1000)}s (last phase: ${lastPhase})`,
      );
    await sleep(Math.min(opts.intervalMs, left), undefined, { signal: opts.signal });
  }
}

/**
 * What the runner logged about Langfuse (export failures, "tracing is off"), for a failed
 * verification. Empty when the control plane has no logs endpoint (a platform backend).
 */
export async function langfuseLogLines(
  api: ApiClient,
  name: string,
): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await api.logs(name, { tail: 500 });
  } catch {
    return undefined;
  }
  return text
    .split('\n')
    .filter((l) => /langfuse/i.test(l))
    .map((l) => l.trim().slice(0, 400))
    .slice(0, 5);
}

export async function deleteSession(api: ApiClient, backend: Backend, name: string): Promise<void> {
  try {
    await api.delete(name);
  } catch (e) {
    throw new StepFailure(`Could not delete session ${name}: ${reason(e, backend)}`);
  }
}
