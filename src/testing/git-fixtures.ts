/**
 * Git fixtures for tests: temporary directories, bare repositories with branches and files, and a
 * smart-HTTP git remote (`git http-backend` as CGI behind a node:http server on 127.0.0.1) that
 * demands basic auth. Everything runs real git with an isolated environment (its own HOME, no
 * system config), so a developer's ~/.gitconfig never changes a result.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { listenHttp } from './http-server.js';

/** A fresh directory under the OS temp dir. */
export async function makeTempDir(prefix = 'ccr-test-'): Promise<string> {
  return fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), prefix)));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** The environment fixtures run git with: only PATH from the caller, everything else pinned. */
export function isolatedGitEnv(
  home: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Fixture Author',
    GIT_AUTHOR_EMAIL: 'fixture@example.test',
    GIT_COMMITTER_NAME: 'Fixture Author',
    GIT_COMMITTER_EMAIL: 'fixture@example.test',
    ...extra,
  };
}

/** Runs git synchronously (fixtures only); throws with git's stderr on failure. */
export function gitSync(cwd: string, args: string[], env?: Record<string, string>): string {
  try {
    return execFileSync('git', args, {
      cwd,
      env: env ?? isolatedGitEnv(os.tmpdir()),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`git ${args.join(' ')} failed in ${cwd}: ${err.stderr || err.message}`, {
      cause: e,
    });
  }
}

export type FileTree = Record<string, string>;

export interface BareRepo {
  /** Absolute path of the bare repository. */
  path: string;
  /** `file://` URL of it. */
  url: string;
}

export interface BareRepoOptions {
  /** Branch name -> files committed on it (each branch starts from the default branch). */
  branches: Record<string, FileTree>;
  /** The branch HEAD points at; the first key of `branches` by default. */
  defaultBranch?: string;
  /** Commit message of each branch's commit. */
  message?: string;
}

/**
 * Creates `<root>/<rel>` as a bare repository with one commit per branch. The default branch is
 * committed first; every other branch is a child of it.
 */
export async function createBareRepo(
  root: string,
  rel: string,
  opts: BareRepoOptions,
): Promise<BareRepo> {
  const bare = path.join(root, rel);
  const names = Object.keys(opts.branches);
  const defaultBranch = opts.defaultBranch ?? names[0] ?? 'main';
  const home = await makeTempDir('ccr-fixture-home-');
  const work = await makeTempDir('ccr-fixture-work-');
  try {
    const env = isolatedGitEnv(home);
    await fsp.mkdir(bare, { recursive: true });
    gitSync(bare, ['init', '--bare', '--quiet', `--initial-branch=${defaultBranch}`], env);
    gitSync(work, ['init', '--quiet', `--initial-branch=${defaultBranch}`], env);
    const ordered = [defaultBranch, ...names.filter((n) => n !== defaultBranch)];
    for (const branch of ordered) {
      if (branch !== defaultBranch)
        gitSync(work, ['checkout', '--quiet', '-b', branch, defaultBranch], env);
      await writeTree(work, opts.branches[branch] ?? {});
      gitSync(work, ['add', '-A'], env);
      gitSync(
        work,
        ['commit', '--quiet', '--allow-empty', '-m', opts.message ?? `initial ${branch}`],
        env,
      );
    }
    gitSync(
      work,
      ['push', '--quiet', bare, ...ordered.map((b) => `refs/heads/${b}:refs/heads/${b}`)],
      env,
    );
    return { path: bare, url: pathToFileURL(bare).href };
  } finally {
    await removeDir(work);
    await removeDir(home);
  }
}

/** Commits `files` on top of `branch` in a bare repo (as another user pushing). */
export async function pushCommit(
  bare: string,
  branch: string,
  files: FileTree,
  message = 'upstream change',
): Promise<string> {
  const home = await makeTempDir('ccr-fixture-home-');
  const work = await makeTempDir('ccr-fixture-work-');
  try {
    const env = isolatedGitEnv(home);
    gitSync(work, ['init', '--quiet'], env);
    gitSync(work, ['fetch', '--quiet', bare, `refs/heads/${branch}`], env);
    gitSync(work, ['checkout', '--quiet', '-B', branch, 'FETCH_HEAD'], env);
    await writeTree(work, files);
    gitSync(work, ['add', '-A'], env);
    gitSync(work, ['commit', '--quiet', '-m', message], env);
    gitSync(work, ['push', '--quiet', bare, `HEAD:refs/heads/${branch}`], env);
    return gitSync(work, ['rev-parse', 'HEAD'], env).trim();
  } finally {
    await removeDir(work);
    await removeDir(home);
  }
}

/** Creates `branch` in a bare repo with a root commit unrelated to anything else. */
export async function pushUnrelatedBranch(
  bare: string,
  branch: string,
  files: FileTree,
): Promise<void> {
  const home = await makeTempDir('ccr-fixture-home-');
  const work = await makeTempDir('ccr-fixture-work-');
  try {
    const env = isolatedGitEnv(home);
    gitSync(work, ['init', '--quiet', '--initial-branch=x'], env);
    await writeTree(work, files);
    gitSync(work, ['add', '-A'], env);
    gitSync(work, ['commit', '--quiet', '-m', 'unrelated'], env);
    gitSync(work, ['push', '--quiet', '--force', bare, `HEAD:refs/heads/${branch}`], env);
  } finally {
    await removeDir(work);
    await removeDir(home);
  }
}

export async function writeTree(dir: string, files: FileTree): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, content);
  }
}

