/**
 * One HTTP exchange on node:http(s), bounded in time, for the runner's REST calls.
 *
 * Why not fetch(): the first fetch() of a process loads and compiles undici and its WebAssembly
 * HTTP parser, which cost the runner about 80 ms of start-up (on the event loop, before its first
 * frame could go out) and 15–30 MB of peak memory (measured: docs/benchmarks.md). node:http is
 * loaded for the socket anyway.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpAnswer {
  status: number;
  ok: boolean;
  text: string;
}

export interface HttpRequestOptions {
  headers: Record<string, string>;
  body?: string;
  /** Bound on the whole exchange, answer included. */
  timeoutMs: number;
}

export function httpRequest(
  method: string,
  url: string,
  opts: HttpRequestOptions,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      reject(new Error('not a valid URL'));
      return;
    }
    const client =
      target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
    if (!client) {
      reject(new Error(`unsupported protocol ${target.protocol} (use http or https)`));
      return;
    }
    const headers = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const req = client.request(target, { method, headers }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        settle(() => resolve({ status, ok: status >= 200 && status < 300, text }));
      });
      res.on('error', (e) => settle(() => reject(e)));
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    req.on('error', (e) => settle(() => reject(e)));
    req.end(opts.body);
  });
}
