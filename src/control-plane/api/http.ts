/**
 * HTTP plumbing: bounded JSON bodies, replies, and the one place where errors become HTTP
 * answers (`{"error": "..."}`, plus `fields` for 400s).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError, RequestError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { MAX_JSON_DEPTH, parseJsonBounded } from '../../protocol/bounded-json.js';
import { ValidationError } from '../validation.js';

/** Statuses the API uses beyond RequestError's (method not allowed, upgrade required). */
export class HttpError extends Error {
  constructor(
    readonly status: 405 | 426 | 503,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
  /** A streamed answer (SSE): writes the response itself instead of a body. */
  stream?: (res: ServerResponse) => void;
}

const JSON_TYPES = ['application/json', 'application/merge-patch+json'];

/** Bodies up to this size are read to the end (and dropped) before a 413, so the client sees it. */
const DRAIN_CAP = 64 * 1024 * 1024;

/** Reads a JSON body of at most `limit` bytes; an empty body reads as `undefined`. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > DRAIN_CAP) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > DRAIN_CAP) throw tooLarge(limit);
    if (size > limit) {
      chunks.length = 0;
      continue;
    }
    chunks.push(chunk as Buffer);
  }
  if (size > limit) throw tooLarge(limit);
  if (size === 0) return undefined;
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type && !JSON_TYPES.includes(type) && !type.endsWith('+json'))
    throw new RequestError(415, `content-type ${type} is not supported: send application/json`);
  const parsed = parseJsonBounded(Buffer.concat(chunks).toString('utf8'), MAX_JSON_DEPTH);
  if (parsed.ok) return parsed.value;
  throw new RequestError(
    400,
    parsed.reason === 'too-deep'
      ? `the body is ${parsed.detail}`
      : `the body is not valid JSON: ${parsed.detail}`,
  );
}

function tooLarge(limit: number): RequestError {
  return new RequestError(413, `the body is larger than ${limit} bytes`);
}

export function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  if (reply.stream) return reply.stream(res);
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...(reply.headers ?? {}) };
  let body: string | undefined;
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    headers['content-type'] = 'application/json';
  } else if (reply.text !== undefined) {
    body = reply.text;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  }
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(reply.status, headers);
  res.end(body);
}

/** The one mapping from anything thrown to an HTTP answer. Unknown errors are 500 and logged. */
export function errorReply(err: unknown, logger: Logger, context: string): Reply {
  if (err instanceof ValidationError)
    return { status: 400, json: { error: `invalid request: ${err.message}`, fields: err.fields } };
  if (err instanceof RequestError) {
    const headers: Record<string, string> =
      err.status === 401
        ? { 'www-authenticate': 'Bearer' }
        : err.status === 413
          ? { connection: 'close' }
          : {};
    return { status: err.status, json: { error: err.message }, headers };
  }
  if (err instanceof HttpError)
    return { status: err.status, json: { error: err.message }, headers: err.headers };
  logger.error(`${context} failed`, { error: describeError(err) });
  return { status: 500, json: { error: 'internal error: see the control plane log' } };
}
