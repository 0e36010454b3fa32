// Langfuse down, failing, rejecting the keys or not answering: the session is never failed nor
// held beyond LANGFUSE_FLUSH_TIMEOUT, and the problem is reported once.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createLangfuseTracer } from '../../src/observability/langfuse/tracer.js';
import type { Tracer } from '../../src/observability/tracing.js';
import {
  startLangfuseStandin,
  type LangfuseStandin,
  type StandinMode,
} from '../../src/testing/langfuse-standin/index.js';
import {
  LF_PUBLIC,
  LF_SECRET,
  configFor,
  depsFor,
  loadFixture,
  replay,
} from './langfuse-helpers.js';

const BOUND_S = 0.5;
const SLACK_MS = 700;

let standin: LangfuseStandin;
before(async () => {
  standin = await startLangfuseStandin({ publicKey: LF_PUBLIC, secretKey: LF_SECRET });
});
after(() => standin.close());

/** Two turns as the runner drives them, then shutdown; returns timings and warnings. */
async function runSession(url: string, env: Record<string, string> = {}) {
  const fixture = loadFixture('multi');
  const config = configFor(
    { url },
    { PROMPT: '', INTERACTIVE: 'true', LANGFUSE_FLUSH_TIMEOUT: String(BOUND_S), ...env },
  );
  const { deps, captured } = depsFor(config);
  const tracer: Tracer = createLangfuseTracer(deps);
  const flushes: number[] = [];
  const started = Date.now();
  let t = Date.now();
  await replay(tracer, fixture, () => {
    flushes.push(Date.now() - t);
    t = Date.now();
  });
  const s0 = Date.now();
  await tracer.shutdown({ error: 'the run failed' });
  return {
    flushes,
    shutdownMs: Date.now() - s0,
    totalMs: Date.now() - started,
    warnings: captured.warnings,
  };
}

async function withMode(mode: StandinMode, fn: () => Promise<void>): Promise<void> {
  standin.reset();
  standin.setMode(mode);
  try {
    await fn();
  } finally {
    standin.setMode('normal');
  }
}

describe('Langfuse failures never fail or hold the session', () => {
  test('Langfuse answers 500', () =>
    withMode('fail-500', async () => {
      const r = await runSession(standin.url);
      assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
      assert.match(r.warnings[0]!, /Langfuse export failed \(.*500/);
      assert.ok(r.totalMs < BOUND_S * 1000 + SLACK_MS, `took ${r.totalMs} ms`);
      assert.ok(
        standin.requests.some((q) => q.status === 500),
        'the exporter did try',
      );
    }));

  test('Langfuse rejects the keys (401)', () =>
    withMode('normal', async () => {
      const r = await runSession(standin.url, { LANGFUSE_SECRET_KEY: 'sk-lf-wrong-0000000000' });
      assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
      assert.match(r.warnings[0]!, /401/);
      assert.ok(!r.warnings[0]!.includes('sk-lf-wrong-0000000000'));
      assert.ok(standin.requests.length > 0 && standin.requests.every((q) => q.status === 401));
      assert.equal(standin.spans().length, 0, 'nothing stored without the right keys');
    }));

  test('Langfuse does not answer: every flush and the shutdown return within the bound', () =>
    withMode('hang', async () => {
      const r = await runSession(standin.url);
      assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
      assert.match(r.warnings[0]!, /did not answer within 0.5 s/);
      for (const ms of r.flushes)
        assert.ok(ms < BOUND_S * 1000 + SLACK_MS, `a flush took ${ms} ms`);
      assert.ok(r.shutdownMs < BOUND_S * 1000 + SLACK_MS, `shutdown took ${r.shutdownMs} ms`);
      // The second turn's flush did not queue behind the hung first one.
      assert.ok(r.flushes[1]! < 200, `second flush took ${r.flushes[1]} ms`);
    }));

  test('Langfuse is down (connection refused)', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await runSession(`http://127.0.0.1:${port}`);
    assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
    assert.ok(r.totalMs < 2 * BOUND_S * 1000 + SLACK_MS, `took ${r.totalMs} ms`);
  });
});
