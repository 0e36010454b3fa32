// Answers one model call (`/v1/messages` or Vertex `:streamRawPredict` / `:rawPredict`): picks the
// scenario and step, then serves an error, a cut stream, a JSON message or an SSE stream.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { auxiliaryStep, isAuxiliary } from './auxiliary.js';
import { analyzeConversation, findCwd, stripMarkers, type ApiMessage } from './conversation.js';
import { errorBody } from './errors.js';
import { header, sendJson } from './http.js';
import { buildReply, replyMessage, type Usage } from './reply.js';
import type { Route } from './routes.js';
import { selectStep, type Selection } from './select.js';
import { replyEvents, sleep, writeSse } from './sse.js';
import type { ScriptedState } from './state.js';
import type { RecordedRequest, ServedResponse } from './types.js';

export interface MessageCall {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  body: Record<string, unknown>;
  /** Filled in with the scenario, turn and step. */
  record: RecordedRequest;
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
}

const ZERO_USAGE: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};

/** Returns a one-line outcome for the request log. */
export async function answerMessages(
  state: ScriptedState,
  serve: (entry: ServedResponse) => void,
  call: MessageCall,
): Promise<string> {
  const { req, res, route, body, record, signal } = call;
  const messages = (Array.isArray(body.messages) ? body.messages : []) as ApiMessage[];
  const convo = analyzeConversation(messages);
  const sessionId = header(req, 'x-claude-code-session-id');
  const model = route.vertexModel ?? (typeof body.model === 'string' ? body.model : 'scripted');
  const stream = body.stream === true || route.vertexStream === true;
  const auxiliary = isAuxiliary(body);
  const name = state.choose(convo, route.scenario, sessionId);
  const scenario = state.scenarios.get(name);
  record.scenario = name;
  record.auxiliary = auxiliary;
  if (!scenario) {
    const message = `unknown scenario "${name}"; known: ${state.known()}`;
    sendJson(res, 404, errorBody(404, undefined, message));
    return `unknown scenario ${name}`;
  }
  const selection: Selection = auxiliary
    ? { turn: -1, step: -1, play: auxiliaryStep(body), fallback: false }
    : selectStep(scenario, convo);
  const { turn, step, play } = selection;
  if (!auxiliary) {
    record.turn = turn;
    record.step = step;
  }
  const base = { scenario: name, turn, step, model, fallback: selection.fallback, auxiliary };
  const where = auxiliary
    ? 'auxiliary'
    : `turn ${turn} step ${step}${selection.fallback ? ' (fallback)' : ''}`;

  await sleep(play.delayMs ?? 0, signal);
  if (signal.aborted) return `${where}: client gone`;

  const tries = state.attemptsFor(
    [sessionId, convo.firstUserText, name, turn, step].join('\u0000'),
  );
  const error = play.error;
  if (error && (error.times === undefined || tries.errors < error.times)) {
    tries.errors++;
    serve({
      ...base,
      streamed: stream,
      messageId: '',
      usage: ZERO_USAGE,
      stopReason: null,
      text: '',
      tools: [],
      error: error.status,
    });
    const requestId = String(res.getHeader('request-id') ?? '');
    sendJson(res, error.status, errorBody(error.status, error.type, error.message, requestId));
    return `${where}: ${error.status} (scripted error, attempt ${tries.errors})`;
  }

  const reply = buildReply(
    play,
    {
      cwd: findCwd(body),
      lastToolResult: convo.lastToolResult,
      toolResults: convo.turnToolResults,
      userText: stripMarkers(convo.latestUserText),
      turn,
      step,
    },
    {
      id: state.nextMessageId(),
      model,
      inputChars: JSON.stringify(messages).length,
      nextToolId: () => state.nextToolId(),
    },
  );
  const cut =
    play.cutAfterEvents !== undefined &&
    (play.cutTimes === undefined || tries.cuts < play.cutTimes);
  if (cut) tries.cuts++;
  serve({
    ...base,
    streamed: stream,
    messageId: reply.id,
    usage: reply.usage,
    stopReason: reply.stopReason,
    text: reply.content.map((b) => (b.type === 'text' ? b.text : '')).join(''),
    tools: reply.content.flatMap((b) =>
      b.type === 'tool_use' ? [{ id: b.id, name: b.name, input: b.input }] : [],
    ),
    ...(cut ? { cut: true } : {}),
  });
  if (!stream) {
    if (cut) {
      // A JSON answer has no events to count: drop the connection before answering.
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
