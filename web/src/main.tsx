/**
 * The page's shell: sign-in (a `#token=` link or the sign-in box), the project, and the route
 * (`#/p/{project}` the list, `#/p/{project}/s/{name}` one session).
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  api,
  ApiError,
  getToken,
  setToken,
  takeTokenFromFragment,
  UNAUTHORIZED_EVENT,
} from './api.js';
import { SessionList } from './sessions.js';
import { SessionView } from './session.js';
import './style.css';

interface Route {
  project: string;
  session?: string;
}

function parseRoute(): Route {
  const m = /^#\/p\/([a-z0-9-]+)(?:\/s\/([a-z0-9-]+))?/.exec(location.hash);
  return m ? { project: m[1]!, ...(m[2] ? { session: m[2] } : {}) } : { project: 'default' };
}

function SignIn({ onDone, error }: { onDone: () => void; error?: string }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState(error);
  const submit = async (e: Event) => {
    e.preventDefault();
    setToken(value.trim());
    try {
      await api('GET', '/projects/default/agentic-sessions?limit=1');
      onDone();
    } catch (err) {
      setToken(undefined);
      setProblem(
        err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : String(err),
      );
    }
  };
  return (
    <main class="signin">
      <h1>Claude Code Runner</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          autofocus
        />
        <button type="submit" disabled={!value.trim()}>
          Sign in
        </button>
        {problem ? (
          <p class="error" role="alert">
            {problem}
          </p>
        ) : null}
        <p class="dim">
          serve printed it at its first start (or a link that signs you in); it is also in the data
          dir&apos;s <code>token</code> file. It is kept for this tab only.
        </p>
      </form>
    </main>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(!!getToken());
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const on = () => setRoute(parseRoute());
    addEventListener('hashchange', on);
    const onAuth = () => setSignedIn(false);
    addEventListener(UNAUTHORIZED_EVENT, onAuth);
    return () => {
      removeEventListener('hashchange', on);
      removeEventListener(UNAUTHORIZED_EVENT, onAuth);
    };
  }, []);
  if (!signedIn) return <SignIn onDone={() => setSignedIn(true)} />;
  return (
    <>
      <header class="top">
        <a href={`#/p/${route.project}`} class="brand">
          Claude Code Runner
        </a>
        <span class="dim">project</span>
        <select
          aria-label="Project"
          value={route.project}
          onChange={(e) => (location.hash = `#/p/${(e.target as HTMLSelectElement).value}`)}
        >
          <option value={route.project}>{route.project}</option>
          {route.project !== 'default' ? <option value="default">default</option> : null}
        </select>
        <button
          class="link"
          onClick={() => {
            setToken(undefined);
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      {route.session ? (
        <SessionView key={route.session} project={route.project} name={route.session} />
      ) : (
        <SessionList project={route.project} />
      )}
    </>
  );
}

takeTokenFromFragment();
const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading…" shown until the script runs
render(<App />, root);
