// The HTTP server: speaks enough of the Anthropic Messages API (and its Vertex AI paths) for the
// real Claude Code CLI to run whole sessions offline, answering from scripted scenarios.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import { BoundedMap } from './bounded-map.js';
import {
  analyzeConversation,
  findCwd,
  stripMarkers,
  type ApiMessage,
  type Conversation,
} from './conversation.js';
import { errorBody } from './errors.js';
import { redactHeaders } from './redact.js';
import { buildReply, estimateTokens, replyMessage, type Usage } from './reply.js';
import { parseRoute, type Route } from './routes.js';
import { loadScenarioDir, parseScenario, type Scenario, type Step, type StopReason } from './schema.js';
import { selectStep } from './select.js';
import { shippedScenarioDir } from './shipped.js';
import { replyEvents, sleep, writeSse } from './sse.js';

export interface RecordedRequest {
  method: string;
  path: string;
  /** Credentials masked: `authorization: "Bearer [REDACTED]"`, `x-api-key: "sk-a[REDACTED]"`. */
  headers: Record<string, string>;
  body: unknown;
  scenario: string | null;
  turn: number | null;
  step: number | null;
  kind: 'messages' | 'count_tokens' | 'other';
  /** A model call outside the scripted conversation (see isAuxiliary); it consumes no step. */
  auxiliary: boolean;
}

export interface ServedResponse {
  messageId: string;
  scenario: string;
  turn: number;
  step: number;
  model: string;
  /** Exactly the usage sent to the client (zeros for an error answer). */
  usage: Usage;
  stopReason: StopReason | null;
  text: string;
  tools: { id: string; name: string; input: unknown }[];
  /** HTTP status when the step answered with an error. */
  error?: number;
  /** The connection was cut on purpose after some events. */
  cut?: boolean;
  /** The scenario had no step left and the fallback answered. */
  fallback: boolean;
  auxiliary: boolean;
  streamed: boolean;
}

export interface ScriptedModelServer {
  url: string;
  requests: RecordedRequest[];
  served: ServedResponse[];
  /** Unredacted Authorization header values, each once, in the order first seen. */
  rawAuthorization(): string[];
  addScenario(s: Scenario): void;
  close(): Promise<void>;
}

export interface ScriptedModelOptions {
  port?: number;
  host?: string;
  scenarios?: Scenario[];
  /** Extra scenario files (`*.json`); the package's own `scenarios/` are always loaded first. */
  scenarioDir?: string;
  /** Default: the first of `scenarios`, else "hello". */
  defaultScenario?: string;
  quiet?: boolean;
  /** Keep only the newest N entries of `requests` and `served` (long-running servers). */
  maxRecorded?: number;
}

/** Answer for model calls that are not part of the scripted conversation. */
export const AUXILIARY_TEXT = '(scripted model: auxiliary request)';
const AUXILIARY_STEP: Step = { text: AUXILIARY_TEXT };

/**
 * The CLI's conversation requests always offer tools; a request without tools is a side call of
 * some CLI feature and must not consume scenario steps. (See docs/scripted-model.md for what
 * was observed.)
 */
export function isAuxiliary(body: Record<string, unknown>): boolean {
  return !Array.isArray(body.tools) || body.tools.length === 0;
}

const decoders: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  let body: Buffer = Buffer.concat(chunks);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    const decode = decoders[encoding];
    if (!decode) throw new HttpError(415, `unsupported content-encoding ${encoding}`);
    body = await decode(body);
  }
  return body;
}

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

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

