// The Langfuse stand-in: accepts what real OTLP exporters send (JSON and protobuf, gzip, Basic
// auth) and answers Langfuse's public read API in its shapes.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, test } from 'node:test';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
// The OTel SDK's own encoders (a dependency of the OTLP exporter), so the decoder is checked
// against real protobuf, not against itself.
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  startLangfuseStandin,
  type LangfuseStandin,
} from '../../src/testing/langfuse-standin/index.js';

const PK = 'pk-lf-standin-test';
const SK = 'sk-lf-standin-test';
const AUTH = `Basic ${Buffer.from(`${PK}:${SK}`).toString('base64')}`;

let standin: LangfuseStandin;
before(async () => {
  standin = await startLangfuseStandin({
    publicKey: PK,
    secretKey: SK,
    prices: {
      'claude-x': {
        input: 0.001,
        output: 0.002,
        cache_read_input_tokens: 0.0001,
        cache_creation_input_tokens: 0.0005,
      },
    },
  });
});
after(() => standin.close());
beforeEach(() => {
  standin.reset();
  standin.setMode('normal');
});

/** Spans as the Langfuse SDK shapes them: a trace root, a generation, a tool with an error. */
function makeSpans(session: string): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('langfuse-sdk', '5.0.0');
  const traceAttrs = {
    'langfuse.trace.name': session,
    'session.id': session,
    'user.id': 'u1',
    'langfuse.trace.tags': ['claude-code', 'namespace:ns'],
    'langfuse.trace.metadata.namespace': 'ns',
  };
  const root = tracer.startSpan('root', {
    attributes: {
      ...traceAttrs,
      'langfuse.observation.type': 'agent',
      'langfuse.trace.input': 'hello [marker-1]',
    },
  });
  const ctx = trace.setSpanContext(ROOT_CONTEXT, root.spanContext());
  const gen = tracer.startSpan(
    'claude_interaction',
    {
      attributes: {
        ...traceAttrs,
        'langfuse.observation.type': 'generation',
        'langfuse.observation.model.name': 'claude-x',
        'langfuse.observation.input': JSON.stringify({ role: 'user', content: 'hello [marker-1]' }),
        'langfuse.observation.output': 'hi there',
        'langfuse.observation.usage_details': JSON.stringify({
          input: 10,
          output: 20,
          cache_read_input_tokens: 30,
          cache_creation_input_tokens: 40,
        }),
        'langfuse.observation.metadata.turn': 1,
        'big.int': 2 ** 40,
        ratio: 0.25,
        flag: true,
      },
    },
    ctx,
  );
  const tool = tracer.startSpan(
    'tool_Bash',
    {
      attributes: {
        ...traceAttrs,
        'langfuse.observation.type': 'tool',
        'langfuse.observation.level': 'ERROR',
        'langfuse.observation.status_message': 'exit 3',
        'langfuse.observation.input': JSON.stringify({ command: 'false' }),
      },
    },
    trace.setSpanContext(ROOT_CONTEXT, gen.spanContext()),
  );
  tool.end();
  gen.end();
  root.end();
  return memory.getFinishedSpans();
}

