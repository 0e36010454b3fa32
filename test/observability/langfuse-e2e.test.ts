// The Langfuse end-to-end test program (src/e2e/langfuse/, `run-langfuse-test.sh`) run for real
// as a child process: it starts its own serve with the scripted model, and reads a Langfuse
// stand-in that this test owns, so the test can check what really reached "Langfuse". Two real
// sessions: one that passes, one with wrong Langfuse keys; plus failures that start no session.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { liveProcesses, processEnviron } from '../../src/control-plane/executor/procfs.js';
import {
  startLangfuseStandin,
  type LangfuseStandin,
} from '../../src/testing/langfuse-standin/index.js';

const PROGRAM = resolve(import.meta.dirname, '../../src/e2e/langfuse/main.js');
const LF_PUBLIC = `pk-lf-e2etest-${randomBytes(8).toString('hex')}`;
const LF_SECRET = `sk-lf-e2etest-${randomBytes(12).toString('hex')}`;
const API_TOKEN = `ccr_e2etest_${randomBytes(16).toString('hex')}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

/** This process's environment without anything that would steer the program elsewhere. */
function hermeticEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(LANGFUSE_|BACKEND_|E2E_|ANTHROPIC_|CLAUDE_RUNNER_|VERTEX_)/.test(k))
      env[k] = v;
  delete env.PROJECT;
  return { ...env, ...extra };
}

/** Runs the program to its end; a hang is stopped (SIGTERM: it cleans up) and shows as code null. */
function runProgram(extra: Record<string, string>, boundMs = 240_000): Promise<Run> {
  const child = spawn(process.execPath, [PROGRAM], {
    env: hermeticEnv(extra),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const bound = setTimeout(() => child.kill('SIGTERM'), boundMs);
  return new Promise((done) =>
    child.once('close', (code) => {
      clearTimeout(bound);
      done({ code, stdout, stderr, lines: stdout.split('\n') });
    }),
  );
}

/** Each pattern matched by a later line than the previous one; returns the matches. */
function inOrder(lines: string[], patterns: RegExp[]): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  let i = 0;
  for (const p of patterns) {
    let m: RegExpExecArray | null = null;
    while (i < lines.length && !(m = p.exec(lines[i++]!)));
    assert.ok(m, `no line matching ${p} (in order) in:\n${lines.join('\n')}`);
    out.push(m);
  }
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Processes that were started with this stand-in as their Langfuse (serve, runners). */
function processesTracingInto(standin: LangfuseStandin): number[] {
  const entry = `LANGFUSE_HOST=${standin.url}`;
  return liveProcesses((pid) => !!processEnviron(pid)?.includes(entry));
}

function assertNothingSecretPrinted(run: Run, secrets: string[]): void {
  for (const s of secrets) {
    assert.ok(!run.stdout.includes(s), 'a secret in the output');
    assert.ok(!run.stderr.includes(s), 'a secret on stderr');
  }
}

const RULE = /^={60}$/;

describe('Langfuse end-to-end test program', () => {
  let standin: LangfuseStandin;
  before(async () => {
    standin = await startLangfuseStandin({ publicKey: LF_PUBLIC, secretKey: LF_SECRET });
  });
  after(async () => {
    await standin.close();
  });

  test('passes: the session is traced into Langfuse and found by session id', async () => {
    standin.reset();
    const run = await runProgram({
      LANGFUSE_HOST: standin.url,
      LANGFUSE_PUBLIC_KEY: LF_PUBLIC,
      LANGFUSE_SECRET_KEY: LF_SECRET,
      CLAUDE_RUNNER_API_TOKEN: API_TOKEN,
      E2E_LANGFUSE_WAIT: '1',
      // The stand-in has the spans before the session reports Completed: a failure need not
      // wait the 120 s meant for a real Langfuse's ingestion.
      E2E_VERIFY_TIMEOUT: '15',
    });
    assert.equal(run.code, 0, `exit code; output:\n${run.stdout}\n${run.stderr}`);

    const m = inOrder(run.lines, [
      RULE,
      /^Langfuse E2E Test - Test ID: (\d{10}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})$/,
      RULE,
      new RegExp(
        `^Using Langfuse at ${escape(standin.url)} \\(public key length: ${LF_PUBLIC.length}, secret key length: ${LF_SECRET.length}\\)$`,
      ),
      /^Starting a local control plane \(claude-code-runner serve, scripted model\)$/,
      /^✓ Control plane listening: http:\/\/127\.0\.0\.1:\d+$/,
      /^Getting API token for backend API authentication$/,
      new RegExp(
        `^✓ Got API token from CLAUDE_RUNNER_API_TOKEN \\(length: ${API_TOKEN.length}\\)$`,
      ),
      /^Creating AgenticSession via backend API$/,
      /^✓ Session created: (session-[0-9a-z]+)$/,
      /^Waiting for session completion \(timeout: 300s\)$/,
      /^\[0s\] Check #1 - Phase: (Pending|Creating|Running)$/,
      /^\[\d+s\] Check #\d+ - Phase: Completed$/,
      /^✓ Session completed successfully$/,
      /^Waiting 1 second for Langfuse to process trace\.\.\.$/,
      /^Verifying Langfuse trace\.\.\.$/,
      /^✓ Trace found for session: (session-[0-9a-z]+)$/,
      /^✓ Generation has usage data \(input_tokens=(\d+)\)$/,
      /^✓ Prompt contains test ID marker: (\S+)$/,
      /^✅ Langfuse verification complete$/,
      /^Cleaning up session: (session-[0-9a-z]+)$/,
      /^✓ Session deleted successfully$/,
      RULE,
      /^✅ TEST PASSED$/,
      RULE,
    ]);
    const testId = m[1]![1]!;
    const name = m[9]![1]!;
    assert.equal(m[16]![1], name, 'the trace line names the session');
    assert.equal(m[18]![1], testId, 'the marker line names the test id');
    assert.equal(m[20]![1], name, 'the session cleaned up is the one created');
    // The progress lines count up from 1 without gaps.
    const checks = run.lines.flatMap((l) => /^\[\d+s\] Check #(\d+) - Phase: /.exec(l)?.[1] ?? []);
    assert.deepEqual(
      checks.map(Number),
      checks.map((_, i) => i + 1),
    );

    // What really reached the stand-in: the runner's OTLP exports with the right credentials...
    const basic = `Basic ${Buffer.from(`${LF_PUBLIC}:${LF_SECRET}`).toString('base64')}`;
    const exports = standin.requests.filter((r) => r.path === '/api/public/otel/v1/traces');
    assert.ok(exports.length > 0, 'the runner exported spans');
    for (const r of exports) {
      assert.equal(r.status, 200);
      assert.equal(r.headers.authorization, basic);
    }
    // ...one trace for the session, whose generations carry the printed usage and the marker...
    const obs = standin.observations().filter((o) => o.sessionId === name);
    assert.equal(new Set(obs.map((o) => o.traceId)).size, 1, 'one trace for the one run');
    const generations = obs.filter((o) => o.type === 'GENERATION');
    assert.ok(
      generations.some((g) => g.usageDetails.input === Number(m[17]![1])),
      'the printed input_tokens are a generation`s',
    );
    assert.ok(
      generations.some((g) => JSON.stringify(g.input).includes(testId)),
      'the marker is in a generation`s input',
    );
    // ...and the program found it through the v2 observations API, by session id.
    const reads = standin.requests.filter((r) => r.path.startsWith('/api/public/v2/observations?'));
    assert.ok(reads.length > 0, 'read through v2 observations');
    assert.equal(new URL(reads[0]!.path, standin.url).searchParams.get('sessionId'), name);
    assert.equal(reads[0]!.status, 200);

    assertNothingSecretPrinted(run, [LF_PUBLIC, LF_SECRET, API_TOKEN]);
    for (const r of standin.requests)
      assert.ok(!r.body.includes(LF_SECRET) && !r.body.includes(API_TOKEN), 'a secret in a body');
    assert.deepEqual(processesTracingInto(standin), [], 'serve and its runners are gone');
  });

  test('wrong Langfuse keys: 401, the session still completes and is deleted, a clear reason', async () => {
    standin.reset();
    const wrongPublic = `pk-lf-wrong-${randomBytes(8).toString('hex')}`;
    const wrongSecret = `sk-lf-wrong-${randomBytes(12).toString('hex')}`;
    const run = await runProgram({
      LANGFUSE_HOST: standin.url,
      LANGFUSE_PUBLIC_KEY: wrongPublic,
      LANGFUSE_SECRET_KEY: wrongSecret,
      E2E_LANGFUSE_WAIT: '0',
    });
    assert.equal(run.code, 1, `exit code; output:\n${run.stdout}\n${run.stderr}`);
    inOrder(run.lines, [
      /^✓ Session created: session-/,
      /^✓ Session completed successfully$/,
      /^Verifying Langfuse trace\.\.\.$/,
      /^✗ Langfuse at .* refused the keys \(401: .*check LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY/,
      // The runner's own report, read from the control plane's log of the run.
      /^ {4}Runner log: .*Langfuse export failed \(HTTP 401/,
      /^✓ Session deleted successfully$/,
      RULE,
      /^❌ TEST FAILED: Langfuse at .* refused the keys \(401/,
      RULE,
    ]);
    assert.ok(!run.stdout.includes('✓ Trace found'));
    // The runner did send its spans, with the wrong keys, and the stand-in refused them all.
    const exports = standin.requests.filter((r) => r.path === '/api/public/otel/v1/traces');
    assert.ok(exports.length > 0, 'the runner tried to export');
    assert.ok(exports.every((r) => r.status === 401));
    assert.equal(standin.spans().length, 0, 'nothing stored');
    assertNothingSecretPrinted(run, [wrongPublic, wrongSecret, LF_SECRET]);
    assert.deepEqual(processesTracingInto(standin), [], 'serve and its runners are gone');
  });

  test('an unreachable BACKEND_URL fails at the create step and names the variable', async () => {
    const closed = await closedPort();
    const run = await runProgram({
      BACKEND_URL: `http://127.0.0.1:${closed}`,
      BACKEND_TOKEN: API_TOKEN,
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    inOrder(run.lines, [
      /^Starting the local Langfuse stand-in \(no LANGFUSE_HOST given\)$/,
      /^✓ Got API token from BACKEND_TOKEN \(length: \d+\)$/,
      /^✗ Could not create the session: cannot reach the control plane at .*connection refused.*check BACKEND_URL/,
      /^❌ TEST FAILED: Could not create the session/,
    ]);
    assert.ok(!run.stdout.includes('Cleaning up session'), 'no session, nothing to delete');
    assertNothingSecretPrinted(run, [API_TOKEN]);
  });

  test('incomplete settings: exit 2 with every problem, before anything starts', async () => {
    const run = await runProgram({
      LANGFUSE_HOST: standin.url,
      LANGFUSE_SECRET_KEY: LF_SECRET,
      BACKEND_URL: 'http://127.0.0.1:1',
      E2E_SESSION_TIMEOUT: 'soon',
    });
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '', 'no banner: the test did not start');
    assert.match(
      run.stderr,
      /LANGFUSE_PUBLIC_KEY: is missing: set LANGFUSE_HOST, LANGFUSE_PUBLIC_KEY/,
    );
    assert.match(run.stderr, /CLAUDE_RUNNER_API_TOKEN: is required with BACKEND_URL/);
    assert.match(run.stderr, /E2E_SESSION_TIMEOUT: "soon" is not a number of seconds/);
    assertNothingSecretPrinted(run, [LF_SECRET]);
  });
});

/** A port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}
