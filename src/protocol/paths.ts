/**
 * The paths of the backend API (contract §4) and the session socket (§3), written once. Builders
 * give a path below the API base (`BACKEND_API_URL`, `http://host:port/api`), with every name
 * encoded; `ROUTES` gives the same paths as the server's route templates (OpenAPI style, with
 * the `/api` prefix), so a client and the server cannot disagree on a path.
 */

export const API_PREFIX = '/api';

const enc = encodeURIComponent;

/** Paths below the API base. */
export const apiPath = {
  sessions: (project: string) => `/projects/${enc(project)}/agentic-sessions`,
  session: (project: string, name: string) => `${apiPath.sessions(project)}/${enc(name)}`,
  status: (project: string, name: string) => `${apiPath.session(project, name)}/status`,
  start: (project: string, name: string) => `${apiPath.session(project, name)}/start`,
  stop: (project: string, name: string) => `${apiPath.session(project, name)}/stop`,
  logs: (project: string, name: string) => `${apiPath.session(project, name)}/logs`,
  gitToken: (project: string, name: string) => `${apiPath.session(project, name)}/github/token`,
  messages: (project: string, name: string) =>
    `/projects/${enc(project)}/sessions/${enc(name)}/messages`,
  socket: (project: string, name: string) => `/projects/${enc(project)}/sessions/${enc(name)}/ws`,
} as const;

/** The server's route templates, the same paths as `apiPath` with the `/api` prefix. */
export const ROUTES = {
  sessions: `${API_PREFIX}/projects/{project}/agentic-sessions`,
  session: `${API_PREFIX}/projects/{project}/agentic-sessions/{name}`,
  messages: `${API_PREFIX}/projects/{project}/sessions/{name}/messages`,
  socket: `${API_PREFIX}/projects/{project}/sessions/{name}/ws`,
} as const;

/** Matches a socket path (`ROUTES.socket`); groups: project, session (still encoded). */
export const SOCKET_PATH = /^\/api\/projects\/([^/]+)\/sessions\/([^/]+)\/ws$/;

/** `http(s)://host/api` → `ws(s)://host/api/projects/{p}/sessions/{name}/ws`. */
export function socketUrl(apiUrl: string, project: string, name: string): string {
  return `${apiUrl.replace(/^http/, 'ws')}${apiPath.socket(project, name)}`;
}
