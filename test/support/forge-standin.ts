/**
 * A stand-in for the GitHub and GitLab REST endpoints the workspace calls, on 127.0.0.1. It
 * records every request (method, path as sent, body, whether the expected token was presented;
 * never the token itself) and answers like the real services:
 *
 *   GitHub (base `<origin>/github`):
 *     POST /repos/:owner/:repo/pulls        -> 201 {number, html_url}; 422 when a PR for the head exists
 *     GET  /repos/:owner/:repo/pulls?head=… -> [{html_url}] of PRs opened here
 *   GitLab (base `<origin>/gitlab/api/v4`):
 *     GET  /projects/:id                    -> {id, path_with_namespace, web_url}
 *     POST /projects/:id/merge_requests     -> 201 {iid, web_url}; 409 when one exists
 *     GET  /projects/:id/merge_requests?…   -> [{web_url}]
 *
 * `failNext()` makes the next matching request answer with a chosen status and body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listenHttp } from '../../src/testing/http-server.js';

export interface RecordedForgeRequest {
  forge: 'github' | 'gitlab' | 'unknown';
  method: string;
  /** The path as sent (percent-encoding kept), without the `/github` or `/gitlab` prefix. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  /** Whether `Authorization: Bearer <expected token>` was presented. */
  authorized: boolean;
  /** The auth scheme seen (`Bearer`, or none), never the credential. */
  authScheme: string | null;
}

export interface ForgeFailure {
  forge?: 'github' | 'gitlab';
  method?: string;
  status: number;
  body: unknown;
}

export interface ForgeStandin {
  origin: string;
  githubApiUrl: string;
  gitlabApiUrl: string;
  requests: RecordedForgeRequest[];
  failNext(f: ForgeFailure): void;
  close(): Promise<void>;
}

export interface ForgeStandinOptions {
  /** The token that counts as valid (GitHub and GitLab alike). Requests without it get 401. */
  token?: string;
  /** Host the returned web URLs name (default `forge.example.test`). */
  webHost?: string;
}

export async function startForgeStandin(opts: ForgeStandinOptions = {}): Promise<ForgeStandin> {
  const requests: RecordedForgeRequest[] = [];
  const failures: ForgeFailure[] = [];
  const webHost = opts.webHost ?? 'forge.example.test';
  const githubPrs: { repo: string; head: string; base: string; url: string }[] = [];
  const gitlabMrs: { project: string; source: string; target: string; url: string }[] = [];
  let counter = 0;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const raw = req.url ?? '/';
    const qIdx = raw.indexOf('?');
    const fullPath = qIdx < 0 ? raw : raw.slice(0, qIdx);
    const query = Object.fromEntries(new URLSearchParams(qIdx < 0 ? '' : raw.slice(qIdx + 1)));
    const forge = fullPath.startsWith('/github/')
      ? 'github'
      : fullPath.startsWith('/gitlab/api/v4/')
        ? 'gitlab'
        : 'unknown';
    const p =
      forge === 'github'
        ? fullPath.slice('/github'.length)
        : forge === 'gitlab'
          ? fullPath.slice('/gitlab/api/v4'.length)
          : fullPath;
    const auth = req.headers.authorization ?? '';
    const scheme = /^(\w+)\s/.exec(auth)?.[1] ?? null;
    const authorized = !!opts.token && auth === `Bearer ${opts.token}`;
    const method = req.method ?? 'GET';
    requests.push({ forge, method, path: p, query, body, authorized, authScheme: scheme });

    const fIdx = failures.findIndex(
      (f) => (!f.forge || f.forge === forge) && (!f.method || f.method === method),
    );
    if (fIdx >= 0) {
      const [f] = failures.splice(fIdx, 1);
      send(res, f!.status, f!.body);
      return;
    }
    if (opts.token && !authorized) {
      send(res, 401, { message: forge === 'gitlab' ? '401 Unauthorized' : 'Bad credentials' });
      return;
    }
    const b = (body ?? {}) as Record<string, unknown>;
    let m: RegExpExecArray | null;
    if (forge === 'github' && (m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(p))) {
      const repo = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
      if (method === 'POST') {
        if (
          typeof b.head !== 'string' ||
          typeof b.base !== 'string' ||
          typeof b.title !== 'string'
        ) {
          send(res, 422, {
            message: 'Validation Failed',
            errors: [{ message: 'head, base and title are required' }],
          });
          return;
        }
        const headKey = b.head.includes(':') ? b.head : `${repo.split('/')[0]}:${b.head}`;
        if (githubPrs.some((x) => x.repo === repo && x.head === headKey && x.base === b.base)) {
          send(res, 422, {
            message: 'Validation Failed',
            errors: [{ message: `A pull request already exists for ${headKey}.` }],
          });
          return;
        }
        const number = ++counter;
        const url = `https://${webHost}/${repo}/pull/${number}`;
        githubPrs.push({ repo, head: headKey, base: b.base, url });
        send(res, 201, { number, html_url: url, head: { ref: b.head }, base: { ref: b.base } });
        return;
      }
      if (method === 'GET') {
        send(
          res,
          200,
          githubPrs
            .filter((x) => x.repo === repo && (!query.head || x.head === query.head))
            .map((x) => ({ html_url: x.url })),
        );
        return;
      }
    }
    if (forge === 'gitlab' && (m = /^\/projects\/([^/]+)$/.exec(p)) && method === 'GET') {
      const project = decodeURIComponent(m[1]!);
      send(res, 200, {
        id: projectId(project),
        path_with_namespace: project,
        web_url: `https://${webHost}/${project}`,
      });
      return;
    }
    if (forge === 'gitlab' && (m = /^\/projects\/([^/]+)\/merge_requests$/.exec(p))) {
      const project = decodeURIComponent(m[1]!);
      if (method === 'POST') {
        if (
          typeof b.source_branch !== 'string' ||
          typeof b.target_branch !== 'string' ||
          typeof b.title !== 'string'
        ) {
          send(res, 400, { message: 'source_branch, target_branch and title are required' });
          return;
        }
        if (
          gitlabMrs.some(
            (x) =>
              x.project === project && x.source === b.source_branch && x.target === b.target_branch,
          )
        ) {
          send(res, 409, {
            message: ['Another open merge request already exists for this source branch'],
          });
          return;
        }
        const iid = ++counter;
        const url = `https://${webHost}/${project}/-/merge_requests/${iid}`;
        gitlabMrs.push({ project, source: b.source_branch, target: b.target_branch, url });
        send(res, 201, { iid, web_url: url });
        return;
      }
      if (method === 'GET') {
        send(
          res,
          200,
          gitlabMrs
            .filter(
              (x) =>
                x.project === project && (!query.source_branch || x.source === query.source_branch),
            )
            .map((x) => ({ web_url: x.url })),
        );
        return;
      }
    }
    send(res, 404, { message: 'Not Found' });
  };

  const server = await listenHttp((req, res) => {
    handle(req, res).catch(() => send(res, 500, { message: 'stand-in failure' }));
  });
  const origin = server.url;
  return {
    origin,
    githubApiUrl: `${origin}/github`,
    gitlabApiUrl: `${origin}/gitlab/api/v4`,
    requests,
    failNext: (f) => failures.push(f),
    close: () => server.close(),
  };
}

/** A stable numeric id for a project path (GitLab ids are numbers). */
export function projectId(project: string): number {
  let h = 7;
  for (const ch of project) h = (h * 31 + ch.charCodeAt(0)) % 1_000_000;
  return h + 1;
}
