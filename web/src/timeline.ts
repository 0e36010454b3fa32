/**
 * A session's history as the page shows it: entries (in `seq` order, each once) folded into
 * items — text blocks (streamed token by token, then completed), thinking, tool calls with their
 * results (sub-agent work nested under the call that started it), user messages, phases, notices
 * and turn results. Items change in place and carry a `rev`, so the view redraws only what
 * changed; a parent's `rev` moves with its children's.
 */
import type { Entry } from './follow.js';

interface Base {
  key: string;
  rev: number;
  parent?: ToolItem;
}
export interface TextItem extends Base {
  kind: 'text';
  text: string;
  streamId?: string;
  streaming: boolean;
}
export interface ThinkingItem extends Base {
  kind: 'thinking';
  text: string;
}
export interface ToolItem extends Base {
  kind: 'tool';
  id: string;
  tool: string;
  input: Record<string, unknown>;
  /** The session's working directory: paths under it are shown relative. */
  cwd?: string;
  result?: { text: string; isError: boolean };
  children: Item[];
}
export interface UserItem extends Base {
  kind: 'user';
  text: string;
  from?: string;
}
export interface PhaseItem extends Base {
  kind: 'phase';
  phase: string;
  message: string;
  at?: string;
}
export interface NoticeItem extends Base {
  kind: 'notice';
  level: string;
  event?: string;
  message: string;
}
export interface ResultItem extends Base {
  kind: 'result';
  isError: boolean;
  subtype: string;
  turns: number;
  inputTokens: number;
  outputTokens: number;
  cost: number | undefined;
  durationMs: number;
}
export interface WaitingItem extends Base {
  kind: 'waiting';
}
export type Item =
  TextItem | ThinkingItem | ToolItem | UserItem | PhaseItem | NoticeItem | ResultItem | WaitingItem;

/** What the runner pushed at the end (`workspace.finalized`). */
export interface RepoOutcome {
  name: string;
  status: string;
  branch?: string;
  added?: number;
  removed?: number;
  prUrl?: string;
  error?: string;
}

