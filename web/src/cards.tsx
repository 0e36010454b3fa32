/**
 * One timeline item each: Markdown text, collapsed thinking, a card per tool (Bash: command,
 * output, exit; Edit/MultiEdit: a diff; Write: the file; Read/Grep/Glob: one compact line),
 * user messages, phases, notices, turn results. Everything from the model or a tool is text or
 * sanitized Markdown (markdown.ts).
 */
import { diffLines } from 'diff';
import { memo } from 'preact/compat';
import type { Item, ResultItem, ToolItem } from './timeline.js';
import { highlight, languageOf, renderMarkdown } from './markdown.js';

export const ItemView = memo(
  function ItemView({ item }: { item: Item; rev: number }) {
    switch (item.kind) {
      case 'text':
        return (
          <div
            class={`md${item.streaming ? ' streaming' : ''}`}
            data-kind="text"
            // Sanitized by DOMPurify in renderMarkdown.
            dangerouslySetInnerHTML={{ __html: renderMarkdown(item.text) }}
          />
        );
      case 'thinking':
        return (
          <details class="thinking" data-kind="thinking">
            <summary>Thinking</summary>
            <p>{item.text}</p>
          </details>
        );
      case 'tool':
        return <ToolCard item={item} />;
      case 'user':
        return (
          <div class="user" data-kind="user">
            <span class="who">{item.from ? `from ${item.from}` : 'You'}</span>
            <p>{item.text}</p>
          </div>
        );
      case 'phase':
        return (
          <div class={`phase phase-${item.phase.toLowerCase()}`} data-kind="phase">
            ● {item.phase}
            {item.message ? <span class="dim"> — {item.message}</span> : null}
          </div>
        );
      case 'notice':
        return (
          <div
            class={`notice notice-${item.level}`}
            data-kind="notice"
            data-event={item.event}
            role={item.level === 'error' ? 'alert' : undefined}
          >
            {item.level === 'error' ? '✗ ' : item.level === 'warn' ? '! ' : '● '}
            {item.message}
          </div>
        );
      case 'result':
        return <ResultView item={item} />;
      case 'waiting':
        return (
          <div class="dim waiting" data-kind="waiting">
            … waiting for a message
          </div>
        );
    }
  },
  (a, b) => a.item === b.item && a.rev === b.rev,
);

