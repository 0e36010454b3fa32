/**
 * Repository specs from REPOS_JSON or the older single-repo variables (contract §2); the shapes
 * and checks are the protocol's (src/protocol/repos.ts).
 */
import { z } from 'zod';
import {
  checkRepoName,
  checkRepoUrl,
  repoNameFromUrl,
  ReposJsonSchema,
  type RepoRef,
  type RepoSpec,
} from '../protocol/repos.js';

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
