/**
 * What a runner token may reach, enforced by the control plane (no CLI here: the contract fake
 * runner in `idle` mode writes its environment, and the test calls the API with its BOT_TOKEN):
 * the sessions of its own project (list with pages, read, history, create, user messages), never
 * another project's and never management; the bounds on children per session and on depth; the
 * child's annotation and inherited user context; the sender recorded in both histories.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PARENT_SESSION_ANNOTATION } from '../../src/protocol/agents.js';
import {
  createSession,
  events,
  getSession,
  history,
  OTHER_PROJECT,
  PROJECT,
  SESSIONS,
  setup,
  botTokenOf,
  type SessionJson,
  type Setup,
} from './helpers.js';

const IDLE = { FAKE_MODE: 'idle' };

let s: Setup;

before(async () => {
  s = await setup({
    fake: true,
    maxConcurrent: 20,
    env: { CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION: '2', CLAUDE_RUNNER_MAX_SESSION_DEPTH: '2' },
  });
});
after(async () => {
  await s?.close();
});

const errorOf = (res: { json: unknown }) =>
  String((res.json as { error?: unknown } | undefined)?.error);

describe('the project scope of runner tokens', () => {
  it('reaches its own project (list, read, history, messages), never another project, never management', async () => {
    const root = await createSession(s.serve, { prompt: 'root', environmentVariables: IDLE });
    const target = await createSession(s.serve, {
      prompt: '',
      interactive: true,
      environmentVariables: IDLE,
    });
    const plain = await createSession(s.serve, {
      prompt: 'not interactive',
      environmentVariables: IDLE,
    });
    const otherRes = await s.serve.api('POST', `/projects/${OTHER_PROJECT}/agentic-sessions`, {
      prompt: 'elsewhere',
      environmentVariables: IDLE,
    });
    assert.equal(otherRes.status, 201, otherRes.text);
    const other = (otherRes.json as SessionJson).metadata.name;
    const token = await botTokenOf(s, root.metadata.name);
    const as = (method: string, p: string, body?: unknown) => s.serve.api(method, p, body, token);
    const t = target.metadata.name;

    // List, in pages, without repeats or gaps.
    const first = await as('GET', `${SESSIONS}?limit=2`);
    assert.equal(first.status, 200, first.text);
    const page1 = first.json as { items: SessionJson[]; metadata: { continue?: string } };
    assert.equal(page1.items.length, 2);
    assert.ok(page1.metadata.continue);
    const rest = (await as('GET', `${SESSIONS}?limit=2&continue=${page1.metadata.continue}`))
      .json as { items: SessionJson[]; metadata: { continue?: string } };
    assert.equal(rest.metadata.continue, undefined, 'the last page has no continue');
    assert.deepEqual(
      [...page1.items, ...rest.items].map((x) => x.metadata.name),
      [root, target, plain].map((x) => x.metadata.name),
    );
    const pending = (await as('GET', `${SESSIONS}?phase=Completed`)).json as { items: unknown[] };
    assert.deepEqual(pending.items, []);

    // Read any session of the project, and its history (the last entries with tail).
    assert.equal((await as('GET', `${SESSIONS}/${t}`)).status, 200);
    const tail = await as('GET', `/projects/${PROJECT}/sessions/${t}/messages?tail=1`);
    assert.equal(tail.status, 200, tail.text);
    const all = await history(s.serve, t);
    assert.deepEqual(
      (tail.json as { items: { seq: number }[] }).items.map((e) => e.seq),
      [all.at(-1)!.seq],
    );

    // Another project: 403 that says why, whatever the endpoint.
    for (const [method, p, body] of [
      ['GET', `/projects/${OTHER_PROJECT}/agentic-sessions`],
      ['POST', `/projects/${OTHER_PROJECT}/agentic-sessions`, { prompt: 'x' }],
      ['GET', `/projects/${OTHER_PROJECT}/agentic-sessions/${other}`],
      ['GET', `/projects/${OTHER_PROJECT}/sessions/${other}/messages`],
      ['POST', `/projects/${OTHER_PROJECT}/sessions/${other}/messages`, { content: 'hi' }],
    ] as const) {
      const res = await as(method, p, body);
      assert.equal(res.status, 403, `${method} ${p}`);
      assert.match(
        errorOf(res),
        new RegExp(
          `belongs to session ${root.metadata.name} of project ${PROJECT}: it cannot reach project ${OTHER_PROJECT}`,
        ),
      );
    }
    // The name of another project's session under its own project: not found.
    assert.equal((await as('GET', `${SESSIONS}/${other}`)).status, 404);

    // Management of other sessions stays the user's.
    assert.equal((await as('POST', `${SESSIONS}/${t}/stop`)).status, 403);
    assert.equal((await as('DELETE', `${SESSIONS}/${t}`)).status, 403);
    assert.equal((await as('POST', `${SESSIONS}/${t}/start`)).status, 403);
    assert.equal(
      (await as('PATCH', `${SESSIONS}/${t}`, { metadata: { annotations: { a: 'b' } } })).status,
      403,
    );
    assert.equal((await as('GET', `${SESSIONS}/${t}/logs`)).status, 403);

    // Messages: user messages only, to an interactive session, not to itself; the sender is the
    // token's session whatever the body claims, and both histories record it.
    const interrupt = await as('POST', `/projects/${PROJECT}/sessions/${t}/messages`, {
      type: 'interrupt',
    });
    assert.equal(interrupt.status, 403);
    assert.match(errorOf(interrupt), /user messages only/);
    const toPlain = await as(
      'POST',
      `/projects/${PROJECT}/sessions/${plain.metadata.name}/messages`,
      { content: 'hi' },
    );
    assert.equal(toPlain.status, 409);
    assert.match(errorOf(toPlain), /not interactive/);
    const toSelf = await as(
      'POST',
      `/projects/${PROJECT}/sessions/${root.metadata.name}/messages`,
      { content: 'hi' },
    );
    assert.equal(toSelf.status, 409);
    assert.match(errorOf(toSelf), /cannot send a message to itself/);
    const sent = await as('POST', `/projects/${PROJECT}/sessions/${t}/messages`, {
      content: 'hello there',
      from: { session: 'forged', agent: 'reviewer', user: 'mallory' },
    });
    assert.equal(sent.status, 202, sent.text);
    const from = { session: root.metadata.name, agent: 'reviewer' };
    const received = (await history(s.serve, t)).filter((e) => e.type === 'user_message');
    assert.deepEqual(
      received.map((e) => e.payload),
      [{ content: 'hello there', from, via: 'session' }],
    );
    const noted = events(await history(s.serve, root.metadata.name), 'session.message_sent');
    assert.deepEqual(
      noted.map((e) => e.payload.data),
      [{ to: t, content: 'hello there', from, id: (sent.json as { id: number }).id }],
    );
    // An agent name that is not a plain name is the main agent.
    await as('POST', `/projects/${PROJECT}/sessions/${t}/messages`, {
      content: 'again',
      from: { agent: '../../x' },
    });
    const last = (await history(s.serve, t)).filter((e) => e.type === 'user_message').at(-1)!;
    assert.deepEqual(last.payload.from, { session: root.metadata.name, agent: 'main' });
  });

  it('creates children annotated with their parent, within the bounds on children and depth', async () => {
    const root = await createSession(s.serve, {
      prompt: 'root',
      environmentVariables: IDLE,
      userContext: { userId: 'alice', displayName: 'Alice' },
    });
    const rootToken = await botTokenOf(s, root.metadata.name);
    const create = (token: string, prompt: string, extra: Record<string, unknown> = {}) =>
      s.serve.api('POST', SESSIONS, { prompt, environmentVariables: IDLE, ...extra }, token);

    const c1 = await create(rootToken, 'child 1', {
      annotations: { [PARENT_SESSION_ANNOTATION]: 'forged', note: 'kept' },
    });
    assert.equal(c1.status, 201, c1.text);
    const child1 = c1.json as SessionJson;
    assert.equal(child1.metadata.namespace, PROJECT);
    assert.equal(
      child1.metadata.annotations[PARENT_SESSION_ANNOTATION],
      root.metadata.name,
      'the parent is the token’s session',
    );
    assert.equal(child1.metadata.annotations.note, 'kept');
    assert.deepEqual(
      child1.spec.userContext,
      { userId: 'alice', displayName: 'Alice' },
      'the user context is inherited',
    );
    assert.equal((await create(rootToken, 'child 2')).status, 201);
    const third = await create(rootToken, 'child 3');
    assert.equal(third.status, 403);
    assert.match(
      errorOf(third),
      new RegExp(
        `session ${root.metadata.name} has created 2 session\\(s\\), the most one session may create \\(CLAUDE_RUNNER_MAX_CHILDREN_PER_SESSION=2\\)`,
      ),
    );
    const created = events(await history(s.serve, root.metadata.name), 'session.child_created');
    assert.deepEqual(
      created.map((e) => e.payload.data?.depth),
      [1, 1],
    );

    // Depth: root 0 → child 1 → grandchild 2, which may create no more (bound 2).
    const childToken = await botTokenOf(s, child1.metadata.name);
    const g = await create(childToken, 'grandchild');
    assert.equal(g.status, 201, g.text);
    const grandchild = g.json as SessionJson;
    assert.equal(grandchild.metadata.annotations[PARENT_SESSION_ANNOTATION], child1.metadata.name);
    const grandToken = await botTokenOf(s, grandchild.metadata.name);
    const deeper = await create(grandToken, 'too deep');
    assert.equal(deeper.status, 403);
    assert.match(
      errorOf(deeper),
      /is at depth 2 of a chain of sessions creating sessions, and the deepest allowed is 2 \(CLAUDE_RUNNER_MAX_SESSION_DEPTH\)/,
    );
    // Bad agent definitions are refused up front, each field named; AGENTS_JSON is the platform's.
    const badAgents = await s.serve.api('POST', SESSIONS, {
      prompt: 'x',
      agents: [
        { name: 'a b', description: 'd', prompt: 'p' },
        { name: 'c', prompt: 'p' },
      ],
    });
    assert.equal(badAgents.status, 400);
    assert.deepEqual((badAgents.json as { fields: string[] }).fields, [
      'agents[0].name',
      'agents[1].description',
    ]);
    const ownAgents = await s.serve.api('POST', SESSIONS, {
      prompt: 'x',
      environmentVariables: { AGENTS_JSON: '[]' },
    });
    assert.equal(ownAgents.status, 400);
    assert.match(errorOf(ownAgents), /environmentVariables\.AGENTS_JSON: is set by the platform/);
    // The user token is not bound: it creates what it likes.
    const byUser = await s.serve.api('POST', SESSIONS, {
      prompt: 'by the user',
      environmentVariables: IDLE,
      annotations: { [PARENT_SESSION_ANNOTATION]: grandchild.metadata.name },
    });
    assert.equal(byUser.status, 201);
    assert.equal(
      (await getSession(s.serve, (byUser.json as SessionJson).metadata.name)).metadata.annotations[
        PARENT_SESSION_ANNOTATION
      ],
      grandchild.metadata.name,
    );
  });
});
