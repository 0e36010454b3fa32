// A local stand-in for Langfuse: it accepts what the real exporters send to
// `POST /api/public/otel/v1/traces` (OTLP JSON or protobuf, optionally gzip/deflate/br, Basic
// auth checked), stores the spans, and answers Langfuse's public read endpoints in their
// response shapes. It can be told to fail (500, 401) or to hang, for the failure tests.
// What it proves and what only a real Langfuse proves: docs/langfuse.md.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import { listenHttp } from '../http-server.js';
import {
  buildObservations,
  buildTraces,
  selectV2Fields,
  type PriceTable,
  type StandinObservation,
  type StandinTrace,
} from './convert.js';
import {
  decodeJsonRequest,
  decodeProtobufRequest,
  OtlpDecodeError,
  type OtlpSpan,
} from './otlp.js';

export type StandinMode = 'normal' | 'fail-500' | 'fail-401' | 'hang';

export interface StandinRequest {
  method: string;
  path: string;
  /** As received (header names lower-cased). */
  headers: IncomingHttpHeaders;
  contentType: string;
  contentEncoding: string;
  /** The body exactly as it crossed the wire (compressed if it was). */
  rawBody: Buffer;
  /** The body after content decoding. */
  body: Buffer;
  status: number;
  /** Spans decoded from this request (OTLP posts only). */
  spanCount: number;
  at: number;
}

export interface LangfuseStandinOptions {
  port?: number;
  host?: string;
  publicKey?: string;
  secretKey?: string;
  mode?: StandinMode;
  /** Per-unit prices by model and usage key: observations then carry costDetails. */
  prices?: PriceTable;
  /** Largest accepted request body, in bytes (default 20 MB). */
  maxBodyBytes?: number;
  /** Keep only the newest N spans and N requests (a long-running stand-in). */
  maxRecorded?: number;
}

