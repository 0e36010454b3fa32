/**
 * Repository specs from REPOS_JSON or the older single-repo variables (contract §2).
 * A repo's folder name must be a plain name: it becomes `<workspace>/<name>`, so `/` or `..`
 * would let input escape the workspace. Such input is refused before any file is touched.
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
    // FIX (review): an ssh user name (`ssh://git@host/…`) is not a credential, as in the scp-like
    // form below; only http(s) user names (which may be tokens) and passwords are refused.
    if (parsed.password || (parsed.username && parsed.protocol !== 'ssh:'))
      return 'contains credentials: remove them from the URL and pass GITHUB_TOKEN or GITLAB_TOKEN instead';
    if (parsed.protocol !== 'file:' && !parsed.hostname) return 'has no host';
    return null;
  }
  if (/^[\w.-]+@[\w.-]+:[\w./~-]+$/.test(url)) return null; // scp-like ssh form
  return 'is not a git URL: use https://host/org/repo.git, ssh://…, git@host:org/repo or file:///path';
}

export interface RepoSelection {
  repos: RepoSpec[];
  mainRepoName?: string;
}

/**
 * Parses and checks every repo, pushing one problem per mistake (never throwing), so the caller
 * can report all configuration problems at once.
 */
export function parseRepos(
  env: {
    REPOS_JSON?: string;
    INPUT_REPO_URL?: string;
    INPUT_BRANCH?: string;
    OUTPUT_REPO_URL?: string;
    OUTPUT_BRANCH?: string;
    MAIN_REPO_NAME?: string;
    MAIN_REPO_INDEX?: string;
  },
  problems: string[],
): RepoSelection {
  let raw: z.infer<typeof ReposJsonSchema> = [];
  if (env.REPOS_JSON) {
    let json: unknown;
    try {
      json = JSON.parse(env.REPOS_JSON);
    } catch (e) {
      problems.push(
        `REPOS_JSON: is not valid JSON (${(e as Error).message}): give an array like [{"input":{"url":"https://host/org/repo.git","branch":"main"}}]`,
      );
      return { repos: [] };
    }
    const parsed = ReposJsonSchema.safeParse(json);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(
          `REPOS_JSON${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}: each entry is {"name"?, "input": {"url", "branch"?}, "output"?: {"url", "branch"?}}`,
        );
      return { repos: [] };
    }
    raw = parsed.data;
  } else if (env.INPUT_REPO_URL) {
    raw = [
      {
        input: { url: env.INPUT_REPO_URL, branch: env.INPUT_BRANCH },
        output: env.OUTPUT_REPO_URL
          ? { url: env.OUTPUT_REPO_URL, branch: env.OUTPUT_BRANCH }
          : undefined,
      },
    ];
  } else if (env.OUTPUT_REPO_URL) {
    problems.push(
      'OUTPUT_REPO_URL: is set without INPUT_REPO_URL: set INPUT_REPO_URL too, or use REPOS_JSON',
    );
  }

  const where = env.REPOS_JSON ? (i: number) => `REPOS_JSON[${i}]` : () => 'INPUT_REPO_URL';
  const repos: RepoSpec[] = [];
  const seen = new Set<string>();
  raw.forEach((r, i) => {
    const name = r.name ?? repoNameFromUrl(r.input.url);
    const nameProblem = checkRepoName(name);
    if (nameProblem) problems.push(`${where(i)}.name: ${nameProblem}`);
    const inputProblem = checkRepoUrl(r.input.url);
    if (inputProblem) problems.push(`${where(i)}.input.url: ${inputProblem}`);
    if (r.output) {
      const outputProblem = checkRepoUrl(r.output.url);
      if (outputProblem) problems.push(`${where(i)}.output.url: ${outputProblem}`);
    }
    if (seen.has(name))
      problems.push(`${where(i)}.name: "${name}" is used twice: give each repo its own name`);
    seen.add(name);
    repos.push({
      name,
      input: withoutUndefined(r.input),
      ...(r.output ? { output: withoutUndefined(r.output) } : {}),
    });
  });

  let mainRepoName: string | undefined;
  if (env.MAIN_REPO_NAME) {
    if (!repos.some((r) => r.name === env.MAIN_REPO_NAME))
      problems.push(
        `MAIN_REPO_NAME: "${env.MAIN_REPO_NAME}" is not one of the repos (${repos.map((r) => r.name).join(', ') || 'none'})`,
      );
    else mainRepoName = env.MAIN_REPO_NAME;
  } else if (env.MAIN_REPO_INDEX !== undefined) {
    const idx = Number(env.MAIN_REPO_INDEX);
    if (!Number.isInteger(idx) || idx < 0 || idx >= Math.max(repos.length, 1))
      problems.push(
        `MAIN_REPO_INDEX: "${env.MAIN_REPO_INDEX}" is not an index into the ${repos.length} repo(s): use 0…${Math.max(repos.length - 1, 0)}`,
      );
    else mainRepoName = repos[idx]?.name;
  } else {
    mainRepoName = repos[0]?.name;
  }
  return { repos, ...(mainRepoName ? { mainRepoName } : {}) };
}

function withoutUndefined(ref: { url: string; branch?: string | undefined }): RepoRef {
  return ref.branch ? { url: ref.url, branch: ref.branch } : { url: ref.url };
}
