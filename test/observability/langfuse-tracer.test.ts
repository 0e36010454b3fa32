// The Langfuse tracer, driven with SDK message sequences recorded from the real CLI (fixtures/),
// asserting on what crossed the wire to the Langfuse stand-in.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { createTracer } from '../../src/observability/langfuse/index.js';
import { createLangfuseTracer } from '../../src/observability/langfuse/tracer.js';
import { MASK_PLACEHOLDER } from '../../src/observability/langfuse/content.js';
import { noopTracer } from '../../src/observability/tracing.js';
import {
  startLangfuseStandin,
  type LangfuseStandin,
  type StandinObservation,
} from '../../src/testing/langfuse-standin/index.js';
import {
  API_KEY,
  LF_PUBLIC,
  LF_SECRET,
  SESSION_ID,
  byName,
  configFor,
  depsFor,
  exportedText,
  generationUsage,
  loadFixture,
  replay,
  servedUsage,
} from './langfuse-helpers.js';

let standin: LangfuseStandin;
before(async () => {
  standin = await startLangfuseStandin({ publicKey: LF_PUBLIC, secretKey: LF_SECRET });
});
after(() => standin.close());
beforeEach(() => {
  standin.reset();
  standin.setMode('normal');
});

function one<T>(list: T[], what: string): T {
  assert.equal(list.length, 1, `exactly one ${what}, got ${list.length}`);
  return list[0]!;
}

function usageOf(o: StandinObservation) {
  const { input, output, cache_read_input_tokens, cache_creation_input_tokens } = o.usageDetails;
  return { input, output, cache_read_input_tokens, cache_creation_input_tokens };
}

