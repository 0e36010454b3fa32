// End-to-end: Vertex AI with a user's token, model names mapped to Vertex ids, and continuing an
// earlier session (PARENT_SESSION_ID) from the CLI state kept on the workspace volume.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { harness, runToEnd, type Harness } from './harness.js';

const VERTEX_TOKEN = 'ya29.vertex-user-token-for-tests-0123456789abcdef';

describe('model providers and continuation', () => {
  let h: Harness;
  before(async () => {
    h = await harness({
      scenarios: [
        {
          name: 'remember',
          turns: [
            { match: 'remember the word', steps: [{ text: 'I will remember: pineapple.' }] },
            { match: 'what was the word', steps: [{ text: 'The word was pineapple.' }] },
          ],
        },
      ],
    });
  });
  after(async () => h.cleanup());
  beforeEach(() => h.backend.reset());

  test('Vertex AI with a user access token: the CLI reaches :streamRawPredict with the token, model id mapped', async () => {
    const vertexEnv = { ...h.env, ANTHROPIC_API_KEY: '' };
    const r = await runToEnd(vertexEnv, {
      PROMPT: '[[scenario:hello]] hi',
      SESSION_ID: 'vx1',
      VERTEX_ENABLED: 'true',
      VERTEX_PROJECT_ID: 'proj-1',
      VERTEX_REGION: 'us-east5',
      VERTEX_USER_TOKEN: VERTEX_TOKEN,
      ANTHROPIC_VERTEX_BASE_URL: h.model.url,
      LLM_MODEL: 'claude-sonnet-4-5',
    });
    assert.equal(r.code, 0, r.stderr);
    const vertexCalls = h.model.requests.filter((q) =>
      q.path.includes('/projects/proj-1/locations/us-east5/publishers/anthropic/models/'),
    );
    assert.ok(vertexCalls.length > 0, 'requests went to the Vertex path');
    assert.ok(
      vertexCalls.every((q) => q.path.includes('claude-sonnet-4-5@20250929:streamRawPredict')),
      vertexCalls.map((q) => q.path).join(', '),
    );
    assert.ok(h.model.rawAuthorization().includes(`Bearer ${VERTEX_TOKEN}`));
    assert.equal(h.backend.statuses.at(-1)!.phase, 'Completed');
    const everything = r.stderr + h.backend.rawFrames.join('') + JSON.stringify(h.backend.statuses);
    assert.ok(!everything.includes(VERTEX_TOKEN), 'the Vertex token is never echoed');
  });

  test("the CLI's names for Vertex work too (CLAUDE_CODE_USE_VERTEX, ANTHROPIC_VERTEX_PROJECT_ID, CLOUD_ML_REGION)", async () => {
    const r = await runToEnd(
      { ...h.env, ANTHROPIC_API_KEY: '' },
      {
        PROMPT: '[[scenario:hello]] hi',
        SESSION_ID: 'vx2',
        CLAUDE_CODE_USE_VERTEX: '1',
        ANTHROPIC_VERTEX_PROJECT_ID: 'proj-2',
        CLOUD_ML_REGION: 'europe-west1',
        VERTEX_USER_TOKEN: VERTEX_TOKEN,
        ANTHROPIC_VERTEX_BASE_URL: h.model.url,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      h.model.requests.some((q) => q.path.includes('/projects/proj-2/locations/europe-west1/')),
    );
  });

  test('Vertex without credentials is a configuration error naming what to set', async () => {
    const r = await runToEnd(
      { ...h.env, ANTHROPIC_API_KEY: '' },
      { PROMPT: 'hi', VERTEX_ENABLED: 'true', VERTEX_PROJECT_ID: 'p' },
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /VERTEX_REGION/);
    assert.match(r.stderr, /VERTEX_USER_TOKEN.*GOOGLE_APPLICATION_CREDENTIALS/);
  });

  test("PARENT_SESSION_ID resumes the parent's conversation in the same workspace", async () => {
    const first = await runToEnd(h.env, {
      PROMPT: '[[scenario:remember]] remember the word pineapple',
      SESSION_ID: 'parent-1',
    });
    assert.equal(first.code, 0, first.stderr);
    const patch = h.backend.calls.find((c) => c.method === 'PATCH')!.body as {
      metadata: { annotations: Record<string, string> };
    };
    const sdkSessionId = patch.metadata.annotations['ambient-code.io/sdk-session-id']!;
    assert.ok(sdkSessionId);

    h.backend.reset();
    h.backend.setSession('parent-1', {
      metadata: {
        name: 'parent-1',
        annotations: { 'ambient-code.io/sdk-session-id': sdkSessionId },
      },
    });
    const requestsBefore = h.model.requests.length;
    const second = await runToEnd(h.env, {
      PROMPT: '[[scenario:remember]] what was the word?',
      SESSION_ID: 'child-1',
      PARENT_SESSION_ID: 'parent-1',
    });
    assert.equal(second.code, 0, second.stderr);
    assert.ok(h.backend.frames.some((f) => f.payload.event === 'session.continued'));
    // The model saw the parent's conversation: its first answer is in the child's request.
    const childRequests = h.model.requests
      .slice(requestsBefore)
      .filter((q) => q.kind === 'messages' && !q.auxiliary);
    assert.ok(
      childRequests.some((q) => JSON.stringify(q.body).includes('I will remember: pineapple.')),
      'history resumed',
    );
    const final = h.backend.statuses.at(-1)!;
    assert.equal(final.phase, 'Completed');
    assert.match(String(final.result), /The word was pineapple/);
  });
});
