/**
 * GitLab merge requests: `POST {api}/projects/:id/merge_requests`, where `:id` is the URL-encoded
 * path of the source project. Cross-project (a fork as output): the request goes to the fork
 * with `target_project_id`, the numeric id of the input project (looked up first). An MR that
 * already exists for the same branches is found and reported instead of failing.
 */
import { sameRepo } from './forge.js';
import { ForgeError, forgeCall, statusAdvice, type ForgeHttp } from './forge-http.js';
import type { PullRequestRequest } from './github.js';

export async function openGitlabMergeRequest(
  http: ForgeHttp,
  req: PullRequestRequest,
): Promise<string> {
  if (!req.base.path || !req.head.path)
    throw new ForgeError(
      `cannot open a GitLab merge request: ${req.base.url} is not a project address`,
    );
  const crossProject = !sameRepo(req.base, req.head);
  const source = `${req.api}/projects/${encodeURIComponent(req.head.path)}`;
  let targetProjectId: number | undefined;
  if (crossProject) {
    const target = await forgeCall(http, {
      forge: 'GitLab',
      method: 'GET',
      url: `${req.api}/projects/${encodeURIComponent(req.base.path)}`,
      token: req.token,
    });
    const id =
      target.json && typeof target.json === 'object'
        ? (target.json as Record<string, unknown>).id
        : undefined;
    if (!target.ok || typeof id !== 'number')
      throw new ForgeError(
        `GitLab did not find the target project ${req.base.path} (${target.status}: ${target.detail})${statusAdvice(target.status, req.tokenVar)}`,
        target.status,
      );
    targetProjectId = id;
  }
  const res = await forgeCall(http, {
    forge: 'GitLab',
    method: 'POST',
    url: `${source}/merge_requests`,
    token: req.token,
    body: {
      source_branch: req.headBranch,
      target_branch: req.baseBranch,
      title: req.title,
      description: req.body,
      ...(targetProjectId !== undefined ? { target_project_id: targetProjectId } : {}),
    },
  });
  const created = webUrl(res.json);
  if (res.ok && created) return created;
  if (res.status === 409 && /already exists/i.test(res.detail)) {
    const query = new URLSearchParams({
      source_branch: req.headBranch,
      target_branch: req.baseBranch,
      state: 'opened',
    });
    const existing = await forgeCall(http, {
      forge: 'GitLab',
      method: 'GET',
      url: `${source}/merge_requests?${query.toString()}`,
      token: req.token,
    });
    const found = Array.isArray(existing.json) ? webUrl(existing.json[0]) : undefined;
    if (found) return found;
  }
  throw new ForgeError(
    `GitLab did not open the merge request (${res.status}: ${res.detail})${statusAdvice(res.status, req.tokenVar)}`,
    res.status,
  );
}

function webUrl(json: unknown): string | undefined {
  const v =
    json && typeof json === 'object' ? (json as Record<string, unknown>).web_url : undefined;
  return typeof v === 'string' ? v : undefined;
}
