/**
 * GitHub pull requests (github.com and Enterprise): `POST {api}/repos/{owner}/{repo}/pulls`.
 * Cross-fork when the output repo differs: head is `owner:branch`. A PR that already exists for
 * the same head and base (a restarted session) is found and reported instead of failing.
 */
import { sameRepo, type RemoteInfo } from './forge.js';
import { ForgeError, forgeCall, statusAdvice, type ForgeHttp } from './forge-http.js';

export interface PullRequestRequest {
  api: string;
  token?: string;
  tokenVar: string;
  /** The repo the PR goes into (the input repo). */
  base: RemoteInfo;
  /** The repo the branch was pushed to (the output repo, or the input one). */
  head: RemoteInfo;
  headBranch: string;
  baseBranch: string;
  title: string;
  body: string;
}

const GITHUB_HEADERS = {
  accept: 'application/vnd.github+json',
  'x-github-api-version': '2022-11-28',
};

export async function openGithubPullRequest(
  http: ForgeHttp,
  req: PullRequestRequest,
): Promise<string> {
  const { owner, repo } = req.base;
  if (!owner || !repo || !req.head.owner || req.base.path?.split('/').length !== 2)
    throw new ForgeError(
      `cannot open a GitHub pull request: ${req.base.url} is not an owner/repo address`,
    );
  const crossFork = !sameRepo(req.base, req.head);
  const headRef = crossFork ? `${req.head.owner}:${req.headBranch}` : req.headBranch;
  const pulls = `${req.api}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/pulls`;
  const res = await forgeCall(http, {
    forge: 'GitHub',
    method: 'POST',
    url: pulls,
    token: req.token,
    headers: GITHUB_HEADERS,
    body: {
      title: req.title,
      head: headRef,
      base: req.baseBranch,
      body: req.body,
      ...(crossFork ? { maintainer_can_modify: true } : {}),
    },
  });
  const created = htmlUrl(res.json);
  if (res.ok && created) return created;
  if (res.status === 422 && /already exists/i.test(res.detail)) {
    const query = new URLSearchParams({
      head: `${req.head.owner}:${req.headBranch}`,
      base: req.baseBranch,
      state: 'open',
    });
    const existing = await forgeCall(http, {
      forge: 'GitHub',
      method: 'GET',
      url: `${pulls}?${query.toString()}`,
      token: req.token,
      headers: GITHUB_HEADERS,
    });
    const found = Array.isArray(existing.json) ? htmlUrl(existing.json[0]) : undefined;
    if (found) return found;
  }
  throw new ForgeError(
    `GitHub did not open the pull request (${res.status}: ${res.detail})${statusAdvice(res.status, req.tokenVar)}`,
    res.status,
  );
}

function htmlUrl(json: unknown): string | undefined {
  const v =
    json && typeof json === 'object' ? (json as Record<string, unknown>).html_url : undefined;
  return typeof v === 'string' ? v : undefined;
}
