/**
 * Every bad input is a clear 4xx (or, on the runner socket, a refusal recorded in the frame's
 * place), nothing is dropped silently, and serve stays healthy: deep nesting, oversize frames,
 * NUL and other control characters, secrets with odd characters, a runner posing as the control
 * plane, a loose data dir, a damaged store, garbage query parameters, the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { readProcessEnv } from '../../src/config/process-env.js';
import { newRenderState, renderEntry, type Style } from '../../src/client/render.js';
import { startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import { Redactor } from '../../src/observability/redact.js';
import {
  createSession,
  fakeRunner,
  getSession,
  history,
  phasesOf,
  PROJECT,
  readWorkspaceJson,
  waitFor,
  watch,
} from '../control-plane/helpers.js';
import { runnerSocket } from '../support/runner-socket.js';

const S = `/projects/${PROJECT}/agentic-sessions`;
const FRAME_LIMIT = 65_536;
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** A raw request, so that the body can be any text. */
async function raw(
  serve: ServeHandle,
  method: string,
  apiPath: string,
  body: string,
  type = 'application/json',
) {
  const res = await fetch(`${serve.apiUrl}${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${serve.token}`, 'content-type': type },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    json: JSON.parse(text) as { error: string; fields?: string[] },
  };
}

async function idleSession(serve: ServeHandle, env: Record<string, string> = {}) {
  const s = await createSession(serve, {
    prompt: '',
    interactive: true,
    environmentVariables: { FAKE_MODE: 'idle', ...env },
  });
  const name = s.metadata.name;
  const vars = await waitFor(() => {
    try {
      return readWorkspaceJson(serve, name, 'env.json') as Record<string, string>;
    } catch {
      return undefined;
    }
  }, 'env.json');
  return { name, token: vars.BOT_TOKEN! };
}

const text = (t: string) => ({ type: 'agent_message', content: { type: 'text_block', text: t } });

