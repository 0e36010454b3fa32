// The same checks as langfuse-tracer.test.ts, on messages from the installed CLI right now (the
// fixtures could go stale when the SDK changes what it yields): the real Claude Code CLI runs
// offline against the scripted model server, and its messages go through the tracer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLangfuseTracer } from '../../src/observability/langfuse/tracer.js';
import {
  startLangfuseStandin,
  type LangfuseStandin,
} from '../../src/testing/langfuse-standin/index.js';
import {
  startScriptedModelServer,
  type ScriptedModelServer,
} from '../../src/testing/scripted-model/index.js';
import {
  LF_PUBLIC,
  LF_SECRET,
  SESSION_ID,
  byName,
  configFor,
  depsFor,
  generationUsage,
  replay,
  servedUsage,
} from './langfuse-helpers.js';
import { FIXTURE_SCENARIOS, record } from './record-fixtures.js';

let standin: LangfuseStandin;
let model: ScriptedModelServer;
before(async () => {
  standin = await startLangfuseStandin({ publicKey: LF_PUBLIC, secretKey: LF_SECRET });
  model = await startScriptedModelServer({ scenarios: FIXTURE_SCENARIOS, quiet: true });
});
after(async () => {
  await standin.close();
  await model.close();
});

describe('Langfuse tracer with the live CLI', () => {
  test('tools and a sub-agent: structure and usage match what the model served', async () => {
    for (const spec of [
      { name: 'tools', prompts: ['[[scenario:lf-tools]] run the commands'], results: 1 },
      { name: 'subagent', prompts: ['[[scenario:lf-sub]] MAIN-TASK please delegate'], results: 2 },
    ]) {
      standin.reset();
      const fixture = await record(spec, model.url, model.served);
      const config = configFor(standin, { PROMPT: spec.prompts[0]! });
      const { deps, captured } = depsFor(config);
      const tracer = createLangfuseTracer(deps);
      await replay(tracer, fixture);
      await tracer.shutdown({});
      assert.deepEqual(captured.warnings, [], spec.name);
      const obs = standin.observations();
      const calls = fixture.served.filter((s) => !s.auxiliary);
      assert.ok(calls.length >= 3, `${spec.name}: model calls ${calls.length}`);
      assert.equal(
        byName(obs, 'claude_interaction').length,
        calls.length,
        `${spec.name}: one generation per model call`,
      );
      assert.deepEqual(generationUsage(obs), servedUsage(fixture), `${spec.name}: usage sums`);
      for (const o of obs) assert.equal(o.sessionId, SESSION_ID);
      if (spec.name === 'tools') {
        assert.deepEqual(
          byName(obs, 'tool_Bash')
            .map((t) => t.level)
            .sort(),
          ['DEFAULT', 'ERROR'],
        );
      } else {
        const task = byName(obs, 'tool_Task')[0]!;
        const nested = obs.filter(
          (o) => o.parentObservationId === task.id && o.type === 'GENERATION',
        );
        assert.equal(nested.length, 2, 'sub-agent calls under the Task call');
      }
    }
  });
});