export interface LangfuseStandin {
  url: string;
  publicKey: string;
  secretKey: string;
  /** Every request, in arrival order (also rejected and hung ones). */
  requests: StandinRequest[];
  spans(): OtlpSpan[];
  observations(): StandinObservation[];
  traces(): StandinTrace[];
  setMode(mode: StandinMode): void;
  /** Forget stored spans and recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

const decoders: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function pageMeta(page: number, limit: number, total: number) {
  return { page, limit, totalItems: total, totalPages: Math.ceil(total / limit) };
}

function intParam(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const raw = q.get(name);
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new HttpError(400, `${name} must be a positive integer`);
  return Math.min(n, max);
}

interface V2Filter {
  column: string;
  operator: string;
  value: unknown;
}

export async function startLangfuseStandin(
  opts: LangfuseStandinOptions = {},
): Promise<LangfuseStandin> {
  const publicKey = opts.publicKey ?? 'pk-lf-standin-public';
  const secretKey = opts.secretKey ?? 'sk-lf-standin-secret';
  const expectedAuth = `Basic ${Buffer.from(`${publicKey}:${secretKey}`).toString('base64')}`;
  const maxBody = opts.maxBodyBytes ?? 20 * 1024 * 1024;
  const maxRecorded = opts.maxRecorded ?? Infinity;
  let mode: StandinMode = opts.mode ?? 'normal';
  const requests: StandinRequest[] = [];
  let spans: OtlpSpan[] = [];
  const hung = new Set<ServerResponse>();

  const observations = (): StandinObservation[] => buildObservations(spans, opts.prices);
  const traces = (): StandinTrace[] => buildTraces(spans, observations());

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > maxBody) throw new HttpError(413, `request body over ${maxBody} bytes`);
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  function authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === expectedAuth;
  }

  async function ingest(
    req: IncomingMessage,
    res: ServerResponse,
    record: StandinRequest,
  ): Promise<void> {
    if (mode === 'hang') {
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return;
    }
    if (mode === 'fail-500') throw new HttpError(500, 'stand-in told to fail');
    if (mode === 'fail-401' || !authorized(req))
      throw new HttpError(
        401,
        'Invalid credentials. Confirm that you have set the correct public and secret key.',
      );
    const encoding = record.contentEncoding;
    if (encoding !== 'identity') {
      const decode = decoders[encoding];
      if (!decode) throw new HttpError(415, `unsupported content-encoding ${encoding}`);
      try {
        record.body = await decode(record.rawBody);
      } catch (err) {
        throw new HttpError(400, `cannot decode ${encoding} body: ${(err as Error).message}`);
      }
    }
    const type = record.contentType;
    let decoded: OtlpSpan[];
    try {
      if (type.includes('json')) decoded = decodeJsonRequest(record.body);
      else if (type.includes('protobuf')) decoded = decodeProtobufRequest(record.body);
      else
        throw new HttpError(
          415,
          `unsupported content-type "${type}": use application/json or application/x-protobuf`,
        );
    } catch (err) {
      if (err instanceof OtlpDecodeError) throw new HttpError(400, err.message);
      throw err;
    }
    record.spanCount = decoded.length;
    spans = spans.concat(decoded);
    if (spans.length > maxRecorded) spans = spans.slice(spans.length - maxRecorded);
    record.status = 200;
    if (type.includes('protobuf')) {
      // An empty ExportTraceServiceResponse.
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
      res.end();
    } else sendJson(res, 200, {});
  }

  function matchesV2Filters(o: StandinObservation, q: URLSearchParams): boolean {
    const conditions: V2Filter[] = [];
    for (const [param, column] of [
      ['sessionId', 'sessionId'],
      ['traceId', 'traceId'],
      ['type', 'type'],
      ['name', 'name'],
      ['userId', 'userId'],
      ['level', 'level'],
      ['parentObservationId', 'parentObservationId'],
      ['environment', 'environment'],
    ] as const) {
      const v = q.get(param);
      if (v !== null) conditions.push({ column, operator: '=', value: v });
    }
    const filter = q.get('filter');
    if (filter) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(filter);
      } catch {
        throw new HttpError(400, 'filter must be a JSON array');
      }
      if (!Array.isArray(parsed)) throw new HttpError(400, 'filter must be a JSON array');
      // The structured filter takes precedence over the query parameters.
      conditions.length = 0;
      for (const f of parsed as V2Filter[]) conditions.push(f);
    }
    return conditions.every((c) => {
      const actual = (o as unknown as Record<string, unknown>)[c.column];
      if (c.operator === '=') return actual === c.value;
      if (c.operator === 'contains')
        return typeof actual === 'string' && actual.includes(String(c.value));
      if (c.operator === 'any of' && Array.isArray(c.value)) return c.value.includes(actual);
      throw new HttpError(400, `unsupported filter operator "${c.operator}"`);
    });
  }

  function read(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (!authorized(req))
      throw new HttpError(
        401,
        'Invalid credentials. Confirm that you have set the correct public and secret key.',
      );
    const q = url.searchParams;
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/api/public/v2/observations') {
      const limit = intParam(q, 'limit', 50, 1000);
      const offset = q.get('cursor')
        ? Number(Buffer.from(q.get('cursor')!, 'base64').toString('utf8'))
        : 0;
      if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, 'invalid cursor');
      const all = observations()
        .filter((o) => matchesV2Filters(o, q))
        .sort((a, b) => a.startTime.localeCompare(b.startTime));
      const page = all.slice(offset, offset + limit).map((o) => selectV2Fields(o, q.get('fields')));
      const next =
        offset + limit < all.length
          ? Buffer.from(String(offset + limit)).toString('base64')
          : undefined;
      return sendJson(res, 200, { data: page, meta: next ? { cursor: next } : {} });
    }
    if (path === '/api/public/observations') {
      const page = intParam(q, 'page', 1, 1_000_000);
      const limit = intParam(q, 'limit', 50, 100);
      const all = observations()
        .filter((o) => matchesV2Filters(o, q))
        .sort((a, b) => a.startTime.localeCompare(b.startTime));
      return sendJson(res, 200, {
        data: all.slice((page - 1) * limit, page * limit),
        meta: pageMeta(page, limit, all.length),
      });
    }
    if (path === '/api/public/traces') {
      const page = intParam(q, 'page', 1, 1_000_000);
      const limit = intParam(q, 'limit', 50, 100);
      const tags = q.getAll('tags');
      const all = traces().filter(
        (t) =>
          (q.get('sessionId') === null || t.sessionId === q.get('sessionId')) &&
          (q.get('userId') === null || t.userId === q.get('userId')) &&
          (q.get('name') === null || t.name === q.get('name')) &&
          tags.every((tag) => t.tags.includes(tag)),
      );
      return sendJson(res, 200, {
        data: all.slice((page - 1) * limit, page * limit),
        meta: pageMeta(page, limit, all.length),
      });
    }
    const one = /^\/api\/public\/traces\/([^/]+)$/.exec(path);
    if (one) {
      const id = decodeURIComponent(one[1]!);
      const trace = traces().find((t) => t.id === id);
      if (!trace) throw new HttpError(404, `Trace ${id} not found`);
      const obs = observations()
        .filter((o) => o.traceId === id)
        .sort((a, b) => a.startTime.localeCompare(b.startTime));
      return sendJson(res, 200, { ...trace, observations: obs, scores: [] });
    }
    throw new HttpError(404, `no route for GET ${url.pathname}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://standin');
    const record: StandinRequest = {
      method,
      path: url.pathname + url.search,
      headers: req.headers,
      contentType: String(req.headers['content-type'] ?? '').toLowerCase(),
      contentEncoding: String(req.headers['content-encoding'] ?? 'identity').toLowerCase(),
      rawBody: Buffer.alloc(0),
      body: Buffer.alloc(0),
      status: 0,
      spanCount: 0,
      at: Date.now(),
    };
    requests.push(record);
    if (requests.length > maxRecorded) requests.splice(0, requests.length - maxRecorded);
    try {
      record.rawBody = await readBody(req);
      record.body = record.rawBody;
      const path = url.pathname.replace(/\/+$/, '');
      if (method === 'POST' && path === '/api/public/otel/v1/traces')
        await ingest(req, res, record);
      else if (method === 'GET' && path === '/api/public/health') {
        record.status = 200;
        sendJson(res, 200, { status: 'OK', version: 'standin' });
      } else if (method === 'GET' && path.startsWith('/api/public/')) {
        read(req, res, url);
        record.status = res.statusCode;
      } else throw new HttpError(404, `no route for ${method} ${url.pathname}`);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      record.status = status;
      if (!res.headersSent)
        sendJson(res, status, {
          error: status === 401 ? 'Unauthorized' : 'Error',
          message: (err as Error).message,
        });
      else res.destroy();
    }
  }

  const listening = await listenHttp((req, res) => void handle(req, res), {
    port: opts.port,
    host: opts.host,
  });

  return {
    url: listening.url,
    publicKey,
    secretKey,
    requests,
    spans: () => [...spans],
    observations,
    traces,
    setMode: (m) => {
      mode = m;
      if (m !== 'hang') for (const res of hung) res.destroy();
    },
    reset: () => {
      spans = [];
      requests.length = 0;
    },
    close: listening.close,
  };
}
