/**
 * The parts that keep the runner's start-up short (docs/benchmarks.md): the REST calls' own HTTP
 * client (no fetch/undici) answers, fails and times out like the fetch it replaced, and the
 * deferred tracer replays what it was told while it loaded, in order, keeping the turn's time.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import { DeferredTracer } from '../../src/observability/deferred-tracer.js';
import type { TraceOutcome, Tracer, TurnStart } from '../../src/observability/tracing.js';
import { httpRequest } from '../../src/runner/http-request.js';

describe('httpRequest', () => {
  let server: http.Server;
  let base: string;
  const seen: { method: string; body: string; headers: http.IncomingHttpHeaders }[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', body, headers: req.headers });
        if (req.url === '/hang') return; // never answers
        res.writeHead(req.url === '/fail' ? 500 : 200, { 'content-type': 'application/json' });
        res.end(req.url === '/fail' ? 'broken: ünïcode' : JSON.stringify({ echo: body }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('sends the body with its length and headers, and returns status and text', async () => {
    const body = JSON.stringify({ phase: 'Running', note: 'ünïcode' });
    const res = await httpRequest('PUT', `${base}/ok`, {
      headers: { authorization: 'Bearer t-123' },
      body,
      timeoutMs: 5_000,
    });
    assert.deepEqual([res.status, res.ok, JSON.parse(res.text)], [200, true, { echo: body }]);
    const got = seen.at(-1)!;
    assert.equal(got.method, 'PUT');
    assert.equal(got.headers['content-length'], String(Buffer.byteLength(body)));
    assert.equal(got.headers.authorization, 'Bearer t-123');
  });

  test('an error status is an answer (ok false), not an exception', async () => {
    const res = await httpRequest('GET', `${base}/fail`, { headers: {}, timeoutMs: 5_000 });
    assert.deepEqual([res.status, res.ok, res.text], [500, false, 'broken: ünïcode']);
  });

  test('no answer in time, a refused connection and a bad URL are errors that say so', async () => {
    await assert.rejects(
      httpRequest('GET', `${base}/hang`, { headers: {}, timeoutMs: 200 }),
      /no answer within 200 ms/,
    );
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(
      httpRequest('GET', `http://127.0.0.1:${port}/`, { headers: {}, timeoutMs: 2_000 }),
      /ECONNREFUSED/,
    );
    await assert.rejects(
      httpRequest('GET', 'not a url', { headers: {}, timeoutMs: 200 }),
      /not a valid URL/,
    );
    await assert.rejects(
      httpRequest('GET', 'ftp://127.0.0.1/x', { headers: {}, timeoutMs: 200 }),
      /unsupported protocol ftp:/,
    );
  });
});

describe('DeferredTracer', () => {
  class Recorder implements Tracer {
    readonly calls: string[] = [];
    turns: TurnStart[] = [];
    startTurn(t: TurnStart) {
      this.calls.push(`turn ${t.turn}`);
      this.turns.push(t);
    }
    observe(m: SDKMessage) {
      this.calls.push(`observe ${m.type}`);
    }
    async flush() {
      this.calls.push('flush');
    }
    async shutdown(o: TraceOutcome) {
      this.calls.push(`shutdown ${o.error ?? 'ok'}`);
    }
  }

  test("loads at the first call, replays what came meanwhile in order, with the turn's own time", async () => {
    const rec = new Recorder();
    let release!: () => void;
    let loads = 0;
    const tracer = new DeferredTracer(async () => {
      loads++;
      await new Promise<void>((r) => (release = r));
      return rec;
    });
    assert.equal(loads, 0, 'nothing is loaded before it is used');
    const before = Date.now();
    tracer.startTurn({ text: 'hi', turn: 1 });
    const afterCall = Date.now();
    tracer.observe({ type: 'system' } as SDKMessage);
    const flushed = tracer.flush();
    while (Date.now() <= afterCall) await new Promise((r) => setTimeout(r, 5)); // the clock moved on
    assert.deepEqual(rec.calls, [], 'held while loading');
    release();
    await flushed;
    tracer.observe({ type: 'result' } as SDKMessage);
    await tracer.shutdown({ error: 'boom' });
    assert.equal(loads, 1);
    assert.deepEqual(rec.calls, [
      'turn 1',
      'observe system',
      'flush',
      'observe result',
      'shutdown boom',
    ]);
    const at = rec.turns[0]!.startedAt!.getTime();
    assert.ok(
      at >= before && at <= afterCall,
      'the turn keeps the time it was started, not the replay time',
    );
  });

  test('a tracer that cannot be built means no tracing, never an error', async () => {
    const tracer = new DeferredTracer(() => Promise.reject(new Error('no OpenTelemetry')));
    tracer.startTurn({ text: 'x', turn: 1 });
    await tracer.flush();
    await tracer.shutdown({});
  });
});
