/**
 * Rendering of a session's history entries (runner frames, user messages, phase changes) as
 * terminal text. No I/O: `renderEntry(entry, state, style)` returns the text to append to the
 * output, and the same entries in the same order always give the same text. The small `state`
 * it updates is what rendering needs to remember: the text block being streamed (so its full
 * copy is not printed twice), the working directory (tool paths are shown relative to it), the
 * tools by id, the agent's activity (for the spinner) and the phase.
 *
 * Every string that came from the model or a tool is stripped of control characters before it
 * reaches the terminal, so a session cannot move the cursor or recolour the user's screen.
 */
import {
  HISTORY_ENTRY_TYPES,
  type HistoryEntryBody,
  isPhaseChanged,
  parseHistoryBody,
  PHASE_CHANGED_EVENT,
} from '../protocol/history.js';
import { isTerminalPhase } from '../protocol/status.js';

export interface Style {
  color: boolean;
  /** Columns for one-line items (tool calls, results, system messages). */
  width: number;
  /** Show debug system messages (CLI init, …) and unknown frame types. */
  verbose: boolean;
  /** The session's name, for hints ("session send NAME …"). */
  session?: string;
}

export type Activity = 'starting' | 'working' | 'idle' | 'done';

export interface RenderState {
  /** The streamed text block the output is in the middle of. */
  stream: { id: string; text: string; fromStart: boolean } | undefined;
  atLineStart: boolean;
  cwd: string | undefined;
  tools: Map<string, string>;
  activity: Activity;
  phase: string | undefined;
  /** The run the phase belongs to. */
  phaseRun: number | undefined;
  totals: Totals;
}

export interface Totals {
  /** Result messages seen (one per turn). */
  results: number;
  turns: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** The CLI reports a running total per conversation: the last value per session id counts. */
  costBySession: Map<string, number>;
  durationMs: number;
  apiMs: number;
  lastSubtype: string | undefined;
  lastIsError: boolean;
  /** Some result reported usage / a cost: otherwise the summary says "unknown", not 0. */
  tokensKnown: boolean;
  costKnown: boolean;
}

export function newTotals(): Totals {
  return {
    results: 0,
    turns: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    costBySession: new Map(),
    durationMs: 0,
    apiMs: 0,
    lastSubtype: undefined,
    lastIsError: false,
    tokensKnown: false,
    costKnown: false,
  };
}

export function newRenderState(): RenderState {
  return {
    stream: undefined,
    atLineStart: true,
    cwd: undefined,
    tools: new Map(),
    activity: 'starting',
    phase: undefined,
    phaseRun: undefined,
    totals: newTotals(),
  };
}

/** Exit code of `session watch` for a terminal phase: 0 Completed, 1 Failed/Error, 3 Stopped. */
export function exitCodeForPhase(phase: string): number {
  if (phase === 'Completed') return 0;
  if (phase === 'Stopped') return 3;
  return 1;
}

// ---------------------------------------------------------------------------------------------
// Small pure helpers

const CODES = {
  bold: '1',
  dim: '2',
  italic: '3',
  red: '31',
  green: '32',
  yellow: '33',
  blue: '34',
  magenta: '35',
  cyan: '36',
  gray: '90',
} as const;
export type Paint = keyof typeof CODES;

export function paint(style: Pick<Style, 'color'>, what: Paint | Paint[], text: string): string {
  if (!style.color || !text) return text;
  const codes = (Array.isArray(what) ? what : [what]).map((w) => CODES[w]).join(';');
  return `\x1b[${codes}m${text}\x1b[0m`;
}

/** Removes control characters (and so escape sequences) except newline and tab. */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '');
}

