/**
 * A session's history, entry by entry, as AG-UI events (docs/agui.md has the table).
 *
 * The mapping is a fold over the history from its first entry: the same entries always give the
 * same events with the same ids, because every id is derived from a history position or from an
 * id the runner gave (a tool call's id), never drawn at random. That is what makes `Last-Event-ID`
 * exact: the k-th event derived from the entry at position `pos` has the SSE id `<pos>.<k>`,
 * whoever replays it and from wherever.
 *
 * A turn is an AG-UI run: it opens at the user message that asks for it (or, without one, at the
 * runner's `agent.running` or the first content), and closes with the turn's `result.message`
 * (RUN_FINISHED with the summary, or RUN_ERROR when the result is an error), at `agent.waiting`
 * after work without a result (an interrupt), or when the run ends under it (RUN_ERROR with the
 * cause). Anything still open inside (a streamed text, a sub-agent) is closed first, so every run
 * is well bracketed for `@ag-ui/client`'s checks.
 */
import { EventType, type BaseEvent, type Message } from '@ag-ui/core';

/** A history entry as HistoryLog stores it (`{seq, run, runSeq?, type, timestamp, payload, partial?}`). */
export interface HistoryEntryJson {
  seq: number;
  run?: number;
  runSeq?: number;
  type: string;
  timestamp?: string;
  payload?: unknown;
  partial?: unknown;
}

/** An AG-UI event and the SSE id it is sent with. */
export interface IdentifiedEvent {
  id: string;
  /** The history position it was derived from. */
  pos: number;
  event: BaseEvent & Record<string, unknown>;
}

/** The documented shared state (STATE_SNAPSHOT). */
export interface AguiState {
  session: string;
  /** The session's phase, as the control plane last recorded it. */
  phase?: string;
  /** The control plane's run number of the session. */
  run?: number;
  /** `working` between `agent.running` and `agent.waiting`, else `idle`. */
  agent: 'idle' | 'working';
  /** The last workspace event (`workspace.*`), its name and data. */
  workspace?: { event: string; message?: string; data?: unknown };
}

const TERMINAL = new Set(['Completed', 'Failed', 'Stopped']);
/** The tools that run a sub-agent (the SDK reports the `Agent` tool as `Task`). */
const SUBAGENT_TOOLS = new Set(['Task', 'Agent']);

type Ev = BaseEvent & Record<string, unknown>;

interface Turn {
  runId: string;
  /** The runner has started working on it (`agent.running` or content). */
  working: boolean;
  interrupted: boolean;
}

