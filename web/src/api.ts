/**
 * The page's REST calls: same origin, the token in the Authorization header (never in a URL).
 * The token lives in session storage only: it is gone when the tab closes.
 */
const TOKEN_KEY = 'ccr.token';
export const UNAUTHORIZED_EVENT = 'ccr-unauthorized';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function getToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function setToken(token: string | undefined): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * A sign-in link (`/#token=…`): the fragment never reaches the server; the token moves to session
 * storage and leaves the address bar (and the browser history) at once.
 */
export function takeTokenFromFragment(): void {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  setToken(decodeURIComponent(m[1]!));
  history.replaceState(null, '', `${location.pathname}${location.search}`);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const token = getToken();
  const res = await fetch(`/api${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (res.status === 401) {
    // The token is wrong or gone (a new serve with another token): back to the sign-in box.
    setToken(undefined);
    dispatchEvent(new Event(UNAUTHORIZED_EVENT));
  }
  if (!res.ok) {
    const err =
      (json as { error?: string } | undefined)?.error ?? `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, err);
  }
  return json as T;
}

export interface Session {
  metadata: { name: string; creationTimestamp?: string; labels?: Record<string, string> };
  spec: {
    prompt: string;
    displayName?: string;
    interactive?: boolean;
    llmSettings?: { model?: string };
    repos?: {
      input: { url: string; branch?: string };
      output?: { url: string; branch?: string };
    }[];
  };
  status: {
    phase: string;
    message?: string;
    run: number;
    startTime?: string;
    completionTime?: string;
    num_turns?: number;
    total_cost_usd?: number;
    duration_ms?: number;
  };
}

export const sessionsPath = (project: string) =>
  `/projects/${encodeURIComponent(project)}/agentic-sessions`;
export const sessionPath = (project: string, name: string) =>
  `${sessionsPath(project)}/${encodeURIComponent(name)}`;
export const messagesPath = (project: string, name: string) =>
  `/projects/${encodeURIComponent(project)}/sessions/${encodeURIComponent(name)}/messages`;