export function formatCost(usd: number | undefined): string {
  if (usd === undefined) return 'cost unknown';
  if (usd === 0) return '$0';
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${Math.round(s - m * 60)}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

function ResultView({ item }: { item: ResultItem }) {
  return (
    <div class={`result${item.isError ? ' error' : ''}`} data-kind="result">
      <strong>{item.isError ? `✗ turn ended: ${item.subtype}` : '✓ turn done'}</strong>
      <dl>
        <dt>turns</dt>
        <dd data-field="turns">{item.turns}</dd>
        <dt>tokens</dt>
        <dd data-field="tokens">
          {item.inputTokens.toLocaleString('en-US')} in ·{' '}
          {item.outputTokens.toLocaleString('en-US')} out
        </dd>
        <dt>cost</dt>
        <dd data-field="cost">{formatCost(item.cost)}</dd>
        <dt>duration</dt>
        <dd data-field="duration">{formatDuration(item.durationMs)}</dd>
      </dl>
    </div>
  );
}

const s = (v: unknown) => (typeof v === 'string' ? v : '');

export function relative(p: string, cwd: string | undefined): string {
  if (cwd && p.startsWith(`${cwd}/`)) return p.slice(cwd.length + 1);
  return cwd && p === cwd ? '.' : p;
}

function ToolCard({ item }: { item: ToolItem }) {
  const input = item.input;
  const r = item.result;
  const compact = ['Read', 'Grep', 'Glob', 'LS', 'WebSearch', 'WebFetch', 'TodoWrite'].includes(
    item.tool,
  );
  let arg: string;
  let body = null;
  switch (item.tool) {
    case 'Bash': {
      arg = s(input.description);
      const exit = r ? exitOf(r.text, r.isError) : undefined;
      body = (
        <>
          <pre class="cmd">
            <code dangerouslySetInnerHTML={{ __html: highlight(s(input.command), 'bash') }} />
          </pre>
          {r ? (
            <>
              <pre class="out">{r.text || '(no output)'}</pre>
              <div class={`exit${r.isError ? ' error' : ''}`} data-field="exit">
                exit {exit}
              </div>
            </>
          ) : (
            <div class="dim">running…</div>
          )}
        </>
      );
      break;
    }
    case 'Edit':
    case 'MultiEdit': {
      arg = relative(s(input.file_path), item.cwd);
      const edits = Array.isArray(input.edits)
        ? (input.edits as Record<string, unknown>[])
        : [input];
      body = (
        <>
          {edits.map((e, i) => (
            <Diff key={i} before={s(e.old_string)} after={s(e.new_string)} />
          ))}
          {r?.isError ? <pre class="out error">{r.text}</pre> : null}
        </>
      );
      break;
    }
    case 'Write': {
      arg = relative(s(input.file_path), item.cwd);
      body = (
        <>
          <pre class="file">
            <code
              dangerouslySetInnerHTML={{
                __html: highlight(s(input.content), languageOf(arg)),
              }}
            />
          </pre>
          {r?.isError ? <pre class="out error">{r.text}</pre> : null}
        </>
      );
      break;
    }
    case 'Read':
      arg = relative(s(input.file_path), item.cwd);
      break;
    case 'Grep':
    case 'Glob':
      arg = `${s(input.pattern)}${input.path ? ` in ${relative(s(input.path), item.cwd)}` : ''}`;
      break;
    case 'Task':
    case 'Agent':
      arg = s(input.description) || s(input.subagent_type);
      body = r ? (
        <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(r.text) }} />
      ) : null;
      break;
    default:
      arg = compact ? s(input.url) || s(input.query) : '';
      body = (
        <>
          <pre class="file">{JSON.stringify(input, null, 2)}</pre>
          {r ? <pre class={`out${r.isError ? ' error' : ''}`}>{r.text}</pre> : null}
        </>
      );
  }
  const lines = r ? r.text.split('\n').length : 0;
  return (
    <section
      class={`tool tool-${item.tool.toLowerCase()}${r?.isError ? ' error' : ''}${compact ? ' compact' : ''}`}
      data-kind="tool"
      data-tool={item.tool}
    >
      <header>
        <span class="tool-name">{item.tool}</span> <span class="tool-arg">{arg}</span>
        {compact && r ? (
          <span class={`dim${r.isError ? ' error' : ''}`}>
            {' '}
            — {r.isError ? r.text.split('\n')[0] : `${lines} line${lines === 1 ? '' : 's'}`}
          </span>
        ) : null}
        {!r ? <span class="spinner" aria-label="running" /> : null}
      </header>
      {compact ? null : body}
      {item.children.length ? (
        <div class="nested" data-kind="nested">
          {item.children.map((c) => (
            <ItemView key={c.key} item={c} rev={c.rev} />
          ))}
        </div>
      ) : null}
    </section>
  );
}

/** The CLI reports a failed command's code in the text ("Exit code 2"); success is 0. */
function exitOf(text: string, isError: boolean): number | string {
  const m = /Exit code (\d+)/.exec(text);
  if (m) return Number(m[1]);
  return isError ? 'error' : 0;
}

export function Diff({ before, after }: { before: string; after: string }) {
  const parts = diffLines(before, after);
  return (
    <pre class="diff" data-kind="diff">
      {parts.flatMap((p, i) =>
        p.value
          .replace(/\n$/, '')
          .split('\n')
          .map((line, j) => (
            <div key={`${i}.${j}`} class={p.added ? 'add' : p.removed ? 'del' : 'ctx'}>
              {p.added ? '+ ' : p.removed ? '- ' : '  '}
              {line}
            </div>
          )),
      )}
    </pre>
  );
}
