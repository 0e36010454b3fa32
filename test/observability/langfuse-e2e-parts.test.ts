// The parts of the Langfuse end-to-end program that its two real sessions cannot reach: its
// configuration, and how it reads Langfuse when the v2 observations API ignores the sessionId
// filter or does not exist (older Langfuse), in front of the stand-in holding real tracer output.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadLangfuseE2eConfig } from '../../src/config/langfuse-e2e-config.js';
import { ConfigError } from '../../src/errors.js';
import { LangfuseReadError, LangfuseReader } from '../../src/e2e/langfuse/langfuse-api.js';
import { checkTrace } from '../../src/e2e/langfuse/verify.js';
import { createLangfuseTracer } from '../../src/observability/langfuse/tracer.js';
import {
  startLangfuseStandin,
  type LangfuseStandin,
} from '../../src/testing/langfuse-standin/index.js';
import {
  LF_PUBLIC,
  LF_SECRET,
  configFor,
  depsFor,
  loadFixture,
  replay,
} from './langfuse-helpers.js';

describe('Langfuse e2e configuration', () => {
  const problemsOf = (env: Record<string, string>): readonly string[] => {
    try {
      loadLangfuseE2eConfig(env);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems;
    }
    assert.fail('accepted');
  };

  test('nothing set: local serve with the scripted model, the stand-in, short waits', () => {
    const c = loadLangfuseE2eConfig({
      VERTEX_ENABLED: 'true',
      LANGFUSE_MASK_MESSAGES: 'true',
      PATH: '/bin',
    });
    assert.equal(c.project, 'ambient-code');
    assert.deepEqual(c.langfuse, { kind: 'standin' });
    assert.equal(c.backend.kind, 'local');
    assert.ok(c.backend.kind === 'local' && c.backend.model === 'scripted');
    // serve starts from this environment: what would steer the runners elsewhere is dropped.
    assert.deepEqual(c.backend.dropFromServe.sort(), ['LANGFUSE_MASK_MESSAGES', 'VERTEX_ENABLED']);
    assert.deepEqual(
      [c.sessionTimeoutMs, c.pollIntervalMs, c.langfuseWaitMs, c.verifyTimeoutMs],
      [300_000, 1_000, 1_000, 10_000],
    );
  });

  test('a real Langfuse and control plane: the seed`s timings, the token`s variable', () => {
    const c = loadLangfuseE2eConfig({
      BACKEND_URL: 'http://localhost:8080/api/',
      BACKEND_TOKEN: 'backend-token-0123456789',
      LANGFUSE_HOST: 'https://langfuse.example.com/',
      LANGFUSE_PUBLIC_KEY: 'pk-lf-real-0123',
      LANGFUSE_SECRET_KEY: 'sk-lf-real-4567',
      PROJECT: 'team-a',
    });
    assert.deepEqual(c.backend, {
      kind: 'external',
      url: 'http://localhost:8080',
      token: 'backend-token-0123456789',
      tokenVariable: 'BACKEND_TOKEN',
    });
    assert.ok(c.langfuse.kind === 'external' && c.langfuse.host === 'https://langfuse.example.com');
    assert.deepEqual(
      [c.sessionTimeoutMs, c.pollIntervalMs, c.langfuseWaitMs, c.verifyTimeoutMs],
      [300_000, 5_000, 10_000, 120_000],
    );
    assert.deepEqual(c.secrets.sort(), [
      'backend-token-0123456789',
      'pk-lf-real-0123',
      'sk-lf-real-4567',
    ]);
  });

  test('a real Anthropic key keeps the model settings for the local serve', () => {
    const c = loadLangfuseE2eConfig({
      ANTHROPIC_API_KEY: 'sk-ant-e2e-0123456789',
      ANTHROPIC_BASE_URL: 'https://proxy.example.com',
      LANGFUSE_FLUSH_TIMEOUT: '5',
      CLAUDE_RUNNER_PORT: '9',
    });
    assert.ok(c.backend.kind === 'local' && c.backend.model === 'anthropic');
    assert.deepEqual(c.backend.dropFromServe.sort(), [
      'CLAUDE_RUNNER_PORT',
      'LANGFUSE_FLUSH_TIMEOUT',
    ]);
  });

  test('bad values: every problem at once, named, with the fix, never a secret`s value', () => {
    const secret = 'sk-lf-has space';
    const problems = problemsOf({
      LANGFUSE_HOST: 'http://user:pw@langfuse:3000',
      LANGFUSE_PUBLIC_KEY: 'pk-lf-0123456789',
      LANGFUSE_SECRET_KEY: secret,
      CLAUDE_RUNNER_API_TOKEN: 'short-token',
      E2E_POLL_INTERVAL: '0',
      PROJECT: 'Not_A_Name',
    });
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), [
      'CLAUDE_RUNNER_API_TOKEN',
      'E2E_POLL_INTERVAL',
      'LANGFUSE_HOST',
      'LANGFUSE_SECRET_KEY',
      'PROJECT',
    ]);
    assert.ok(
      problems.every((p) => !p.includes(secret) && !p.includes('short-token') && !p.includes('pw')),
    );
    assert.match(
      problems.find((p) => p.startsWith('CLAUDE_RUNNER_API_TOKEN'))!,
      /at least 16 characters/,
    );
  });
});

