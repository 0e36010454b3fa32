/**
 * The REST API against a real `serve` (child process) hosting the fake runner: validation,
 * auth, the session resource's lifecycle, status filtering, redaction, OpenAPI.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runnerProcesses, startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import {
  createSession,
  fakeRunner,
  getSession,
  PROJECT,
  readWorkspaceJson,
  waitFor,
  waitForPhase,
} from './helpers.js';

let serve: ServeHandle;
const S = `/projects/${PROJECT}/agentic-sessions`;

before(async () => {
  serve = await startServe({ runnerCommand: fakeRunner(), graceMs: 2000 });
});
after(async () => {
  const dataDir = serve.dataDir;
  await serve.stop();
  assert.deepEqual(runnerProcesses(dataDir), [], 'no runner left behind');
});

function raw(
  method: string,
  urlPath: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<{ status: number; text: string }> {
  const u = new URL(serve.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method, path: urlPath, headers },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function idleSession(
  extra: Record<string, unknown> = {},
): Promise<{ name: string; botToken: string }> {
  const s = await createSession(serve, {
    prompt: 'idle',
    environmentVariables: { FAKE_MODE: 'idle' },
    ...extra,
  });
  const name = s.metadata.name;
  const env = await waitFor(() => {
    try {
      return readWorkspaceJson(serve, name, 'env.json') as Record<string, string>;
    } catch {
      return undefined;
    }
  }, 'the fake runner to write env.json');
  return { name, botToken: env.BOT_TOKEN! };
}

describe('api: health and auth', () => {
  it('GET /health needs no token', async () => {
    const res = await fetch(`${serve.url}/health`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
  });

  it('401 without a token, with a wrong one, with a malformed header; never echoing it', async () => {
    const none = await fetch(`${serve.apiUrl}${S}`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.match(((await none.json()) as { error: string }).error, /missing credentials/);
    const wrong = await serve.api('GET', S, undefined, 'not-the-token-at-all');
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(wrong.text, /not-the-token/);
    const basic = await raw('GET', `/api${S}`, {
      authorization: `Basic ${Buffer.from('a:b').toString('base64')}`,
    });
    assert.equal(basic.status, 401);
    const query = await fetch(`${serve.apiUrl}${S}?token=${serve.token}`);
    assert.equal(query.status, 401, '?token= is for sockets only');
  });
});

describe('api: bad requests never crash the server', () => {
  const create = (body: unknown) => serve.api('POST', S, body);
  const error = (r: { json: unknown }) => r.json as { error: string; fields?: string[] };

  it('no prompt, wrong types, unknown fields: 400 naming each field', async () => {
    const missing = await create({ displayName: 'x' });
    assert.equal(missing.status, 400);
    assert.deepEqual(error(missing).fields, ['prompt']);
    assert.match(error(missing).error, /prompt: is required/);

    const types = await create({
      prompt: 5,
      interactive: 'yes',
      llmSettings: { temperature: 'hot', maxTokens: 1.5 },
      timeout: -1,
      repos: 'x',
    });
    assert.equal(types.status, 400);
    assert.deepEqual(
      new Set(error(types).fields),
      new Set([
        'prompt',
        'interactive',
        'llmSettings.temperature',
        'llmSettings.maxTokens',
        'timeout',
        'repos',
      ]),
    );

    const unknown = await create({ prompt: 'p', foo: 1, llmSettings: { model: 'm', bar: 2 } });
    assert.equal(unknown.status, 400);
    assert.deepEqual(new Set(error(unknown).fields), new Set(['foo', 'llmSettings.bar']));
    assert.match(error(unknown).error, /foo: unknown field/);

    const empty = await create({ prompt: '   ' });
    assert.equal(empty.status, 400);
    assert.match(error(empty).error, /prompt: is empty/);

    const notJson = await raw(
      'POST',
      `/api${S}`,
      { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
      '{"prompt":',
    );
    assert.equal(notJson.status, 400);
    assert.match(notJson.text, /not valid JSON/);
    const text = await raw(
      'POST',
      `/api${S}`,
      { authorization: `Bearer ${serve.token}`, 'content-type': 'text/plain' },
      'hello',
    );
    assert.equal(text.status, 415);
    const array = await create([1, 2]);
    assert.equal(array.status, 400);
  });

  it('platform variables cannot be overridden; credentials in repo URLs are refused and not echoed', async () => {
    const env = await create({
      prompt: 'p',
      environmentVariables: { BOT_TOKEN: 'x', ANTHROPIC_BASE_URL: 'http://evil', OK_VAR: 'fine' },
    });
    assert.equal(env.status, 400);
    assert.deepEqual(
      new Set(error(env).fields),
      new Set(['environmentVariables.BOT_TOKEN', 'environmentVariables.ANTHROPIC_BASE_URL']),
    );
    const repo = await create({
      prompt: 'p',
      repos: [{ input: { url: 'https://user:hunter2secret@github.com/o/r.git' } }],
    });
    assert.equal(repo.status, 400);
    assert.deepEqual(error(repo).fields, ['repos[0].input.url']);
    assert.doesNotMatch(repo.text, /hunter2secret/);
    const index = await create({
      prompt: 'p',
      repos: [{ input: { url: 'https://github.com/o/r.git' } }],
      mainRepoIndex: 3,
    });
    assert.equal(index.status, 400);
    assert.deepEqual(error(index).fields, ['mainRepoIndex']);
  });

  it('a 10 MB body: 413', async () => {
    const big = JSON.stringify({ prompt: 'x'.repeat(10 * 1024 * 1024) });
    const res = await fetch(`${serve.apiUrl}${S}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
      body: big,
    });
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { error: string }).error, /larger than 1048576 bytes/);
  });

  it('names with "../", encoded slashes or capitals: 400; unknown ones: 404; wrong method: 405', async () => {
    const auth = { authorization: `Bearer ${serve.token}` };
    for (const p of [
      `/api${S}/..%2F..%2Fetc`,
      `/api${S}/../../../etc/passwd`,
      `/api${S}/%2e%2e`,
      `/api/projects/..%2Fx/agentic-sessions`,
      `/api${S}/Session-X`,
    ]) {
      const res = await raw('GET', p, auth);
      assert.ok(res.status === 400 || res.status === 404, `${p}: ${res.status}`);
      assert.ok(JSON.parse(res.text).error, p);
    }
    assert.equal((await raw('GET', `/api${S}/..%2F..%2Fetc`, auth)).status, 400);
    assert.equal((await serve.api('GET', `${S}/session-doesnotexist`)).status, 404);
    assert.equal((await serve.api('GET', '/nothing/here')).status, 404);
    const wrongMethod = await raw('PUT', `/api${S}`, auth);
    assert.equal(wrongMethod.status, 405);
    const ws = await serve.api('GET', `/projects/${PROJECT}/sessions/session-x/ws`);
    assert.equal(ws.status, 426);
  });

  it('the server is still healthy', async () => {
    assert.equal((await fetch(`${serve.url}/health`)).status, 200);
  });
});

describe('api: the session resource', () => {
  it('create, list, get, patch, stop, start, delete', async () => {
    const created = await createSession(serve, {
      prompt: 'idle',
      displayName: 'Idle one',
      labels: { team: 'a' },
      annotations: { note: 'hello' },
      environmentVariables: {
        FAKE_MODE: 'idle',
        MY_API_KEY: 'supersecretvalue123',
        PLAIN: 'visible',
      },
    });
    const name = created.metadata.name;
    assert.match(name, /^session-[0-9a-z]{26}$/);
    const body = created as unknown as Record<string, unknown>;
    assert.equal(body.apiVersion, 'vteam.ambient-code/v1alpha1');
    assert.equal(body.kind, 'AgenticSession');
    assert.equal(created.metadata.namespace, PROJECT);
    assert.ok((created.metadata as unknown as { creationTimestamp: string }).creationTimestamp);
    assert.deepEqual(created.spec.environmentVariables, {
      FAKE_MODE: 'idle',
      MY_API_KEY: '[REDACTED]',
      PLAIN: 'visible',
    });
    assert.ok(['Pending', 'Creating'].includes(created.status.phase));

    await waitFor(
      () => existsSync(path.join(serve.dataDir, 'workspaces', name, 'env.json')),
      'the runner to start',
    );
    const list = await serve.api('GET', S);
    assert.ok(
      (list.json as { items: { metadata: { name: string } }[] }).items.some(
        (s) => s.metadata.name === name,
      ),
    );
    const filtered = await serve.api('GET', `${S}?labelSelector=team%3Db`);
    assert.equal((filtered.json as { items: unknown[] }).items.length, 0);
    assert.doesNotMatch(
      list.text + (await serve.api('GET', `${S}/${name}`)).text,
      /supersecretvalue123/,
    );

    const patched = await serve.api('PATCH', `${S}/${name}`, {
      metadata: { labels: { team: null, tier: 'x' }, annotations: { extra: '1' } },
    });
    assert.equal(patched.status, 200, patched.text);
    const p = patched.json as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    };
    assert.deepEqual(p.metadata.labels, { tier: 'x' });
    assert.deepEqual(p.metadata.annotations, { note: 'hello', extra: '1' });

    const specWhileRunning = await serve.api('PATCH', `${S}/${name}`, {
      spec: { prompt: 'other' },
    });
    assert.equal(specWhileRunning.status, 409);
    assert.equal(
      (await serve.api('POST', `${S}/${name}/start`)).status,
      409,
      'starting a running session',
    );

    const stopped = await serve.api('POST', `${S}/${name}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal((stopped.json as { status: { phase: string } }).status.phase, 'Stopped');
    assert.equal((await serve.api('POST', `${S}/${name}/stop`)).status, 409);

    const badSpec = await serve.api('PATCH', `${S}/${name}`, {
      spec: { llmSettings: { temperature: 7 } },
    });
    assert.equal(badSpec.status, 400);
    assert.deepEqual((badSpec.json as { fields: string[] }).fields, [
      'spec.llmSettings.temperature',
    ]);
    const goodSpec = await serve.api('PATCH', `${S}/${name}`, {
      spec: { displayName: null, llmSettings: { model: 'claude-x' } },
    });
    assert.equal(goodSpec.status, 200);
    const spec = (goodSpec.json as { spec: Record<string, unknown> }).spec;
    assert.equal(spec.displayName, undefined);
    assert.deepEqual(spec.llmSettings, { model: 'claude-x' });

    const restarted = await serve.api('POST', `${S}/${name}/start`);
    assert.equal(restarted.status, 202);
    assert.equal((restarted.json as { status: { run: number } }).status.run, 2);
    await waitForPhase(serve, name, ['Creating', 'Running']);

    const del = await serve.api('DELETE', `${S}/${name}`);
    assert.equal(del.status, 204);
    assert.equal((await serve.api('GET', `${S}/${name}`)).status, 404);
    assert.equal(
      existsSync(path.join(serve.dataDir, 'workspaces', name)),
      false,
      'workspace removed',
    );
    assert.equal(existsSync(path.join(serve.dataDir, 'logs', name)), false, 'logs removed');
  });

  it('PUT status keeps only the contract fields; runner tokens are confined to their session', async () => {
    const a = await idleSession();
    const b = await idleSession();
    const url = `${S}/${a.name}/status`;
    const put = await serve.api(
      'PUT',
      url,
      { phase: 'Running', bogus: 1, result: 'r', num_turns: 2, metadata: { x: 1 } },
      a.botToken,
    );
    assert.equal(put.status, 200, put.text);
    const st = (await getSession(serve, a.name)).status;
    assert.equal(st.phase, 'Running');
    assert.equal(st.result, 'r');
    assert.equal(st.bogus, undefined);
    assert.equal(st.metadata, undefined);
    assert.equal((await serve.api('PUT', url, { phase: 'Sleeping' }, a.botToken)).status, 400);
    assert.equal((await serve.api('PUT', url, { num_turns: 'two' }, a.botToken)).status, 400);

    // own session: read, annotate, status; nothing else
    assert.equal((await serve.api('GET', `${S}/${a.name}`, undefined, a.botToken)).status, 200);
    const ann = await serve.api(
      'PATCH',
      `${S}/${a.name}`,
      { metadata: { annotations: { 'ambient-code.io/sdk-session-id': 'abc' } } },
      a.botToken,
    );
    assert.equal(ann.status, 200);
    assert.equal(
      (await serve.api('PATCH', `${S}/${a.name}`, { metadata: { labels: { x: 'y' } } }, a.botToken))
        .status,
      403,
    );
    assert.equal((await serve.api('DELETE', `${S}/${a.name}`, undefined, a.botToken)).status, 403);
    assert.equal(
      (await serve.api('POST', `${S}/${a.name}/stop`, undefined, a.botToken)).status,
      403,
    );
    // the project scope (docs/agents.md): its own project's sessions and histories, no other project
    assert.equal((await serve.api('GET', S, undefined, a.botToken)).status, 200);
    assert.equal(
      (
        await serve.api(
          'GET',
          `/projects/${PROJECT}/sessions/${a.name}/messages`,
          undefined,
          a.botToken,
        )
      ).status,
      200,
    );
    assert.equal((await serve.api('GET', `${S}/${b.name}`, undefined, a.botToken)).status, 200);
    assert.equal(
      (await serve.api('GET', '/projects/elsewhere/agentic-sessions', undefined, a.botToken))
        .status,
      403,
    );
    assert.equal(
      (await serve.api('POST', '/projects/elsewhere/agentic-sessions', { prompt: 'x' }, a.botToken))
        .status,
      403,
    );
    const git = await serve.api('POST', `${S}/${a.name}/github/token`, undefined, a.botToken);
    assert.equal(git.status, 404);
    assert.match((git.json as { error: string }).error, /GITHUB_TOKEN/);
    // another session: 403, whatever its own endpoint
    for (const [method, p] of [
      ['PUT', `${S}/${b.name}/status`],
      ['PATCH', `${S}/${b.name}`],
      ['POST', `${S}/${b.name}/github/token`],
    ] as const) {
      const res = await serve.api(method, p, { metadata: {} }, a.botToken);
      assert.equal(res.status, 403, `${method} ${p}`);
      assert.match(
        (res.json as { error: string }).error,
        new RegExp(`belongs to session ${a.name}`),
      );
    }

    // the token dies with the run
    await serve.api('POST', `${S}/${a.name}/stop`);
    assert.equal((await serve.api('GET', `${S}/${a.name}`, undefined, a.botToken)).status, 401);
    await serve.api('DELETE', `${S}/${a.name}`);
    await serve.api('DELETE', `${S}/${b.name}`);
  });

  it('messages to a session that has ended: 409; to a missing one: 404', async () => {
    const s = await createSession(serve, {
      prompt: 'quick',
      environmentVariables: { FAKE_MODE: 'complete' },
    });
    await waitForPhase(serve, s.metadata.name, ['Completed']);
    const res = await serve.api(
      'POST',
      `/projects/${PROJECT}/sessions/${s.metadata.name}/messages`,
      { content: 'hi' },
    );
    assert.equal(res.status, 409);
    assert.equal(
      (
        await serve.api('POST', `/projects/${PROJECT}/sessions/session-nope/messages`, {
          content: 'hi',
        })
      ).status,
      404,
    );
    const badType = await serve.api(
      'POST',
      `/projects/${PROJECT}/sessions/${s.metadata.name}/messages`,
      { type: 'ack', seq: 1 },
    );
    assert.equal(badType.status, 400);
    await serve.api('DELETE', `${S}/${s.metadata.name}`);
  });
});

describe('api: OpenAPI', () => {
  it('is served without a token, describes every endpoint, and its references resolve', async () => {
    const res = await fetch(`${serve.apiUrl}/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<
        string,
        Record<
          string,
          { operationId: string; responses: Record<string, unknown>; requestBody?: unknown }
        >
      >;
      components: {
        schemas: Record<string, { additionalProperties?: unknown; required?: string[] }>;
      };
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.info.title && doc.info.version);
    const expected: [string, string][] = [
      ['post', '/api/projects/{project}/agentic-sessions'],
      ['get', '/api/projects/{project}/agentic-sessions'],
      ['get', '/api/projects/{project}/agentic-sessions/{name}'],
      ['patch', '/api/projects/{project}/agentic-sessions/{name}'],
      ['delete', '/api/projects/{project}/agentic-sessions/{name}'],
      ['post', '/api/projects/{project}/agentic-sessions/{name}/start'],
      ['post', '/api/projects/{project}/agentic-sessions/{name}/stop'],
      ['put', '/api/projects/{project}/agentic-sessions/{name}/status'],
      ['post', '/api/projects/{project}/agentic-sessions/{name}/github/token'],
      ['get', '/api/projects/{project}/agentic-sessions/{name}/logs'],
      ['get', '/api/projects/{project}/sessions/{name}/ws'],
      ['get', '/api/projects/{project}/sessions/{name}/messages'],
      ['post', '/api/projects/{project}/sessions/{name}/messages'],
      ['get', '/health'],
    ];
    for (const [m, p] of expected) assert.ok(doc.paths[p]?.[m], `${m} ${p} documented`);
    const ids = new Set<string>();
    const refs: string[] = [];
    JSON.stringify(doc, (k, v: unknown) => {
      if (k === '$ref' && typeof v === 'string') refs.push(v);
      return v;
    });
    for (const r of refs) {
      const m = /^#\/components\/schemas\/(.+)$/.exec(r);
      assert.ok(m && doc.components.schemas[m[1]!], `${r} resolves`);
    }
    for (const [p, ops] of Object.entries(doc.paths))
      for (const [m, op] of Object.entries(ops)) {
        assert.ok(Object.keys(op.responses).length, `${m} ${p} has responses`);
        assert.ok(!ids.has(op.operationId), 'operationIds are unique');
        ids.add(op.operationId);
      }
    // generated from the validating schemas: strict request bodies, the same required fields
    assert.equal(doc.components.schemas.CreateSessionRequest!.additionalProperties, false);
    assert.deepEqual(doc.components.schemas.CreateSessionRequest!.required, ['prompt']);
    // every documented endpoint exists (a missing route would say "no endpoint")
    for (const [p, ops] of Object.entries(doc.paths))
      for (const m of Object.keys(ops)) {
        if (p.endsWith('/ws')) continue;
        const concrete = p.replace('{project}', PROJECT).replace('{name}', 'session-none');
        const r = await raw(
          m.toUpperCase(),
          concrete,
          { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' },
          m === 'get' || m === 'delete' ? undefined : '{}',
        );
        assert.doesNotMatch(r.text, /no endpoint/, `${m} ${p}`);
        assert.notEqual(r.status, 405, `${m} ${p}`);
      }
  });
});

describe('api: git token', () => {
  it("hands out serve's own GITHUB_TOKEN, which never shows elsewhere", async () => {
    const secret = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
    const other = await startServe({ runnerCommand: fakeRunner(), env: { GITHUB_TOKEN: secret } });
    try {
      const s = await other.api('POST', S, {
        prompt: 'p',
        environmentVariables: { FAKE_MODE: 'idle' },
      });
      const name = (s.json as { metadata: { name: string } }).metadata.name;
      const res = await other.api('POST', `${S}/${name}/github/token`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { token: secret });
      assert.doesNotMatch((await other.api('GET', `${S}/${name}`)).text, /ghp_/);
      await other.api('DELETE', `${S}/${name}`);
    } finally {
      await other.stop();
    }
    assert.doesNotMatch(other.output().stderr + other.output().stdout, /ghp_abc/);
  });
});