export const TERMINAL_PHASES = new Set(['Completed', 'Failed', 'Stopped', 'Error']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Text of a tool result's content: a string, or a list of blocks. */
export function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((b) => (isRecord(b) && b.type === 'text' ? str(b.text) : JSON.stringify(b)))
      .join('\n');
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

export class Timeline {
  readonly items: Item[] = [];
  readonly phases: PhaseItem[] = [];
  lastSeq = 0;
  entries = 0;
  phase: string | undefined;
  waiting = false;
  cwd: string | undefined;
  /** The file changes of the session (Edit, MultiEdit, Write calls that did not fail). */
  readonly changes: ToolItem[] = [];
  /** The repos as the runner left them: pushed branches, pull requests. */
  repos: RepoOutcome[] = [];
  private readonly tools = new Map<string, ToolItem>();
  private stream: TextItem | undefined;
  private n = 0;

  add(entry: Entry): void {
    if (entry.seq <= this.lastSeq) return; // never twice
    this.lastSeq = entry.seq;
    this.entries++;
    const payload = isRecord(entry.payload) ? entry.payload : {};
    const parent = this.tools.get(str(payload.parent_tool_use_id));
    switch (entry.type) {
      case 'message.partial': {
        const p = isRecord(entry.partial) ? entry.partial : {};
        const id = str(p.id);
        const data = str(p.data);
        this.waiting = false;
        if (!this.stream || this.stream.streamId !== id) {
          this.stream = this.push<TextItem>(
            { kind: 'text', text: '', streamId: id, streaming: true },
            parent,
          );
        }
        this.stream.text += data;
        this.touch(this.stream);
        return;
      }
      case 'agent.message':
        return this.agentMessage(payload, parent);
      case 'system.message':
        return this.systemMessage(entry, payload, parent);
      case 'agent.waiting':
        this.waiting = true;
        this.endStream();
        this.push<WaitingItem>({ kind: 'waiting' });
        return;
      case 'agent.running':
        this.waiting = false;
        return;
      case 'user_message':
      case 'user.message': {
        this.endStream();
        const from = isRecord(payload.from) ? str(payload.from.session) : '';
        this.push<UserItem>({
          kind: 'user',
          text: str(payload.content) || str(payload.text),
          ...(from ? { from } : {}),
        });
        return;
      }
      default:
        return;
    }
  }

  private agentMessage(payload: Record<string, unknown>, parent: ToolItem | undefined): void {
    if (payload.type === 'agent_message' && isRecord(payload.content)) {
      const text = str(payload.content.text);
      const s = this.stream;
      if (s && text.startsWith(s.text)) {
        // Streamed already: the complete text replaces the streamed one.
        s.text = text;
        s.streaming = false;
        this.touch(s);
        this.stream = undefined;
        return;
      }
      this.endStream();
      if (text) this.push<TextItem>({ kind: 'text', text, streaming: false }, parent);
      return;
    }
    if (payload.type === 'result.message' && isRecord(payload.payload)) {
      const r = payload.payload;
      const u = isRecord(r.usage) ? r.usage : {};
      this.endStream();
      this.push<ResultItem>({
        kind: 'result',
        isError: r.is_error === true,
        subtype: str(r.subtype) || 'done',
        turns: num(r.num_turns),
        inputTokens:
          num(u.input_tokens) + num(u.cache_read_input_tokens) + num(u.cache_creation_input_tokens),
        outputTokens: num(u.output_tokens),
        cost: typeof r.total_cost_usd === 'number' ? r.total_cost_usd : undefined,
        durationMs: num(r.duration_ms),
      });
      return;
    }
    if (typeof payload.tool === 'string') {
      this.endStream();
      const id = str(payload.id) || `tool-${this.n}`;
      const item = this.push<ToolItem>(
        {
          kind: 'tool',
          id,
          tool: payload.tool,
          input: isRecord(payload.input) ? payload.input : {},
          ...(this.cwd ? { cwd: this.cwd } : {}),
          children: [],
        },
        parent,
      );
      this.tools.set(id, item);
      if (['Edit', 'MultiEdit', 'Write'].includes(item.tool)) this.changes.push(item);
      return;
    }
    if (isRecord(payload.tool_result)) {
      const r = payload.tool_result;
      const card = this.tools.get(str(r.tool_use_id));
      const result = { text: toolResultText(r.content), isError: r.is_error === true };
      if (card) {
        card.result = result;
        this.touch(card);
      } else
        this.push<NoticeItem>({
          kind: 'notice',
          level: result.isError ? 'error' : 'info',
          message: result.text,
        });
    }
  }

  private systemMessage(
    entry: Entry,
    payload: Record<string, unknown>,
    parent: ToolItem | undefined,
  ): void {
    const event = str(payload.event);
    const message = str(payload.message);
    const level = str(payload.level) || 'info';
    const data = isRecord(payload.data) ? payload.data : {};
    if (event === 'cli.init' && typeof data.cwd === 'string') this.cwd = data.cwd;
    if (event === 'workspace.finalized' && Array.isArray(data.repos))
      this.repos = data.repos.filter(isRecord).map((r) => ({
        name: str(r.name),
        status: str(r.status),
        ...(typeof r.branch === 'string' ? { branch: r.branch } : {}),
        ...(typeof r.added === 'number' ? { added: r.added } : {}),
        ...(typeof r.removed === 'number' ? { removed: r.removed } : {}),
        ...(typeof r.prUrl === 'string' ? { prUrl: r.prUrl } : {}),
        ...(typeof r.error === 'string' ? { error: r.error } : {}),
      }));
    // Only the control plane's own entries (no runSeq) change the phase.
    if (event === 'phase.changed' && entry.runSeq === undefined) {
      const phase = str(data.phase);
      if (!phase) return;
      this.phase = phase;
      this.endStream();
      const item = this.push<PhaseItem>({
        kind: 'phase',
        phase,
        message,
        ...(entry.timestamp ? { at: entry.timestamp } : {}),
      });
      this.phases.push(item);
      return;
    }
    if (event === 'thinking') {
      this.push<ThinkingItem>({ kind: 'thinking', text: message }, parent);
      return;
    }
    if (level === 'debug' || !message) return;
    this.push<NoticeItem>({ kind: 'notice', level, message, ...(event ? { event } : {}) }, parent);
  }

  private endStream(): void {
    if (this.stream) {
      this.stream.streaming = false;
      this.touch(this.stream);
      this.stream = undefined;
    }
  }

  private push<T extends Item>(partial: Omit<T, 'key' | 'rev'>, parent?: ToolItem): T {
    const item = { ...partial, key: `i${this.n++}`, rev: 0 } as T;
    if (parent) {
      item.parent = parent;
      parent.children.push(item);
      this.touch(parent);
    } else this.items.push(item);
    return item;
  }

  private touch(item: Item): void {
    for (let i: Item | undefined = item; i; i = i.parent) i.rev++;
  }
}
