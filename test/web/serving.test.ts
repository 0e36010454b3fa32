/**
 * How serve hands out the web page and lets it in: `/` and the hashed assets with their content
 * types, cache headers and the strict CSP; the API untouched beside them; a clear 503 when the
 * page is not built; the socket authenticated by the token as a subprotocol (never echoed back),
 * refused with a wrong one.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { StaticSite } from '../../src/control-plane/api/static.js';
import { startServe, type ServeHandle } from '../../src/testing/serve-process.js';
import { createSession, fakeRunner, PROJECT } from '../control-plane/helpers.js';

describe('the web page as serve serves it', () => {
  let serve: ServeHandle;
  before(async () => {
    serve = await startServe({ runnerCommand: fakeRunner() });
  });
  after(async () => {
    await serve?.stop();
  });

  it('serves / and its hashed assets with a strict CSP and the right caching', async () => {
    const index = await fetch(`${serve.url}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const csp = index.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"])
      assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`);
    assert.doesNotMatch(csp, /unsafe/);
    const html = await index.text();
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script');
    const js = /src="(\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const css = /href="(\/app-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    assert.ok(js && css, 'index.html names a hashed script and stylesheet');
    const script = await fetch(`${serve.url}${js}`);
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(script.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.ok((await script.text()).length > 1000);
    const style = await fetch(`${serve.url}${css}`);
    assert.equal(style.headers.get('content-type'), 'text/css; charset=utf-8');
    assert.doesNotMatch(html + (await style.text()), /https?:\/\//, 'nothing from another origin');
  });

  it('leaves the API and unknown paths to the router', async () => {
    assert.equal((await fetch(`${serve.url}/health`)).status, 200);
    assert.equal((await fetch(`${serve.url}/nothing-here.js`)).status, 404);
    assert.equal(
      (await fetch(`${serve.url}/api/projects/${PROJECT}/agentic-sessions`)).status,
      401,
    );
  });

  it('opens a socket with the token as a subprotocol, selecting ccr.v1, and refuses a wrong one', async () => {
    const s = await createSession(serve, { prompt: 'hello' });
    const url = `${serve.url.replace(/^http/, 'ws')}/api/projects/${PROJECT}/sessions/${s.metadata.name}/ws`;
    const ok = new WebSocket(url, ['ccr.v1', `ccr.token.${serve.token}`]);
    try {
      const first = await new Promise<string>((resolve, reject) => {
        ok.once('message', (d) => resolve(String(d)));
        ok.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        ok.once('error', reject);
      });
      assert.equal(ok.protocol, 'ccr.v1', 'the token is not echoed back');
      assert.equal(typeof (JSON.parse(first) as { seq?: unknown }).seq, 'number');
    } finally {
      ok.terminate();
    }
    const bad = new WebSocket(url, ['ccr.v1', 'ccr.token.ccr_wrong']);
    const status = await new Promise<number>((resolve) => {
      bad.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
      bad.once('open', () => resolve(101));
      bad.once('error', () => resolve(-1));
    });
    bad.terminate();
    assert.equal(status, 401);
  });
});

describe('StaticSite', () => {
  let dir: string;
  let server: Server;
  let base: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccr-web-'));
    mkdirSync(path.join(dir, 'empty'));
    const site = new StaticSite(path.join(dir, 'empty'));
    server = createServer((req, res) => {
      if (!site.handle(req, res)) res.writeHead(404).end('router');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers / with 503 and what to run when the page is not built', async () => {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /npm run build/);
    assert.equal((await fetch(`${base}/app.js`)).status, 404, 'other paths go on');
  });
});