describe('Langfuse tracer', () => {
  test('a turn with tools: trace, generations with exact usage, tool spans, attributes on every span', async () => {
    const fixture = loadFixture('tools');
    const config = configFor(standin, { PROMPT: fixture.prompts[0]! });
    const { deps, captured } = depsFor(config);
    const tracer = createLangfuseTracer(deps);
    await replay(tracer, fixture);
    // The turn was exported by the flush after its result, before shutdown.
    const afterTurn = standin.observations().map((o) => o.name);
    assert.ok(
      afterTurn.includes('claude_turn') &&
        afterTurn.filter((n) => n === 'claude_interaction').length === 3,
      `${afterTurn}`,
    );
    await tracer.shutdown({});
    assert.deepEqual(captured.warnings, []);

    const obs = standin.observations();
    const traceIds = new Set(obs.map((o) => o.traceId));
    assert.equal(traceIds.size, 1, 'one trace for the run');
    const root = one(byName(obs, 'claude_agent_session'), 'root');
    assert.equal(root.type, 'AGENT');
    assert.equal(root.parentObservationId, null);
    const turn = one(byName(obs, 'claude_turn'), 'turn');
    assert.equal(turn.parentObservationId, root.id);
    assert.equal(turn.metadata.turn, 1);
    assert.equal(turn.input, fixture.prompts[0]);

    // One generation per model call, in the served order, each with that call's exact usage.
    const gens = byName(obs, 'claude_interaction');
    const served = fixture.served.filter((s) => !s.auxiliary);
    assert.equal(gens.length, served.length);
    for (const s of served) {
      const g = one(
        gens.filter((o) => o.metadata.message_id === s.messageId),
        `generation ${s.messageId}`,
      );
      assert.equal(g.type, 'GENERATION');
      assert.equal(g.parentObservationId, turn.id);
      assert.equal(g.model, s.model);
      assert.equal(g.metadata.turn, 1);
      assert.equal(g.metadata.usage_final, true);
      assert.deepEqual(usageOf(g), {
        input: s.usage.input_tokens,
        output: s.usage.output_tokens,
        cache_read_input_tokens: s.usage.cache_read_input_tokens,
        cache_creation_input_tokens: s.usage.cache_creation_input_tokens,
      });
      assert.ok(
        g.usageDetails.cache_read_input_tokens! > 0 &&
          g.usageDetails.cache_creation_input_tokens! > 0,
        'cache tokens present',
      );
    }
    assert.deepEqual(generationUsage(obs), servedUsage(fixture));
    const first = gens.find((g) => g.metadata.message_id === served[0]!.messageId)!;
    const last = gens.find((g) => g.metadata.message_id === served[2]!.messageId)!;
    assert.equal(first.input, fixture.prompts[0], 'the first call got the user message');
    assert.equal(first.output, 'Running a command.');
    assert.equal(last.output, 'All done; one command failed.');
    assert.ok(Array.isArray(last.input), 'a later call got the tool results');

    // Tool calls under the call that made them; the failing one at level ERROR.
    const tools = byName(obs, 'tool_Bash');
    assert.equal(tools.length, 2);
    const [ok, failed] = tools.sort((a, b) =>
      String(a.metadata.tool_use_id).localeCompare(String(b.metadata.tool_use_id), 'en', {
        numeric: true,
      }),
    );
    assert.equal(ok!.type, 'TOOL');
    assert.equal(ok!.parentObservationId, first.id);
    assert.deepEqual(ok!.input, { command: 'echo hi', description: 'say hi' });
    assert.equal(ok!.output, 'hi');
    assert.equal(ok!.level, 'DEFAULT');
    assert.equal(failed!.level, 'ERROR');
    assert.match(failed!.statusMessage ?? '', /Exit code 3/);

    // Trace-level attributes on every observation.
    const userId = config.session.userId!;
    assert.equal(userId, 'user_42_script_');
    for (const o of obs) {
      assert.equal(o.sessionId, SESSION_ID, `${o.name} session`);
      assert.equal(o.userId, userId);
      assert.deepEqual(o.tags, ['claude-code', 'model:claude-sonnet-4-5', 'namespace:team-a']);
    }
    for (const span of standin.spans()) {
      assert.equal(span.attributes['session.id'], SESSION_ID);
      assert.equal(span.attributes['langfuse.trace.name'], SESSION_ID);
      assert.equal(span.scope.name, 'langfuse-sdk');
      assert.equal(span.resource['service.name'], 'claude-code-runner');
    }
    const trace = one(standin.traces(), 'trace');
    const result = fixture.messages.find((m) => m.type === 'result') as Extract<
      SDKMessage,
      { type: 'result' }
    >;
    assert.equal(trace.name, SESSION_ID);
    assert.equal(trace.sessionId, SESSION_ID);
    assert.equal(trace.input, fixture.prompts[0]);
    assert.equal(trace.output, 'All done; one command failed.');
    assert.equal(trace.metadata.namespace, 'team-a');
    assert.equal(trace.metadata.user_name, 'Ada Lovelace');
    assert.equal(trace.metadata.model, 'claude-sonnet-4-5');
    assert.equal(trace.metadata.prompt, fixture.prompts[0]);
    assert.equal(trace.metadata.total_cost_usd, result.total_cost_usd);
    assert.equal(trace.metadata.num_turns, result.num_turns);
    assert.equal(trace.metadata.duration_ms, result.duration_ms);

    // On the wire: the Langfuse OTLP endpoint, Basic auth with the configured keys, JSON.
    const posts = standin.requests.filter((r) => r.method === 'POST');
    assert.ok(posts.length >= 2, 'flushed after the turn and at shutdown');
    for (const r of posts) {
      assert.equal(r.path, '/api/public/otel/v1/traces');
      assert.equal(r.status, 200);
      assert.equal(
        r.headers.authorization,
        `Basic ${Buffer.from(`${LF_PUBLIC}:${LF_SECRET}`).toString('base64')}`,
      );
      assert.match(r.contentType, /application\/json/);
      assert.equal(r.headers['x-langfuse-sdk-name'], 'javascript');
      assert.equal(r.headers['x-langfuse-ingestion-version'], '4', 'the real-time ingestion path');
    }
  });

  test('several turns: a span per turn, generations carry their turn, flushed after each turn', async () => {
    const fixture = loadFixture('multi');
    const config = configFor(standin, { PROMPT: '', INTERACTIVE: 'true' });
    const { deps, captured } = depsFor(config);
    const tracer = createLangfuseTracer(deps);
    const exportedPerTurn: number[] = [];
    await replay(tracer, fixture, () => {
      exportedPerTurn.push(standin.observations().filter((o) => o.name === 'claude_turn').length);
    });
    await tracer.shutdown({});
    assert.deepEqual(exportedPerTurn, [1, 2], 'each turn reached Langfuse right after its result');
    assert.deepEqual(captured.warnings, []);
    const obs = standin.observations();
    assert.equal(new Set(obs.map((o) => o.traceId)).size, 1);
    const turns = byName(obs, 'claude_turn');
    assert.deepEqual(
      turns.map((t) => t.metadata.turn),
      [1, 2],
    );
    assert.deepEqual(
      turns.map((t) => t.input),
      fixture.prompts,
    );
    const gens = byName(obs, 'claude_interaction');
    assert.equal(gens.length, 4);
    const lastServed = fixture.served.at(-1)!;
    const lastGen = gens.find((g) => g.metadata.message_id === lastServed.messageId)!;
    assert.equal(lastGen.metadata.turn, 2);
    assert.equal(lastGen.parentObservationId, turns[1]!.id);
    assert.equal(lastGen.input, 'second message');
    assert.deepEqual(generationUsage(obs), servedUsage(fixture));
    const trace = one(standin.traces(), 'trace');
    assert.equal(
      trace.metadata.prompt,
      fixture.prompts[0],
      'interactive: the first message stands for the prompt',
    );
    const results = fixture.messages.filter((m) => m.type === 'result') as Extract<
      SDKMessage,
      { type: 'result' }
    >[];
    assert.equal(
      trace.metadata.num_turns,
      results.reduce((n, r) => n + r.num_turns, 0),
    );
    assert.equal(trace.metadata.total_cost_usd, results.at(-1)!.total_cost_usd);
  });

  test('a sub-agent: its calls nest under the Task call, usage sums equal what the model served', async () => {
    const fixture = loadFixture('subagent');
    const config = configFor(standin, { PROMPT: fixture.prompts[0]! });
    const { deps, captured } = depsFor(config);
    const tracer = createLangfuseTracer(deps);
    await replay(tracer, fixture);
    await tracer.shutdown({});
    assert.deepEqual(captured.warnings, []);
    const obs = standin.observations();
    const task = one(byName(obs, 'tool_Task'), 'Task call');
    const taskId = String(task.metadata.tool_use_id);
    assert.equal((task.input as { prompt: string }).prompt, 'SUBAGENT-JOB: echo sub');
    const sub = byName(obs, 'claude_interaction').filter(
      (g) => g.metadata.parent_tool_use_id === taskId,
    );
    assert.equal(sub.length, 2, 'both sub-agent calls');
    for (const g of sub) assert.equal(g.parentObservationId, task.id, 'nested under the Task call');
    assert.equal(sub[0]!.input, 'SUBAGENT-JOB: echo sub', 'the sub-agent call got its prompt');
    const subBash = one(byName(obs, 'tool_Bash'), 'sub-agent Bash');
    assert.ok(
      sub.some((g) => g.id === subBash.parentObservationId),
      'the sub-agent tool under the sub-agent call',
    );
    const main = byName(obs, 'claude_interaction').filter(
      (g) => g.metadata.parent_tool_use_id === undefined,
    );
    assert.equal(main.length, 3);
    // The sub-agent reporting back started an agent-initiated turn.
    const turns = byName(obs, 'claude_turn');
    assert.equal(turns.length, 2);
    assert.equal(turns[1]!.metadata.started_by, 'agent');
    // The SDK reports a sub-agent call's usage before its output is final; the CLI's counters
    // fill the gap so that the generations sum to exactly what the model served.
    assert.ok(byName(obs, 'usage_reconciliation').length >= 1);
    assert.deepEqual(generationUsage(obs), servedUsage(fixture));
  });

  test('without partial messages the usage still sums to what the model served', async () => {
    const fixture = loadFixture('tools');
    const noStream = {
      ...fixture,
      messages: fixture.messages.filter((m) => m.type !== 'stream_event'),
    };
    noStream.turnStarts = [0];
    const config = configFor(standin, { PROMPT: fixture.prompts[0]! });
    const { deps } = depsFor(config);
    const tracer = createLangfuseTracer(deps);
    await replay(tracer, noStream);
    await tracer.shutdown({});
    const obs = standin.observations();
    assert.equal(
      byName(obs, 'claude_interaction').length,
      3,
      'one generation per message id, not per block',
    );
    assert.deepEqual(generationUsage(obs), servedUsage(fixture));
  });

  test('masking keeps structure, models and usage, and no body text', async () => {
    const fixture = loadFixture('tools');
    const config = configFor(standin, {
      PROMPT: fixture.prompts[0]!,
      LANGFUSE_MASK_MESSAGES: 'true',
    });
    const { deps } = depsFor(config);
    const tracer = createLangfuseTracer(deps);
    await replay(tracer, fixture);
    await tracer.shutdown({});
    const obs = standin.observations();
    const gens = byName(obs, 'claude_interaction');
    assert.equal(gens.length, 3);
    for (const g of gens) {
      assert.ok(g.model && g.usageDetails.input! > 0);
      if (g.output !== null) assert.equal(g.output, MASK_PLACEHOLDER);
    }
    const tools = byName(obs, 'tool_Bash');
    assert.equal(tools.length, 2);
    for (const t of tools) {
      assert.deepEqual(
        t.input,
        { command: MASK_PLACEHOLDER, description: MASK_PLACEHOLDER },
        'keys kept, values masked',
      );
      assert.equal(t.output, MASK_PLACEHOLDER);
    }
    assert.equal(
      tools.filter((t) => t.level === 'ERROR').length,
      1,
      'the failure is still visible',
    );
    const text = exportedText(standin);
    for (const secretish of [
      'run the commands',
      'echo hi',
      'Running a command',
      'All done',
      'Exit code 3',
    ]) {
      assert.ok(!text.includes(secretish), `"${secretish}" must not be exported`);
    }
    assert.equal(one(standin.traces(), 'trace').metadata.prompt, MASK_PLACEHOLDER);
  });

  test('no secret in any exported byte', async () => {
    const config = configFor(standin, {
      PROMPT: `use ${API_KEY} and ${LF_SECRET}`,
      GITHUB_TOKEN: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    });
    const { deps } = depsFor(config);
    const tracer = createLangfuseTracer(deps);
    const leak = `key=${API_KEY} lf=${LF_SECRET} pk=${LF_PUBLIC} gh=ghp_abcdefghijklmnopqrstuvwxyz0123456789`;
    tracer.startTurn({ text: `first: ${leak}`, turn: 1 });
    const messages = [
      { type: 'system', subtype: 'init', model: 'claude-sonnet-4-5', session_id: 'x' },
      {
        type: 'assistant',
        parent_tool_use_id: null,
        message: {
          id: 'msg_1',
          model: 'claude-sonnet-4-5',
          content: [
            { type: 'text', text: `I found ${leak}` },
            {
              type: 'tool_use',
              id: 'toolu_1',
              name: 'Bash',
              input: {
                command: `curl -H "Authorization: Bearer ${API_KEY}" x`,
                env: { K: LF_SECRET },
              },
            },
          ],
          usage: { input_tokens: 10, output_tokens: 5 },
        },
      },
      {
        type: 'user',
        parent_tool_use_id: null,
        message: {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              is_error: true,
              content: `failed: ${leak}`,
            },
          ],
        },
      },
      {
        type: 'result',
        subtype: 'success',
        is_error: false,
        num_turns: 1,
        duration_ms: 5,
        duration_api_ms: 4,
        total_cost_usd: 0.01,
        result: `done ${leak}`,
        usage: {},
      },
    ];
    for (const m of messages) tracer.observe(m as unknown as SDKMessage);
    await tracer.flush();
    await tracer.shutdown({ error: `crashed with ${leak}` });
    // Bodies as they crossed the wire, and every header but the credentials Langfuse needs.
    const text = standin.requests
      .map((r) => {
        const { authorization: _a, 'x-langfuse-public-key': _p, ...headers } = r.headers;
        return r.rawBody.toString('utf8') + JSON.stringify(headers);
      })
      .join('\n');
    assert.ok(standin.requests.length >= 2);
    for (const secret of [
      API_KEY,
      LF_SECRET,
      LF_PUBLIC,
      'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    ]) {
      assert.ok(!text.includes(secret), `secret ${secret.slice(0, 10)}… leaked`);
    }
    assert.ok(exportedText(standin).includes('[REDACTED]'), 'the redactor ran');
    const obs = standin.observations();
    assert.equal(one(byName(obs, 'tool_Bash'), 'tool').level, 'ERROR');
  });

  test('shutdown after a failure closes what is open with level ERROR', async () => {
    const config = configFor(standin);
    const { deps } = depsFor(config);
    const tracer = createLangfuseTracer(deps);
    tracer.startTurn({ text: 'do it', turn: 1 });
    tracer.observe({
      type: 'assistant',
      parent_tool_use_id: null,
      message: {
        id: 'msg_1',
        model: 'm',
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'sleep 100' } },
        ],
        usage: { input_tokens: 3, output_tokens: 1 },
      },
    } as unknown as SDKMessage);
    await tracer.shutdown({ error: 'The session timed out after 10 s' });
    await tracer.shutdown({ error: 'again' }); // idempotent
    const obs = standin.observations();
    for (const name of ['claude_agent_session', 'claude_turn', 'claude_interaction', 'tool_Bash']) {
      const o = one(byName(obs, name), name);
      assert.equal(o.level, 'ERROR', `${name} level`);
      assert.equal(o.statusMessage, 'The session timed out after 10 s');
      assert.ok(o.endTime, `${name} ended`);
    }
  });

  test('a failed model call (synthetic assistant message with error) is a generation at level ERROR', async () => {
    const { deps } = depsFor(configFor(standin));
    const tracer = createLangfuseTracer(deps);
    tracer.startTurn({ text: 'hi', turn: 1 });
    for (const m of [
      {
        type: 'assistant',
        parent_tool_use_id: null,
        error: 'server_error',
        message: {
          id: 'msg_err',
          model: '<synthetic>',
          content: [{ type: 'text', text: 'API Error: 500' }],
          usage: { input_tokens: 0, output_tokens: 0 },
        },
      },
      {
        type: 'result',
        subtype: 'error_during_execution',
        is_error: true,
        num_turns: 1,
        duration_ms: 1,
        duration_api_ms: 1,
        total_cost_usd: 0,
      },
    ])
      tracer.observe(m as unknown as SDKMessage);
    await tracer.shutdown({});
    const obs = standin.observations();
    const gen = one(byName(obs, 'claude_interaction'), 'generation');
    assert.equal(gen.level, 'ERROR');
    assert.equal(gen.statusMessage, 'server_error');
    const turn = one(byName(obs, 'claude_turn'), 'turn');
    assert.equal(turn.level, 'ERROR');
    assert.equal(turn.statusMessage, 'error_during_execution');
  });

  test('createTracer: nothing at all when Langfuse is off, the Langfuse tracer when on', async () => {
    const off = configFor(standin, { LANGFUSE_ENABLED: 'false' });
    assert.equal(await createTracer(depsFor(off).deps), noopTracer);
    const missing = configFor(standin, { LANGFUSE_SECRET_KEY: '' });
    assert.equal(missing.langfuse.enabled, false);
    assert.match(missing.warnings.join('\n'), /Langfuse tracing is off/);
    assert.equal(await createTracer(depsFor(missing).deps), noopTracer);
    const on = await createTracer(depsFor(configFor(standin)).deps);
    assert.notEqual(on, noopTracer);
    await on.shutdown({});
    assert.ok(standin.observations().some((o) => o.name === 'claude_agent_session'));
  });
});
