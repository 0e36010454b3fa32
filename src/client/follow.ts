/**
 * Following one session to its end: the socket (watch.ts) feeds the renderer (render.ts), whose
 * text goes to the terminal (terminal.ts); at the end, the summary. Used by `session watch`,
 * `session create --watch` and the demo.
 *
 * The watch ends when the session's current run (as of the start) reaches a terminal phase and
 * its last frame has been seen (RunEndWatch). A session that has ended already is replayed from
 * the REST history instead of a socket.
 */
import type { SessionResource } from '../protocol/api.js';
import { isClosingFrame, isPhaseChanged, parseHistoryBody } from '../protocol/history.js';
import { isTerminalPhase } from '../protocol/status.js';
import type { ApiClient, HistoryEntry } from './api.js';
import {
  addResult,
  exitCodeForPhase,
  newRenderState,
  paint,
  renderEntry,
  renderSummary,
  type RenderState,
  type Style,
} from './render.js';
import type { OutStream, Terminal } from './terminal.js';
import { watchSession } from './watch.js';

/**
 * When following a run may stop: at a terminal phase of that run (or a later one), but never
 * before the run's last frame. So only once the run's closing frame has been seen, or the phase
 * change says the run is over (`data.runOver`: serve records a terminal phase only once the run's
 * frames are in, or its process has ended).
 */
export class RunEndWatch {
  private readonly closedRuns = new Set<number>();
  private terminal: { run: number; over: boolean } | undefined;

  constructor(private readonly run: number) {}

  observe(entry: HistoryEntry): void {
    if (typeof entry.runSeq === 'number' && isClosingFrame(entry.type, entry.payload))
      this.closedRuns.add(entry.run);
    const body = parseHistoryBody(entry);
    if (body?.type !== 'system.message' || !isPhaseChanged(body.payload)) return;
    const { phase, run, runOver } = body.payload.data;
    if (isTerminalPhase(phase)) this.terminal = { run, over: runOver === true };
    else if (this.terminal && run > this.terminal.run) this.terminal = undefined;
  }

  get done(): boolean {
    const t = this.terminal;
    return !!t && t.run >= this.run && (t.over || this.closedRuns.has(t.run));
  }
}

export interface FollowOptions {
  api: ApiClient;
  name: string;
  /** The session as just created or read (else it is read first). */
  session?: SessionResource;
  afterSeq?: number;
  terminal: Terminal;
  style: Style;
  /** Print entries as JSON lines (no rendering, no summary). */
  json: boolean;
  stdout: OutStream;
  stderr: OutStream;
  signal?: AbortSignal;
  maxOutageMs?: number;
}

export interface FollowResult {
  /** The terminal phase, `Deleted`, or undefined when the watch was aborted. */
  phase: string | undefined;
  exitCode: number;
  lastSeq: number;
  state: RenderState;
  session?: SessionResource;
}

export async function followSession(o: FollowOptions): Promise<FollowResult> {
  const { api, name, terminal, style } = o;
  const state = newRenderState();
  const session = o.session ?? (await api.get(name));
  const run = session.status.run;
  let lastSeq = o.afterSeq ?? 0;
  const end = new RunEndWatch(run);
  const isDone = () => end.done;
  const emit = (entry: HistoryEntry) => {
    lastSeq = entry.seq;
    end.observe(entry);
    const text = renderEntry(entry, state, style);
    if (o.json) o.stdout.write(`${JSON.stringify(entry)}\n`);
    else {
      terminal.write(text);
      terminal.setActivity(state.activity);
    }
  };
  const notice = (text: string) => {
    if (o.json) {
      o.stderr.write(`${text}\n`);
      return;
    }
    if (!state.atLineStart) terminal.write('\n');
    state.atLineStart = true;
    terminal.write(`${paint(style, 'yellow', text)}\n`);
  };

  if (!o.json) terminal.setActivity(isTerminalPhase(session.status.phase) ? 'done' : 'starting');
  let deleted = false;
  try {
    if (isTerminalPhase(session.status.phase)) {
      for (let after = lastSeq; ;) {
        const page = await api.history(name, after);
        for (const e of page.items) {
          if (e.seq <= lastSeq) continue;
          emit(e);
          if (isDone()) break;
        }
        if (isDone() || !page.hasMore || page.lastSeq <= after) break;
        after = page.lastSeq;
      }
    } else {
      const r = await watchSession({
        api,
        name,
        afterSeq: lastSeq,
        onEntry: emit,
        isDone,
        onReconnect: ({ afterSeq, reason }) =>
          notice(`connection lost (${reason}); reconnecting after seq ${afterSeq}…`),
        onOpen: ({ reconnect }) => {
          if (reconnect) notice('reconnected');
        },
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.maxOutageMs !== undefined ? { maxOutageMs: o.maxOutageMs } : {}),
      });
      lastSeq = Math.max(lastSeq, r.lastSeq);
      if (r.reason === 'aborted') return { phase: undefined, exitCode: 130, lastSeq, state };
      deleted = r.reason === 'deleted';
    }
  } finally {
    terminal.close();
  }

  if (deleted) {
    notice(`session ${name} was deleted`);
    return { phase: 'Deleted', exitCode: 1, lastSeq, state };
  }
  let final: SessionResource | undefined;
  try {
    final = await api.get(name);
  } catch {
    final = undefined;
  }
  const phase = isDone()
    ? state.phase!
    : (final?.status.phase ?? state.phase ?? session.status.phase);
  if (state.totals.results === 0 && final && typeof final.status.num_turns === 'number')
    addResult(state.totals, final.status as unknown as Record<string, unknown>);
  if (!o.json) {
    const lines = renderSummary(state.totals, style, phase, final?.status.message);
    terminal.write(`${state.atLineStart ? '' : '\n'}\n${lines.join('\n')}\n`);
  }
  return {
    phase,
    exitCode: exitCodeForPhase(phase),
    lastSeq,
    state,
    ...(final ? { session: final } : {}),
  };
}