/** Forwards to the stand-in, except that its v2 observations API misbehaves as `mode` says. */
async function startOlderLangfuse(
  target: LangfuseStandin,
  mode: { v2: 'ignores-session' | 'missing' },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', target.url);
    if (url.pathname === '/api/public/v2/observations') {
      if (mode.v2 === 'missing') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Route not found' }));
        return;
      }
      url.searchParams.delete('sessionId');
    }
    void fetch(url, { headers: { authorization: req.headers.authorization ?? '' } }).then(
      async (r) => {
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(await r.text());
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

describe('reading a session`s trace from Langfuse', () => {
  let standin: LangfuseStandin;
  const MARKER = '1700000000-abcd-ef01-2345';
  before(async () => {
    standin = await startLangfuseStandin({ publicKey: LF_PUBLIC, secretKey: LF_SECRET });
    // Two sessions in the same project, traced by the real tracer from a recorded CLI run.
    const fixture = loadFixture('tools');
    for (const [session, prompt] of [
      ['sess-a', `Langfuse end-to-end test ${MARKER}: run the commands`],
      ['sess-b', 'another session, no marker'],
    ] as const) {
      const config = configFor(standin, { SESSION_ID: session, PROMPT: prompt });
      const tracer = createLangfuseTracer(depsFor(config).deps);
      await replay(tracer, { ...fixture, prompts: [prompt] });
      await tracer.shutdown({});
    }
  });
  after(() => standin.close());

  const target = (host: string) => ({ host, publicKey: LF_PUBLIC, secretKey: LF_SECRET });
  const traceOf = (session: string) => standin.traces().find((t) => t.sessionId === session)!.id;

  test('a v2 API that ignores sessionId: only the session`s own observations are kept', async () => {
    const older = await startOlderLangfuse(standin, { v2: 'ignores-session' });
    try {
      const found = await new LangfuseReader(target(older.url)).sessionObservations('sess-a');
      assert.ok(found && !found.fallback);
      assert.deepEqual(found.traceIds, [traceOf('sess-a')]);
      assert.ok(found.observations.every((o) => o.sessionId === 'sess-a'));
      assert.deepEqual(checkTrace(found, 'sess-a', MARKER).failure, undefined);
    } finally {
      await older.close();
    }
  });

  test('no v2 API: found through traces?sessionId= and the trace`s detail', async () => {
    const older = await startOlderLangfuse(standin, { v2: 'missing' });
    try {
      const reader = new LangfuseReader(target(older.url));
      const found = await reader.sessionObservations('sess-a');
      assert.ok(found?.fallback);
      assert.deepEqual(found.traceIds, [traceOf('sess-a')]);
      const expected = standin.observations().filter((o) => o.sessionId === 'sess-a').length;
      assert.equal(found.observations.length, expected);
      const checks = checkTrace(found, 'sess-a', MARKER);
      assert.equal(checks.failure, undefined);
      assert.equal(checks.passed.length, 3);
      // The other session's trace has no marker: the check says so instead of passing.
      const other = await reader.sessionObservations('sess-b');
      assert.match(
        checkTrace(other, 'sess-b', MARKER).failure ?? '',
        /does not contain the test ID marker/,
      );
      assert.equal(await reader.sessionObservations('sess-none'), undefined);
    } finally {
      await older.close();
    }
  });

  test('wrong keys: a LangfuseReadError naming both key variables, no retry', async () => {
    const reader = new LangfuseReader({
      host: standin.url,
      publicKey: LF_PUBLIC,
      secretKey: 'sk-lf-nope-000000',
    });
    await assert.rejects(reader.sessionObservations('sess-a'), (e: unknown) => {
      assert.ok(e instanceof LangfuseReadError);
      assert.equal(e.status, 401);
      assert.match(e.message, /LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY/);
      assert.ok(!e.message.includes('sk-lf-nope-000000'));
      return true;
    });
  });

  test('masked inputs: the failure says why the marker cannot be found', () => {
    const checks = checkTrace(
      {
        via: 'test',
        fallback: false,
        traceIds: ['t'],
        observations: [{ type: 'GENERATION', input: '[masked]', usageDetails: { input: 3 } }],
      },
      's',
      MARKER,
    );
    assert.equal(checks.passed.length, 2);
    assert.match(checks.failure ?? '', /LANGFUSE_MASK_MESSAGES=true/);
  });
});