export async function startScriptedModelServer(
  opts: ScriptedModelOptions = {},
): Promise<ScriptedModelServer> {
  const scenarios = new Map<string, Scenario>();
  const add = (s: Scenario, source: string): void => {
    scenarios.set(s.name, parseScenario(s, source));
  };
  const shipped = shippedScenarioDir();
  if (shipped) for (const s of loadScenarioDir(shipped)) scenarios.set(s.name, s);
  if (opts.scenarioDir) for (const s of loadScenarioDir(opts.scenarioDir)) scenarios.set(s.name, s);
  (opts.scenarios ?? []).forEach((s, i) => add(s, `scenarios[${i}] (${s.name})`));
  const defaultName = opts.defaultScenario ?? opts.scenarios?.[0]?.name ?? 'hello';
  if (!scenarios.has(defaultName)) {
    throw new Error(
      `default scenario "${defaultName}" is not loaded; known: ${[...scenarios.keys()].join(', ') || '(none)'}`,
    );
  }

  const quiet = opts.quiet ?? false;
  const maxRecorded = opts.maxRecorded ?? Infinity;
  const requests: RecordedRequest[] = [];
  const served: ServedResponse[] = [];
  const authorizations = new Set<string>();
  // The only state: scenarios chosen by marker (so a session's sub-agents follow them) and how
  // often a step has already failed or been cut (for `times` / `cutTimes`).
  const sessionScenario = new BoundedMap<string, string>(10_000);
  const attempts = new BoundedMap<string, { errors: number; cuts: number }>(100_000);
  let messageCounter = 0;
  let toolCounter = 0;
  let requestCounter = 0;
  const lifetime = new AbortController();
  const sockets = new Set<Socket>();

  const remember = <T>(list: T[], entry: T): void => {
    list.push(entry);
    if (list.length > maxRecorded) list.splice(0, list.length - maxRecorded);
  };
  const log = (line: string): void => {
    if (!quiet) process.stderr.write(`[scripted-model] ${line}\n`);
  };

  function chooseScenario(
    convo: Conversation,
    route: Route,
    sessionId: string,
  ): { name: string; scenario: Scenario | undefined } {
    let name = convo.marker;
    if (name !== undefined && sessionId !== '') sessionScenario.set(sessionId, name);
    name ??= (sessionId === '' ? undefined : sessionScenario.get(sessionId)) ?? route.scenario;
    name ??= defaultName;
    return { name, scenario: scenarios.get(name) };
  }

  async function handleMessages(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    body: Record<string, unknown>,
    record: RecordedRequest,
    signal: AbortSignal,
  ): Promise<string> {
    const messages = (Array.isArray(body.messages) ? body.messages : []) as ApiMessage[];
    const convo = analyzeConversation(messages);
    const sessionId = header(req, 'x-claude-code-session-id');
    const model = route.vertexModel ?? (typeof body.model === 'string' ? body.model : 'scripted');
    const stream = body.stream === true || route.vertexStream === true;
    const auxiliary = isAuxiliary(body);
    const chosen = chooseScenario(convo, route, sessionId);
    record.scenario = chosen.name;
    record.auxiliary = auxiliary;
    if (!chosen.scenario) {
      const known = [...scenarios.keys()].join(', ');
      sendJson(res, 404, errorBody(404, undefined, `unknown scenario "${chosen.name}"; known: ${known}`));
      return `unknown scenario ${chosen.name}`;
    }
    const selection = auxiliary
      ? { turn: -1, step: -1, play: AUXILIARY_STEP, fallback: false }
      : selectStep(chosen.scenario, convo);
    const { turn, step, play } = selection;
    if (!auxiliary) {
      record.turn = turn;
      record.step = step;
    }
    const base = {
      scenario: chosen.name,
      turn,
      step,
      model,
      fallback: selection.fallback,
      auxiliary,
      streamed: stream,
    };

    await sleep(play.delayMs ?? 0, signal);
    if (signal.aborted) return 'client gone';

    const key = [sessionId, convo.firstUserText, chosen.name, turn, step].join('\u0000');
    const tries = attempts.get(key) ?? { errors: 0, cuts: 0 };
    attempts.set(key, tries);
    const zero: Usage = {
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    };
    if (play.error && (play.error.times === undefined || tries.errors < play.error.times)) {
      tries.errors++;
      const { status, type, message } = play.error;
      remember(served, {
        ...base,
        messageId: '',
        usage: zero,
        stopReason: null,
        text: '',
        tools: [],
        error: status,
      });
      sendJson(res, status, errorBody(status, type, message, res.getHeader('request-id') as string));
      return `${status} (scripted error ${tries.errors})`;
    }

    const reply = buildReply(
      play,
      {
        cwd: findCwd(body),
        lastToolResult: convo.lastToolResult,
        userText: stripMarkers(convo.latestUserText),
        turn,
        step,
      },
      {
        id: `msg_scripted_${++messageCounter}`,
        model,
        inputChars: JSON.stringify(messages).length,
        nextToolId: () => `toolu_scripted_${++toolCounter}`,
      },
    );
    const cut =
      play.cutAfterEvents !== undefined &&
      (play.cutTimes === undefined || tries.cuts < play.cutTimes);
    if (cut) tries.cuts++;
    remember(served, {
      ...base,
      messageId: reply.id,
      usage: reply.usage,
      stopReason: reply.stopReason,
      text: reply.content.map((b) => (b.type === 'text' ? b.text : '')).join(''),
      tools: reply.content.flatMap((b) =>
        b.type === 'tool_use' ? [{ id: b.id, name: b.name, input: b.input }] : [],
      ),
      ...(cut ? { cut: true } : {}),
    });
    const where = auxiliary ? 'auxiliary' : `turn ${turn} step ${step}${selection.fallback ? ' (fallback)' : ''}`;
    if (!stream) {
      if (cut) {
        res.socket?.destroy();
        return `${where}: cut (non-streaming)`;
      }
      sendJson(res, 200, replyMessage(reply));
      return `${where}: ${reply.stopReason}`;
    }
    await writeSse(res, replyEvents(reply, play.chunkSize ?? 24), {
      chunkDelayMs: play.chunkDelayMs ?? 0,
      cutAfterEvents: cut ? play.cutAfterEvents : undefined,
      signal,
    });
    return `${where}: ${reply.stopReason}${cut ? ` (cut after ${play.cutAfterEvents} events)` : ''}`;
  }

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
    // Ends sleeps and slow streams when the client disconnects or the server closes.
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    res.on('close', onAbort);
    lifetime.signal.addEventListener('abort', onAbort);
    let outcome: string;
    try {
      const raw = await readBody(req);
      let body: unknown = null;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new HttpError(400, 'request body is not valid JSON');
        }
      }
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
        outcome = await handleMessages(req, res, route, body as Record<string, unknown>, record, abort.signal);
      }
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (!res.headersSent) sendJson(res, status, errorBody(status, undefined, (err as Error).message));
      else res.destroy();
      outcome = `${status} ${(err as Error).message}`;
    } finally {
      res.off('close', onAbort);
      lifetime.signal.removeEventListener('abort', onAbort);
    }
    log(
      `${method} ${path} [${record.scenario ?? '-'}] -> ${outcome} (${Date.now() - started} ms)`,
    );
  }

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${shownHost}:${port}`,
    requests,
    served,
    rawAuthorization: () => [...authorizations],
    addScenario: (s) => add(s, `addScenario(${s?.name})`),
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        lifetime.abort();
        server.close(() => resolve());
        // Keep-alive and mid-stream sockets would otherwise hold close() open.
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
