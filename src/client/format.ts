/** Human-readable views of sessions for `session list` and `session get` (pure functions). */
import type { SessionResource } from '../protocol/api.js';
import {
  formatCost,
  formatDuration,
  formatNumber,
  oneLine,
  paint,
  truncate,
  type Style,
} from './render.js';

export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

function phaseColor(phase: string): 'green' | 'red' | 'yellow' | 'blue' {
  if (phase === 'Completed') return 'green';
  if (phase === 'Failed' || phase === 'Error') return 'red';
  if (phase === 'Stopped') return 'yellow';
  return 'blue';
}

export function renderList(items: SessionResource[], style: Style, now = Date.now()): string[] {
  if (!items.length)
    return ['no sessions (create one: claude-code-runner session create --prompt "…")'];
  const rows = items.map((s) => ({
    name: s.metadata.name,
    phase: s.status.phase,
    age: age(s.metadata.creationTimestamp, now),
    turns: typeof s.status.num_turns === 'number' ? String(s.status.num_turns) : '-',
    cost: typeof s.status.total_cost_usd === 'number' ? formatCost(s.status.total_cost_usd) : '-',
    prompt: s.spec.displayName ?? s.spec.prompt ?? '',
  }));
  const w = {
    name: Math.max(4, ...rows.map((r) => r.name.length)),
    phase: Math.max(5, ...rows.map((r) => r.phase.length)),
    age: Math.max(3, ...rows.map((r) => r.age.length)),
    turns: Math.max(5, ...rows.map((r) => r.turns.length)),
    cost: Math.max(4, ...rows.map((r) => r.cost.length)),
  };
  const fixed = w.name + w.phase + w.age + w.turns + w.cost + 10;
  const promptWidth = Math.max(style.width - fixed, 20);
  const header = `${'NAME'.padEnd(w.name)}  ${'PHASE'.padEnd(w.phase)}  ${'AGE'.padStart(w.age)}  ${'TURNS'.padStart(w.turns)}  ${'COST'.padStart(w.cost)}  PROMPT`;
  return [
    paint(style, 'dim', header),
    ...rows.map(
      (r) =>
        `${r.name.padEnd(w.name)}  ${paint(style, phaseColor(r.phase), r.phase.padEnd(w.phase))}  ${r.age.padStart(w.age)}  ${r.turns.padStart(w.turns)}  ${r.cost.padStart(w.cost)}  ${oneLine(r.prompt, promptWidth)}`,
    ),
  ];
}

export function renderSession(s: SessionResource, style: Style): string[] {
  const st = s.status;
  const spec = s.spec;
  const rows: [string, string][] = [
    ['name', s.metadata.name],
    ['project', s.metadata.namespace],
    [
      'phase',
      paint(style, phaseColor(st.phase), st.phase) +
        (st.message ? ` — ${oneLine(st.message, style.width - 30)}` : ''),
    ],
    ['run', String(st.run)],
    ['created', s.metadata.creationTimestamp],
  ];
  if (st.startTime) rows.push(['started', st.startTime]);
  if (st.completionTime) rows.push(['completed', st.completionTime]);
  if (typeof st.exitCode === 'number') rows.push(['exit code', String(st.exitCode)]);
  rows.push(['prompt', oneLine(spec.prompt ?? '', style.width - 12) || '(none)']);
  if (spec.displayName) rows.push(['display', spec.displayName]);
  rows.push(['mode', spec.interactive ? 'interactive' : 'one turn']);
  if (spec.llmSettings?.model) rows.push(['model', spec.llmSettings.model]);
  if (spec.timeout) rows.push(['timeout', `${spec.timeout}s`]);
  for (const [i, r] of (spec.repos ?? []).entries())
    rows.push([
      i === 0 ? 'repos' : '',
      `${r.input.url}${r.input.branch ? `@${r.input.branch}` : ''}${r.output ? ` → ${r.output.url}${r.output.branch ? `@${r.output.branch}` : ''}` : ''}`,
    ]);
  if (typeof st.num_turns === 'number') rows.push(['turns', formatNumber(st.num_turns)]);
  // With a summary but no usage or cost (the original runner in interactive mode): "unknown",
  // not 0, which would claim the run was free.
  const summarized = typeof st.num_turns === 'number';
  if (st.usage) {
    const u = st.usage;
    rows.push([
      'tokens',
      `${formatNumber(u.input_tokens ?? 0)} input · ${formatNumber(u.output_tokens ?? 0)} output · ${formatNumber(u.cache_read_input_tokens ?? 0)} cache read · ${formatNumber(u.cache_creation_input_tokens ?? 0)} cache write`,
    ]);
  } else if (summarized) rows.push(['tokens', 'unknown']);
  if (typeof st.total_cost_usd === 'number') rows.push(['cost', formatCost(st.total_cost_usd)]);
  else if (summarized) rows.push(['cost', 'unknown']);
  if (typeof st.duration_ms === 'number') rows.push(['duration', formatDuration(st.duration_ms)]);
  const out = rows.map(([k, v]) => `${paint(style, 'dim', k.padEnd(10))} ${v}`);
  if (st.result) {
    out.push(paint(style, 'dim', 'result'));
    for (const line of st.result.split('\n').slice(0, 40))
      out.push(`  ${truncate(line, style.width - 2)}`);
  }
  return out;
}