interface OpenText {
  messageId: string;
  parent: string | undefined;
  /** Its whole text (`agent.message`) already came: the SDK may send it before the last piece. */
  covered: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export class AguiMapper {
  private turn: Turn | undefined;
  /** User messages that arrived during a turn: the next turn answers them. */
  private pendingUser: Message[] = [];
  /** Streamed text blocks by partial id. */
  private readonly openTexts = new Map<string, OpenText>();
  /** Streamed blocks of this turn that have ended (a late piece of one starts nothing). */
  private readonly endedTexts = new Set<string>();
  /** Per agent (parent tool call, '' for the main one): text blocks streamed whole whose final `agent.message` is still to come. */
  private readonly streamedWhole = new Map<string, number>();
  /** Sub-agents running, by the tool call that started them. */
  private readonly subagents = new Set<string>();
  private readonly state: AguiState;

  constructor(private readonly threadId: string) {
    this.state = { session: threadId, agent: 'idle' };
  }

  get turnOpen(): boolean {
    return this.turn !== undefined;
  }

  snapshotState(): AguiState {
    return structuredClone(this.state);
  }

  /** The events of one entry, in order, with their ids. */
  map(entry: HistoryEntryJson): IdentifiedEvent[] {
    const out: Ev[] = [];
    this.entry(entry, out);
    return out.map((event, k) => ({ id: `${entry.seq}.${k}`, pos: entry.seq, event }));
  }

  private entry(e: HistoryEntryJson, out: Ev[]): void {
    const p = isObj(e.payload) ? e.payload : {};
    if (typeof e.run === 'number' && e.run !== this.state.run) this.state.run = e.run;
    switch (e.type) {
      case 'user_message':
        return this.userMessage(e, p, out);
      case 'agent.running':
        this.ensureTurn(e, out);
        this.setAgent('working', out);
        return;
      case 'agent.waiting':
        if (this.turn?.working) this.finish(out, this.turn.interrupted ? 'cancelled' : 'success');
        this.setAgent('idle', out);
        return;
      case 'message.partial':
        return this.partial(e, p, out);
      case 'agent.message':
        return this.agentMessage(e, p, out);
      case 'system.message':
        return this.systemMessage(e, p, out);
      default:
        out.push(custom(e.type, { payload: e.payload }));
    }
  }

  private userMessage(e: HistoryEntryJson, p: Obj, out: Ev[]): void {
    const message: Message = {
      id: str(p.id) ?? `user-${e.seq}`,
      role: 'user',
      content: str(p.content) ?? '',
    };
    if (this.turn) {
      this.pendingUser.push(message);
      out.push(custom('user_message.queued', { messageId: message.id }));
      return;
    }
    this.pendingUser.push(message);
    this.startTurn(e, out, false);
  }

  private ensureTurn(e: HistoryEntryJson, out: Ev[]): Turn {
    if (!this.turn) this.startTurn(e, out, true);
    const turn = this.turn!;
    turn.working = true;
    return turn;
  }

  private startTurn(e: HistoryEntryJson, out: Ev[], working: boolean): void {
    const runId = `turn-${e.seq}`;
    this.turn = { runId, working, interrupted: false };
    const messages = this.pendingUser;
    this.pendingUser = [];
    out.push({
      type: EventType.RUN_STARTED,
      threadId: this.threadId,
      runId,
      input: { threadId: this.threadId, runId, messages, tools: [], context: [] },
    });
  }

  private partial(e: HistoryEntryJson, p: Obj, out: Ev[]): void {
    const info = isObj(e.partial) ? e.partial : {};
    const key = str(info.id);
    if (key === undefined || this.endedTexts.has(key)) return;
    const index = typeof info.index === 'number' ? info.index : 0;
    const total = typeof info.total === 'number' ? info.total : 0;
    const data = str(info.data) ?? '';
    const parent = str(p.parent_tool_use_id);
    this.ensureTurn(e, out);
    let open = this.openTexts.get(key);
    if (!open) {
      open = { messageId: `msg-${e.seq}`, parent, covered: false };
      this.openTexts.set(key, open);
      out.push({
        type: EventType.TEXT_MESSAGE_START,
        messageId: open.messageId,
        role: 'assistant',
        ...this.attribution(parent),
      });
    }
    if (data !== '')
      out.push({
        type: EventType.TEXT_MESSAGE_CONTENT,
        messageId: open.messageId,
        delta: data,
        ...this.attribution(open.parent),
      });
    if (total > 0 && index >= total - 1) {
      this.endText(key, open, out);
      const k = parent ?? '';
      if (!open.covered) this.streamedWhole.set(k, (this.streamedWhole.get(k) ?? 0) + 1);
    }
  }

  private endText(key: string, open: OpenText, out: Ev[]): void {
    this.openTexts.delete(key);
    this.endedTexts.add(key);
    out.push({
      type: EventType.TEXT_MESSAGE_END,
      messageId: open.messageId,
      ...this.attribution(open.parent),
    });
  }

  private agentMessage(e: HistoryEntryJson, p: Obj, out: Ev[]): void {
    const parent = str(p.parent_tool_use_id);
    if (p.type === 'agent_message') {
      const text = isObj(p.content) ? (str(p.content.text) ?? '') : '';
      this.ensureTurn(e, out);
      const k = parent ?? '';
      // The whole text of a block that was streamed: its partials said it all already.
      const streamed = this.streamedWhole.get(k) ?? 0;
      if (streamed > 0) {
        this.streamedWhole.set(k, streamed - 1);
        return;
      }
      const open = [...this.openTexts.values()].find((o) => o.parent === parent && !o.covered);
      if (open) {
        open.covered = true; // its last piece ends it
        return;
      }
      const messageId = `msg-${e.seq}`;
      const who = this.attribution(parent);
      out.push({ type: EventType.TEXT_MESSAGE_START, messageId, role: 'assistant', ...who });
      if (text !== '')
        out.push({ type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta: text, ...who });
      out.push({ type: EventType.TEXT_MESSAGE_END, messageId, ...who });
      return;
    }
    if (p.type === 'result.message') return this.result(e, isObj(p.payload) ? p.payload : {}, out);
    if (typeof p.tool === 'string' && typeof p.id === 'string') {
      this.ensureTurn(e, out);
      const who = this.attribution(parent);
      const toolCallId = p.id;
      out.push({
        type: EventType.TOOL_CALL_START,
        toolCallId,
        toolCallName: p.tool,
        ...who,
      });
      out.push({
        type: EventType.TOOL_CALL_ARGS,
        toolCallId,
        delta: JSON.stringify(p.input ?? {}),
        ...who,
      });
      out.push({ type: EventType.TOOL_CALL_END, toolCallId, ...who });
      if (SUBAGENT_TOOLS.has(p.tool) && !this.subagents.has(toolCallId)) {
        const input = isObj(p.input) ? p.input : {};
        this.subagents.add(toolCallId);
        out.push({
          type: EventType.SUBAGENT_STARTED,
          subagentRunId: subagentRunId(toolCallId),
          name: str(input.subagent_type) ?? 'general-purpose',
          ...(str(input.description) ? { description: str(input.description) } : {}),
          parentToolCallId: toolCallId,
          ...(parent && this.subagents.has(parent)
            ? { parentSubagentRunId: subagentRunId(parent) }
            : {}),
        });
      }
      return;
    }
    if (isObj(p.tool_result)) {
      const r = p.tool_result;
      const toolCallId = str(r.tool_use_id) ?? '';
      const isError = r.is_error === true;
      this.ensureTurn(e, out);
      if (this.subagents.has(toolCallId)) this.endSubagent(toolCallId, isError, r.content, out);
      out.push({
        type: EventType.TOOL_CALL_RESULT,
        messageId: `result-${e.seq}`,
        toolCallId,
        content: resultText(r.content),
        role: 'tool',
        ...this.attribution(parent),
        ...(isError ? { metadata: { isError: true } } : {}),
      });
      return;
    }
    out.push(custom('agent.message', { payload: e.payload }));
  }

  private endSubagent(toolCallId: string, isError: boolean, content: unknown, out: Ev[]): void {
    this.subagents.delete(toolCallId);
    const id = subagentRunId(toolCallId);
    out.push(
      isError
        ? { type: EventType.SUBAGENT_ERROR, subagentRunId: id, message: resultText(content) }
        : { type: EventType.SUBAGENT_FINISHED, subagentRunId: id, outcome: { type: 'success' } },
    );
  }

  private result(e: HistoryEntryJson, r: Obj, out: Ev[]): void {
    const turn = this.ensureTurn(e, out);
    const usage = isObj(r.usage) ? r.usage : {};
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
    const int = (v: unknown) => {
      const n = num(v);
      return n === undefined ? undefined : Math.round(n);
    };
    const input = int(usage.input_tokens);
    const output = int(usage.output_tokens);
    const tokens = {
      provider: 'anthropic',
      ...(input !== undefined ? { inputTokens: input } : {}),
      ...(output !== undefined ? { outputTokens: output } : {}),
      ...(input !== undefined && output !== undefined ? { totalTokens: input + output } : {}),
      ...(int(usage.cache_read_input_tokens) !== undefined
        ? { cachedInputTokens: int(usage.cache_read_input_tokens) }
        : {}),
      ...(int(usage.cache_creation_input_tokens) !== undefined
        ? { cacheWriteInputTokens: int(usage.cache_creation_input_tokens) }
        : {}),
    };
    const summary = {
      subtype: str(r.subtype) ?? '',
      isError: r.is_error === true,
      numTurns: num(r.num_turns) ?? 0,
      durationMs: num(r.duration_ms) ?? 0,
      durationApiMs: num(r.duration_api_ms) ?? 0,
      totalCostUsd: num(r.total_cost_usd) ?? 0,
      result: str(r.result) ?? null,
    };
    if (summary.isError && !turn.interrupted) {
      this.closeInner(out);
      this.turn = undefined;
      out.push({
        type: EventType.RUN_ERROR,
        message: summary.result || `the turn ended with ${summary.subtype || 'an error'}`,
        code: summary.subtype || 'error',
        usage: [tokens],
        result: summary,
      });
      return;
    }
    this.finish(out, turn.interrupted ? 'cancelled' : 'success', summary, [tokens]);
  }

  private systemMessage(e: HistoryEntryJson, p: Obj, out: Ev[]): void {
    const event = str(p.event);
    const message = str(p.message);
    const value = {
      ...(message !== undefined ? { message } : {}),
      ...(str(p.level) ? { level: p.level } : {}),
      ...(p.data !== undefined ? { data: p.data } : {}),
      ...(typeof e.runSeq === 'number' ? { fromRunner: true } : {}),
    };
    if (event === 'thinking') {
      this.ensureTurn(e, out);
      const messageId = `reasoning-${e.seq}`;
      out.push({ type: EventType.REASONING_START, messageId });
      out.push({ type: EventType.REASONING_MESSAGE_START, messageId, role: 'reasoning' });
      if (message)
        out.push({ type: EventType.REASONING_MESSAGE_CONTENT, messageId, delta: message });
      out.push({ type: EventType.REASONING_MESSAGE_END, messageId });
      out.push({ type: EventType.REASONING_END, messageId });
      return;
    }
    out.push(custom(event ?? 'system.message', value));
    if (event === 'turn.interrupted' && this.turn) this.turn.interrupted = true;
    if (event?.startsWith('workspace.')) {
      this.state.workspace = { event, ...value };
      out.push(this.stateSnapshot());
    }
    // Only the control plane's own entry (no runSeq) says what the phase is.
    if (event === 'phase.changed' && e.runSeq === undefined) {
      const data = isObj(p.data) ? p.data : {};
      const phase = str(data.phase);
      if (phase) {
        this.state.phase = phase;
        if (TERMINAL.has(phase)) this.state.agent = 'idle';
        out.push(this.stateSnapshot());
        // A message that was waiting for a turn gets its run, ended: its asker must not wait.
        if (TERMINAL.has(phase) && !this.turn && this.pendingUser.length)
          this.startTurn(e, out, false);
        if (TERMINAL.has(phase) && this.turn)
          this.fail(
            out,
            str(data.message) ?? message ?? `the session is ${phase}`,
            `session.${phase.toLowerCase()}`,
          );
      }
    }
    if (this.turn && e.runSeq !== undefined) {
      if (event === 'session.failed')
        this.fail(out, message ?? 'the session failed', 'session.failed');
      else if (event === 'session.stopped') this.finish(out, 'cancelled');
      else if (event === 'session.completed' && this.turn.working) this.finish(out, 'success');
    }
  }

  private setAgent(agent: AguiState['agent'], out: Ev[]): void {
    if (this.state.agent === agent) return;
    this.state.agent = agent;
    out.push(this.stateSnapshot());
  }

  private stateSnapshot(): Ev {
    return { type: EventType.STATE_SNAPSHOT, snapshot: this.snapshotState() };
  }

  /** Closes what is open inside the turn: streamed texts, sub-agents. */
  private closeInner(out: Ev[]): void {
    for (const [key, open] of [...this.openTexts]) this.endText(key, open, out);
    this.streamedWhole.clear();
    this.endedTexts.clear();
    for (const id of [...this.subagents]) {
      this.subagents.delete(id);
      out.push({
        type: EventType.SUBAGENT_ERROR,
        subagentRunId: subagentRunId(id),
        message: 'the turn ended before the sub-agent finished',
      });
    }
  }

  private finish(out: Ev[], outcome: 'success' | 'cancelled', result?: Obj, usage?: Obj[]): void {
    const turn = this.turn;
    if (!turn) return;
    this.closeInner(out);
    this.turn = undefined;
    out.push({
      type: EventType.RUN_FINISHED,
      threadId: this.threadId,
      runId: turn.runId,
      outcome: { type: outcome },
      ...(result ? { result } : {}),
      ...(usage ? { usage } : {}),
    });
  }

  private fail(out: Ev[], message: string, code: string): void {
    if (!this.turn) return;
    this.closeInner(out);
    this.turn = undefined;
    out.push({ type: EventType.RUN_ERROR, message, code });
  }

  /** Events of a sub-agent's own work name it (`subagentRunId`); others name their parent call. */
  private attribution(parent: string | undefined): Obj {
    if (parent === undefined) return {};
    if (this.subagents.has(parent)) return { subagentRunId: subagentRunId(parent) };
    return { metadata: { parentToolCallId: parent } };
  }
}

export function subagentRunId(toolCallId: string): string {
  return `subagent-${toolCallId}`;
}

function custom(name: string, value: unknown): Ev {
  return { type: EventType.CUSTOM, name, value };
}

/** A tool result as text: strings as they are, text blocks joined, anything else as JSON. */
function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content) && content.every((b) => isObj(b) && typeof b.text === 'string'))
    return content.map((b) => (b as { text: string }).text).join('\n');
  return content === undefined ? '' : JSON.stringify(content);
}
