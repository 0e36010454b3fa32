/**
 * A repository as the contract names it (REPOS_JSON, the API's `repos`, contract §2 and §4), and
 * the checks every side applies to it. A repo's folder name must be a plain name: it becomes
 * `<workspace>/<name>`, so `/` or `..` would let input escape the workspace. Such input is refused
 * before any file is touched.
 */
import { z } from 'zod';

export interface RepoRef {
  url: string;
  branch?: string;
}
export interface RepoSpec {
  name: string;
  input: RepoRef;
  output?: RepoRef;
}

const RepoRefSchema = z.object({
  url: z.string().min(1, 'url must not be empty'),
  branch: z.string().min(1).optional(),
});
const RepoSpecSchema = z.object({
  name: z.string().optional(),
  input: RepoRefSchema,
  output: RepoRefSchema.optional(),
});
export const ReposJsonSchema = z.array(RepoSpecSchema);

const PLAIN_NAME = /^[A-Za-z0-9._-]+$/;
const RESERVED_NAMES = new Set(['artifacts', 'workflows', '.claude', '.git', '.', '..']);

/** `https://host/org/my-repo.git` -> `my-repo`; `git@host:org/app` -> `app`. */
export function repoNameFromUrl(url: string): string {
  const trimmed = url.replace(/[?#].*$/, '').replace(/\/+$/, '');
  const last = trimmed.split(/[/:]/).pop() ?? '';
  return last.replace(/\.git$/, '');
}

/** Null when usable, else why not (and what would fix it). */
export function checkRepoName(name: string): string | null {
  if (!name) return 'is empty: give the repo a "name"';
  if (!PLAIN_NAME.test(name) || name === '.' || name === '..')
    return `"${name}" is not a plain folder name: use letters, digits, ".", "_" or "-" (no "/" or "..")`;
  if (RESERVED_NAMES.has(name))
    return `"${name}" is reserved for the workspace layout: choose another name`;
  return null;
}

/** Null when git can use it, else why not. URLs with embedded credentials are refused. */
export function checkRepoUrl(url: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return 'is not a valid URL';
    }
    if (!['https:', 'http:', 'ssh:', 'git:', 'file:'].includes(parsed.protocol))
      return `uses ${parsed.protocol} which git cannot clone from here: use https://, ssh:// or file://`;
    // An ssh user name (`ssh://git@host/…`) is not a credential, as in the scp-like form below;
    // only http(s) user names (which may be tokens) and passwords are refused.
    if (parsed.password || (parsed.username && parsed.protocol !== 'ssh:'))
      return 'contains credentials: remove them from the URL and pass GITHUB_TOKEN or GITLAB_TOKEN instead';
    if (parsed.protocol !== 'file:' && !parsed.hostname) return 'has no host';
    return null;
  }
  if (/^[\w.-]+@[\w.-]+:[\w./~-]+$/.test(url)) return null; // scp-like ssh form
  return 'is not a git URL: use https://host/org/repo.git, ssh://…, git@host:org/repo or file:///path';
}
