// The seed's Langfuse end-to-end test, step by step: a session with a unique test-ID marker in
// its prompt is created through the control plane's API and polled to completion; after a wait
// for Langfuse, its trace is found by session id through Langfuse's public API and checked (a
// generation with usage, the marker in the prompt); the session is deleted. Whatever fails, the
// session is deleted and every part this run started is stopped before the final banner.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiClient } from '../../client/api.js';
import type { LangfuseE2eConfig } from '../../config/langfuse-e2e-config.js';
import { setUpBackend, setUpLangfuse, type Backend, type Cleanup } from './environment.js';
import { LangfuseReadError, LangfuseReader, type LangfuseTarget } from './langfuse-api.js';
import { formatSeconds, Report } from './report.js';
import {
  createSession,
  deleteSession,
  langfuseLogLines,
  sessionClient,
  StepFailure,
  waitForCompletion,
} from './session-steps.js';
import { checkTrace, type TraceChecks } from './verify.js';

export interface RunDeps {
  write: (text: string) => void;
  /** Aborted on SIGINT/SIGTERM: the run stops waiting, cleans up and fails. */
  signal: AbortSignal;
}

/** `<unix seconds>-xxxx-xxxx-xxxx`, as in the seed. */
export function newTestId(): string {
  const hex = randomBytes(6).toString('hex');
  return `${Math.floor(Date.now() / 1000)}-${hex.slice(0, 4)}-${hex.slice(4, 8)}-${hex.slice(8, 12)}`;
}

function message(e: unknown): string {
  if (e instanceof StepFailure || e instanceof LangfuseReadError) return e.message;
  if (e instanceof Error && e.name === 'AbortError') {
    // A timer aborted by the signal rejects with a generic AbortError that carries our reason.
    const cause = (e as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Returns the exit code: 0 passed, 1 failed. */
export async function runLangfuseE2e(config: LangfuseE2eConfig, deps: RunDeps): Promise<number> {
  const testId = newTestId();
  const report = new Report(config.secrets, deps.write);
  report.banner(`Langfuse E2E Test - Test ID: ${testId}`);
  report.line();

  const owned: Cleanup[] = [];
  let failure: string | undefined;
  try {
    const langfuse = await setUpLangfuse(config, report, owned);
    const backend = await setUpBackend(config, langfuse, report, owned);
    report.line();
    failure = await sessionSteps(config, backend, langfuse, testId, report, deps.signal);
  } catch (e) {
    failure = message(e);
    report.fail(failure);
  } finally {
    // Newest first: serve (and its runners) stops before the model and Langfuse it talks to.
    for (const close of owned.reverse()) {
      try {
        await close();
      } catch (e) {
        failure ??= `Could not stop a part of the test environment: ${message(e)}`;
        report.fail(failure);
      }
    }
  }
  report.line();
  report.banner(failure ? `❌ TEST FAILED: ${failure.split('\n')[0]}` : '✅ TEST PASSED');
  return failure ? 1 : 0;
}

/** The seed's steps; returns the failure reason, undefined when every step passed. */
async function sessionSteps(
  config: LangfuseE2eConfig,
  backend: Backend,
  langfuse: LangfuseTarget,
  testId: string,
  report: Report,
  signal: AbortSignal,
): Promise<string | undefined> {
  report.line('Getting API token for backend API authentication');
  report.ok(`Got API token${backend.tokenSource} (length: ${backend.token.length})`);
  report.line('Creating AgenticSession via backend API');
  const api = sessionClient(backend, config.project);
  const session = await createSession(api, backend, testId);
  const name = session.metadata.name;
  report.ok(`Session created: ${name}`);
  report.line();

  let failure: string | undefined;
  try {
    report.line(
      `Waiting for session completion (timeout: ${Math.round(config.sessionTimeoutMs / 1000)}s)`,
    );
    await waitForCompletion(
      api,
      backend,
      name,
      { timeoutMs: config.sessionTimeoutMs, intervalMs: config.pollIntervalMs, signal },
      report,
    );
    report.line();
    report.ok('Session completed successfully');
    report.line();

    report.line(`Waiting ${formatSeconds(config.langfuseWaitMs)} for Langfuse to process trace...`);
    await sleep(config.langfuseWaitMs, undefined, { signal });
    report.line();
    report.line('Verifying Langfuse trace...');
    const checks = await verifyTrace(config, langfuse, name, testId, report, signal);
    for (const l of checks.passed) report.ok(l);
    if (checks.failure) {
      report.fail(checks.failure);
      await printRunnerHints(api, name, report);
      failure = checks.failure;
    } else report.line('✅ Langfuse verification complete');
  } catch (e) {
    failure = message(e);
    report.fail(failure);
    if (e instanceof LangfuseReadError) await printRunnerHints(api, name, report);
  } finally {
    report.line();
    report.line(`Cleaning up session: ${name}`);
    try {
      await deleteSession(api, backend, name);
      report.ok('Session deleted successfully');
    } catch (e) {
      report.fail(message(e));
      failure ??= message(e);
    }
  }
  return failure;
}

/** Reads Langfuse until the checks pass or the verify timeout is over; refusals end at once. */
async function verifyTrace(
  config: LangfuseE2eConfig,
  langfuse: LangfuseTarget,
  name: string,
  testId: string,
  report: Report,
  signal: AbortSignal,
): Promise<TraceChecks> {
  const reader = new LangfuseReader(langfuse, signal);
  const deadline = Date.now() + config.verifyTimeoutMs;
  let fellBack = false;
  for (let attempt = 1; ; attempt++) {
    const found = await reader.sessionObservations(name);
    if (found?.fallback && !fellBack) {
      fellBack = true;
      report.line(`  (no observations from the v2 observations API; found through ${found.via})`);
    }
    const checks = checkTrace(found, name, testId);
    const left = deadline - Date.now();
    if (!checks.failure || left <= 0) {
      if (checks.failure && attempt > 1)
        checks.failure += ` (after ${attempt} attempts over ${formatSeconds(config.verifyTimeoutMs)})`;
      return checks;
    }
    const pause = Math.min(config.verifyIntervalMs, left);
    report.line(`  ${checks.failure}; retrying in ${formatSeconds(pause)} (attempt ${attempt})`);
    await sleep(pause, undefined, { signal });
  }
}

/** The runner's own words about Langfuse, when the control plane keeps its log. */
async function printRunnerHints(api: ApiClient, name: string, report: Report): Promise<void> {
  const lines = await langfuseLogLines(api, name);
  if (lines === undefined) return;
  if (!lines.length) {
    report.line(
      "    The runner's log says nothing about Langfuse: the control plane must pass LANGFUSE_ENABLED=true, LANGFUSE_HOST and the keys to its runners",
    );
    return;
  }
  for (const l of lines) report.line(`    Runner log: ${l}`);
}
