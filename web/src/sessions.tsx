/**
 * The sessions of a project, kept live by polling (phases change without a reload), with a
 * phase filter, the create form, and per row stop / continue / delete (with confirmation).
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, sessionPath, sessionsPath, type Session } from './api.js';
import { formatCost } from './cards.js';
import { TERMINAL_PHASES } from './timeline.js';

const PHASES = [
  'Pending',
  'Creating',
  'Running',
  'Stopping',
  'Completed',
  'Failed',
  'Stopped',
  'Error',
];
const POLL_MS = 1500;

export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function SessionList({ project }: { project: string }) {
  const [items, setItems] = useState<Session[] | undefined>();
  const [error, setError] = useState<string>();
  const [filter, setFilter] = useState('');
  const [creating, setCreating] = useState(false);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const load = async () => {
      try {
        const q = filter ? `?phase=${encodeURIComponent(filter)}` : '';
        const r = await api<{ items: Session[] }>('GET', `${sessionsPath(project)}${q}`);
        if (!stop) {
          setItems(r.items.slice().reverse());
          setError(undefined);
        }
      } catch (e) {
        if (!stop) setError(`cannot list sessions: ${(e as Error).message}; retrying`);
      }
      if (!stop) timer = setTimeout(load, POLL_MS);
    };
    void load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [project, filter, tick]);

  const act = async (what: () => Promise<unknown>) => {
    try {
      await what();
      setTick((t) => t + 1);
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <main class="list">
      <div class="toolbar">
        <h1>Sessions</h1>
        <label>
          <span class="dim">phase </span>
          <select
            aria-label="Filter by phase"
            value={filter}
            onChange={(e) => setFilter((e.target as HTMLSelectElement).value)}
          >
            <option value="">all</option>
            {PHASES.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <button onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          {creating ? 'Close' : 'New session'}
        </button>
      </div>
      {creating ? <CreateForm project={project} /> : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {!items ? (
        <p class="dim">Loading…</p>
      ) : !items.length ? (
        <p class="dim">No sessions{filter ? ` in phase ${filter}` : ''} yet.</p>
      ) : (
        <table class="sessions">
          <thead>
            <tr>
              <th>Session</th>
              <th>Phase</th>
              <th>Age</th>
              <th class="num">Turns</th>
              <th class="num">Cost</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => {
              const name = s.metadata.name;
              const ended = TERMINAL_PHASES.has(s.status.phase);
              return (
                <tr key={name} data-session={name}>
                  <td>
                    <a href={`#/p/${project}/s/${name}`}>{s.spec.displayName || name}</a>
                    {s.spec.displayName ? <div class="dim small">{name}</div> : null}
                  </td>
                  <td>
                    <span class={`badge phase-${s.status.phase.toLowerCase()}`} data-field="phase">
                      {s.status.phase}
                    </span>
                  </td>
                  <td>{age(s.metadata.creationTimestamp)}</td>
                  <td class="num">{s.status.num_turns ?? ''}</td>
                  <td class="num">
                    {s.status.total_cost_usd !== undefined
                      ? formatCost(s.status.total_cost_usd)
                      : ''}
                  </td>
                  <td class="actions">
                    {ended ? (
                      <button
                        onClick={() =>
                          act(() => api('POST', `${sessionPath(project, name)}/start`))
                        }
                      >
                        Continue
                      </button>
                    ) : (
                      <button
                        onClick={() => act(() => api('POST', `${sessionPath(project, name)}/stop`))}
                      >
                        Stop
                      </button>
                    )}
                    <button
                      class="danger"
                      onClick={() => {
                        if (confirm(`Delete session ${name}, its history and workspace?`))
                          void act(() => api('DELETE', sessionPath(project, name)));
                      }}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}

function CreateForm({ project }: { project: string }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const prompt = useRef<HTMLTextAreaElement>(null);
  // An opened form takes the focus (autofocus works only on page load).
  useLayoutEffect(() => prompt.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const get = (k: string) => String(f.get(k) ?? '').trim();
    const body: Record<string, unknown> = { prompt: get('prompt') };
    if (get('displayName')) body.displayName = get('displayName');
    if (f.get('interactive')) body.interactive = true;
    if (get('model')) body.llmSettings = { model: get('model') };
    if (get('repo'))
      body.repos = [
        { input: { url: get('repo'), ...(get('branch') ? { branch: get('branch') } : {}) } },
      ];
    if (get('workflow')) body.activeWorkflow = { gitUrl: get('workflow') };
    if (get('timeout')) body.timeout = Number(get('timeout'));
    if (get('agents')) {
      try {
        body.agents = JSON.parse(get('agents'));
      } catch {
        setError('agents: not valid JSON (a list of agent specs, docs/agents.md)');
        return;
      }
    }
    setBusy(true);
    try {
      const s = await api<Session>('POST', sessionsPath(project), body);
      location.hash = `#/p/${project}/s/${s.metadata.name}`;
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="create" onSubmit={submit} aria-label="New session">
      <label>
        Prompt
        <textarea name="prompt" rows={4} ref={prompt} />
      </label>
      <div class="row">
        <label>
          Display name <input name="displayName" />
        </label>
        <label>
          Model <input name="model" placeholder="default" />
        </label>
        <label class="check">
          <input type="checkbox" name="interactive" /> Interactive
        </label>
      </div>
      <div class="row">
        <label>
          Repo URL <input name="repo" placeholder="https://github.com/org/repo.git" />
        </label>
        <label>
          Branch <input name="branch" placeholder="main" />
        </label>
      </div>
      <details>
        <summary>More</summary>
        <div class="row">
          <label>
            Workflow repo <input name="workflow" />
          </label>
          <label>
            Timeout (s) <input name="timeout" type="number" min="0" />
          </label>
        </div>
        <label>
          Agents (JSON) <textarea name="agents" rows={3} />
        </label>
      </details>
      <button type="submit" disabled={busy}>
        Create
      </button>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
    </form>
  );
}