/** `git show <ref>:<file>` in a bare repo, or undefined when it does not exist. */
export function readRemoteFile(bare: string, ref: string, file: string): string | undefined {
  try {
    return gitSync(bare, ['show', `${ref}:${file}`]);
  } catch {
    return undefined;
  }
}

/** Author, committer and subject of a ref's tip, or undefined when the ref is missing. */
export function remoteTip(
  bare: string,
  ref: string,
):
  | {
      authorName: string;
      authorEmail: string;
      committerEmail: string;
      subject: string;
      sha: string;
    }
  | undefined {
  try {
    const out = gitSync(bare, ['log', '-1', '--format=%an%x00%ae%x00%ce%x00%s%x00%H', ref]).trim();
    const [authorName = '', authorEmail = '', committerEmail = '', subject = '', sha = ''] =
      out.split('\0');
    return { authorName, authorEmail, committerEmail, subject, sha };
  } catch {
    return undefined;
  }
}

/** Every regular file under `dir` (recursively, `.git` included) whose content contains `needle`. */
export async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const buf = await fsp.readFile(p);
        if (buf.includes(needle)) hits.push(p);
      }
    }
  };
  await walk(dir);
  return hits;
}

// --- smart-HTTP remote --------------------------------------------------------------------------

export interface AuthAttempt {
  username: string;
  /** Whether the password matched. The password itself is never recorded. */
  ok: boolean;
  path: string;
}

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** URL of a repository under the served root, e.g. `url('org/app.git')`. */
  url(rel: string): string;
  /** Every request that carried credentials, in order. */
  auths: AuthAttempt[];
  /** Number of requests answered 401 because they carried no or wrong credentials. */
  rejected: number;
  /** Every request line `METHOD path?query` (URLs as git sent them: proves none carries a secret). */
  requests: string[];
  close(): Promise<void>;
}

export interface GitHttpServerOptions {
  /** Directory whose bare repositories are served (GIT_PROJECT_ROOT). */
  root: string;
  /** The accepted password (the token). */
  password: string;
  /** The accepted username; any username when omitted. */
  username?: string;
}

/**
 * `git http-backend` behind basic auth on 127.0.0.1. Fetch and push both need credentials;
 * receive-pack is enabled because REMOTE_USER is set for authenticated requests.
 */
export async function startGitHttpServer(opts: GitHttpServerOptions): Promise<GitHttpServer> {
  const home = await makeTempDir('ccr-http-home-');
  const auths: AuthAttempt[] = [];
  const requests: string[] = [];
  const state = { rejected: 0 };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(`${req.method} ${req.url}`);
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+(.+)$/i.exec(header);
    let user: string | undefined;
    if (m?.[1]) {
      const decoded = Buffer.from(m[1], 'base64').toString('utf8');
      const idx = decoded.indexOf(':');
      const username = idx < 0 ? decoded : decoded.slice(0, idx);
      const password = idx < 0 ? '' : decoded.slice(idx + 1);
      const ok = password === opts.password && (!opts.username || username === opts.username);
      auths.push({ username, ok, path: url.pathname });
      if (ok) user = username;
    }
    if (!user) {
      state.rejected++;
      res.writeHead(401, {
        'WWW-Authenticate': 'Basic realm="git fixture"',
        'Content-Type': 'text/plain',
      });
      res.end('authentication required\n');
      req.resume();
      return;
    }
    const env: Record<string, string> = {
      ...isolatedGitEnv(home),
      GIT_PROJECT_ROOT: opts.root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ''),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: user,
      REMOTE_ADDR: '127.0.0.1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
    };
    const encoding = req.headers['content-encoding'];
    if (typeof encoding === 'string') env.HTTP_CONTENT_ENCODING = encoding;
    const gitProtocol = req.headers['git-protocol'];
    if (typeof gitProtocol === 'string') env.GIT_PROTOCOL = gitProtocol;
    const length = req.headers['content-length'];
    if (typeof length === 'string') env.CONTENT_LENGTH = length;

    const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    req.pipe(cgi.stdin);
    cgi.stdin.on('error', () => undefined);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      let end = head.indexOf('\r\n\r\n');
      let sepLen = 4;
      if (end < 0) {
        end = head.indexOf('\n\n');
        sepLen = 2;
      }
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = parseInt(v, 10) || 200;
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + sepLen));
    });
    cgi.stderr.resume();
    cgi.on('close', () => {
      if (!headersDone) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('http-backend failed\n');
      } else res.end();
    });
  };

  const server = await listenHttp(handle);
  const origin = server.url;
  return {
    origin,
    url: (rel) => `${origin}/${rel.replace(/^\/+/, '')}`,
    auths,
    get rejected() {
      return state.rejected;
    },
    requests,
    close: async () => {
      await server.close();
      await removeDir(home);
    },
  };
}

/** Runs a command asynchronously (for tests that must not block the event loop of a server). */
export function gitAsync(
  cwd: string,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env, encoding: 'utf8', timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`git ${args.join(' ')} failed: ${stderr || err.message}`));
        else resolve(stdout);
      },
    );
  });
}
