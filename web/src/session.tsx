/**
 * One session, live: the history from the start (`after_seq` 0) and then whatever comes, over
 * the socket (follow.ts), folded into a timeline (timeline.ts). Long sessions render a page of
 * the newest items; "Show earlier" reveals more, so 10,000 entries cost no more than a few
 * hundred nodes. Interactive sessions get a message box, interrupt and end.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, getToken, messagesPath, sessionPath, type Session } from './api.js';
import { ItemView, formatCost, formatDuration } from './cards.js';
import { Changes } from './changes.js';
import { follow, type Connection } from './follow.js';
import { TERMINAL_PHASES, Timeline, type ResultItem } from './timeline.js';

const PAGE = 200;

export function SessionView({ project, name }: { project: string; name: string }) {
  const timeline = useMemo(() => new Timeline(), [name]);
  const [, setVersion] = useState(0);
  const [session, setSession] = useState<Session>();
  const [conn, setConn] = useState<{ state: Connection; detail?: string }>({ state: 'connecting' });
  const [shown, setShown] = useState(PAGE);
  const [error, setError] = useState<string>();
  const bottom = useRef(true);
  const scroller = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const stop = follow({
      project,
      name,
      token: getToken() ?? '',
      afterSeq: 0,
      onEntries: (entries) => {
        for (const e of entries) timeline.add(e);
        setVersion((v) => v + 1);
      },
      onConnection: (state, detail) => setConn({ state, ...(detail ? { detail } : {}) }),
      onRefused: () => {
        api('GET', sessionPath(project, name)).catch((e: unknown) => {
          if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
            stop();
            setError(e.message);
          }
        });
      },
    });
    return stop;
  }, [project, name, timeline]);

  // The session's resource (spec, status) follows the phase the timeline shows.
  useEffect(() => {
    api<Session>('GET', sessionPath(project, name))
      .then(setSession)
      .catch((e: Error) => setError(e.message));
  }, [project, name, timeline.phase]);

  useEffect(() => {
    const el = scroller.current;
    if (el && bottom.current) el.scrollTop = el.scrollHeight;
  });

  const onScroll = () => {
    const el = scroller.current;
    if (el) bottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  };

  const phase = timeline.phase ?? session?.status.phase ?? '…';
  const ended = TERMINAL_PHASES.has(phase);
  const interactive = session?.spec.interactive === true;
  const items = timeline.items;
  const first = Math.max(0, items.length - shown);
  const results = items.filter((i): i is ResultItem => i.kind === 'result');

  const command = async (body: Record<string, unknown>) => {
    try {
      await api('POST', messagesPath(project, name), body);
      setError(undefined);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const action = async (path: string, method = 'POST') => {
    try {
      await api(method, path);
      setError(undefined);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <main class="session">
      <div class="session-head">
        <a href={`#/p/${project}`} class="back" aria-label="Back to the sessions">
          ←
        </a>
        <h1>{session?.spec.displayName || name}</h1>
        <span class={`badge phase-${phase.toLowerCase()}`} data-testid="phase">
          {phase}
        </span>
        <span class={`conn conn-${conn.state}`} data-testid="connection" role="status">
          {conn.state === 'reconnecting'
            ? `reconnecting…${conn.detail ? ` (${conn.detail})` : ''}`
            : conn.state === 'deleted'
              ? 'session deleted'
              : conn.state === 'live'
                ? 'live'
                : `${conn.state}${conn.detail ? `: ${conn.detail}` : ''}`}
        </span>
        <span class="spacer" />
        {ended ? (
          <button onClick={() => action(`${sessionPath(project, name)}/start`)}>Continue</button>
        ) : (
          <button onClick={() => action(`${sessionPath(project, name)}/stop`)}>Stop</button>
        )}
        <button
          class="danger"
          onClick={() => {
            if (confirm(`Delete session ${name}, its history and workspace?`))
              void api('DELETE', sessionPath(project, name)).then(
                () => (location.hash = `#/p/${project}`),
                (e: Error) => setError(e.message),
              );
          }}
        >
          Delete
        </button>
      </div>
      <ol class="phases" aria-label="Phases" data-testid="phases">
        {timeline.phases.map((p) => (
          <li key={p.key} class={`phase-${p.phase.toLowerCase()}`} title={p.at}>
            {p.phase}
          </li>
        ))}
      </ol>
      {session?.spec.repos?.length ? (
        <p class="dim small">
          {session.spec.repos
            .map((r) => `${r.input.url}${r.input.branch ? ` @ ${r.input.branch}` : ''}`)
            .join(' · ')}
        </p>
      ) : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <div
        class="timeline"
        ref={scroller}
        onScroll={onScroll}
        tabIndex={0}
        aria-label="Session history"
      >
        {first > 0 ? (
          <button class="link earlier" onClick={() => setShown((n) => n + PAGE)}>
            Show {Math.min(PAGE, first)} earlier items ({first} hidden)
          </button>
        ) : null}
        {items.slice(first).map((item) => (
          <ItemView key={item.key} item={item} rev={item.rev} />
        ))}
        {ended && results.length ? <Summary results={results} phase={phase} /> : null}
        {ended ? (
          <Changes
            repos={timeline.repos}
            changes={timeline.changes}
            key={`${timeline.repos.length}.${timeline.changes.length}`}
          />
        ) : null}
      </div>
      {interactive && !ended ? (
        <MessageBox
          waiting={timeline.waiting}
          onSend={(text) => command({ type: 'user_message', content: text })}
          onInterrupt={() => command({ type: 'interrupt' })}
          onEnd={() => command({ type: 'end_session' })}
        />
      ) : null}
      <p class="dim small" data-testid="entry-count">
        {timeline.entries} entries · last seq {timeline.lastSeq}
      </p>
    </main>
  );
}

function Summary({ results, phase }: { results: ResultItem[]; phase: string }) {
  const sum = (f: (r: ResultItem) => number) => results.reduce((a, r) => a + f(r), 0);
  const costs = results.map((r) => r.cost).filter((c): c is number => c !== undefined);
  return (
    <section class="summary" data-testid="summary" aria-label="Summary">
      <strong>● {phase}</strong>
      <dl>
        <dt>turns</dt>
        <dd>{sum((r) => r.turns)}</dd>
        <dt>tokens</dt>
        <dd>
          {sum((r) => r.inputTokens).toLocaleString('en-US')} in ·{' '}
          {sum((r) => r.outputTokens).toLocaleString('en-US')} out
        </dd>
        <dt>cost</dt>
        <dd>{costs.length ? formatCost(Math.max(...costs)) : 'unknown'}</dd>
        <dt>duration</dt>
        <dd>{formatDuration(sum((r) => r.durationMs))}</dd>
      </dl>
    </section>
  );
}

function MessageBox(props: {
  waiting: boolean;
  onSend: (text: string) => Promise<void>;
  onInterrupt: () => void;
  onEnd: () => void;
}) {
  const [text, setText] = useState('');
  const send = async (e: Event) => {
    e.preventDefault();
    if (!text.trim()) return;
    await props.onSend(text);
    setText('');
  };
  return (
    <form class="message-box" onSubmit={send} aria-label="Message">
      <textarea
        aria-label="Message to the session"
        rows={2}
        value={text}
        placeholder={
          props.waiting ? 'Your message (Ctrl+Enter sends)' : 'Working… a message waits its turn'
        }
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send(e);
        }}
      />
      <button type="submit" disabled={!text.trim()}>
        Send
      </button>
      <button type="button" onClick={props.onInterrupt}>
        Interrupt
      </button>
      <button type="button" class="danger" onClick={props.onEnd}>
        End
      </button>
    </form>
  );
}
