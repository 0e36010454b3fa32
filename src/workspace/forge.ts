/**
 * Which forge hosts a remote, and where its REST API lives.
 *
 * The rule (also in docs/workspace.md):
 *  - `github.com`, or a host with a `github` label (`github.example.com`)  -> GitHub
 *  - `gitlab.com`, or a host with a `gitlab` label (`gitlab.example.com`)  -> GitLab
 *  - the host of GITHUB_API_URL (a GitHub Enterprise server by any name)  -> GitHub
 *  - the host of GITLAB_API_URL (a self-managed GitLab by any name)        -> GitLab
 *  - anything else over http(s)                                           -> unknown
 *  - `file://`, ssh and git:// remotes                                     -> none (no token, no PR)
 *
 * API bases: GitHub `https://api.github.com` for github.com, `<scheme>://<host>/api/v3` for
 * Enterprise; GitLab `<scheme>://<host>/api/v4`. GITHUB_API_URL / GITLAB_API_URL override them.
 */

export type ForgeKind = 'github' | 'gitlab' | 'unknown' | 'none';

export interface RemoteInfo {
  url: string;
  scheme: 'https' | 'http' | 'ssh' | 'git' | 'file';
  /** Lower-case host name without port (absent for file://). */
  host?: string;
  /** `scheme://host[:port]` for http(s) remotes: the scope of a credential. */
  origin?: string;
  /** Repository path without leading `/` and trailing `.git`: `org/app`, `group/sub/app`. */
  path?: string;
  /** First path segment (GitHub owner, GitLab top-level group). */
  owner?: string;
  /** Last path segment. */
  repo?: string;
}

export interface ForgeApis {
  githubApiUrl?: string;
  gitlabApiUrl?: string;
}

export function parseRemote(url: string): RemoteInfo {
  const scp = /^[\w.-]+@([\w.-]+):(.+)$/.exec(url);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    return withPath({ url, scheme: 'ssh', host: (scp[1] ?? '').toLowerCase() }, scp[2] ?? '');
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url, scheme: 'file' };
  }
  const proto = u.protocol.replace(/:$/, '');
  if (proto === 'file') return { url, scheme: 'file' };
  const scheme = (['https', 'http', 'ssh', 'git'] as const).find((s) => s === proto) ?? 'file';
  const info: RemoteInfo = { url, scheme, host: u.hostname.toLowerCase() };
  if (scheme === 'http' || scheme === 'https') info.origin = `${scheme}://${u.host.toLowerCase()}`;
  return withPath(info, decodeURIComponent(u.pathname));
}

function withPath(info: RemoteInfo, rawPath: string): RemoteInfo {
  const p = rawPath
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  if (!p) return info;
  const parts = p.split('/');
  return { ...info, path: p, owner: parts[0], repo: parts[parts.length - 1] };
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

export function forgeKind(remote: RemoteInfo, apis: ForgeApis = {}): ForgeKind {
  if (remote.scheme === 'file' || !remote.host) return 'none';
  const host = remote.host;
  const labels = host.split('.');
  const byName: ForgeKind | undefined =
    host === 'github.com' || labels.includes('github')
      ? 'github'
      : host === 'gitlab.com' || labels.includes('gitlab')
        ? 'gitlab'
        : undefined;
  if (byName) return byName;
  if (host === hostOf(apis.githubApiUrl)) return 'github';
  if (host === hostOf(apis.gitlabApiUrl)) return 'gitlab';
  return remote.scheme === 'http' || remote.scheme === 'https' ? 'unknown' : 'none';
}

export function githubApiBase(remote: RemoteInfo, apis: ForgeApis): string {
  if (apis.githubApiUrl) return apis.githubApiUrl.replace(/\/+$/, '');
  if (remote.host === 'github.com') return 'https://api.github.com';
  const scheme = remote.scheme === 'http' ? 'http' : 'https';
  return `${remote.origin ?? `${scheme}://${remote.host}`}/api/v3`;
}

export function gitlabApiBase(remote: RemoteInfo, apis: ForgeApis): string {
  if (apis.gitlabApiUrl) return apis.gitlabApiUrl.replace(/\/+$/, '');
  const scheme = remote.scheme === 'http' ? 'http' : 'https';
  return `${remote.origin ?? `${scheme}://${remote.host}`}/api/v4`;
}

/** Same repository (host and path, ignoring `.git`, case and trailing slashes)? */
export function sameRepo(a: RemoteInfo, b: RemoteInfo): boolean {
  if (a.scheme === 'file' || b.scheme === 'file')
    return a.url.replace(/\/+$/, '') === b.url.replace(/\/+$/, '');
  return a.host === b.host && (a.path ?? '').toLowerCase() === (b.path ?? '').toLowerCase();
}
