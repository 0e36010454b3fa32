// The HTTP server: speaks enough of the Anthropic Messages API (and its Vertex AI paths) for the
// real Claude Code CLI to run whole sessions offline, answering from scripted scenarios.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenHttp } from '../http-server.js';
import { errorBody } from './errors.js';
import { header, HttpError, readBody, sendJson } from './http.js';
import { answerMessages } from './messages.js';
import { redactHeaders } from './redact.js';
import { estimateTokens } from './reply.js';
import { parseRoute } from './routes.js';
import { ScriptedState } from './state.js';
import type {
  RecordedRequest,
  ScriptedModelOptions,
  ScriptedModelServer,
  ServedResponse,
} from './types.js';

function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return null;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

export async function startScriptedModelServer(
  opts: ScriptedModelOptions = {},
): Promise<ScriptedModelServer> {
  const state = new ScriptedState(opts);
  const quiet = opts.quiet ?? false;
  const maxRecorded = opts.maxRecorded ?? Infinity;
  const requests: RecordedRequest[] = [];
  const served: ServedResponse[] = [];
  const authorizations = new Set<string>();
  const lifetime = new AbortController();
  let requestCounter = 0;

  const remember = <T>(list: T[], entry: T): void => {
    list.push(entry);
    if (list.length > maxRecorded) list.splice(0, list.length - maxRecorded);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    res.setHeader('request-id', `req_scripted_${++requestCounter}`);
    const route = parseRoute(method, path);
    const record: RecordedRequest = {
      method,
      path,
      headers: redactHeaders(req.headers),
      body: null,
      scenario: null,
      turn: null,
      step: null,
      kind: route.kind,
      auxiliary: false,
    };
    const auth = header(req, 'authorization');
    if (auth !== '') authorizations.add(auth);
    remember(requests, record);
    // Ends delays and slow streams when the client disconnects or the server closes.
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    res.on('close', onAbort);
    lifetime.signal.addEventListener('abort', onAbort);
    let outcome: string;
    try {
      const body = parseJson(await readBody(req));
      record.body = body;
      if (route.kind === 'other') {
        sendJson(res, 404, errorBody(404, 'not_found_error', `no route for ${method} ${path}`));
        outcome = '404';
      } else if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new HttpError(400, 'request body must be a JSON object');
      } else if (route.kind === 'count_tokens') {
        const b = body as Record<string, unknown>;
        const chars = JSON.stringify([b.system ?? null, b.messages ?? [], b.tools ?? []]).length;
        const inputTokens = estimateTokens(chars);
        sendJson(res, 200, { input_tokens: inputTokens });
        outcome = `count_tokens ${inputTokens}`;
      } else {
        const call = { req, res, route, body: body as Record<string, unknown>, record };
        outcome = await answerMessages(state, (e) => remember(served, e), {
          ...call,
          signal: abort.signal,
        });
      }
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      const message = (err as Error).message;
      if (!res.headersSent) sendJson(res, status, errorBody(status, undefined, message));
      else res.destroy();
      outcome = `${status} ${message}`;
    } finally {
      res.off('close', onAbort);
      lifetime.signal.removeEventListener('abort', onAbort);
    }
    if (!quiet) {
      const took = Date.now() - started;
      process.stderr.write(
        `[scripted-model] ${method} ${path} [${record.scenario ?? '-'}] -> ${outcome} (${took} ms)\n`,
      );
    }
  }

  const listening = await listenHttp((req, res) => void handle(req, res), {
    port: opts.port,
    host: opts.host,
    beforeClose: () => lifetime.abort(),
  });

  return {
    url: listening.url,
    requests,
    served,
    rawAuthorization: () => [...authorizations],
    addScenario: (s) => state.add(s, `addScenario(${s?.name})`),
    close: listening.close,
  };
}