describe('trust: bad input', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({
      runnerCommand: fakeRunner(),
      graceMs: 1000,
      maxConcurrent: 50, // idle sessions stay running
      env: { CLAUDE_RUNNER_MAX_FRAME_BYTES: String(FRAME_LIMIT) },
    });
  });
  after(async () => {
    await serve.stop();
  });

  it('deep nesting in POST messages, PATCH and create: 400 naming the limit; serve stays healthy', async () => {
    const { name } = await idleSession(serve);
    const answers = [
      await raw(
        serve,
        'POST',
        `/projects/${PROJECT}/sessions/${name}/messages`,
        `{"content":"hi","x":${nested(5000)}}`,
      ),
      await raw(
        serve,
        'PATCH',
        `${S}/${name}`,
        `{"metadata":{"annotations":${nested(10_000)}}}`,
        'application/merge-patch+json',
      ),
      await raw(serve, 'POST', S, `{"prompt":"hi","labels":${nested(3000)}}`),
    ];
    for (const a of answers) {
      assert.equal(a.status, 400, a.text);
      assert.match(a.json.error, /nested deeper than 100 levels/);
    }
    // Within the limit is fine.
    const ok = await raw(
      serve,
      'POST',
      `/projects/${PROJECT}/sessions/${name}/messages`,
      `{"content":"hi","x":${nested(50)}}`,
    );
    assert.equal(ok.status, 202, ok.text);
    const res = await fetch(`${serve.url}/health`);
    assert.equal(res.status, 200);
  });

  it('a runner frame nested 3,000 deep or over the size limit is recorded as refused in its place; the run goes on', async () => {
    const { name, token } = await idleSession(serve);
    const r = runnerSocket(serve.url, PROJECT, name, token);
    await r.opened;
    r.send(1, 'agent.running', {});
    r.ws.send(
      `{"seq":2,"type":"agent.message","timestamp":"${new Date().toISOString()}","payload":{"deep":${nested(3000)}}}`,
    );
    r.send(3, 'agent.message', text('after the deep one'));
    r.send(4, 'agent.message', text('x'.repeat(FRAME_LIMIT + 10_000))); // over the limit, within twice it
    r.send(5, 'agent.message', text('after the big one'));
    await waitFor(() => r.acked() >= 5, 'ack 5: nothing blocks');
    const entries = (await history(serve, name)).filter((e) => e.runSeq !== undefined);
    assert.deepEqual(
      entries.map((e) => e.runSeq),
      [1, 2, 3, 4, 5],
    );
    const [, deep, , big] = entries;
    assert.equal(deep!.payload.event, 'frame.refused');
    assert.match(
      String(deep!.payload.message),
      /runner frame 2 \(agent\.message\) refused: .*deeper than 100 levels/,
    );
    assert.equal(big!.payload.event, 'frame.refused');
    assert.match(
      String(big!.payload.message),
      /larger than the limit of 65536 \(CLAUDE_RUNNER_MAX_FRAME_BYTES\)/,
    );
    assert.match(
      serve.output().stderr + serve.output().stdout,
      /runner frame refused, recorded in its place/,
    );

    // Beyond twice the limit the socket itself refuses the frame: 1009, the runner reconnects.
    r.send(6, 'agent.message', text('y'.repeat(FRAME_LIMIT * 2 + 10)));
    assert.equal(await r.closed, 1009);
    const again = runnerSocket(serve.url, PROJECT, name, token);
    await again.opened;
    again.send(6, 'agent.message', text('resent smaller'));
    await waitFor(() => again.acked() >= 6, 'ack 6 after the reconnect');
    again.ws.close();
    assert.equal((await fetch(`${serve.url}/health`)).status, 200);
  });

  it('a watcher command nested too deep gets an error reply', async () => {
    const { name } = await idleSession(serve);
    const w = watch(serve, name);
    await w.opened;
    w.ws.send(`{"type":"user_message","payload":{"content":"hi","x":${nested(3000)}}}`);
    const err = await waitFor(() => w.notices.find((n) => n.type === 'error'), 'an error notice');
    assert.match(
      String(err.payload.message),
      /command refused: command nested deeper than 100 levels/,
    );
    w.ws.close();
  });

  it('NUL and control characters: 400 naming the field, the value never echoed, logged or stored', async () => {
    const secret = 'nulSECRETabc123\u0000tail';
    const env = await serve.api('POST', S, {
      prompt: 'hi',
      environmentVariables: { MY_API_TOKEN: secret },
    });
    assert.equal(env.status, 400, env.text);
    assert.deepEqual((env.json as { fields: string[] }).fields, [
      'environmentVariables.MY_API_TOKEN',
    ]);
    assert.match(env.text, /NUL or another control character/);
    assert.doesNotMatch(env.text, /SECRETabc/);

    const prompt = await serve.api('POST', S, { prompt: 'hello\u0000world' });
    assert.equal(prompt.status, 400);
    assert.deepEqual((prompt.json as { fields: string[] }).fields, ['prompt']);
    const escape = await serve.api('POST', S, {
      prompt: 'hi',
      annotations: { note: 'a\u001b[2Jb' },
    });
    assert.equal(escape.status, 400);
    assert.deepEqual((escape.json as { fields: string[] }).fields, ['annotations.note']);
    const fine = await serve.api('POST', S, {
      prompt: 'tab\there,\r\nnew line',
      environmentVariables: { FAKE_MODE: 'idle' },
    });
    assert.equal(fine.status, 201, 'tab, newline and CR are fine in free text');

    const { name } = await idleSession(serve);
    const msg = await serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, {
      content: 'hi\u0000there',
    });
    assert.equal(msg.status, 400, msg.text);
    assert.deepEqual((msg.json as { fields: string[] }).fields, ['content']);
    const w = watch(serve, name);
    await w.opened;
    w.send({ type: 'user_message', payload: { content: 'bad\u0007bell' } });
    const err = await waitFor(() => w.notices.find((n) => n.type === 'error'), 'an error notice');
    assert.match(String(err.payload.message), /payload\.content: contains a NUL/);
    w.ws.close();
    assert.ok(
      !(await history(serve, name)).some((e) => e.type === 'user_message'),
      'nothing recorded',
    );

    const out = serve.output();
    assert.doesNotMatch(out.stdout + out.stderr, /SECRETabc/);
    for (const f of ['store.db', 'store.db-wal']) {
      const file = path.join(serve.dataDir, f);
      if (existsSync(file))
        assert.ok(!readFileSync(file).includes('SECRETabc'), `${f} holds no trace`);
    }
  });

  it('a secret with odd characters is redacted in every rendering', async () => {
    const odd = ['nulSECRETabc123\u0000tail', 'quo"te\\Zq81-\'x y'];
    const r = new Redactor(odd);
    for (const s of odd)
      for (const rendered of [
        s,
        JSON.stringify({ s }),
        JSON.stringify(JSON.stringify({ s })),
        inspect(s),
        inspect({ s }),
        `Received ${inspect(s)}`,
        encodeURIComponent(s),
        `q=${encodeURIComponent(s).replace(/%20/g, '+')}`,
        s.replace(/["'\\]/g, '\\$&'),
      ]) {
        const out = r.redact(rendered);
        assert.doesNotMatch(out, /SECRETabc|Zq81/, `${JSON.stringify(rendered)} -> ${out}`);
        assert.match(out, /\[REDACTED\]/);
      }

    // Through the hub: a tool result that quotes the session's secret as JSON (escaped form).
    const secret = 'quo"te\\Zq81-secretvalue';
    const { name, token } = await idleSession(serve, { MY_API_TOKEN: secret });
    const runner = runnerSocket(serve.url, PROJECT, name, token);
    await runner.opened;
    runner.send(1, 'agent.message', text(`config: ${JSON.stringify({ token: secret })}`));
    await waitFor(() => runner.acked() >= 1, 'ack 1');
    runner.ws.close();
    const stored = JSON.stringify(await history(serve, name));
    assert.doesNotMatch(stored, /Zq81/);
    assert.match(stored, /\[REDACTED\]/);
  });

  it("a runner cannot write the control plane's phase.changed; the client trusts only the control plane's", async () => {
    const { name, token } = await idleSession(serve);
    const before = (await getSession(serve, name)).status.phase;
    const r = runnerSocket(serve.url, PROJECT, name, token);
    await r.opened;
    r.send(1, 'system.message', {
      message: 'phase Completed',
      event: 'phase.changed',
      data: { phase: 'Completed', run: 1 },
    });
    await waitFor(() => r.acked() >= 1, 'ack 1');
    r.ws.close();
    const all = await history(serve, name);
    const forged = all.find((e) => e.runSeq === 1)!;
    assert.equal(forged.payload.event, 'runner.phase.changed', 'stored, renamed');
    assert.ok(!phasesOf(all).includes('Completed'));
    assert.equal((await getSession(serve, name)).status.phase, before);

    // History written before the hub renamed it: the client still ignores a runner's claim.
    const state = newRenderState();
    const style: Style = { color: false, width: 100, verbose: false };
    renderEntry(
      { ...forged, payload: { ...forged.payload, event: 'phase.changed' } },
      state,
      style,
    );
    assert.equal(state.phase, undefined);
    const own = all.find((e) => e.payload.event === 'phase.changed')!;
    renderEntry({ ...own }, state, style);
    assert.equal(state.phase, own.payload.data?.phase);
  });

  it('garbage query parameters and incomplete commands: 400 naming the parameter or field', async () => {
    const cont = await serve.api('GET', `${S}?limit=1&continue=%21%21%21`);
    assert.equal(cont.status, 400);
    assert.match(
      (cont.json as { error: string }).error,
      /continue: is not a token from a previous page/,
    );
    const empty = await serve.api('GET', `${S}?continue=`);
    assert.equal(empty.status, 400);
    const sel = await serve.api('GET', `${S}?labelSelector=${encodeURIComponent('team')}`);
    assert.equal(sel.status, 400);
    assert.match((sel.json as { error: string }).error, /labelSelector: must be key=value/);

    const { name } = await idleSession(serve);
    const removed = await serve.api('POST', `/projects/${PROJECT}/sessions/${name}/messages`, {
      type: 'repo_removed',
    });
    assert.equal(removed.status, 400);
    assert.equal(
      (removed.json as { error: string }).error,
      'invalid request: invalid message: name: required',
    );
    assert.deepEqual((removed.json as { fields: string[] }).fields, ['name']);
  });

  it('the OpenAPI document says what the server enforces', async () => {
    const doc = (await serve.api('GET', '/openapi.json')).json as {
      components: {
        schemas: Record<string, { properties: Record<string, Record<string, unknown>> }>;
      };
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; schema: { pattern?: string } }[];
            responses: Record<string, { headers?: Record<string, unknown> }>;
          }
        >
      >;
    };
    const create = doc.components.schemas.CreateSessionRequest!.properties;
    assert.match(
      String(create.prompt!.description),
      /Must not be empty or blank unless `interactive`/,
    );
    const repos = create.repos as {
      items: { properties: { input: { properties: { url: { pattern?: string } } } } };
    };
    const pattern = new RegExp(repos.items.properties.input.properties.url.pattern!);
    assert.ok(
      pattern.test('https://github.com/org/repo.git') && pattern.test('git@github.com:org/repo'),
    );
    assert.ok(!pattern.test('not a url'));
    const list = doc.paths['/api/projects/{project}/agentic-sessions']!.get!;
    const selector = list.parameters!.find((p) => p.name === 'labelSelector')!;
    assert.ok(new RegExp(selector.schema.pattern!).test('team=a,tier=b'));
    assert.ok(!new RegExp(selector.schema.pattern!).test('team'));
    assert.ok(list.parameters!.find((p) => p.name === 'continue')!.schema.pattern);
    const socket = doc.paths['/api/projects/{project}/sessions/{name}/ws']!.get!;
    assert.ok(socket.responses['426']!.headers?.Upgrade);
    const res = await fetch(`${serve.apiUrl}/projects/${PROJECT}/sessions/x/ws`, {
      headers: { authorization: `Bearer ${serve.token}` },
    });
    assert.equal(res.status, 426);
    assert.equal(res.headers.get('upgrade'), 'websocket');
  });
});

describe('trust: the data dir and the store', () => {
  it('a pre-existing data dir is made private (0700)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ccr-trust-'));
    chmodSync(dir, 0o755);
    const serve = await startServe({ dataDir: dir, runnerCommand: fakeRunner() });
    try {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
    } finally {
      await serve.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a damaged store: serve refuses to start, naming the file and the fix', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ccr-trust-'));
    try {
      const file = path.join(dir, 'store.db');
      writeFileSync(file, Buffer.alloc(8192, 0x5a));
      const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
      const run = spawnSync(
        process.execPath,
        [cli, 'serve', '--data-dir', dir, '--port', '0', '--host', '127.0.0.1'],
        {
          env: {
            PATH: readProcessEnv().PATH,
            CLAUDE_RUNNER_API_TOKEN: 'ccr_trust_test_token_0123456789abcdef',
          },
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      assert.equal(run.status, 1, run.stderr);
      assert.ok(run.stderr.includes(file), run.stderr);
      assert.match(run.stderr, /damaged or is not a claude-code-runner store/);
      assert.match(run.stderr, /move it away/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