/** One line: whitespace folded, cut to `width` characters with an ellipsis. */
export function oneLine(text: string, width: number): string {
  const flat = clean(text).replace(/\s+/g, ' ').trim();
  if (width <= 1) return flat.slice(0, Math.max(width, 0));
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

/** One line of text kept as it is (indentation too), cut to `width` characters. */
export function truncate(text: string, width: number): string {
  const c = clean(text).replace(/\n/g, ' ').replace(/\t/g, '  ');
  return c.length > width ? `${c.slice(0, Math.max(width - 1, 0))}…` : c;
}

export function formatNumber(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatCost(usd: number): string {
  if (usd === 0) return '$0';
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  if (m < 60) return `${m}m ${String(rest).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function relative(p: string, cwd: string | undefined): string {
  if (cwd && p.startsWith(`${cwd}/`)) return p.slice(cwd.length + 1);
  if (cwd && p === cwd) return '.';
  return p;
}

/** The argument that says most about a tool call, for a one-line `Tool(arg)`. */
export function toolArgument(tool: string, input: unknown, cwd?: string): string {
  if (!isRecord(input)) return input === undefined ? '' : JSON.stringify(input);
  const s = (k: string) => (typeof input[k] === 'string' ? (input[k] as string) : undefined);
  switch (tool) {
    case 'Bash':
    case 'BashOutput':
      return s('command') ?? s('bash_id') ?? '';
    case 'Write':
    case 'Edit':
    case 'MultiEdit':
    case 'Read':
      return relative(s('file_path') ?? '', cwd);
    case 'NotebookEdit':
      return relative(s('notebook_path') ?? '', cwd);
    case 'Glob':
    case 'Grep': {
      const where = s('path');
      return `${s('pattern') ?? ''}${where ? ` in ${relative(where, cwd)}` : ''}`;
    }
    case 'WebFetch':
      return s('url') ?? '';
    case 'WebSearch':
      return s('query') ?? '';
    case 'Task':
    case 'Agent':
      return s('description') ?? s('subagent_type') ?? '';
    case 'TodoWrite':
      return Array.isArray(input.todos) ? `${input.todos.length} todos` : '';
    default: {
      const json = JSON.stringify(input);
      return json === '{}' ? '' : json;
    }
  }
}

/** Text of a tool result's content: a string, or a list of blocks. */
export function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((b) => {
        if (isRecord(b) && b.type === 'text' && typeof b.text === 'string') return b.text;
        if (isRecord(b) && b.type === 'image') return '[image]';
        return JSON.stringify(b);
      })
      .join('\n');
  if (content === undefined || content === null) return '';
  return JSON.stringify(content);
}

// ---------------------------------------------------------------------------------------------
// Totals and summaries

/** Adds one `result.message` payload to the totals. */
export function addResult(t: Totals, r: Record<string, unknown>): void {
  t.results++;
  t.turns += num(r.num_turns);
  const u = isRecord(r.usage) ? r.usage : {};
  if (isRecord(r.usage)) t.tokensKnown = true;
  if (typeof r.total_cost_usd === 'number') t.costKnown = true;
  t.inputTokens += num(u.input_tokens);
  t.outputTokens += num(u.output_tokens);
  t.cacheReadTokens += num(u.cache_read_input_tokens);
  t.cacheWriteTokens += num(u.cache_creation_input_tokens);
  const sid = typeof r.session_id === 'string' ? r.session_id : '';
  const cost = num(r.total_cost_usd);
  t.costBySession.set(sid, Math.max(t.costBySession.get(sid) ?? 0, cost));
  t.durationMs += num(r.duration_ms);
  t.apiMs += num(r.duration_api_ms);
  t.lastSubtype = typeof r.subtype === 'string' ? r.subtype : undefined;
  t.lastIsError = r.is_error === true;
}

export function totalCost(t: Totals): number {
  let sum = 0;
  for (const c of t.costBySession.values()) sum += c;
  return sum;
}

/** The one line printed at the end of each turn. */
export function renderTurnLine(r: Record<string, unknown>, style: Style): string {
  const ok = r.is_error !== true;
  const subtype = typeof r.subtype === 'string' ? r.subtype : 'done';
  const head = ok
    ? paint(style, 'green', '✓ turn done')
    : paint(style, 'red', `✗ turn ended: ${subtype}`);
  const parts = [
    `${formatNumber(num(r.num_turns))} turns`,
    typeof r.total_cost_usd === 'number' ? formatCost(r.total_cost_usd) : 'cost unknown',
    formatDuration(num(r.duration_ms)),
  ];
  return `${head} ${paint(style, 'dim', `· ${parts.join(' · ')}`)}`;
}

/**
 * The summary at the end of a watch: phase, then turns, tokens (input/output/cache), cost and
 * duration over every turn seen.
 */
export function renderSummary(t: Totals, style: Style, phase?: string, message?: string): string[] {
  const color: Paint =
    phase === 'Completed' ? 'green' : phase === 'Stopped' ? 'yellow' : phase ? 'red' : 'cyan';
  const head = phase ? `● ${phase}` : '● summary';
  const lines = [
    paint(style, [color, 'bold'], head) +
      (message ? paint(style, 'dim', ` — ${oneLine(message, style.width)}`) : ''),
  ];
  const row = (k: string, v: string) => `  ${paint(style, 'dim', k.padEnd(9))} ${v}`;
  if (t.results === 0) {
    lines.push(row('turns', '0 (no turn finished)'));
    return lines;
  }
  lines.push(
    row('turns', `${formatNumber(t.turns)}${t.results > 1 ? ` (in ${t.results} user turns)` : ''}`),
  );
  // A runner that reports no usage or cost (the original one in interactive mode) gets
  // "unknown": a 0 would claim the run was free.
  lines.push(
    row(
      'tokens',
      t.tokensKnown
        ? `${formatNumber(t.inputTokens)} input · ${formatNumber(t.outputTokens)} output · ${formatNumber(t.cacheReadTokens)} cache read · ${formatNumber(t.cacheWriteTokens)} cache write`
        : 'unknown (the runner reported no usage)',
    ),
  );
  lines.push(row('cost', t.costKnown ? formatCost(totalCost(t)) : 'unknown'));
  lines.push(row('duration', `${formatDuration(t.durationMs)} (API ${formatDuration(t.apiMs)})`));
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Entries

/** What rendering reads of an entry (a test or a replay may hold no more). */
export interface RenderableEntry {
  seq: number;
  type: string;
  run?: number;
  runSeq?: number;
  payload?: unknown;
  partial?: unknown;
}

/** The types this version renders; an entry of another type is shown only when verbose. */
const KNOWN_TYPES: ReadonlySet<string> = new Set(HISTORY_ENTRY_TYPES);

/** The sub-agent a payload belongs to (it is then indented). */
function parentToolUse(body: HistoryEntryBody): string | undefined {
  const p = body.payload;
  return 'parent_tool_use_id' in p && typeof p.parent_tool_use_id === 'string'
    ? p.parent_tool_use_id
    : undefined;
}

/** Text to append to the output for one entry; updates `state`. */
export function renderEntry(entry: RenderableEntry, state: RenderState, style: Style): string {
  let out = '';
  /** Ends a streamed line before a whole line is written. */
  const line = (text: string) => {
    if (!state.atLineStart) out += '\n';
    state.stream = undefined;
    out += `${text}\n`;
    state.atLineStart = true;
  };
  const body = parseHistoryBody(entry);
  if (!body) {
    // A type of a newer version is shown when verbose; a known type in a shape this version
    // does not know is shown as it is, never dropped.
    if (style.verbose || KNOWN_TYPES.has(entry.type))
      line(
        paint(
          style,
          'dim',
          `· ${oneLine(`${entry.type} ${JSON.stringify(entry.payload ?? {})}`, Math.max(style.width, 20) - 2)}`,
        ),
      );
    return out;
  }
  const parent = parentToolUse(body);
  const indent = parent ? '    ' : '';
  const width = Math.max(style.width - indent.length, 20);

  switch (body.type) {
    case 'message.partial': {
      const p = body.partial;
      const data = clean(p.data);
      state.activity = 'working';
      if (!state.stream || state.stream.id !== p.id) {
        if (!state.atLineStart) out += '\n';
        state.stream = { id: p.id, text: '', fromStart: p.index === 0 };
        state.atLineStart = true;
      }
      state.stream.text += data;
      if (data) {
        out += data;
        state.atLineStart = data.endsWith('\n');
      }
      return out;
    }

    case 'agent.message': {
      const payload = body.payload;
      if ('type' in payload && payload.type === 'agent_message') {
        const text = clean(payload.content.text);
        const s = state.stream;
        if (s && s.fromStart && text.startsWith(s.text)) {
          // Streamed already: only what is missing, then end the line.
          const rest = text.slice(s.text.length);
          out += rest;
          state.stream = undefined;
          if (!(rest ? rest.endsWith('\n') : state.atLineStart)) out += '\n';
          state.atLineStart = true;
          return out;
        }
        if (text) line(indent ? text.replace(/^/gm, indent) : text);
        return out;
      }
      if ('type' in payload && payload.type === 'result.message') {
        addResult(state.totals, payload.payload);
        line(renderTurnLine(payload.payload, style));
        return out;
      }
      if ('tool' in payload) {
        const tool = clean(payload.tool);
        state.tools.set(payload.id, tool);
        const arg = oneLine(
          toolArgument(tool, payload.input, state.cwd),
          Math.max(width - tool.length - 4, 10),
        );
        state.activity = 'working';
        line(`${indent}${paint(style, 'cyan', '▸')} ${paint(style, 'bold', tool)}(${arg})`);
        return out;
      }
      const r = payload.tool_result;
      let text = clean(toolResultText(r.content)).trim();
      if (state.cwd) text = text.split(`${state.cwd}/`).join('');
      const lines = text ? text.split('\n') : [];
      const first = lines.find((l) => l.trim()) ?? '(no output)';
      const more = lines.length > 1 ? ` (+${lines.length - 1} lines)` : '';
      const summary = oneLine(first, Math.max(width - 6 - more.length, 10));
      line(
        `${indent}  ${paint(style, 'dim', '⎿')} ${r.is_error ? paint(style, 'red', `✗ ${summary}`) : paint(style, 'dim', summary)}${paint(style, 'dim', more)}`,
      );
      return out;
    }

    case 'system.message': {
      const payload = body.payload;
      const message = payload.message;
      const level = payload.level ?? 'info';
      if (payload.event === 'cli.init' && typeof payload.data?.cwd === 'string')
        state.cwd = payload.data.cwd;
      // Only the control plane's own entries (no runSeq) change the phase: the hub renames a
      // runner's claim of this event, and this check covers history written before it did.
      if (payload.event === PHASE_CHANGED_EVENT && entry.runSeq === undefined) {
        const phase = isPhaseChanged(payload) ? payload.data.phase : undefined;
        if (phase && isPhaseChanged(payload)) {
          state.phase = phase;
          state.phaseRun = payload.data.run;
          if (isTerminalPhase(phase)) state.activity = 'done';
          else if (phase === 'Pending' || phase === 'Creating') state.activity = 'starting';
        }
        const color: Paint =
          phase === 'Completed'
            ? 'green'
            : phase === 'Failed' || phase === 'Error'
              ? 'red'
              : phase === 'Stopped'
                ? 'yellow'
                : 'blue';
        line(`${paint(style, color, '●')} ${paint(style, 'dim', oneLine(message, width - 2))}`);
        return out;
      }
      if (payload.event === 'thinking') {
        line(
          `${indent}${paint(style, 'magenta', '✻')} ${paint(style, ['dim', 'italic'], oneLine(message, width - 2))}`,
        );
        return out;
      }
      if (level === 'debug' && !style.verbose) return out;
      const [firstLine = '', ...rest] = clean(message).split('\n');
      const mark =
        level === 'error'
          ? paint(style, 'red', '✗')
          : level === 'warn'
            ? paint(style, 'yellow', '!')
            : level === 'system'
              ? paint(style, 'blue', '●')
              : paint(style, 'dim', '·');
      const tint = (t: string) =>
        level === 'error'
          ? paint(style, 'red', t)
          : level === 'warn'
            ? paint(style, 'yellow', t)
            : level === 'debug'
              ? paint(style, 'dim', t)
              : t;
      let text = `${indent}${mark} ${tint(oneLine(firstLine, width - 2))}`;
      for (const r of rest) if (r.trim()) text += `\n${indent}  ${tint(oneLine(r, width - 2))}`;
      line(text);
      return out;
    }

    case 'agent.running':
      state.activity = 'working';
      return out;

    case 'agent.waiting': {
      state.activity = 'idle';
      const hint = style.session ? `: claude-code-runner session send ${style.session} "…"` : '';
      line(paint(style, 'dim', `… waiting for a message${hint}`));
      return out;
    }

    case 'user_message':
    case 'user.message': {
      const payload = body.payload;
      const text = clean(payload.content ?? payload.text ?? '');
      const [first = '', ...rest] = text.split('\n');
      // A message from another session (docs/agents.md) says who sent it.
      const from = payload.from?.session !== undefined ? payload.from : undefined;
      const sender = from
        ? `${paint(style, 'dim', `[from ${clean(String(from.session))}${from.agent !== undefined && from.agent !== 'main' ? `/${clean(from.agent)}` : ''}]`)} `
        : '';
      let t = `${paint(style, ['bold', 'cyan'], '›')} ${sender}${paint(style, 'bold', first)}`;
      for (const r of rest) t += `\n  ${paint(style, 'bold', r)}`;
      line(t);
      return out;
    }
  }
}