async function post(
  body: Buffer | Uint8Array,
  contentType: string,
  extra: Record<string, string> = {},
  auth = AUTH,
): Promise<Response> {
  return fetch(`${standin.url}/api/public/otel/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: auth, ...extra },
    body: Buffer.from(body),
  });
}

async function get(
  path: string,
  auth = AUTH,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${standin.url}${path}`, { headers: { authorization: auth } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Langfuse stand-in', () => {
  test('protobuf and JSON exports decode to the same spans; gzip accepted', async () => {
    const spans = makeSpans('s-proto');
    const json = JsonTraceSerializer.serializeRequest(spans)!;
    const proto = ProtobufTraceSerializer.serializeRequest(spans)!;
    assert.equal((await post(Buffer.from(json), 'application/json')).status, 200);
    const fromJson = standin.spans();
    standin.reset();
    const res = await post(gzipSync(proto), 'application/x-protobuf', {
      'content-encoding': 'gzip',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
    const fromProto = standin.spans();
    assert.equal(fromProto.length, 3);
    assert.deepEqual(fromProto, fromJson);
    const gen = fromProto.find((s) => s.name === 'claude_interaction')!;
    assert.equal(gen.attributes['big.int'], 2 ** 40);
    assert.equal(gen.attributes.ratio, 0.25);
    assert.equal(gen.attributes.flag, true);
    assert.deepEqual(gen.attributes['langfuse.trace.tags'], ['claude-code', 'namespace:ns']);
    assert.equal(gen.scope.name, 'langfuse-sdk');
    assert.equal(standin.requests[0]!.contentEncoding, 'gzip');
    assert.ok(
      standin.requests[0]!.rawBody.length !== standin.requests[0]!.body.length,
      'raw bytes kept as sent',
    );
  });

  test('the real OTLP HTTP exporter, gzip-compressed, is accepted', async () => {
    const exporter = new OTLPTraceExporter({
      url: `${standin.url}/api/public/otel/v1/traces`,
      headers: { Authorization: AUTH },
      // CompressionAlgorithm.GZIP (its enum lives in @opentelemetry/otlp-exporter-base).
      compression: 'gzip' as never,
    });
    const result = await new Promise<ExportResult>((resolve) =>
      exporter.export(makeSpans('s-exp'), resolve),
    );
    await exporter.shutdown();
    assert.equal(result.code, ExportResultCode.SUCCESS, String(result.error));
    assert.equal(standin.spans().length, 3);
    assert.equal(standin.requests[0]!.contentEncoding, 'gzip');
  });

  test('wrong or missing keys: 401, nothing stored; modes answer 500 and 401', async () => {
    const body = Buffer.from(JsonTraceSerializer.serializeRequest(makeSpans('s-auth'))!);
    assert.equal(
      (
        await post(
          body,
          'application/json',
          {},
          `Basic ${Buffer.from(`${PK}:nope`).toString('base64')}`,
        )
      ).status,
      401,
    );
    assert.equal((await post(body, 'application/json', {}, '')).status, 401);
    assert.equal((await get('/api/public/traces', 'Basic bad')).status, 401);
    standin.setMode('fail-500');
    assert.equal((await post(body, 'application/json')).status, 500);
    standin.setMode('fail-401');
    assert.equal((await post(body, 'application/json')).status, 401);
    assert.equal(standin.spans().length, 0);
    assert.deepEqual(
      standin.requests.map((r) => r.status),
      [401, 401, 401, 500, 401],
    );
  });

  test('read API: traces by session, one trace with observations, v2 observations with field groups', async () => {
    await post(
      Buffer.from(JsonTraceSerializer.serializeRequest(makeSpans('s-read'))!),
      'application/json',
    );
    await post(
      Buffer.from(JsonTraceSerializer.serializeRequest(makeSpans('s-other'))!),
      'application/json',
    );

    const list = await get('/api/public/traces?sessionId=s-read');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.meta, { page: 1, limit: 50, totalItems: 1, totalPages: 1 });
    const [t] = list.body.data as Record<string, unknown>[];
    assert.equal(t!.name, 's-read');
    assert.equal(t!.sessionId, 's-read');
    assert.equal(t!.userId, 'u1');
    assert.equal(t!.input, 'hello [marker-1]');
    assert.deepEqual(t!.tags, ['claude-code', 'namespace:ns']);
    assert.deepEqual(t!.metadata, { namespace: 'ns' });
    assert.equal((t!.observations as string[]).length, 3);

    const one = await get(`/api/public/traces/${String(t!.id)}`);
    assert.equal(one.status, 200);
    const obs = one.body.observations as Record<string, unknown>[];
    const gen = obs.find((o) => o.type === 'GENERATION')!;
    assert.deepEqual(gen.input, { role: 'user', content: 'hello [marker-1]' });
    assert.deepEqual(gen.usageDetails, {
      input: 10,
      output: 20,
      cache_read_input_tokens: 30,
      cache_creation_input_tokens: 40,
      total: 100,
    });
    assert.deepEqual(gen.usage, { input: 10, output: 20, total: 100, unit: 'TOKENS' });
    assert.equal(gen.model, 'claude-x');
    // Cost as Langfuse computes it: each usage key times the model's price for that key.
    assert.ok(
      Math.abs((gen.totalCost as number) - (10 * 0.001 + 20 * 0.002 + 30 * 0.0001 + 40 * 0.0005)) <
        1e-12,
    );
    const tool = obs.find((o) => o.type === 'TOOL')!;
    assert.equal(tool.parentObservationId, gen.id);
    assert.equal(tool.level, 'ERROR');
    assert.equal(tool.statusMessage, 'exit 3');
    assert.equal((await get('/api/public/traces/0000')).status, 404);

    const v2 = await get(
      '/api/public/v2/observations?sessionId=s-read&fields=core,basic,usage,io&limit=2',
    );
    assert.equal(v2.status, 200);
    const page1 = v2.body.data as Record<string, unknown>[];
    assert.equal(page1.length, 2);
    assert.ok(typeof (v2.body.meta as { cursor?: string }).cursor === 'string');
    for (const o of page1) {
      assert.equal(o.sessionId, 's-read');
      assert.ok('usageDetails' in o && 'input' in o && 'name' in o && !('metadata' in o));
    }
    const v2next = await get(
      `/api/public/v2/observations?sessionId=s-read&fields=core,basic,usage,io&limit=2&cursor=${String((v2.body.meta as { cursor: string }).cursor)}`,
    );
    assert.equal((v2next.body.data as unknown[]).length, 1);
    assert.deepEqual(v2next.body.meta, {});
    const gens = await get(
      `/api/public/v2/observations?filter=${encodeURIComponent(
        JSON.stringify([
          { type: 'string', column: 'sessionId', operator: '=', value: 's-read' },
          { type: 'string', column: 'type', operator: '=', value: 'GENERATION' },
        ]),
      )}&fields=core,usage`,
    );
    const [g] = gens.body.data as Record<string, unknown>[];
    assert.equal((gens.body.data as unknown[]).length, 1);
    assert.equal((g!.usageDetails as Record<string, number>).output, 20);
    assert.ok(!('name' in g!), 'only the requested field groups');
  });

  test('hang mode holds the request until told otherwise', async () => {
    standin.setMode('hang');
    const pending = post(Buffer.from('{}'), 'application/json').catch((e: unknown) => e);
    const raced = await Promise.race([
      pending,
      new Promise((r) => setTimeout(() => r('still waiting'), 200)),
    ]);
    assert.equal(raced, 'still waiting');
    standin.setMode('normal'); // drops hung connections
    assert.ok((await pending) instanceof Error);
  });
});
